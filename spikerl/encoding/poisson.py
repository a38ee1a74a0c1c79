"""Poisson rate encoding: intensities in Hz -> independent Bernoulli spikes per time step."""

from __future__ import annotations

import torch


def poisson(rates_hz: torch.Tensor, steps: int, dt_ms: float = 1.0,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Encode firing rates ``[B, *shape]`` (Hz, >= 0) as a spike train ``[steps, B, *shape]`` (bool).

    Each step spikes with probability ``rate * dt / 1000`` (clipped to 1), independently; the expected
    count over ``steps`` is ``rate * steps * dt / 1000``. Runs on the device of ``rates_hz``.
    """
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if dt_ms <= 0:
        raise ValueError(f"dt_ms must be positive, got {dt_ms}")
    rates = torch.as_tensor(rates_hz)
    if not rates.is_floating_point():
        rates = rates.float()
    if (rates < 0).any() or not torch.isfinite(rates).all():
        raise ValueError("rates_hz must be finite and >= 0")
    p = (rates * (dt_ms / 1000.0)).clamp_(max=1.0)
    u = torch.rand((steps, *p.shape), generator=generator, device=p.device, dtype=p.dtype)
    return u < p


class PoissonEncoder:
    """Callable encoder: ``PoissonEncoder(steps, dt_ms, max_rate_hz)(x)`` for ``x`` in [0, 1] ``[B, ...]``.

    Rates are ``x * max_rate_hz``; returns bool ``[steps, B, ...]``.
    """

    def __init__(self, steps: int, dt_ms: float = 1.0, max_rate_hz: float = 63.75,
                 generator: torch.Generator | None = None) -> None:
        self.steps, self.dt_ms, self.max_rate_hz, self.generator = steps, dt_ms, max_rate_hz, generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return poisson(x * self.max_rate_hz, self.steps, self.dt_ms, self.generator)
