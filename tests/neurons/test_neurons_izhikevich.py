"""Izhikevich neurons against a plain-Python reimplementation of the documented scheme."""

from __future__ import annotations

import pytest
import torch

from spikerl.neurons import Izhikevich, IzhikevichParams


def reference_spike_times(a: float, b: float, c: float, d: float, current: float, steps: int,
                          dt: float = 1.0, substeps: int = 2, v_peak: float = 30.0) -> list[int]:
    """Forward Euler with sub-steps in Python floats; a neuron past the peak stops for the rest of the step."""
    v, u, h = c, b * c, dt / substeps
    times = []
    for t in range(steps):
        for _ in range(substeps):
            if v < v_peak:
                v, u = v + h * (0.04 * v * v + 5 * v + 140 - u + current), u + h * a * (b * v - u)
        if v >= v_peak:
            times.append(t)
            v, u = c, u + d
    return times


def spike_times(layer: Izhikevich, current: float, steps: int) -> list[int]:
    cur = torch.full((steps, 1, 1), current, dtype=layer.dtype)
    spikes, _, _ = layer.scan(cur, layer.initial_state(1))
    return torch.nonzero(spikes[:, 0, 0]).flatten().tolist()


def test_presets() -> None:
    rs, fs = Izhikevich.regular_spiking(4).params, Izhikevich.fast_spiking(4).params
    assert (rs.a_per_ms, rs.b_per_ms, rs.c_mv, rs.d_mv_per_ms) == (0.02, 0.2, -65.0, 8.0)
    assert (fs.a_per_ms, fs.b_per_ms, fs.c_mv, fs.d_mv_per_ms) == (0.1, 0.2, -65.0, 2.0)
    assert rs.v_peak_mv == fs.v_peak_mv == 30.0
    assert Izhikevich(4).params == rs
    assert Izhikevich.fast_spiking(4, substeps=4).params == IzhikevichParams.fast_spiking(substeps=4)


def test_initial_state_is_v_c_and_u_b_times_v() -> None:
    p = IzhikevichParams.fast_spiking(c_mv=-70.0)
    state = Izhikevich(3, p).initial_state(2)
    assert torch.equal(state.v, torch.full((2, 3), p.c_mv))
    assert torch.equal(state.u, torch.full((2, 3), p.b_per_ms * p.c_mv))


@pytest.mark.parametrize("substeps, dt_ms", [(2, 1.0), (1, 0.5), (4, 1.0)])
def test_regular_spiking_fires_tonically_like_the_reference(substeps: int, dt_ms: float) -> None:
    steps = int(1000 / dt_ms)
    layer = Izhikevich.regular_spiking(1, dt_ms=dt_ms, substeps=substeps).to(torch.float64)
    times = spike_times(layer, 10.0, steps)
    expected = reference_spike_times(0.02, 0.2, -65.0, 8.0, 10.0, steps, dt_ms, substeps)
    assert times == expected
    assert len(times) >= 10
    # tonic: after the initial adaptation the interval settles to a constant (within one step)
    isis = [b - a for a, b in zip(times, times[1:])]
    assert isis[0] < isis[-1]  # spike-frequency adaptation
    assert max(isis[-5:]) - min(isis[-5:]) <= 1


def test_float32_matches_the_reference_first_spike_and_isi() -> None:
    times = spike_times(Izhikevich.regular_spiking(1), 10.0, 400)
    expected = reference_spike_times(0.02, 0.2, -65.0, 8.0, 10.0, 400)
    assert times[0] == expected[0]
    assert times[1] - times[0] == expected[1] - expected[0]


def test_fast_spiking_fires_faster_than_regular_spiking() -> None:
    rs = len(spike_times(Izhikevich.regular_spiking(1), 10.0, 1000))
    fs = len(spike_times(Izhikevich.fast_spiking(1), 10.0, 1000))
    assert fs == len(reference_spike_times(0.1, 0.2, -65.0, 2.0, 10.0, 1000))
    assert fs > 2 * rs > 0


def test_without_input_there_are_no_spikes_and_large_input_does_not_overflow() -> None:
    layer = Izhikevich.regular_spiking(2)
    spikes, state, _ = layer.scan(torch.zeros(200, 1, 2), layer.initial_state(1))
    assert not spikes.any()
    cur = torch.full((50, 1, 2), 1e4)
    spikes, state, rec = layer.scan(cur, layer.initial_state(1), record=("v", "u"))
    assert spikes.all()  # one spike per step at most, every step
    assert torch.isfinite(rec["v"]).all() and torch.isfinite(rec["u"]).all()


def test_refractory_ignores_input() -> None:
    layer = Izhikevich.regular_spiking(1, refractory_ms=3.0).to(torch.float64)
    cur = torch.full((200, 1, 1), 1e4, dtype=torch.float64)
    spikes, _, _ = layer.scan(cur, layer.initial_state(1))
    times = torch.nonzero(spikes[:, 0, 0]).flatten().tolist()
    # huge input forces a spike whenever it is let through; without input v (at reset) stays below peak
    assert times == list(range(0, 200, 4))


def test_rejects_bad_params() -> None:
    with pytest.raises(ValueError, match="substeps must be a positive int, got 0"):
        Izhikevich(2, substeps=0)
    with pytest.raises(ValueError, match="substeps must be a positive int, got 1.5"):
        IzhikevichParams(substeps=1.5)
    with pytest.raises(ValueError, match=r"c_mv \(40.0\) must be below v_peak_mv \(30.0\)"):
        Izhikevich(2, c_mv=40.0)
