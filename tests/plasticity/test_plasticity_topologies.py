"""Every rule on every learnable topology, inside a Network, against the Dense connection it is equivalent to.

Rules only use ``Connection.pair`` / ``pair_per_sample``, so on a connection whose synapses map one-to-one onto
entries of a (masked) Dense matrix, a learning run must change every synapse exactly as the Dense run changes
the matching entry. For a convolution (one filter shared by all positions) the filter change is the sum of the
changes of the Dense entries it stands for, which holds over a whole run for rules whose update does not depend
on ``w``, and for one step for the weight-dependent rule (all its Dense entries start at the shared value).
"""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.connections import Conv2d, Dense, LocallyConnected2d, OneToOne, Sparse
from spikerl.plasticity import MSTDP, MSTDPET, Hebbian, PostPre, WeightDependentPostPre
from spikerl.traces import TraceParams

WMIN, WMAX = -5.0, 5.0
PRE, POST = TraceParams(6.0), TraceParams(9.0, "nearest")
RULES = {
    "PostPre": lambda: PostPre(nu_pre=0.01, nu_post=0.02, pre_trace=PRE, post_trace=POST),
    "WeightDependentPostPre": lambda: WeightDependentPostPre(nu_pre=0.01, nu_post=0.02, pre_trace=PRE,
                                                             post_trace=POST),
    "Hebbian": lambda: Hebbian(nu_pre=0.01, nu_post=0.02, pre_trace=PRE, post_trace=POST),
    "MSTDP": lambda: MSTDP(lr=0.01, a_plus=1.0, a_minus=0.8, pre_trace=PRE, post_trace=POST),
    "MSTDPET": lambda: MSTDPET(lr=0.01, a_plus=1.0, a_minus=0.8, tau_e_ms=5.0, pre_trace=PRE, post_trace=POST),
}
NAMES = list(RULES)
LINEAR = ["PostPre", "Hebbian", "MSTDP", "MSTDPET"]  # dw does not depend on w


def random_run(source_shape, target_shape, T: int = 8, B: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pre = torch.rand(T, B, *source_shape, generator=g) < 0.35
    post = torch.rand(T, B, *target_shape, generator=g) < 0.35
    reward = torch.randint(-4, 5, (T, B), generator=g).to(torch.float32) / 4
    return pre, post, reward


def uniform(shape, seed: int = 1) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


def dense_like(w_entries: torch.Tensor, src: torch.Tensor, tgt: torch.Tensor, n_src: int, n_tgt: int) -> Dense:
    """A masked Dense connection with ``w[src_k, tgt_k] = w_entries_k`` and no other synapse."""
    w = torch.zeros(n_src, n_tgt, dtype=torch.float64)
    w[src.reshape(-1), tgt.reshape(-1)] = w_entries.reshape(-1)
    mask = torch.zeros(n_src, n_tgt, dtype=torch.bool)
    mask[src.reshape(-1), tgt.reshape(-1)] = True
    dense = Dense(n_src, n_tgt, w=w, wmin=WMIN, wmax=WMAX)
    dense.set_mask(mask)
    return dense


def window_map(c_in: int, h: int, w: int, c_out: int, k: int, s: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat source and target index of every window synapse ``[C_out, H_out, W_out, C_in, k, k]`` (no padding)."""
    h_out, w_out = (h - k) // s + 1, (w - k) // s + 1
    o, y, x, c, i, j = torch.meshgrid(*(torch.arange(n) for n in (c_out, h_out, w_out, c_in, k, k)), indexing="ij")
    return c * h * w + (y * s + i) * w + (x * s + j), o * h_out * w_out + y * w_out + x


def learn_on(make_net, learn, name, connection, pre, post, reward) -> torch.Tensor:
    net = make_net(RULES[name](), connection=connection)
    return learn(net, pre, post, reward)


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], x.shape[1], -1)


@pytest.mark.parametrize("name", NAMES)
def test_sparse_from_full_dense_matrix_equals_dense(make_net, learn, name):
    w = uniform((5, 4))
    sparse = Sparse.from_dense(5, 4, w, wmin=WMIN, wmax=WMAX)
    assert sparse.nnz == 20
    pre, post, reward = random_run((5,), (4,))
    dw_sparse = learn_on(make_net, learn, name, sparse, pre, post, reward)
    dw_dense = learn_on(make_net, learn, name, Dense(5, 4, w=w, wmin=WMIN, wmax=WMAX), pre, post, reward)
    assert dw_dense.abs().max() > 1e-3
    src, tgt = sparse.indices
    torch.testing.assert_close(dw_sparse, dw_dense[src, tgt], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_random_sparse_equals_masked_dense(make_net, learn, name):
    sparse = Sparse.random(6, 5, p=0.4, wmin=-1.0, wmax=1.0, generator=torch.Generator().manual_seed(3))
    sparse.wmin, sparse.wmax = WMIN, WMAX
    src, tgt = sparse.indices
    dense = dense_like(sparse.values.detach().double(), src, tgt, 6, 5)
    pre, post, reward = random_run((6,), (5,), seed=4)
    dw_sparse = learn_on(make_net, learn, name, sparse, pre, post, reward)
    dw_dense = learn_on(make_net, learn, name, dense, pre, post, reward)
    torch.testing.assert_close(dw_sparse, dw_dense[src, tgt], rtol=1e-12, atol=1e-15)
    assert torch.count_nonzero(dw_dense[~dense.mask]) == 0


@pytest.mark.parametrize("name", NAMES)
def test_one_to_one_equals_diagonal_dense(make_net, learn, name):
    w = uniform((4,))
    idx = torch.arange(4)
    pre, post, reward = random_run((4,), (4,), seed=5)
    dw_one = learn_on(make_net, learn, name, OneToOne(4, w=w, wmin=WMIN, wmax=WMAX), pre, post, reward)
    dw_dense = learn_on(make_net, learn, name, dense_like(w, idx, idx, 4, 4), pre, post, reward)
    assert dw_one.abs().max() > 1e-3
    torch.testing.assert_close(dw_one, dw_dense.diagonal(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("stride", [1, 2])
def test_locally_connected_equals_masked_dense(make_net, learn, name, stride):
    c_in, h, c_out, k = 2, 5, 2, 3
    conn = LocallyConnected2d((c_in, h, h), c_out, k, stride=stride, wmin=WMIN, wmax=WMAX)
    conn.w.data = uniform(conn.w.shape)
    src, tgt = window_map(c_in, h, h, c_out, k, stride)
    dense = dense_like(conn.w.detach(), src, tgt, c_in * h * h, math.prod(conn.target_shape))
    pre, post, reward = random_run(conn.source_shape, conn.target_shape, seed=6)
    dw_lc = learn_on(make_net, learn, name, conn, pre, post, reward)
    dw_dense = learn_on(make_net, learn, name, dense, flat(pre), flat(post), reward)
    assert dw_lc.abs().max() > 1e-3
    torch.testing.assert_close(dw_lc, dw_dense[src, tgt], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_conv_with_full_kernel_equals_dense(make_net, learn, name):
    """A kernel as large as the input is a Dense layer: w_conv[o, c, i, j] = w_dense[(c, i, j), o]."""
    c_in, h, c_out = 2, 3, 3
    conv = Conv2d((c_in, h, h), c_out, h, wmin=WMIN, wmax=WMAX)
    conv.w.data = uniform(conv.w.shape)
    assert conv.target_shape == (c_out, 1, 1)
    w_dense = conv.w.detach().reshape(c_out, -1).T.clone()
    pre, post, reward = random_run(conv.source_shape, conv.target_shape, seed=7)
    dw_conv = learn_on(make_net, learn, name, conv, pre, post, reward)
    dw_dense = learn_on(make_net, learn, name, Dense(c_in * h * h, c_out, w=w_dense, wmin=WMIN, wmax=WMAX),
                        flat(pre), flat(post), reward)
    assert dw_conv.abs().max() > 1e-3
    torch.testing.assert_close(dw_conv, dw_dense.T.reshape(conv.w.shape), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_shared_conv_filter_sums_its_positions(make_net, learn, name):
    c_in, h, c_out, k, s = 2, 4, 2, 2, 1
    conv = Conv2d((c_in, h, h), c_out, k, stride=s, wmin=WMIN, wmax=WMAX)
    conv.w.data = uniform(conv.w.shape)
    src, tgt = window_map(c_in, h, h, c_out, k, s)                     # [C_out, H_out, W_out, C_in, k, k]
    shared = conv.w.detach()[:, None, None].expand(src.shape)
    dense = dense_like(shared, src, tgt, c_in * h * h, math.prod(conv.target_shape))
    T = 8 if name in LINEAR else 1  # the soft-bound rule's dense entries drift apart after the first update
    pre, post, reward = random_run(conv.source_shape, conv.target_shape, T=T, seed=8)
    if T == 1:
        pre[0], post[0] = torch.rand(pre[0].shape) < 0.6, torch.rand(post[0].shape) < 0.6
    dw_conv = learn_on(make_net, learn, name, conv, pre, post, reward)
    dw_dense = learn_on(make_net, learn, name, dense, flat(pre), flat(post), reward)
    assert dw_conv.abs().max() > 1e-3
    torch.testing.assert_close(dw_conv, dw_dense[src, tgt].sum(dim=(1, 2)), rtol=1e-10, atol=1e-14)


def test_eligibility_takes_the_weight_shape_of_every_topology(make_net):
    conns = [Sparse.random(6, 5, p=0.5, generator=torch.Generator().manual_seed(0)), OneToOne(4),
             Conv2d((1, 4, 4), 2, 2), LocallyConnected2d((1, 4, 4), 2, 2)]
    for conn in conns:
        net = make_net(RULES["MSTDPET"](), connection=conn)
        net.reset(3)
        assert net.state.rules["X->Y"].eligibility.shape == (3, *conn.weight.shape)
