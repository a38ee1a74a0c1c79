"""The summed PostPre update of a presentation (spikerl.plasticity.presentation_stdp_update) equals stepping the
rule over the presentation, for every pairing of trace modes."""

import pytest
import torch

from spikerl.connections import Dense
from spikerl.encoding import PackedSpikes
from spikerl.plasticity import PostPre, presentation_stdp_update
from spikerl.traces import TraceParams


def random_train(steps, batch, n, p, seed):
    return torch.rand(steps, batch, n, generator=torch.Generator().manual_seed(seed)) < p


@pytest.mark.parametrize("pre_mode", ["nearest", "additive"])
@pytest.mark.parametrize("post_mode", ["nearest", "additive"])
def test_presentation_update_equals_the_sum_of_rule_steps(pre_mode, post_mode):
    steps, batch, n_in, n = 60, 3, 12, 4
    pre, post = random_train(steps, batch, n_in, 0.2, 3), random_train(steps, batch, n, 0.1, 4)
    rule = PostPre(2e-3, 5e-2, TraceParams(7.0, pre_mode, 1.5), TraceParams(11.0, post_mode, 0.7))
    conn = Dense(n_in, n)
    state, total = rule.initial_state(conn, batch), torch.zeros(n_in, n)
    for t in range(steps):
        dw, state = rule.step(conn, pre[t], post[t], state, None, 1.0)
        total += dw
    got = presentation_stdp_update(PackedSpikes.from_dense(pre), post, rule, n_in)
    torch.testing.assert_close(got, total, rtol=1e-5, atol=1e-6)


def test_one_pair_by_hand():
    """Pre spike at t = 0, post spike at t = 2 (additive traces, tau = 10 ms, dt = 1 ms): potentiation
    ``nu_post exp(-2 / 10)``; the pre spike came first, so no depression. A second post neuron that fires at
    t = 0 together with the pre spike gets ``nu_post - nu_pre`` (both traces include the spikes of their step)."""
    pre = torch.zeros(3, 1, 1, dtype=torch.bool)
    pre[0] = True
    post = torch.zeros(3, 1, 2, dtype=torch.bool)
    post[2, 0, 0] = post[0, 0, 1] = True
    rule = PostPre(1e-3, 1e-2, TraceParams(10.0), TraceParams(10.0))
    got = presentation_stdp_update(PackedSpikes.from_dense(pre), post, rule, 1, dtype=torch.float64)
    expected = torch.tensor([[1e-2 * torch.exp(torch.tensor(-0.2, dtype=torch.float64)), 1e-2 - 1e-3]],
                            dtype=torch.float64)
    torch.testing.assert_close(got, expected)
