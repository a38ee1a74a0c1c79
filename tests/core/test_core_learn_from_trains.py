"""``Network.learn_from_trains``: an unsupervised rule's update from the trains of a run without learning."""

from __future__ import annotations

import pytest
import torch

from spikerl.connections import Dense
from spikerl.network import Network
from spikerl.neurons import LIF, Input
from spikerl.plasticity import MSTDPET, PostPre
from spikerl.traces import TraceParams


def small_network(norm: float | None) -> Network:
    net = Network()
    net.add_layer("X", Input(5))
    net.add_layer("Y", LIF(3))
    w = torch.rand(5, 3, generator=torch.Generator().manual_seed(0))
    net.add_connection("X", "Y", Dense(5, 3, w, wmin=0.0, wmax=2.0, norm=norm),
                       rule=PostPre(nu_pre=0.1, nu_post=0.4, pre_trace=TraceParams(5.0), post_trace=TraceParams(5.0)))
    return net


@pytest.mark.parametrize("norm", [None, 1.5])
def test_learn_from_trains_applies_the_summed_update_then_the_bounds_and_norm(norm):
    net = small_network(norm)
    conn, rule = net.connections["X->Y"], net.rules["X->Y"]
    gen = torch.Generator().manual_seed(1)
    pre, post = torch.rand(6, 2, 5, generator=gen) < 0.5, torch.rand(6, 2, 3, generator=gen) < 0.5
    state = net.initial_state(2)
    dw, traces = rule.run_update(conn, pre, post, state.rules["X->Y"], 1.0)
    expected = (conn.w + dw).clamp(0.0, 2.0)
    if norm is not None:
        expected = expected * norm / expected.sum(0, keepdim=True)
    new = net.learn_from_trains("X->Y", pre, post, state=state)
    torch.testing.assert_close(conn.w, expected)
    torch.testing.assert_close(new.rules["X->Y"].pre, traces.pre)
    assert new is not state and torch.equal(state.rules["X->Y"].pre, torch.zeros(2, 5))  # the given state is kept


def test_learn_from_trains_needs_a_rule_with_run_update():
    net = Network()
    net.add_layer("X", Input(2))
    net.add_layer("Y", LIF(2))
    net.add_connection("X", "Y", Dense(2, 2, torch.zeros(2, 2)), rule=MSTDPET())
    with pytest.raises(TypeError, match="has no run_update"):
        net.learn_from_trains("X->Y", torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), state=net.initial_state(1))
    with pytest.raises(KeyError, match="no learning rule"):
        net.learn_from_trains("Y->X", torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), state=net.initial_state(1))
