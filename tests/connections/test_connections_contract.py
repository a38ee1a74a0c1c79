"""Every weighted connection against one explicit reference.

The reference of a connection is its list of synapses ``(source unit, target unit, weight entry)``, built by
plain Python loops over a tiny example straight from the definition of the topology. From that list,
``M(w)[s, t] = sum of the weights from s to t`` is a dense matrix that depends differentiably on ``w``:

* propagation must equal ``pre @ M(w)``;
* ``pair(pre, post)`` must equal the gradient ``d/dw sum(post * (pre @ M(w)))`` (autograd);
* after ``normalize``, every target's incoming weights (a column of ``M``) sum to ``norm``.
"""

from __future__ import annotations

import json
import math
from typing import Callable

import pytest
import torch

from spikerl.connections import Connection, Conv2d, Dense, LocallyConnected2d, OneToOne, Sparse

Synapses = list[tuple[int, int, int]]  # (flat source, flat target, flat weight index)


def dense_synapses(n_src: int, n_tgt: int) -> Synapses:
    return [(i, j, i * n_tgt + j) for i in range(n_src) for j in range(n_tgt)]


def window_synapses(source_shape, out_channels, kernel, stride, padding, shared: bool) -> Synapses:
    """Conv (shared=True, weight [o, c, i, j]) or locally connected (weight [o, y, x, c, i, j]) synapses."""
    c_in, h, w = source_shape
    kh, kw = kernel
    h_out = (h + 2 * padding[0] - kh) // stride[0] + 1
    w_out = (w + 2 * padding[1] - kw) // stride[1] + 1
    out = []
    for o in range(out_channels):
        for y in range(h_out):
            for x in range(w_out):
                for c in range(c_in):
                    for i in range(kh):
                        for j in range(kw):
                            r, q = y * stride[0] + i - padding[0], x * stride[1] + j - padding[1]
                            if not (0 <= r < h and 0 <= q < w):
                                continue  # faces the zero padding: no synapse
                            src = (c * h + r) * w + q
                            tgt = (o * h_out + y) * w_out + x
                            if shared:
                                widx = ((o * c_in + c) * kh + i) * kw + j
                            else:
                                widx = ((((o * h_out + y) * w_out + x) * c_in + c) * kh + i) * kw + j
                            out.append((src, tgt, widx))
    return out


SPARSE_PAIRS = [(5, 0), (0, 1), (2, 4), (0, 3), (4, 4), (1, 1), (5, 2), (3, 0)]  # deliberately unsorted


def build(name: str, **kwargs) -> tuple[Connection, Synapses]:
    """A tiny connection of kind ``name`` and its reference synapse list."""
    g = torch.Generator().manual_seed(0)
    if name == "dense":
        return Dense((2, 3), 4, generator=g, **kwargs), dense_synapses(6, 4)
    if name == "sparse":
        idx = torch.tensor(SPARSE_PAIRS).T
        conn = Sparse(6, (5,), idx, generator=g, **kwargs)
        order = {(int(s), int(t)): k for k, (s, t) in enumerate(conn.indices.T)}
        return conn, [(s, t, order[(s, t)]) for s, t in SPARSE_PAIRS]
    if name == "conv_pad_stride":
        conn = Conv2d((2, 5, 5), 3, 3, stride=2, padding=1, generator=g, **kwargs)
        return conn, window_synapses((2, 5, 5), 3, (3, 3), (2, 2), (1, 1), shared=True)
    if name == "conv_rect":
        conn = Conv2d((1, 4, 5), 2, (2, 3), generator=g, **kwargs)
        return conn, window_synapses((1, 4, 5), 2, (2, 3), (1, 1), (0, 0), shared=True)
    if name == "local_pad_stride":
        conn = LocallyConnected2d((2, 5, 4), 2, (3, 2), stride=(2, 1), padding=(1, 0), generator=g, **kwargs)
        return conn, window_synapses((2, 5, 4), 2, (3, 2), (2, 1), (1, 0), shared=False)
    if name == "local_plain":
        conn = LocallyConnected2d((1, 4, 4), 3, 2, generator=g, **kwargs)
        return conn, window_synapses((1, 4, 4), 3, (2, 2), (1, 1), (0, 0), shared=False)
    if name == "one_to_one":
        return OneToOne((2, 3), 6, generator=g, **kwargs), [(k, k, k) for k in range(6)]
    raise KeyError(name)


KINDS = ["dense", "sparse", "conv_pad_stride", "conv_rect", "local_pad_stride", "local_plain", "one_to_one"]
PADDED = {"conv_pad_stride", "local_pad_stride"}


def reference_matrix(conn: Connection, synapses: Synapses, w: torch.Tensor | None = None) -> torch.Tensor:
    """``M(w) [n_source, n_target]`` from the synapse list; differentiable in ``w``."""
    w = conn.weight if w is None else w
    src, tgt, widx = (torch.tensor(col) for col in zip(*synapses))
    m = torch.zeros(math.prod(conn.source_shape), math.prod(conn.target_shape), dtype=w.dtype)
    return m.index_put((src, tgt), w.reshape(-1)[widx], accumulate=True)


def spikes(shape: tuple[int, ...], p: float = 0.4, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) < p


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


def test_weight_holds_only_real_synapses(kind):
    conn, syn = build(kind)
    used = {k for _, _, k in syn}
    if kind in PADDED:  # some kernel entries face only padding for some positions, none is unused overall
        assert used <= set(range(conn.weight.numel()))
    else:
        assert used == set(range(conn.weight.numel()))
    if kind.startswith("local"):
        c_out, h_out, w_out = conn.target_shape
        c_in = conn.source_shape[0]
        assert tuple(conn.weight.shape) == (c_out, h_out, w_out, c_in, *conn.window.kernel)


def test_propagate_equals_reference(kind):
    conn, syn = build(kind)
    x = spikes((3, *conn.source_shape))
    expected = flat(x.float()) @ reference_matrix(conn, syn)
    out = conn(x)
    assert out.shape == (3, *conn.target_shape)
    torch.testing.assert_close(flat(out), expected)


def test_forward_many_equals_steps(kind):
    conn, _ = build(kind)
    for p in (0.01, 0.4):  # sparse and dense trains (event-driven and dense paths)
        train = spikes((7, 3, *conn.source_shape), p=p, seed=2)
        many = conn.forward_many(train)
        steps = torch.stack([conn(train[t]) for t in range(7)])
        assert many.shape == (7, 3, *conn.target_shape)
        torch.testing.assert_close(many, steps)


def test_pair_is_the_autograd_gradient(kind):
    conn, syn = build(kind)
    g = torch.Generator().manual_seed(3)
    pre = torch.rand(4, *conn.source_shape, generator=g)  # e.g. traces
    post = spikes((4, *conn.target_shape), p=0.5, seed=4).float()
    w = conn.weight.detach().clone().requires_grad_(True)
    (post.reshape(4, -1) * (flat(pre) @ reference_matrix(conn, syn, w))).sum().backward()
    pair = conn.pair(pre, post)
    assert pair.shape == conn.weight.shape
    torch.testing.assert_close(pair, w.grad)


def test_pair_per_sample_sums_to_pair(kind):
    conn, _ = build(kind)
    pre = torch.rand(5, *conn.source_shape, generator=torch.Generator().manual_seed(5))
    post = spikes((5, *conn.target_shape), p=0.5, seed=6)
    per = conn.pair_per_sample(pre, post)
    assert per.shape == (5, *conn.weight.shape)
    torch.testing.assert_close(per.sum(0), conn.pair(pre, post))
    torch.testing.assert_close(per[2], conn.pair(pre[2:3], post[2:3]))


def test_normalize_sets_incoming_sums(kind):
    conn, syn = build(kind, norm=2.5)
    conn.normalize()
    sums = conn.incoming_sums()
    torch.testing.assert_close(sums, torch.full_like(sums, 2.5))
    if kind not in PADDED:  # without padding, incoming_sums is the column sum of the reference matrix
        col = reference_matrix(conn, syn).sum(0)
        torch.testing.assert_close(col, torch.full_like(col, 2.5))


def test_bounds_after_update(kind):
    conn, _ = build(kind, wmin=0.0, wmax=1.0)
    w0 = conn.weight.detach().clone()
    assert (w0 >= 0).all() and (w0 <= 1).all()
    dw = torch.linspace(-1.5, 1.5, w0.numel()).reshape(w0.shape)
    conn.apply_update(dw)
    torch.testing.assert_close(conn.weight, (w0 + dw).clamp(0.0, 1.0))


def test_mask_keeps_absent_synapses_at_zero(kind):
    conn, syn = build(kind)
    mask = spikes(tuple(conn.weight.shape), p=0.6, seed=7)
    conn.set_mask(mask)
    assert (conn.weight[~mask] == 0).all()
    conn.apply_update(torch.ones_like(conn.weight))
    assert (conn.weight[~mask] == 0).all() and (conn.weight[mask] >= 1).all()
    x = spikes((2, *conn.source_shape))
    torch.testing.assert_close(flat(conn(x)), flat(x.float()) @ reference_matrix(conn, syn))


def test_bias_adds_every_step(kind):
    conn, _ = build(kind, bias=True)
    with torch.no_grad():
        conn.bias.copy_(torch.arange(conn.bias.numel(), dtype=torch.float32).reshape(conn.target_shape))
    train = spikes((4, 2, *conn.source_shape), seed=8)
    without = conn.propagate(train.reshape(8, *conn.source_shape).float()).reshape(4, 2, *conn.target_shape)
    torch.testing.assert_close(conn.forward_many(train), without + conn.bias)
    torch.testing.assert_close(conn(torch.zeros(1, *conn.source_shape)), conn.bias.unsqueeze(0))


def test_config_round_trip(kind):
    conn, _ = build(kind, wmin=-0.5, wmax=1.5, norm=3.0, bias=True)
    cfg = json.loads(json.dumps(conn.config()))
    assert cfg["type"] == type(conn).__name__
    rebuilt = type(conn)(**{k: v for k, v in cfg.items() if k != "type"})
    rebuilt.load_state_dict(conn.state_dict())
    assert rebuilt.config() == conn.config()
    assert rebuilt.source_shape == conn.source_shape and rebuilt.target_shape == conn.target_shape
    x = spikes((3, *conn.source_shape), seed=9)
    torch.testing.assert_close(rebuilt(x), conn(x))


def test_float64(kind):
    conn, syn = build(kind)
    conn = conn.to(torch.float64)
    assert conn.weight.dtype == torch.float64
    x = spikes((3, *conn.source_shape))
    out = conn(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(flat(out), flat(x.double()) @ reference_matrix(conn, syn))
    pre = torch.rand(3, *conn.source_shape, dtype=torch.float64)
    assert conn.pair(pre, spikes((3, *conn.target_shape))).dtype == torch.float64


def test_wrong_input_shape_is_rejected(kind):
    conn, _ = build(kind)
    bad = torch.zeros(2, *conn.source_shape[:-1], conn.source_shape[-1] + 1)
    with pytest.raises(ValueError, match="expected presynaptic spikes of shape"):
        conn(bad)
    with pytest.raises(ValueError, match="expected presynaptic spike train of shape"):
        conn.forward_many(torch.zeros(2, *conn.source_shape))


def test_wrong_initial_weight_shape_is_rejected():
    with pytest.raises(ValueError, match=r"expected weights of shape \[3, 2, 3, 3\]"):
        Conv2d((2, 5, 5), 3, 3, w=torch.zeros(3, 2, 3, 2))
    with pytest.raises(ValueError, match=r"expected weights of shape \[2, 3, 3, 1, 2, 2\]"):
        LocallyConnected2d((1, 4, 4), 2, 2, w=torch.zeros(2, 9, 4))
    with pytest.raises(ValueError, match=r"expected weights of shape \[4\]"):
        OneToOne(4, w=torch.zeros(5))


def test_generator_makes_default_init_reproducible():
    make: list[Callable[[torch.Generator], Connection]] = [
        lambda g: Conv2d((1, 4, 4), 2, 2, generator=g),
        lambda g: LocallyConnected2d((1, 4, 4), 2, 2, generator=g),
        lambda g: OneToOne(5, generator=g),
        lambda g: Sparse.random(20, 30, 0.2, generator=g),
    ]
    for f in make:
        a, b = f(torch.Generator().manual_seed(11)), f(torch.Generator().manual_seed(11))
        assert torch.equal(a.weight, b.weight)
        assert not torch.equal(a.weight, f(torch.Generator().manual_seed(12)).weight)
