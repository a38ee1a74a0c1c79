"""Spike traces: low-pass filtered spike trains used by plasticity rules.

With decay ``d = exp(-dt / tau_ms)`` and spikes ``s_t`` in {0, 1}:

* ``additive``: ``x_t = d * x_{t-1} + scale * s_t`` (every spike adds; all-to-all pairing);
* ``nearest``:  ``x_t = scale`` where ``s_t`` else ``d * x_{t-1}`` (the trace is reset to ``scale`` at a
  spike; nearest-spike pairing).

Traces at step ``t`` include the spikes of step ``t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch


@dataclass(frozen=True)
class TraceParams:
    """Settings of a spike trace.

    Attributes:
        tau_ms: time constant of the exponential decay, in ms.
        mode: ``"additive"`` or ``"nearest"`` (see module docstring).
        scale: amount added (additive) or value set (nearest) at a spike.
    """

    tau_ms: float = 20.0
    mode: Literal["additive", "nearest"] = "additive"
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tau_ms) and self.tau_ms > 0):
            raise ValueError(f"trace tau_ms must be a positive number, got {self.tau_ms!r}")
        if self.mode not in ("additive", "nearest"):
            raise ValueError(f"trace mode must be 'additive' or 'nearest', got {self.mode!r}")

    def decay(self, dt_ms: float) -> float:
        """Exact per-step decay factor ``exp(-dt / tau)``."""
        return math.exp(-dt_ms / self.tau_ms)


def trace_step(spikes: torch.Tensor, trace: torch.Tensor, decay: float,
               mode: str = "additive", scale: float = 1.0) -> torch.Tensor:
    """One step of a spike trace. ``spikes`` bool or float ``[B, ...]``; returns a new ``trace``."""
    s = spikes.to(trace.dtype)
    if mode == "additive":
        return trace * decay + s * scale
    return torch.where(spikes.bool(), torch.full_like(trace, scale), trace * decay)
