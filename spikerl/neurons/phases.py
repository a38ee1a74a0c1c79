"""Small named phases that neuron step functions are composed of.

All take and return new tensors (no in-place change of the caller's tensors). ``refractory`` counters
count whole steps: a neuron that spikes at step ``k`` with ``refractory_steps = R`` ignores its input on
steps ``k+1 .. k+R`` (BindsNET's convention) while its membrane keeps decaying.

Spikes come in two kinds, chosen by :func:`fire`'s ``spike_fn``:

* ``bool`` (``spike_fn=None``): the :class:`~spikerl.Network` path, no gradient;
* float 0.0 / 1.0 with a surrogate derivative (``spike_fn`` from :mod:`spikerl.neurons.surrogate`): the
  multi-step module path, trained by backpropagation through time.

Every phase that takes spikes accepts both and gives the same values for both, so one step function serves
both paths; on float spikes the resets are differentiable (optionally with the reset's gradient detached).
"""

from __future__ import annotations

import math

import torch

from spikerl.neurons.surrogate import SpikeFn


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


def fire(v: torch.Tensor, v_thresh: float | torch.Tensor, spike_fn: SpikeFn | None = None) -> torch.Tensor:
    """Spikes where the membrane reached threshold, ``H(v - v_thresh)`` with ``H(0) = 1``.

    Without ``spike_fn``: ``bool`` spikes ``v >= v_thresh``. With it: float 0/1 spikes
    ``spike_fn(v - v_thresh)`` (the same values: ``v - v_thresh >= 0`` exactly when ``v >= v_thresh``),
    whose gradient is the spike function's surrogate derivative.
    """
    if spike_fn is None:
        return v >= v_thresh
    spikes = spike_fn(v - v_thresh)
    if not isinstance(spikes, torch.Tensor) or spikes.shape != v.shape or spikes.dtype != v.dtype:
        got = f"{spikes.dtype} {list(spikes.shape)}" if isinstance(spikes, torch.Tensor) else type(spikes).__name__
        raise ValueError(f"the spike function must return float 0/1 spikes of the membrane's dtype and shape "
                         f"({v.dtype} {list(v.shape)}), got {got}")
    return spikes


def fired(spikes: torch.Tensor) -> torch.Tensor:
    """Where a neuron spiked, as ``bool`` (no gradient), for bool or float 0/1 spikes."""
    return spikes if spikes.dtype == torch.bool else spikes.detach() != 0


def suppress(spikes: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Keep spikes only where ``allowed`` (bool); float spikes keep their gradient there and lose it elsewhere."""
    return spikes & allowed if spikes.dtype == torch.bool else spikes * allowed


def reset(v: torch.Tensor, spikes: torch.Tensor, v_reset: float, detach: bool = False) -> torch.Tensor:
    """Set spiking neurons to ``v_reset``.

    Float spikes ``s`` give the same values (``v_reset`` exactly) with the gradient of
    ``v - s (v - v_reset)``: ``dv'/dv = 1 - s`` and ``dv'/ds = v_reset - v`` (the latter dropped when
    ``detach``).
    """
    out = torch.where(fired(spikes), v_reset, v)  # a Python scalar: no host-to-device copy per step
    if detach or not spikes.requires_grad:
        return out
    return out + (spikes - spikes.detach()) * (v_reset - v)  # adds exact zeros; carries dv'/ds


def reset_subtract(v: torch.Tensor, spikes: torch.Tensor, amount: float | torch.Tensor,
                   detach: bool = False) -> torch.Tensor:
    """Soft reset: lower spiking neurons' membrane by ``amount``, ``v' = v - s * amount`` (keeps the overshoot).

    Float spikes give the same values with ``dv'/dv = 1`` and ``dv'/ds = -amount`` (dropped when ``detach``).
    """
    if spikes.dtype == torch.bool:
        return torch.where(spikes, v - amount, v)
    return v - (spikes.detach() if detach else spikes) * amount


def count_refractory(refractory: torch.Tensor | None, spikes: torch.Tensor, steps: int) -> torch.Tensor | None:
    """Start a countdown of ``steps`` at each spike; elsewhere count down towards 0."""
    if refractory is None:
        return None
    down = (refractory - 1).clamp_min(0)
    return torch.where(fired(spikes), float(steps), down)


def clamp_min(v: torch.Tensor, v_min: float | None) -> torch.Tensor:
    """Optional lower bound on the membrane potential."""
    return v if v_min is None else v.clamp_min(v_min)
