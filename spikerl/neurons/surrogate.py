"""Surrogate spike functions: the exact spike in the forward pass, a smooth derivative in the backward pass.

A spike is a Heaviside step of the membrane potential relative to threshold, ``s = H(x)`` with
``x = v - v_thresh`` and ``H(x) = 1 if x >= 0 else 0`` (the ``>=`` of :func:`spikerl.neurons.phases.fire`).
Its true derivative is zero almost everywhere, so gradient descent cannot pass through it. A *surrogate*
keeps the exact step in the forward pass and uses the derivative ``sigma'(x)`` of a smooth sigmoid-like
function in the backward pass (Neftci, Mostafa & Zenke 2019):

* **fast sigmoid** (SuperSpike, Zenke & Ganguli 2018)::

      dS/dx = 1 / (k |x| + 1)^2

* **arctan** (Fang et al. 2021)::

      S(x) = 1/2 + arctan(pi/2 * k * x) / pi,      dS/dx = (k / 2) / (1 + (pi/2 * k * x)^2)

  (this one integrates to 1 over the real line, like the step it replaces).

``k`` is the *slope*: the larger it is, the sharper (and more local) the surrogate.

Any neuron layer that supports gradients takes ``surrogate=`` a name (``"fast_sigmoid"``, ``"arctan"``), a
:class:`SurrogateSpike` (a name with a slope) or any callable ``x -> H(x)`` with its own backward (see
:func:`resolve_surrogate`); its spikes are then float 0/1 tensors through which gradients flow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Union

import torch

SpikeFn = Callable[[torch.Tensor], torch.Tensor]
"""A spike function ``x -> s``: ``x = v - v_thresh`` (float), ``s`` float 0/1 of the same shape and dtype."""


def fast_sigmoid_derivative(x: torch.Tensor, slope: float) -> torch.Tensor:
    """SuperSpike surrogate derivative ``1 / (slope * |x| + 1)^2``."""
    return 1.0 / (slope * x.abs() + 1.0) ** 2


def arctan_derivative(x: torch.Tensor, slope: float) -> torch.Tensor:
    """Arctan surrogate derivative ``(slope / 2) / (1 + (pi/2 * slope * x)^2)``."""
    return (slope / 2.0) / (1.0 + (math.pi / 2.0 * slope * x) ** 2)


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """Exact step ``H(x) = 1 if x >= 0 else 0`` in the dtype of ``x`` (no gradient)."""
    return (x >= 0).to(x.dtype)


class _SurrogateSpike(torch.autograd.Function):
    """Heaviside forward; backward multiplies by an analytic surrogate derivative.

    ``apply(x, slope, derivative)`` with ``derivative(x, slope) -> dS/dx`` (e.g. :func:`fast_sigmoid_derivative`).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, slope: float,
                derivative: Callable[[torch.Tensor, float], torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.slope, ctx.derivative = slope, derivative
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (x,) = ctx.saved_tensors
        return grad_output * ctx.derivative(x, ctx.slope), None, None


def _check_float(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


def fast_sigmoid_spike(x: torch.Tensor, slope: float = 25.0) -> torch.Tensor:
    """Spikes ``H(x)`` (float 0/1, same shape as ``x``) with gradient ``1 / (slope |x| + 1)^2``.

    ``x`` is the membrane potential minus the threshold.
    """
    _check_float("x", x)
    return _SurrogateSpike.apply(x, float(slope), fast_sigmoid_derivative)


def arctan_spike(x: torch.Tensor, slope: float = 2.0) -> torch.Tensor:
    """Spikes ``H(x)`` (float 0/1, same shape as ``x``) with gradient ``(slope/2) / (1 + (pi/2 slope x)^2)``.

    ``x`` is the membrane potential minus the threshold.
    """
    _check_float("x", x)
    return _SurrogateSpike.apply(x, float(slope), arctan_derivative)


DERIVATIVES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "fast_sigmoid": fast_sigmoid_derivative,
    "arctan": arctan_derivative,
}
"""Analytic surrogate derivatives by name: ``fn(x, slope) -> dS/dx``."""

SURROGATES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "fast_sigmoid": fast_sigmoid_spike,
    "arctan": arctan_spike,
}
"""Surrogate spike functions by name: ``fn(x, slope) -> spikes``."""

DEFAULT_SLOPES: dict[str, float] = {"fast_sigmoid": 25.0, "arctan": 2.0}
"""A customary slope for each surrogate (snnTorch's and SpikingJelly's defaults)."""


@dataclass(frozen=True)
class SurrogateSpike:
    """A named surrogate spike function with its slope, e.g. ``SurrogateSpike("arctan", slope=1.5)``.

    Calling it maps ``x = v - v_thresh`` to float spikes ``H(x)`` whose backward is the analytic derivative
    :meth:`derivative` (which fused backends use directly).

    Attributes:
        name: a key of :data:`SURROGATES`.
        slope: the slope ``k``; ``None`` takes :data:`DEFAULT_SLOPES` (the stored value is then that default).
    """

    name: str = "fast_sigmoid"
    slope: float | None = None

    def __post_init__(self) -> None:
        if self.name not in SURROGATES:
            raise ValueError(f"unknown surrogate {self.name!r}; expected one of {sorted(SURROGATES)}")
        if self.slope is None:
            object.__setattr__(self, "slope", DEFAULT_SLOPES[self.name])
        k = self.slope
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not math.isfinite(k) or k <= 0:
            raise ValueError(f"slope must be a positive number, got {k!r}")
        object.__setattr__(self, "slope", float(k))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return SURROGATES[self.name](x, self.slope)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``dS/dx`` at ``x`` (no autograd Function involved)."""
        return DERIVATIVES[self.name](x, self.slope)


SurrogateArg = Union[str, SurrogateSpike, SpikeFn, None]
"""What a layer's ``surrogate=`` accepts (see :func:`resolve_surrogate`)."""


def resolve_surrogate(surrogate: SurrogateArg) -> SpikeFn | None:
    """Turn a layer's ``surrogate=`` argument into a spike function.

    ``None`` -> ``None`` (no gradient through spikes); a name -> ``SurrogateSpike(name)`` with the default
    slope; a :class:`SurrogateSpike` or any other callable ``x -> H(x)`` (float 0/1 spikes of the shape and
    dtype of ``x``, with the backward of your choice, e.g. a ``torch.autograd.Function``) is used as is.
    """
    if surrogate is None or isinstance(surrogate, SurrogateSpike):
        return surrogate
    if isinstance(surrogate, str):
        return SurrogateSpike(surrogate)
    if callable(surrogate):
        return surrogate
    raise TypeError(f"surrogate must be None, a name in {sorted(SURROGATES)}, a SurrogateSpike or a callable "
                    f"x -> spikes, got {type(surrogate).__name__}")
