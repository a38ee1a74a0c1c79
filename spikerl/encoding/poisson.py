"""Poisson rate encoding: firing rates in Hz -> independent spikes in every time step.

Each element of the input is a rate ``r`` (Hz). In every step of length ``dt`` (ms) it spikes with probability

    p = min(r * dt / 1000, 1)

independently of other steps and elements (the Bernoulli approximation of a Poisson process, exact in the
limit ``r * dt -> 0``), so its spike count over ``T`` steps is Binomial(T, p) with mean ``T * p`` (equal to
``r * T * dt / 1000`` below saturation). Rates at or above ``1000 / dt`` Hz saturate: a spike every step;
rates above it lose the difference, so :func:`poisson` and :class:`PoissonEncoder` warn (``RuntimeWarning``)
when given one.
"""

from __future__ import annotations

import torch

from spikerl.encoding._checks import check_generator, check_number, check_range, check_steps, check_tensor
from spikerl.validation import warn_if_saturated


def poisson(rates_hz: torch.Tensor, steps: int, dt_ms: float = 1.0,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Encode firing rates as a Poisson spike train.

    Args:
        rates_hz: rates ``[B, *shape]`` in Hz, finite and ``>= 0``. Integer tensors are taken as whole Hz
            (converted to the default float dtype); bool tensors are refused.
        steps: number of time steps ``T`` (positive int).
        dt_ms: time step in ms.
        generator: optional ``torch.Generator`` on the device of ``rates_hz``, for reproducible trains.

    Returns:
        bool spike train ``[T, B, *shape]`` on the device of ``rates_hz``.

    Warns (``RuntimeWarning``) when a rate exceeds ``1000 / dt_ms`` Hz, where the train saturates.
    """
    steps = check_steps(steps)
    dt_ms = check_number("dt_ms", dt_ms, low=0.0, low_open=True)
    rates = check_tensor("rates_hz", rates_hz, floating=False)
    if rates.dtype == torch.bool or rates.is_complex():
        raise TypeError(f"rates_hz must be a real-valued tensor of rates in Hz, got dtype {rates.dtype}")
    if not rates.is_floating_point():
        rates = rates.to(torch.get_default_dtype())
    check_range("rates_hz", rates, 0.0)
    check_generator(generator, rates.device)
    if rates.numel():
        warn_if_saturated("the largest of rates_hz", float(rates.max()), dt_ms)
    return _sample(rates, steps, dt_ms, generator)


def _sample(rates: torch.Tensor, steps: int, dt_ms: float, generator: torch.Generator | None) -> torch.Tensor:
    """The spike train of checked rates: ``u < min(r * dt / 1000, 1)`` for uniform ``u`` per step and element."""
    p = (rates * (dt_ms / 1000.0)).clamp(max=1.0)
    u = torch.rand((steps, *p.shape), generator=generator, device=p.device, dtype=p.dtype)
    return u < p


class PoissonEncoder:
    """Callable Poisson encoder for intensities ``x`` in ``[0, 1]``: rates are ``x * max_rate_hz``.

    ``PoissonEncoder(steps=350, max_rate_hz=63.75)(images)`` maps ``[B, *shape]`` to a bool train
    ``[steps, B, *shape]``; see :func:`poisson`. (63.75 Hz is Diehl & Cook's rate for a white pixel: 255 / 4.)
    A ``max_rate_hz`` above ``1000 / dt_ms`` saturates and is warned about once, here.
    """

    def __init__(self, steps: int, dt_ms: float = 1.0, max_rate_hz: float = 63.75,
                 generator: torch.Generator | None = None) -> None:
        self.steps = check_steps(steps)
        self.dt_ms = check_number("dt_ms", dt_ms, low=0.0, low_open=True)
        self.max_rate_hz = check_number("max_rate_hz", max_rate_hz, low=0.0)
        warn_if_saturated("max_rate_hz", self.max_rate_hz, self.dt_ms)
        self.generator = generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = check_tensor("x", x)
        check_range("x", x, 0.0, 1.0)
        check_generator(self.generator, x.device)
        return _sample(x * self.max_rate_hz, self.steps, self.dt_ms, self.generator)

    def __repr__(self) -> str:
        return f"PoissonEncoder(steps={self.steps}, dt_ms={self.dt_ms}, max_rate_hz={self.max_rate_hz})"
