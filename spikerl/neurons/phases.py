"""Small named phases that neuron step functions are composed of.

All take and return new tensors (no in-place change of the caller's tensors). ``refractory`` counters
count whole steps: a neuron that spikes at step ``k`` with ``refractory_steps = R`` ignores its input on
steps ``k+1 .. k+R`` (BindsNET's convention) while its membrane keeps decaying.
"""

from __future__ import annotations

import math

import torch


def decay_factor(tau_ms: float, dt_ms: float) -> float:
    """Exact per-step decay ``exp(-dt / tau)``; ``tau = inf`` gives 1 (no leak)."""
    return 1.0 if math.isinf(tau_ms) else math.exp(-dt_ms / tau_ms)


def refractory_steps(refractory_ms: float, dt_ms: float) -> int:
    """Whole steps of refractoriness for a period of ``refractory_ms`` (rounded to the nearest step)."""
    if refractory_ms < 0:
        raise ValueError(f"refractory_ms must be >= 0, got {refractory_ms}")
    return int(round(refractory_ms / dt_ms))


def leak(v: torch.Tensor, v_rest: float, decay: float) -> torch.Tensor:
    """Exact exponential relaxation towards rest over one step: ``rest + (v - rest) * decay``."""
    if decay == 1.0:
        return v
    return (v - v_rest) * decay + v_rest


def integrate(v: torch.Tensor, current: torch.Tensor, refractory: torch.Tensor | None) -> torch.Tensor:
    """Add the step's input ``current`` (mV), except where a neuron is refractory."""
    if refractory is None:
        return v + current
    return v + current * (refractory <= 0)


def fire(v: torch.Tensor, v_thresh: float | torch.Tensor) -> torch.Tensor:
    """Spikes (bool) where the membrane reached threshold."""
    return v >= v_thresh


def reset(v: torch.Tensor, spikes: torch.Tensor, v_reset: float) -> torch.Tensor:
    """Set spiking neurons to ``v_reset``."""
    return torch.where(spikes, torch.as_tensor(v_reset, dtype=v.dtype, device=v.device), v)


def count_refractory(refractory: torch.Tensor | None, spikes: torch.Tensor, steps: int) -> torch.Tensor | None:
    """Start a countdown of ``steps`` at each spike; elsewhere count down towards 0."""
    if refractory is None:
        return None
    down = (refractory - 1).clamp_min(0)
    return torch.where(spikes, torch.as_tensor(float(steps), dtype=down.dtype, device=down.device), down)


def clamp_min(v: torch.Tensor, v_min: float | None) -> torch.Tensor:
    """Optional lower bound on the membrane potential."""
    return v if v_min is None else v.clamp_min(v_min)
