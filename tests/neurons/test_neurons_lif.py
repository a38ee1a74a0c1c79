"""LIF and IF against their closed-form solutions; the refractory period checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.neurons import IF, LIF, LIFParams, LIFState


def constant(value: float, steps: int, batch: int = 1, n: int = 1) -> torch.Tensor:
    return torch.full((steps, batch, n), value, dtype=torch.float64)


def make_if(**kw: float) -> IF:
    return IF(1, **kw).to(torch.float64)


@pytest.mark.parametrize("tau_mem_ms, dt_ms, current, v0", [
    (100.0, 1.0, 0.5, -65.0), (20.0, 0.5, 0.3, -65.0), (10.0, 1.0, -0.2, -40.0), (50.0, 2.0, 1.0, -80.0),
])
def test_membrane_under_constant_input_follows_the_discrete_exponential(tau_mem_ms: float, dt_ms: float,
                                                                       current: float, v0: float) -> None:
    layer = LIF(1, dt_ms=dt_ms, tau_mem_ms=tau_mem_ms, v_thresh_mv=1e9).to(torch.float64)
    p = layer.params
    d = math.exp(-dt_ms / tau_mem_ms)
    v_inf = p.v_rest_mv + current / (1 - d)
    state = LIFState(torch.full((1, 1), v0, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64))
    steps = 300
    spikes, _, rec = layer.scan(constant(current, steps), state, record=("v",))
    assert not spikes.any()
    for t in (1, 2, 5, 17, 100, 300):
        expected = v_inf + (v0 - v_inf) * d ** t
        assert rec["v"][t - 1].item() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("v_reset_mv, refractory_ms, dt_ms, current", [
    (-65.0, 5.0, 1.0, 0.5),    # reset == rest: the membrane sits at rest while refractory
    (-65.0, 0.0, 1.0, 0.8),
    (-60.0, 5.0, 1.0, 0.37),   # reset above rest: the membrane decays towards rest while refractory
    (-70.0, 3.0, 0.5, 0.21),   # reset below rest, R = 6 steps
])
def test_inter_spike_interval_matches_the_closed_form(v_reset_mv: float, refractory_ms: float, dt_ms: float,
                                                      current: float) -> None:
    layer = LIF(1, dt_ms=dt_ms, v_reset_mv=v_reset_mv, refractory_ms=refractory_ms).to(torch.float64)
    p = layer.params
    d = math.exp(-dt_ms / p.tau_mem_ms)
    v_inf = p.v_rest_mv + current / (1 - d)
    R = round(refractory_ms / dt_ms)
    # after R refractory steps the membrane has relaxed from v_reset towards rest, input ignored
    v_start = p.v_rest_mv + (v_reset_mv - p.v_rest_mv) * d ** R
    # charging steps: smallest n with v_inf + (v_start - v_inf) d^n >= v_thresh
    n = math.ceil(math.log((p.v_thresh_mv - v_inf) / (v_start - v_inf)) / math.log(d))
    assert v_inf + (v_start - v_inf) * d ** n - p.v_thresh_mv > 1e-6  # no near-tie at the threshold
    assert p.v_thresh_mv - (v_inf + (v_start - v_inf) * d ** (n - 1)) > 1e-6
    first = math.ceil(math.log((p.v_thresh_mv - v_inf) / (p.v_rest_mv - v_inf)) / math.log(d))
    steps = 3000
    spikes, _, _ = layer.scan(constant(current, steps), layer.initial_state(1))
    times = torch.nonzero(spikes[:, 0, 0]).flatten().tolist()
    assert len(times) >= 10
    assert times[0] == first - 1  # from rest, spike on the first-th step (index first - 1)
    isis = [b - a for a, b in zip(times, times[1:])]
    assert set(isis) == {R + n}
    assert len(times) == 1 + (steps - first) // (R + n)


def test_if_membrane_grows_linearly() -> None:
    layer = make_if(v_thresh_mv=1e9)
    current, steps = 0.75, 50
    spikes, _, rec = layer.scan(constant(current, steps), layer.initial_state(1), record=("v",))
    v0 = layer.params.v_rest_mv
    expected = v0 + current * torch.arange(1, steps + 1, dtype=torch.float64)
    assert not spikes.any()
    torch.testing.assert_close(rec["v"][:, 0, 0], expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("current, refractory_ms", [(3.0, 5.0), (0.7, 0.0), (13.0, 2.0)])
def test_if_spike_count_formula(current: float, refractory_ms: float) -> None:
    layer = make_if(refractory_ms=refractory_ms)
    p = layer.params
    R = round(refractory_ms)
    n = math.ceil((p.v_thresh_mv - p.v_reset_mv) / current)  # charging steps from reset
    first = math.ceil((p.v_thresh_mv - p.v_rest_mv) / current)  # from the initial (rest) potential
    steps = 400
    spikes, _, _ = layer.scan(constant(current, steps), layer.initial_state(1))
    times = torch.nonzero(spikes[:, 0, 0]).flatten().tolist()
    assert times[0] == first - 1
    assert spikes.sum().item() == 1 + (steps - first) // (R + n)


@pytest.mark.parametrize("refractory_ms, dt_ms", [(5.0, 1.0), (2.0, 0.5), (1.0, 1.0)])
def test_refractory_period_ignores_input_for_R_steps(refractory_ms: float, dt_ms: float) -> None:
    layer = LIF(1, dt_ms=dt_ms, v_reset_mv=-60.0, refractory_ms=refractory_ms).to(torch.float64)
    p = layer.params
    R = round(refractory_ms / dt_ms)
    d = math.exp(-dt_ms / p.tau_mem_ms)
    big = 30.0  # from any potential here, one such pulse crosses the threshold
    pulses = [0, 1, R, R + 1]  # spike at 0; 1..R are refractory; R+1 spikes again
    cur = torch.zeros(R + 4, 1, 1, dtype=torch.float64)
    cur[pulses] = big
    spikes, _, rec = layer.scan(cur, layer.initial_state(1), record=("v", "refractory"))
    assert torch.nonzero(spikes[:, 0, 0]).flatten().tolist() == [0, R + 1]
    for k in range(1, R + 1):  # input ignored, membrane relaxes from reset towards rest
        expected = p.v_rest_mv + (p.v_reset_mv - p.v_rest_mv) * d ** k
        assert rec["v"][k].item() == pytest.approx(expected, abs=1e-12)
        assert rec["refractory"][k].item() == R - k
    assert rec["v"][0].item() == rec["v"][R + 1].item() == p.v_reset_mv


def test_lif_params_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="tau_mem_ms must be a positive number, got 0"):
        LIFParams(tau_mem_ms=0.0)
    with pytest.raises(ValueError, match="refractory_ms must be >= 0, got -1"):
        LIF(3, refractory_ms=-1.0)
