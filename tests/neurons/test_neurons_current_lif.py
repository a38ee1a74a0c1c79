"""CurrentLIF: exact synaptic decay and a hand-unrolled membrane."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.neurons import CurrentLIF, CurrentLIFParams


def test_defaults_follow_bindsnet_current_lif_nodes() -> None:
    p = CurrentLIFParams()
    assert (p.v_rest_mv, p.v_reset_mv, p.v_thresh_mv) == (-65.0, -65.0, -52.0)
    assert (p.tau_mem_ms, p.tau_syn_ms, p.refractory_ms) == (100.0, 2.0, 5.0)


@pytest.mark.parametrize("tau_syn_ms, dt_ms", [(2.0, 1.0), (5.0, 0.5)])
def test_synaptic_current_decays_exactly(tau_syn_ms: float, dt_ms: float) -> None:
    layer = CurrentLIF(1, dt_ms=dt_ms, tau_syn_ms=tau_syn_ms, v_thresh_mv=1e9).to(torch.float64)
    pulse, steps = 3.0, 40
    cur = torch.zeros(steps, 1, 1, dtype=torch.float64)
    cur[0] = pulse
    _, _, rec = layer.scan(cur, layer.initial_state(1), record=("i_syn",))
    d_syn = math.exp(-dt_ms / tau_syn_ms)
    expected = pulse * d_syn ** torch.arange(steps, dtype=torch.float64)
    torch.testing.assert_close(rec["i_syn"][:, 0, 0], expected, rtol=0, atol=1e-12)


def test_membrane_matches_a_hand_unrolled_computation() -> None:
    layer = CurrentLIF(1, tau_mem_ms=20.0, tau_syn_ms=4.0, v_thresh_mv=1e9).to(torch.float64)
    r = layer.params.v_rest_mv
    dm, ds = math.exp(-1 / 20), math.exp(-1 / 4)
    I0, I1, I2, I3 = 2.0, 0.0, -1.0, 0.5
    v_init = r
    i0 = I0
    v0 = r + (v_init - r) * dm + i0
    i1 = i0 * ds + I1
    v1 = r + (v0 - r) * dm + i1
    i2 = i1 * ds + I2
    v2 = r + (v1 - r) * dm + i2
    i3 = i2 * ds + I3
    v3 = r + (v2 - r) * dm + i3
    cur = torch.tensor([I0, I1, I2, I3], dtype=torch.float64).reshape(4, 1, 1)
    _, _, rec = layer.scan(cur, layer.initial_state(1), record=("v", "i_syn"))
    assert rec["i_syn"][:, 0, 0].tolist() == pytest.approx([i0, i1, i2, i3], abs=1e-12)
    assert rec["v"][:, 0, 0].tolist() == pytest.approx([v0, v1, v2, v3], abs=1e-12)
    # closed form of the same: v_3 - r = sum_k i_k dm^(3-k)
    assert v3 - r == pytest.approx(i0 * dm ** 3 + i1 * dm ** 2 + i2 * dm + i3, abs=1e-12)


def test_refractory_ignores_the_synaptic_current_but_keeps_integrating_it() -> None:
    layer = CurrentLIF(1, refractory_ms=3.0).to(torch.float64)
    p = layer.params
    ds = math.exp(-1 / p.tau_syn_ms)
    cur = torch.zeros(6, 1, 1, dtype=torch.float64)
    cur[0] = 20.0   # fires at once from rest (-65 + 20 >= -52)
    cur[2] = 5.0    # arrives while refractory: charges i_syn only
    spikes, _, rec = layer.scan(cur, layer.initial_state(1), record=("v", "i_syn"))
    assert torch.nonzero(spikes[:, 0, 0]).flatten().tolist() == [0]
    i = [20.0, 20.0 * ds, 20.0 * ds ** 2 + 5.0]
    i += [i[2] * ds, i[2] * ds ** 2, i[2] * ds ** 3]
    assert rec["i_syn"][:, 0, 0].tolist() == pytest.approx(i, abs=1e-12)
    # steps 1..3 refractory: reset == rest, so v stays at rest; step 4 adds i_4
    assert rec["v"][:4, 0, 0].tolist() == [p.v_reset_mv] * 4
    dm = math.exp(-1 / p.tau_mem_ms)
    assert rec["v"][4, 0, 0].item() == pytest.approx(p.v_rest_mv + i[4], abs=1e-12)
    assert rec["v"][5, 0, 0].item() == pytest.approx(p.v_rest_mv + i[4] * dm + i[5], abs=1e-12)


def test_a_pulse_train_needs_fewer_steps_with_a_slower_synapse() -> None:
    """The synaptic filter sums a train of small pulses: a slower synapse reaches threshold sooner."""
    cur = torch.full((50, 1, 1), 1.0)
    first = []
    for tau_syn in (1.0, 2.0, 8.0):
        layer = CurrentLIF(1, tau_syn_ms=tau_syn)
        spikes, _, _ = layer.scan(cur, layer.initial_state(1))
        first.append(torch.nonzero(spikes[:, 0, 0]).flatten()[0].item())
    assert first[0] > first[1] > first[2]


def test_rejects_non_positive_tau_syn() -> None:
    with pytest.raises(ValueError, match="tau_syn_ms must be a positive number, got 0"):
        CurrentLIF(2, tau_syn_ms=0.0)
