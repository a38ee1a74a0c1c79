"""Surrogate gradients: spiking neurons that can be trained by backpropagation through time (BPTT).

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

The differentiable LIF step used for BPTT works on a dimensionless membrane (rest at 0, threshold
``v_thresh``; the trained weights set the scale). With ``beta = exp(-dt / tau_mem)`` and input ``I_t``::

    v'_t = beta * v_{t-1} + I_t                  (leak, then charge)
    s_t  = H(v'_t - v_thresh)                    (surrogate derivative in the backward pass)
    v_t  = v'_t - s_t * v_thresh                 ("subtract" / soft reset: keeps the gradient path)
    v_t  = v'_t * (1 - s_t)                      ("zero" reset, the alternative)

Under a constant input ``I`` and no spikes, starting from ``v_0``: ``v_t = v_inf + (v_0 - v_inf) beta^t`` with
``v_inf = I / (1 - beta)`` (or ``v_t = v_0 + t I`` without leak), the same law as :mod:`spikerl.neurons.lif`.
Unlike the engine's neurons (bool spikes), the spikes here are float tensors of 0.0 / 1.0 so that
gradients flow through them.

:func:`surrogate_lif_step` is the reference (autograd through every phase); :func:`surrogate_lif_scan` runs a
whole ``[T, B, *shape]`` current train from rest as one autograd node with a hand-written BPTT backward (the
same values and gradients, tested; several times fewer tensor ops, which dominate the cost of small conv SNNs
on CPU). :class:`SurrogateLIF` uses the fused scan whenever it starts from rest.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import torch
from torch import nn

from spikerl.neurons import phases
from spikerl.neurons.base import check_positive

SpikeFn = Callable[[torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------------------------------
# Surrogate derivatives (analytic) and the autograd functions that use them
# --------------------------------------------------------------------------------------------------

def fast_sigmoid_derivative(x: torch.Tensor, slope: float) -> torch.Tensor:
    """SuperSpike surrogate derivative ``1 / (slope * |x| + 1)^2``."""
    return 1.0 / (slope * x.abs() + 1.0) ** 2


def arctan_derivative(x: torch.Tensor, slope: float) -> torch.Tensor:
    """Arctan surrogate derivative ``(slope / 2) / (1 + (pi/2 * slope * x)^2)``."""
    return (slope / 2.0) / (1.0 + (math.pi / 2.0 * slope * x) ** 2)


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """Exact step ``H(x) = 1 if x >= 0 else 0`` in the dtype of ``x`` (no gradient)."""
    return (x >= 0).to(x.dtype)


class _FastSigmoidSpike(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid backward. ``apply(x, slope)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad_output * fast_sigmoid_derivative(x, ctx.slope), None


class _ArctanSpike(torch.autograd.Function):
    """Heaviside forward, arctan backward. ``apply(x, slope)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad_output * arctan_derivative(x, ctx.slope), None


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
    return _FastSigmoidSpike.apply(x, float(slope))


def arctan_spike(x: torch.Tensor, slope: float = 2.0) -> torch.Tensor:
    """Spikes ``H(x)`` (float 0/1, same shape as ``x``) with gradient ``(slope/2) / (1 + (pi/2 slope x)^2)``.

    ``x`` is the membrane potential minus the threshold.
    """
    _check_float("x", x)
    return _ArctanSpike.apply(x, float(slope))


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


def surrogate_spike_fn(name: str = "fast_sigmoid", slope: float | None = None) -> SpikeFn:
    """The spike function ``x -> H(x)`` with surrogate ``name`` and ``slope`` (default: :data:`DEFAULT_SLOPES`)."""
    if name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; expected one of {sorted(SURROGATES)}")
    k = DEFAULT_SLOPES[name] if slope is None else slope
    check_positive("slope", k)
    return functools.partial(SURROGATES[name], slope=k)


# --------------------------------------------------------------------------------------------------
# A differentiable LIF neuron for BPTT
# --------------------------------------------------------------------------------------------------

RESETS = ("subtract", "zero")


@dataclass(frozen=True)
class SurrogateLIFParams:
    """Parameters of :class:`SurrogateLIF` (dimensionless membrane with rest at 0).

    Attributes:
        tau_mem_ms: membrane time constant; ``beta = exp(-dt / tau_mem)`` (``inf``: no leak).
        v_thresh: firing threshold (in units of the input current).
        surrogate: name of the surrogate derivative, a key of :data:`SURROGATES`.
        slope: surrogate slope ``k``; ``None`` takes :data:`DEFAULT_SLOPES`.
        reset: ``"subtract"`` (soft reset, ``v -= s * v_thresh``) or ``"zero"`` (``v *= 1 - s``).
        detach_reset: stop the gradient through the reset term (snnTorch's default); the spike output
            itself still carries the gradient.
    """

    tau_mem_ms: float = 5.0
    v_thresh: float = 1.0
    surrogate: str = "fast_sigmoid"
    slope: float | None = None
    reset: str = "subtract"
    detach_reset: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.tau_mem_ms, (int, float)) and self.tau_mem_ms > 0):  # inf allowed: no leak
            raise ValueError(f"tau_mem_ms must be a positive number or inf, got {self.tau_mem_ms!r}")
        check_positive("v_thresh", self.v_thresh)
        if self.surrogate not in SURROGATES:
            raise ValueError(f"unknown surrogate {self.surrogate!r}; expected one of {sorted(SURROGATES)}")
        if self.slope is not None:
            check_positive("slope", self.slope)
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")


class SurrogateLIFState(NamedTuple):
    """``v``: membrane potential ``[B, *shape]`` after the reset of the last step."""

    v: torch.Tensor


def surrogate_lif_step(current: torch.Tensor, state: SurrogateLIFState, params: SurrogateLIFParams,
                       dt_ms: float = 1.0, spike_fn: SpikeFn | None = None
                       ) -> tuple[torch.Tensor, SurrogateLIFState]:
    """One differentiable LIF step (pure function; see the module docstring for the equations).

    Args:
        current: input ``I_t`` ``[B, *shape]`` (added to the membrane this step).
        state: the previous state.
        params: neuron parameters.
        dt_ms: time step in milliseconds.
        spike_fn: the spike function; default built from ``params.surrogate`` and ``params.slope``.

    Returns:
        ``(spikes, state)``: float spikes ``[B, *shape]`` of 0.0 / 1.0 and the new state.
    """
    fn = spike_fn or surrogate_spike_fn(params.surrogate, params.slope)
    v = phases.leak(state.v, 0.0, phases.decay_factor(params.tau_mem_ms, dt_ms))
    v = phases.integrate(v, current, None)
    spikes = fn(v - params.v_thresh)
    gate = spikes.detach() if params.detach_reset else spikes
    v = v - gate * params.v_thresh if params.reset == "subtract" else v * (1.0 - gate)
    return spikes, SurrogateLIFState(v)


class _FusedLIFScan(torch.autograd.Function):
    """The whole ``T``-step LIF scan from rest as one autograd node, with a hand-written BPTT backward.

    Forward keeps only the pre-reset membranes ``h_t = beta v_{t-1} + I_t``; backward walks time in reverse
    with ``g_t = dL/ds_t`` and ``d_t = dL/dv_t`` (``d_{T-1} = 0``), ``sg_t = S'(h_t - v_thresh)``::

        subtract reset: dL/dh_t = d_t + (g_t - v_thresh d_t) sg_t     (detached reset: g_t sg_t instead)
        zero reset:     dL/dh_t = d_t (1 - s_t) + (g_t - h_t d_t) sg_t  (detached reset: g_t sg_t instead)
        dL/dI_t = dL/dh_t,   d_{t-1} = beta dL/dh_t

    This is exactly the gradient autograd computes through :func:`surrogate_lif_step` (tested), with a few
    fused tensor ops per step instead of a graph of many small ones.
    """

    @staticmethod
    def forward(ctx: Any, currents: torch.Tensor, beta: float, params: SurrogateLIFParams,
                slope: float) -> torch.Tensor:
        thresh = params.v_thresh
        h = torch.empty(currents.shape, dtype=currents.dtype, device=currents.device)
        v: torch.Tensor | None = None
        for t in range(currents.shape[0]):
            if v is None:
                h[t] = currents[t]
            else:
                torch.add(currents[t], v, alpha=beta, out=h[t])
            fired = h[t] >= thresh
            if params.reset == "subtract":
                v = torch.where(fired, h[t] - thresh, h[t])
            else:
                v = h[t].masked_fill(fired, 0.0)
        ctx.save_for_backward(h)
        ctx.beta, ctx.params, ctx.slope = beta, params, slope
        return (h >= thresh).to(currents.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_spikes: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (h,) = ctx.saved_tensors
        params: SurrogateLIFParams = ctx.params
        thresh, beta = params.v_thresh, ctx.beta
        sg = DERIVATIVES[params.surrogate](h - thresh, ctx.slope)
        grad_currents = torch.empty_like(h)
        d: torch.Tensor | None = None  # dL/dv_t flowing back from step t+1
        for t in reversed(range(h.shape[0])):
            g = grad_spikes[t]
            if d is None:
                dh = g * sg[t]
            elif params.reset == "subtract":
                coef = g if params.detach_reset else torch.add(g, d, alpha=-thresh)
                dh = torch.addcmul(d, coef, sg[t])
            else:
                keep = (h[t] < thresh).to(h.dtype)
                coef = g if params.detach_reset else torch.addcmul(g, h[t], d, value=-1.0)
                dh = torch.addcmul(d * keep, coef, sg[t])
            grad_currents[t] = dh
            d = dh * beta if beta != 1.0 else dh
        return grad_currents, None, None, None


def surrogate_lif_scan(currents: torch.Tensor, params: SurrogateLIFParams, dt_ms: float = 1.0) -> torch.Tensor:
    """Float spikes ``[T, B, *shape]`` of a LIF layer starting at rest (``v = 0``) and driven by
    ``currents [T, B, *shape]``; same values and gradients as ``T`` calls of :func:`surrogate_lif_step`, faster."""
    _check_float("currents", currents)
    if currents.dim() < 2:
        raise ValueError(f"expected currents of shape [T, B, *shape], got {list(currents.shape)}")
    slope = DEFAULT_SLOPES[params.surrogate] if params.slope is None else params.slope
    beta = phases.decay_factor(params.tau_mem_ms, dt_ms)
    return _FusedLIFScan.apply(currents, beta, params, float(slope))


class SurrogateLIF(nn.Module):
    """Thin module around :func:`surrogate_lif_step`: runs a whole time-major current train.

    It keeps no state between calls: ``forward(currents [T, B, *shape])`` starts from ``v = 0`` (or the
    given state) and returns float spikes ``[T, B, *shape]``; :meth:`scan` (the step-by-step reference path)
    also returns the final state and, on request, the membrane trace. Has no trainable parameters.
    ``fused=False`` makes ``forward`` always take the step-by-step path.
    """

    def __init__(self, params: SurrogateLIFParams | None = None, dt_ms: float = 1.0, fused: bool = True,
                 **overrides: Any) -> None:
        super().__init__()
        check_positive("dt_ms", dt_ms)
        self.fused = bool(fused)
        self.params = dataclasses.replace(params or SurrogateLIFParams(), **overrides)
        self.dt_ms = float(dt_ms)
        self._spike_fn = surrogate_spike_fn(self.params.surrogate, self.params.slope)

    @property
    def beta(self) -> float:
        """Per-step membrane decay ``exp(-dt / tau_mem)``."""
        return phases.decay_factor(self.params.tau_mem_ms, self.dt_ms)

    def initial_state(self, like: torch.Tensor) -> SurrogateLIFState:
        """A resting state (``v = 0``) shaped, typed and placed like one step of input ``like [B, *shape]``."""
        return SurrogateLIFState(torch.zeros_like(like))

    def step(self, current: torch.Tensor, state: SurrogateLIFState) -> tuple[torch.Tensor, SurrogateLIFState]:
        """One step; see :func:`surrogate_lif_step`."""
        return surrogate_lif_step(current, state, self.params, self.dt_ms, self._spike_fn)

    def scan(self, currents: torch.Tensor, state: SurrogateLIFState | None = None, record_v: bool = False
             ) -> tuple[torch.Tensor, SurrogateLIFState, torch.Tensor | None]:
        """Run ``T`` steps: ``currents [T, B, *shape]`` -> ``(spikes [T, B, *shape], final state, v or None)``.

        ``v`` (when ``record_v``) is the membrane after each step's reset, ``[T, B, *shape]``.
        """
        _check_float("currents", currents)
        if currents.dim() < 2:
            raise ValueError(f"expected currents of shape [T, B, *shape], got {list(currents.shape)}")
        state = state if state is not None else self.initial_state(currents[0])
        spikes, trace = [], []
        for t in range(currents.shape[0]):
            s, state = self.step(currents[t], state)
            spikes.append(s)
            if record_v:
                trace.append(state.v)
        return torch.stack(spikes), state, (torch.stack(trace) if record_v else None)

    def forward(self, currents: torch.Tensor, state: SurrogateLIFState | None = None) -> torch.Tensor:
        """Spikes ``[T, B, *shape]`` for ``currents [T, B, *shape]``, starting from ``state`` (default: rest).

        From rest with ``fused=True`` this runs :func:`surrogate_lif_scan` (one autograd node with a hand-written
        backward); otherwise :meth:`scan`. Both give the same spikes and gradients.
        """
        if self.fused and state is None:
            return surrogate_lif_scan(currents, self.params, self.dt_ms)
        return self.scan(currents, state)[0]

    def extra_repr(self) -> str:
        return f"params={self.params}, dt_ms={self.dt_ms}, fused={self.fused}"
