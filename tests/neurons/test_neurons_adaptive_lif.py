"""AdaptiveLIF: threshold growth and decay, eval mode, one spike per step, committing theta."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.neurons import AdaptiveLIF

BIG = 40.0  # one pulse from any potential used here crosses v_thresh + theta


def pulses(steps: int, at: list[int], batch: int = 1, n: int = 1) -> torch.Tensor:
    cur = torch.zeros(steps, batch, n, dtype=torch.float64)
    cur[at] = BIG
    return cur


def test_theta_grows_by_theta_plus_per_spike_and_decays_exponentially() -> None:
    theta_plus, tau_theta = 0.5, 20.0
    layer = AdaptiveLIF(1, theta_plus_mv=theta_plus, tau_theta_ms=tau_theta, one_spike=False).to(torch.float64)
    d = math.exp(-1.0 / tau_theta)
    spikes, state, rec = layer.scan(pulses(30, [0, 10]), layer.initial_state(1), record=("theta",))
    assert torch.nonzero(spikes[:, 0, 0]).flatten().tolist() == [0, 10]
    theta = rec["theta"][:, 0, 0]
    for t in range(30):
        expected = theta_plus * d ** t + (theta_plus * d ** (t - 10) if t >= 10 else 0.0)
        assert theta[t].item() == pytest.approx(expected, abs=1e-12)


def test_theta_increments_of_a_batch_add_up() -> None:
    layer = AdaptiveLIF(2, theta_plus_mv=0.25, one_spike=False).to(torch.float64)
    cur = torch.zeros(1, 3, 2, dtype=torch.float64)
    cur[0, :, 0] = BIG   # neuron 0 spikes in all 3 samples
    cur[0, 1, 1] = BIG   # neuron 1 in one sample
    _, state, _ = layer.scan(cur, layer.initial_state(3))
    torch.testing.assert_close(state.theta, torch.tensor([3 * 0.25, 1 * 0.25], dtype=torch.float64))


def test_raised_threshold_is_used_for_firing() -> None:
    layer = AdaptiveLIF(1, theta_plus_mv=20.0, refractory_ms=0.0, one_spike=False).to(torch.float64)
    p = layer.params
    # first pulse fires from rest; theta is then ~20 mV, so the same pulse from reset no longer fires
    just_enough = p.v_thresh_mv - p.v_reset_mv + 1.0
    cur = torch.full((2, 1, 1), p.v_thresh_mv - p.v_rest_mv + 1.0, dtype=torch.float64)
    cur[1] = just_enough
    spikes, _, _ = layer.scan(cur, layer.initial_state(1))
    assert spikes[:, 0, 0].tolist() == [True, False]
    layer.eval()  # without adaptation the second pulse fires
    spikes, _, _ = layer.scan(cur, layer.initial_state(1))
    assert spikes[:, 0, 0].tolist() == [True, True]


def test_no_adaptation_in_eval_mode() -> None:
    layer = AdaptiveLIF(1, theta_plus_mv=0.5, one_spike=False).to(torch.float64).eval()
    spikes, state, rec = layer.scan(pulses(30, [0, 10, 20]), layer.initial_state(1), record=("theta",))
    assert spikes.sum().item() == 3
    assert not rec["theta"].any() and not state.theta.any()


def test_one_spike_keeps_only_the_largest_overshoot() -> None:
    layer = AdaptiveLIF(3, one_spike=True).to(torch.float64)
    p = layer.params
    cur = torch.tensor([[[5.0, 20.0, 15.0], [20.0, 0.0, 25.0], [1.0, 2.0, 3.0]]], dtype=torch.float64)
    spikes, state, _ = layer.scan(cur, layer.initial_state(3))
    v_free = p.v_rest_mv + cur[0]  # membrane before firing (one step from rest)
    above = v_free >= p.v_thresh_mv
    assert above.sum(1).tolist() == [2, 2, 0]
    assert spikes[0].tolist() == [[False, True, False], [False, False, True], [False, False, False]]
    # neurons above threshold that lost keep their potential (no reset, no refractoriness)
    assert state.v[0, 2].item() == v_free[0, 2].item()
    assert state.v[1, 0].item() == v_free[1, 0].item()
    assert state.v[0, 1].item() == state.v[1, 2].item() == p.v_reset_mv
    assert state.refractory[0].tolist() == [0.0, 5.0, 0.0]


def test_one_spike_off_lets_all_above_threshold_fire() -> None:
    layer = AdaptiveLIF(3, one_spike=False)
    cur = torch.tensor([[[5.0, 20.0, 15.0]]])
    spikes, _, _ = layer.scan(cur, layer.initial_state(1))
    assert spikes[0].tolist() == [[False, True, True]]


def test_theta_is_committed_by_end_run_only_when_learning() -> None:
    layer = AdaptiveLIF(1, theta_plus_mv=0.5, one_spike=False)
    _, state, _ = layer.scan(pulses(12, [0, 10]).float(), layer.initial_state(1))
    assert state.theta.item() > 0
    assert layer.theta.item() == 0.0  # a run alone does not change the buffer
    layer.end_run(state, learning=False)
    assert layer.theta.item() == 0.0
    layer.end_run(state, learning=True)
    assert torch.equal(layer.theta, state.theta)
    assert torch.equal(layer.initial_state(2).theta, state.theta)  # the next run starts from it
    assert "theta" in layer.state_dict()
