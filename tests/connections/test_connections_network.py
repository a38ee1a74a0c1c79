"""Every connection type inside a Network: fast path == step-by-step path, learning, recurrence."""

from __future__ import annotations

from typing import Callable

import pytest
import torch

from spikerl import LIF, Input, Network, PostPre
from spikerl.connections import Connection, Conv2d, Dense, LocallyConnected2d, MaxPool2d, OneToOne, Sparse

SOURCE = (2, 6, 6)
N_SOURCE = 72


def dyadic(shape: tuple[int, ...], scale: float, seed: int) -> torch.Tensor:
    """Weights that are multiples of scale/16: sums of them are exact in any order."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 17, shape, generator=g) * (scale / 16.0)


def make_sparse(**kw) -> Sparse:
    return Sparse.random(SOURCE, 40, 0.3, generator=torch.Generator().manual_seed(1), **kw)


BUILDERS: dict[str, Callable[..., Connection]] = {
    "conv": lambda **kw: Conv2d(SOURCE, 3, 3, stride=1, padding=1, w=dyadic((3, 2, 3, 3), 4.0, 0), **kw),
    "local": lambda **kw: LocallyConnected2d(SOURCE, 2, 3, stride=1, w=dyadic((2, 4, 4, 2, 3, 3), 4.0, 0), **kw),
    "sparse": make_sparse,
    "dense": lambda **kw: Dense(SOURCE, 10, w=dyadic((N_SOURCE, 10), 1.0, 0), **kw),
    "one_to_one": lambda **kw: OneToOne(SOURCE, w=dyadic(SOURCE, 16.0, 0), **kw),
}


def feed_forward(conn: Connection) -> Network:
    net = Network()
    net.add_layer("X", Input(SOURCE))
    net.add_layer("Y", LIF(conn.target_shape))
    net.add_connection("X", "Y", conn)
    return net


def input_train(T: int, B: int, p: float, seed: int) -> torch.Tensor:
    return torch.rand(T, B, *SOURCE, generator=torch.Generator().manual_seed(seed)) < p


@pytest.mark.parametrize("kind", [*BUILDERS, "max_pool"])
def test_fast_and_step_by_step_paths_agree(kind):
    if kind == "max_pool":
        conn: Connection = MaxPool2d(SOURCE, 2, current_mv=5.0)
    elif kind == "sparse":
        conn = make_sparse()
        with torch.no_grad():
            conn.values.copy_(dyadic((conn.nnz,), 2.0, 0))
    else:
        conn = BUILDERS[kind]()
    net = feed_forward(conn)
    x = input_train(40, 3, 0.3, seed=2)
    outs = []
    for fast in (True, False):
        net.reset(3)
        outs.append(net.run({"X": x}, record=["Y.spikes", "Y.v"], fast=fast))
    assert outs[0]["Y.spikes"].any(), "the example should make the target fire"
    assert torch.equal(outs[0]["Y.spikes"], outs[1]["Y.spikes"])
    torch.testing.assert_close(outs[0]["Y.v"], outs[1]["Y.v"])


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_post_pre_learning_changes_weights_within_bounds(kind):
    conn = BUILDERS[kind](wmin=0.0, wmax=1.0)
    with torch.no_grad():  # strong enough to make the target fire
        conn.weight.copy_(torch.where(conn.weight > 0, torch.ones_like(conn.weight), conn.weight))
    net = Network()
    net.add_layer("X", Input(SOURCE))
    net.add_layer("Y", LIF(conn.target_shape))
    net.add_connection("X", "Y", conn, rule=PostPre(nu_pre=0.05, nu_post=0.02))
    before = conn.weight.detach().clone()
    net.reset(2)
    out = net.run({"X": input_train(30, 2, 0.3, seed=3)}, learning=True, record=["Y.spikes"])
    assert out["Y.spikes"].any()
    w = conn.weight
    assert not torch.equal(w, before)
    assert (w >= 0).all() and (w <= 1).all()


def test_sparse_learning_equals_masked_dense_learning():
    """STDP on Sparse = STDP on a Dense of the same matrix masked to the same synapses."""
    sp = make_sparse(wmin=0.0, wmax=1.0)
    with torch.no_grad():
        sp.values.copy_(dyadic((sp.nnz,), 1.0, 4))
    mask = torch.zeros(N_SOURCE, 40, dtype=torch.bool)
    mask[sp.indices[0], sp.indices[1]] = True
    dense = Dense(SOURCE, 40, w=sp.to_dense(), wmin=0.0, wmax=1.0)
    dense.set_mask(mask)
    x = input_train(30, 2, 0.3, seed=5)
    spikes = []
    for conn in (sp, dense):
        net = Network()
        net.add_layer("X", Input(SOURCE))
        net.add_layer("Y", LIF(40))
        net.add_connection("X", "Y", conn, rule=PostPre(nu_pre=0.01, nu_post=0.05))
        net.reset(2)
        spikes.append(net.run({"X": x}, learning=True, record=["Y.spikes"])["Y.spikes"])
    assert spikes[0].any() and torch.equal(spikes[0], spikes[1])
    torch.testing.assert_close(sp.to_dense(), dense.w)
    assert not torch.equal(sp.values, dyadic((sp.nnz,), 1.0, 4))


def test_max_pool_relays_the_or_of_each_window_one_step_later():
    net = Network()
    net.add_layer("X", Input((1, 4, 4)))
    net.add_layer("P", LIF((1, 2, 2), refractory_ms=0.0))
    net.add_connection("X", "P", MaxPool2d((1, 4, 4), 2, current_mv=20.0))  # one spike: -65 + 20 > -52
    x = torch.rand(12, 2, 1, 4, 4, generator=torch.Generator().manual_seed(6)) < 0.1
    net.reset(2)
    out = net.run({"X": x}, record=["P.spikes"])["P.spikes"]
    window_or = x.reshape(12, 2, 1, 2, 2, 2, 2).any(dim=4).any(dim=-1)  # [T, B, 1, 2(rows), 2(cols)]
    assert not out[0].any()
    assert torch.equal(out[1:], window_or[:-1])


@pytest.mark.parametrize("fast", [True, False])
def test_recurrent_dense_one_step_delay_and_no_self_synapses(fast):
    """A chain Y0 -> Y1 -> ... -> Y4 through a recurrent Dense; each link takes exactly one step.

    Every synapse (self-synapses included) brings 20 mV: from rest (-65 mV) one spike crosses the -52 mV
    threshold. X0 spikes at t = 0 only, so Y0 fires at t = 1 and Yk at t = k + 1, once. With self-synapses
    each Yk re-excites itself and fires at every step from t = k + 1; a mask with a False diagonal
    removes them.
    """
    n, T = 5, 8
    chain = torch.zeros(n, n)
    chain[torch.arange(n - 1), torch.arange(1, n)] = 20.0
    x = torch.zeros(T, 1, n, dtype=torch.bool)
    x[0, 0, 0] = True
    expected = torch.zeros(T, 1, n, dtype=torch.bool)
    expected[torch.arange(1, n + 1), 0, torch.arange(n)] = True

    for self_synapses in (False, True):
        net = Network()
        net.add_layer("X", Input(n))
        net.add_layer("Y", LIF(n, refractory_ms=0.0))
        net.add_connection("X", "Y", Dense(n, n, w=torch.eye(n) * 20.0))
        rec = net.add_connection("Y", "Y", Dense(n, n, w=chain + torch.eye(n) * 20.0))
        if not self_synapses:
            rec.set_mask(~torch.eye(n, dtype=torch.bool))
            assert (torch.diagonal(rec.w) == 0).all()
        net.reset(1)
        out = net.run({"X": x}, record=["Y.spikes"], fast=fast)["Y.spikes"]
        if self_synapses:
            t = torch.arange(T).reshape(T, 1, 1)
            assert torch.equal(out, t >= torch.arange(1, n + 1))  # each keeps itself firing
        else:
            assert torch.equal(out, expected)
