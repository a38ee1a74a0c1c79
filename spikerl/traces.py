"""Spike traces: low-pass filtered spike trains used by plasticity rules.

With decay ``d = exp(-dt / tau_ms)`` and spikes ``s_t`` in {0, 1}:

* ``additive``: ``x_t = d * x_{t-1} + scale * s_t`` (every spike adds; all-to-all pairing);
* ``nearest``:  ``x_t = scale`` where ``s_t`` else ``d * x_{t-1}`` (the trace is reset to ``scale`` at a
  spike; nearest-spike pairing).

Traces at step ``t`` include the spikes of step ``t``.
"""

from __future__ import annotations

import functools
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
        if not math.isfinite(self.scale):
            raise ValueError(f"trace scale must be a finite number, got {self.scale!r}")

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


def trace_train(spikes: torch.Tensor, initial: torch.Tensor, decay: float, mode: str = "additive",
                scale: float = 1.0) -> torch.Tensor:
    """The trace at every step of a train ``spikes [T, B, ...]`` from ``initial [B, ...]``: ``[T, B, ...]``.

    Equal to applying :func:`trace_step` ``T`` times (up to rounding). Additive traces of up to 64 steps are
    one matrix product, ``x_t = d^(t+1) x_init + scale * sum_(k <= t) d^(t-k) s_k``; otherwise step by step.
    """
    steps = spikes.shape[0]
    if mode == "additive" and steps <= 64:
        kernel, carry = _decay_kernel(steps, decay, initial.dtype, initial.device)
        s = spikes.reshape(steps, -1).to(initial.dtype)
        out = torch.mm(kernel, s).mul_(scale).reshape(spikes.shape)
        return out.add_(carry.reshape(steps, *[1] * initial.dim()) * initial)
    out = torch.empty(spikes.shape, dtype=initial.dtype, device=initial.device)
    x = initial
    for t in range(steps):
        x = trace_step(spikes[t], x, decay, mode, scale)
        out[t] = x
    return out


def trace_summary(spikes: torch.Tensor, initial: torch.Tensor, decay: float, weight_decay: float,
                  scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """An additive trace of ``spikes [T, B, ...]`` from ``initial [B, ...]``, summarised without the train
    ``x [T, B, ...]``: ``(sum_t weight_decay^(T-1-t) x_t, x_(T-1))``, both ``[B, ...]``.

    The decayed sum is what an eligibility trace with per-step decay ``weight_decay`` keeps of the trace paired
    with a constant factor. One ``[2, T] @ [T, B * n]`` product with cached coefficients; equal to reducing
    :func:`trace_train` (up to rounding).
    """
    steps = spikes.shape[0]
    rows, carry = _summary_rows(steps, decay, weight_decay, initial.dtype, initial.device)
    out = torch.mm(rows, spikes.reshape(steps, -1).to(initial.dtype))
    if scale != 1.0:
        out.mul_(scale)
    out = out.reshape(2, *initial.shape).add_(carry.reshape(2, *[1] * initial.dim()) * initial)
    return out[0], out[1]


@functools.lru_cache(maxsize=64)
def _summary_rows(steps: int, decay: float, weight_decay: float, dtype: torch.dtype, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients of :func:`trace_summary`: the rows ``[g^(T-1-t)]`` and ``[0, .., 0, 1]`` applied to the
    trace's kernel (``[2, T]``, on the spikes) and carry (``[2]``, on the initial trace)."""
    kernel, carry = _decay_kernel(steps, decay, torch.float64, torch.device("cpu"))
    select = torch.zeros(2, steps, dtype=torch.float64)
    select[0] = weight_decay ** torch.arange(steps - 1, -1, -1, dtype=torch.float64)
    select[1, -1] = 1.0
    return (select @ kernel).to(dtype=dtype, device=device), (select @ carry).to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _decay_kernel(steps: int, decay: float, dtype: torch.dtype, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``K [T, T]`` with ``K[t, k] = d^(t-k)`` for ``k <= t`` (else 0), and ``c [T]`` with ``c[t] = d^(t+1)``."""
    lag = torch.arange(steps, dtype=torch.float64)
    lag = lag[:, None] - lag[None, :]
    kernel = torch.where(lag >= 0, decay ** lag.clamp(min=0), torch.zeros_like(lag))
    carry = decay ** torch.arange(1, steps + 1, dtype=torch.float64)
    return kernel.to(dtype=dtype, device=device), carry.to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def decay_powers(steps: int, decay: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[T]``: ``d^(T-1-t)`` for ``t = 0 .. T-1``, the weight of step ``t``'s contribution at the end of a run.

    Cached (callers in an env-step loop get the same read-only tensor each time).
    """
    return (decay ** torch.arange(steps - 1, -1, -1, dtype=torch.float64)).to(dtype=dtype, device=device)
