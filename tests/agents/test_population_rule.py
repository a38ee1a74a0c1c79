"""PopulationMSTDPET: one eligibility column per action gives exactly MSTDPET's weights on the repeated factor."""

from __future__ import annotations

import pytest
import torch

from agents.population_rule import PopulationMSTDPET
from spikerl.connections import Dense
from spikerl.plasticity import MSTDPET
from spikerl.traces import TraceParams

N_SOURCE, N_ACTIONS, POPULATION, BATCH, STEPS = 7, 3, 4, 5, 6


def rules(a_minus: float) -> tuple[MSTDPET, PopulationMSTDPET]:
    kwargs = dict(lr=0.3, a_plus=1.0, a_minus=a_minus, tau_e_ms=20.0, pre_trace=TraceParams(10.0),
                  post_trace=TraceParams(15.0), baseline_window=None)
    return MSTDPET(**kwargs), PopulationMSTDPET(POPULATION, **kwargs)


@pytest.mark.parametrize("a_minus", [0.0, 0.5])
def test_weight_changes_equal_mstdpet_with_the_factor_repeated_over_each_population(a_minus):
    """Three env steps of pairings with a per-action factor, then a reward per sample: the per-neuron rule given
    the factor repeated over each population and the per-action rule give the same weight change, and the
    per-action eligibility is the per-neuron one's first column of each population."""
    g = torch.Generator().manual_seed(0)
    full, grouped = rules(a_minus)
    conn = Dense(N_SOURCE, N_ACTIONS * POPULATION, w=torch.rand(N_SOURCE, N_ACTIONS * POPULATION, generator=g,
                                                               dtype=torch.float64))
    s_full, s_grouped = full.initial_state(conn, BATCH), grouped.initial_state(conn, BATCH)
    assert s_grouped.eligibility.shape == (BATCH, N_SOURCE, N_ACTIONS)
    for _ in range(3):
        pre = torch.rand(STEPS, BATCH, N_SOURCE, generator=g) < 0.4
        factor = torch.randn(BATCH, N_ACTIONS, generator=g, dtype=torch.float64)
        post_grouped = factor.unsqueeze(0).expand(STEPS, BATCH, N_ACTIONS)
        post_full = factor.repeat_interleave(POPULATION, 1).unsqueeze(0).expand(STEPS, BATCH, -1)
        s_full = full.accumulate(conn, pre, post_full, s_full, 1.0)
        s_grouped = grouped.accumulate(conn, pre, post_grouped, s_grouped, 1.0, inplace=True)
    torch.testing.assert_close(s_grouped.eligibility, s_full.eligibility[..., ::POPULATION], rtol=1e-12, atol=1e-12)
    assert not torch.equal(s_grouped.eligibility, torch.zeros_like(s_grouped.eligibility))
    reward = torch.tensor([1.0, -0.5, 0.0, 2.0, 0.25], dtype=torch.float64)
    dw_full = full.reward_update(conn, s_full, reward)
    dw_grouped = grouped.reward_update(conn, s_grouped, reward)
    assert dw_grouped.shape == conn.w.shape
    torch.testing.assert_close(dw_grouped, dw_full, rtol=1e-12, atol=1e-12)


def test_refuses_step_by_step_learning_and_targets_that_are_not_whole_populations():
    _, grouped = rules(0.0)
    conn = Dense(N_SOURCE, N_ACTIONS * POPULATION)
    with pytest.raises(TypeError, match="accumulate"):
        grouped.step(conn, torch.zeros(1, N_SOURCE), torch.zeros(1, N_ACTIONS * POPULATION),
                     grouped.initial_state(conn, 1), None, 1.0)
    with pytest.raises(ValueError, match="whole number of populations of 4"):
        grouped.check(Dense(N_SOURCE, 10))
    with pytest.raises(ValueError, match="population_size must be >= 1"):
        PopulationMSTDPET(0)
