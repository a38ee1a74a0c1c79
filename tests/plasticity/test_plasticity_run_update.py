"""``PostPre.run_update``: the summed update of a run with frozen weights equals stepping the rule without
applying its updates, on every topology, and carries the traces on."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.connections import Conv2d, Dense, LocallyConnected2d
from spikerl.plasticity import PostPre, TraceState
from spikerl.traces import TraceParams


def stepped(rule: PostPre, conn, pre: torch.Tensor, post: torch.Tensor, state: TraceState):
    """Sum of ``rule.step`` over the trains, weights never changed."""
    total = torch.zeros_like(conn.weight)
    for t in range(pre.shape[0]):
        dw, state = rule.step(conn, pre[t], post[t], state, None, 1.0)
        total += dw
    return total, state


CONNECTIONS = {
    "dense": lambda: Dense(6, 4, torch.rand(6, 4)),
    "conv": lambda: Conv2d((2, 5, 5), 3, 3, stride=2),
    "local": lambda: LocallyConnected2d((2, 5, 5), 3, 3, stride=1, padding=1),
}


@pytest.mark.parametrize("kind", sorted(CONNECTIONS))
@pytest.mark.parametrize("mode", ["additive", "nearest"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_run_update_equals_the_stepped_sum(kind, mode, reduction):
    torch.manual_seed(0)
    conn = CONNECTIONS[kind]()
    rule = PostPre(nu_pre=0.3, nu_post=0.7, pre_trace=TraceParams(5.0, mode), post_trace=TraceParams(8.0, mode),
                   reduction=reduction, weight_decay=0.01)
    steps, batch = 7, 3
    pre = torch.rand(steps, batch, *conn.source_shape) < 0.4
    post = torch.rand(steps, batch, *conn.target_shape) < 0.3
    start = TraceState(torch.rand(batch, *conn.source_shape), torch.rand(batch, *conn.target_shape))
    expected, expected_state = stepped(rule, conn, pre, post, start)
    dw, state = rule.run_update(conn, pre, post, start, 1.0)
    torch.testing.assert_close(dw, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state.pre, expected_state.pre)
    torch.testing.assert_close(state.post, expected_state.post)


def test_run_update_of_one_pre_post_pair_by_hand():
    """Pre spike at step 1, post spike at step 4 (additive traces, tau 10 ms): ``+nu_post exp(-3 / 10)``."""
    conn = Dense(1, 1, torch.zeros(1, 1))
    rule = PostPre(nu_pre=0.5, nu_post=2.0, pre_trace=TraceParams(10.0), post_trace=TraceParams(10.0))
    pre = torch.zeros(6, 1, 1, dtype=torch.bool)
    post = torch.zeros(6, 1, 1, dtype=torch.bool)
    pre[1], post[4] = True, True
    dw, _ = rule.run_update(conn, pre, post, rule.initial_state(conn, 1), 1.0)
    assert float(dw) == pytest.approx(2.0 * math.exp(-3 / 10))


def test_run_update_refuses_trains_of_different_lengths():
    conn = Dense(2, 2, torch.zeros(2, 2))
    rule = PostPre()
    with pytest.raises(ValueError, match="same T and B"):
        rule.run_update(conn, torch.zeros(3, 1, 2), torch.zeros(4, 1, 2), rule.initial_state(conn, 1), 1.0)
