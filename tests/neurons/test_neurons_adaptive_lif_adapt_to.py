"""``AdaptiveLIF.adapt_to``: thresholds committed after a frozen run follow the adapting step's recursion."""

from __future__ import annotations

import pytest
import torch

from spikerl.neurons import AdaptiveLIF


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
