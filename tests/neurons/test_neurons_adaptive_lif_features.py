"""What a feature layer of adaptive neurons needs: ``AdaptiveLIF.adapt_to`` (thresholds committed after a frozen
run follow the adapting step's recursion) and ``one_spike_per="position"`` (a winner per position)."""

from __future__ import annotations

import pytest
import torch

from spikerl.kernels import BackendUnavailable
from spikerl.neurons import AdaptiveLIF
from spikerl.neurons.adaptive_lif import AdaptiveLIFParams


def test_adapt_to_follows_the_step_recursion():
    """``theta_t = theta_(t-1) exp(-dt / tau_theta) + theta_plus * sum_b s_t[b]`` for the given spikes."""
    layer = AdaptiveLIF((2, 3), tau_theta_ms=4.0, theta_plus_mv=0.25)
    with torch.no_grad():
        layer.theta.copy_(torch.arange(6.0).reshape(2, 3))
    spikes = torch.rand(5, 3, 2, 3, generator=torch.Generator().manual_seed(1)) < 0.5
    theta = layer.theta.clone()
    decay = torch.exp(torch.tensor(-1.0 / 4.0)).item()
    for t in range(5):
        theta = theta * decay + 0.25 * spikes[t].sum(0)
    layer.adapt_to(spikes)
    torch.testing.assert_close(layer.theta, theta)


def test_adapt_to_refuses_a_wrong_shape():
    layer = AdaptiveLIF(4)
    with pytest.raises(ValueError, match=r"expected spikes \[T, B, 4\]"):
        layer.adapt_to(torch.zeros(3, 4))


#: Input currents (mV) of one step into 3 maps x 2 positions from rest: ``v = v_rest + I`` crosses ``v_thresh``
#: (13 mV above rest) where ``I > 13``. Position 0: maps 0, 1, 2 at 14, 20, 16 (all cross; overshoots 1, 7, 3);
#: position 1: 30, 15, 0 (maps 0 and 1 cross; overshoots 17, 2).
CURRENTS = torch.tensor([[[14.0, 30.0], [20.0, 15.0], [16.0, 0.0]]])


@pytest.mark.parametrize("per, expected", [
    ("position", [[False, True], [True, False], [False, False]]),  # map 1 wins position 0, map 0 position 1
    ("sample", [[False, True], [False, False], [False, False]]),   # the largest overshoot of the layer, 17
])
def test_one_spike_per_position_keeps_the_largest_overshoot_at_each_position(per, expected):
    layer = AdaptiveLIF((3, 2), v_rest_mv=-65.0, v_thresh_mv=-52.0, tau_mem_ms=float("inf"), one_spike=True,
                        one_spike_per=per)
    spikes, _ = layer.step(CURRENTS, layer.initial_state(1))
    assert spikes[0].tolist() == expected


def test_one_spike_per_position_is_checked_and_not_served_by_the_c_kernel():
    with pytest.raises(ValueError, match="one_spike_per must be 'sample' or 'position'"):
        AdaptiveLIFParams(one_spike_per="map")
    with pytest.raises(BackendUnavailable, match="one per position"):
        AdaptiveLIF((3, 2), one_spike_per="position", backend="c")
