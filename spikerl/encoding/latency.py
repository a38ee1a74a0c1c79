"""Latency (time-to-first-spike) encoding: the stronger the input, the earlier its single spike.

An intensity ``x`` in ``[0, x_max]`` spikes exactly once, at step

    t(x) = floor((1 - x / x_max) * (T - 1) + 1/2)        (x > 0)

that is, ``(1 - x / x_max) * (T - 1)`` rounded to the nearest step (halves round up, to the later step).
The mapping is linear and uses the whole window: ``x = x_max`` spikes at step 0, ``x -> 0+`` at step
``T - 1``, and larger intensities never spike later than smaller ones. ``x = 0`` never spikes. With ``T = 1``
every positive input spikes at step 0. Decode with :func:`spikerl.decoding.first_spike_times`, which inverts
:func:`latency_times` on the spiking elements.
"""

from __future__ import annotations

import math

import torch

from spikerl.encoding._checks import check_number, check_range, check_steps, check_tensor


def latency_times(x: torch.Tensor, steps: int, x_max: float = 1.0) -> torch.Tensor:
    """Spike step of each element of ``x`` (float ``[B, *shape]`` in ``[0, x_max]``) under the mapping in the
    module docstring, as a float tensor of the same shape: ``t(x)`` in ``{0, ..., steps - 1}``, ``inf`` where
    ``x == 0``."""
    steps = check_steps(steps)
    x_max = check_number("x_max", x_max, low=0.0, low_open=True)
    x = check_tensor("x", x)
    check_range("x", x, 0.0, x_max)
    t = torch.floor((1.0 - x / x_max) * (steps - 1) + 0.5).clamp(0, steps - 1)
    return torch.where(x > 0, t, torch.full_like(t, math.inf))


def latency(x: torch.Tensor, steps: int, x_max: float = 1.0) -> torch.Tensor:
    """Encode intensities ``x`` (float ``[B, *shape]`` in ``[0, x_max]``) as a bool train ``[steps, B, *shape]``
    with at most one spike per element, at step :func:`latency_times` (no spike where ``x == 0``)."""
    times = latency_times(x, steps, x_max)
    fires = torch.isfinite(times)
    index = torch.where(fires, times, torch.zeros_like(times)).long()
    train = torch.zeros((steps, *x.shape), dtype=torch.bool, device=x.device)
    return train.scatter_(0, index.unsqueeze(0), fires.unsqueeze(0))


class LatencyEncoder:
    """Callable latency encoder: ``LatencyEncoder(steps, x_max)(x)`` equals ``latency(x, steps, x_max)``."""

    def __init__(self, steps: int, x_max: float = 1.0) -> None:
        self.steps = check_steps(steps)
        self.x_max = check_number("x_max", x_max, low=0.0, low_open=True)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return latency(x, self.steps, self.x_max)

    def __repr__(self) -> str:
        return f"LatencyEncoder(steps={self.steps}, x_max={self.x_max})"
