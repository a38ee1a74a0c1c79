"""Leaky integrate-and-fire neurons (BindsNET's ``LIFNodes`` defaults).

Discrete dynamics with ``d = exp(-dt / tau_mem)`` and input ``I_t`` (mV per step)::

    v_t = v_rest + (v_{t-1} - v_rest) * d + I_t          (I_t ignored while refractory)
    s_t = H(v_t - v_thresh)                              (H(0) = 1)
    reset "value":    v_t <- v_reset                     where s_t   (BindsNET; the default)
    reset "subtract": v_t <- v_t - (v_thresh - v_reset)  where s_t   (soft reset: keeps the overshoot)

Under a constant input ``I`` and no spikes, ``v_t = v_inf + (v_0 - v_inf) d^t`` with
``v_inf = v_rest + I / (1 - d)``.

The usual neuron of deep SNNs trained by surrogate gradients (snnTorch's ``Leaky``) is the dimensionless case
``v_rest = v_reset = 0``, ``v_thresh = 1``, no refractory period, subtract reset: :meth:`LIF.trainable`.

Backends (``backend=``, see :mod:`spikerl.neurons.base`): ``"torch"`` (the step loop), ``"c"`` (the Network path's
scan in C, value reset only: ``lif_scan.h`` beside this file restates :func:`lif_step`), ``"fused"`` (the
multi-step module mode with a surrogate, :mod:`spikerl.neurons.fused_lif`), ``"compiled"`` (the Network path's
step loop, :func:`lif_scan_loop`, fused by ``torch.compile``: CPU and CUDA, opt-in), ``"auto"``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikerl import kernels
from spikerl.kernels import BackendUnavailable
from spikerl.neurons import phases
from spikerl.neurons.base import NeuronLayer, check_positive
from spikerl.neurons.fused_lif import fused_lif_scan
from spikerl.neurons.surrogate import SpikeFn, SurrogateArg, SurrogateSpike
from spikerl.traces import TraceParams
from spikerl.validation import check_fields_finite

RESETS = ("value", "subtract")
"""LIF reset modes: ``"value"`` sets the membrane to ``v_reset_mv``; ``"subtract"`` lowers it by
``v_thresh_mv - v_reset_mv``."""

BACKENDS = ("auto", "torch", "c", "fused", "compiled")
"""LIF's backends: ``"torch"`` (the reference loop over :func:`lif_step`), ``"c"`` (the Network path's scan in
one C call, :func:`spikerl.kernels.lif_scan`), ``"fused"`` (the multi-step mode with a surrogate as one
autograd node, :func:`~spikerl.neurons.fused_lif.fused_lif_scan`), ``"compiled"`` (the Network path's step loop
:func:`lif_scan_loop` compiled by ``torch.compile``, :mod:`spikerl.kernels.compiled`; never chosen by
``"auto"``: compiling takes seconds per shape), ``"auto"`` (for each call the fastest that can serve it)."""


@dataclass(frozen=True)
class LIFParams:
    """Parameters of :class:`LIF`; defaults are BindsNET's ``LIFNodes``.

    Attributes:
        v_rest_mv: resting potential.
        v_reset_mv: potential after a spike (``reset="value"``); with ``"subtract"`` the membrane drops by
            ``v_thresh_mv - v_reset_mv``.
        v_thresh_mv: firing threshold.
        tau_mem_ms: membrane time constant (``inf`` gives a non-leaky integrate-and-fire neuron).
        refractory_ms: time after a spike during which input is ignored.
        v_min_mv: optional lower bound on the membrane potential.
        reset: ``"value"`` (BindsNET) or ``"subtract"`` (soft reset), see :data:`RESETS`.
    """

    v_rest_mv: float = -65.0
    v_reset_mv: float = -65.0
    v_thresh_mv: float = -52.0
    tau_mem_ms: float = 100.0
    refractory_ms: float = 5.0
    v_min_mv: float | None = None
    reset: str = "value"

    def __post_init__(self) -> None:
        check_fields_finite(self, allow_inf=("tau_mem_ms",))
        check_positive("tau_mem_ms", self.tau_mem_ms, allow_inf=True)
        if self.refractory_ms < 0:
            raise ValueError(f"refractory_ms must be >= 0, got {self.refractory_ms}")
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")


class LIFState(NamedTuple):
    """``v``: membrane potential (mV); ``refractory``: remaining refractory steps. Both ``[B, *shape]``."""

    v: torch.Tensor
    refractory: torch.Tensor


def lif_reset(v: torch.Tensor, spikes: torch.Tensor, params: LIFParams, detach: bool = False) -> torch.Tensor:
    """The reset phase of ``params.reset`` (see the module docstring)."""
    if params.reset == "subtract":
        return phases.reset_subtract(v, spikes, params.v_thresh_mv - params.v_reset_mv, detach)
    return phases.reset(v, spikes, params.v_reset_mv, detach)


def lif_step(current: torch.Tensor, state: LIFState, params: LIFParams, dt_ms: float = 1.0,
             spike_fn: SpikeFn | None = None, detach_reset: bool = False) -> tuple[torch.Tensor, LIFState]:
    """One step of the LIF model (pure function). ``current [B, *shape]`` in mV per step.

    ``spike_fn=None`` gives bool spikes; a surrogate spike function gives float 0/1 spikes carrying its
    derivative (see :func:`spikerl.neurons.phases.fire`), ``detach_reset`` detaches the reset's gradient.
    """
    decay = phases.decay_factor(params.tau_mem_ms, dt_ms)
    steps = phases.refractory_steps(params.refractory_ms, dt_ms)
    refr = state.refractory if steps > 0 else None
    v = phases.leak(state.v, params.v_rest_mv, decay)
    v = phases.integrate(v, current, refr)
    v = phases.clamp_min(v, params.v_min_mv)
    spikes = phases.fire(v, params.v_thresh_mv, spike_fn)
    v = lif_reset(v, spikes, params, detach_reset)
    refr = phases.count_refractory(refr, spikes, steps)
    return spikes, LIFState(v, state.refractory if refr is None else refr)


def lif_scan_loop(currents: torch.Tensor, state: LIFState, params: LIFParams, dt_ms: float,
                  record: tuple[str, ...] = ()) -> tuple[torch.Tensor, LIFState, dict[str, torch.Tensor]]:
    """``T`` calls of :func:`lif_step` on currents ``[T, B, *shape]``: bool spikes ``[T, B, *shape]``, the final
    state and the fields named in ``record`` at every step (what ``"compiled"`` hands to ``torch.compile``)."""
    spikes, recorded = [], {f: [] for f in record}
    for t in range(currents.shape[0]):
        s, state = lif_step(currents[t], state, params, dt_ms)
        spikes.append(s)
        for f in record:
            recorded[f].append(getattr(state, f))
    return torch.stack(spikes), state, {f: torch.stack(values) for f, values in recorded.items()}


class LIF(NeuronLayer):
    """Layer of leaky integrate-and-fire neurons.

    ``LIF(100)`` uses :class:`LIFParams` defaults; override fields by keyword, e.g.
    ``LIF(100, tau_mem_ms=20.0)``, or pass ``params=LIFParams(...)``. ``surrogate=`` and ``detach_reset``
    set up the multi-step module mode (:class:`~spikerl.neurons.base.NeuronLayer`); ``backend`` chooses the
    implementation, see :data:`BACKENDS`. ``"c"`` serves the Network path (and the module mode without a
    surrogate); ``"fused"`` the module mode with a surrogate; each raises
    :class:`~spikerl.kernels.BackendUnavailable` on a call it cannot serve.
    """

    State = LIFState
    BACKENDS = BACKENDS

    def __init__(self, shape: int | tuple[int, ...], params: LIFParams | None = None, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, surrogate: SurrogateArg = None, detach_reset: bool = False,
                 backend: str = "auto", **overrides: float) -> None:
        super().__init__(shape, dataclasses.replace(params or LIFParams(), **overrides), dt_ms, trace,
                         surrogate, detach_reset, backend)
        reason = {"c": self._c_unsupported, "fused": self._fused_unsupported,
                  "compiled": self._compiled_unsupported}.get(backend, lambda: None)()
        if reason is not None:
            raise BackendUnavailable(backend, reason, what="layer")

    @classmethod
    def trainable(cls, shape: int | tuple[int, ...], tau_mem_ms: float = 5.0, v_thresh_mv: float = 1.0,
                  surrogate: SurrogateArg = "fast_sigmoid", detach_reset: bool = False, dt_ms: float = 1.0,
                  backend: str = "auto") -> LIF:
        """The dimensionless LIF of deep SNNs trained by surrogate gradients (snnTorch's ``Leaky``).

        ``v_rest = v_reset = 0``, threshold ``v_thresh_mv``, no refractory period, subtract reset:
        ``v_t = d v_{t-1} + I_t``, ``s_t = H(v_t - v_thresh)``, ``v_t <- v_t - s_t v_thresh``.
        """
        params = LIFParams(v_rest_mv=0.0, v_reset_mv=0.0, v_thresh_mv=v_thresh_mv, tau_mem_ms=tau_mem_ms,
                           refractory_ms=0.0, reset="subtract")
        return cls(shape, params, dt_ms, surrogate=surrogate, detach_reset=detach_reset, backend=backend)

    def initial_state(self, batch_size: int) -> LIFState:
        return LIFState(self._zeros(batch_size, self.params.v_rest_mv), self._zeros(batch_size))

    def step(self, current: torch.Tensor, state: LIFState, spike_fn: SpikeFn | None = None,
             detach_reset: bool = False) -> tuple[torch.Tensor, LIFState]:
        return lif_step(current, state, self.params, self.dt_ms, spike_fn, detach_reset)

    def scan(self, currents: torch.Tensor, state: LIFState, record: tuple[str, ...] = (),
             backend: str | None = None) -> tuple[torch.Tensor, LIFState, dict[str, torch.Tensor]]:
        """As :meth:`NeuronLayer.scan`. ``"c"``: one C call (:func:`spikerl.kernels.lif_scan`, bit-identical to
        the step loop) on CPU float tensors for the ``"value"`` reset; ``"auto"``: that where it can serve the
        call, else the step loop (always when a subclass overrides ``step``); ``"torch"``: the step loop;
        ``"compiled"``: the step loop :func:`lif_scan_loop` compiled by ``torch.compile`` (CPU or CUDA), run in
        chunks of at most :data:`spikerl.kernels.compiled.CHUNK_STEPS` steps (:func:`kernels.scan_in_chunks`)."""
        backend = self.choose_backend(backend)
        if backend == "compiled":
            reason = self._compiled_unsupported()
            if reason is not None:
                raise BackendUnavailable("compiled", reason)
            if currents.shape[0] == 0:
                return super().scan(currents, state, record, "torch")
            return kernels.scan_in_chunks(lif_scan_loop, currents, state, self.params, self.dt_ms,
                                          record=tuple(record))
        if backend == "fused":
            raise BackendUnavailable("fused", "it serves the multi-step mode with a surrogate (float spikes with a "
                                              "gradient); scan, the Network path, takes 'auto', 'c' or 'torch'")
        if backend in ("auto", "c"):
            p = self.params
            fused = self.try_c(backend, self._c_unsupported(currents), lambda: kernels.lif_scan(
                currents, state.v, state.refractory, v_rest=p.v_rest_mv, v_reset=p.v_reset_mv, v_thresh=p.v_thresh_mv,
                decay=phases.decay_factor(p.tau_mem_ms, self.dt_ms),
                refractory_steps=phases.refractory_steps(p.refractory_ms, self.dt_ms), v_min=p.v_min_mv,
                record=record))
            if fused is not None:
                spikes, final, recorded = fused
                return spikes, LIFState(*final), recorded
        return super().scan(currents, state, record, "torch")

    def _c_unsupported(self, currents: torch.Tensor | None = None) -> str | None:
        """Why the C backend cannot serve this layer (or its scan of ``currents``) at all, or ``None``."""
        if type(self).step is not LIF.step:
            return f"{type(self).__name__} overrides step, which the C kernel does not know"
        if self.params.reset != "value":
            return f"the C kernel has the value reset only, got reset={self.params.reset!r}"
        if currents is not None and currents.dtype != self.dtype:
            return f"currents are {currents.dtype} but the layer is {self.dtype}"
        return None

    def _compiled_unsupported(self) -> str | None:
        """Why the compiled backend cannot serve this layer at all, or ``None``."""
        if type(self).step is not LIF.step:
            return f"{type(self).__name__} overrides step, which the compiled lif_scan_loop does not call"
        return None

    def _fused_unsupported(self) -> str | None:
        """Why the fused backend cannot serve this layer at all, or ``None``."""
        if type(self).step is not LIF.step:
            return f"{type(self).__name__} overrides step"
        if not isinstance(self.surrogate, SurrogateSpike):
            return ("it needs a named surrogate (SurrogateSpike) whose derivative it knows, got "
                    f"{'none' if self.surrogate is None else 'a callable'}")
        if phases.refractory_steps(self.params.refractory_ms, self.dt_ms) > 0:
            return f"it has no refractory period (refractory_ms={self.params.refractory_ms})"
        if self.params.v_min_mv is not None:
            return f"it has no lower bound on the membrane (v_min_mv={self.params.v_min_mv})"
        return None

    def fused_multistep(self, x: torch.Tensor, state: LIFState | None, keep_state: bool) -> torch.Tensor | None:
        """Spikes from :func:`~spikerl.neurons.fused_lif.fused_lif_scan` when the backend is ``"fused"``, or
        ``"auto"`` and the call starts from rest without asking for the final state; else ``None``."""
        if self.backend not in ("auto", "fused"):
            return None
        reason = self._fused_unsupported()
        if reason is None and (state is not None or keep_state):
            reason = "it starts from rest and returns no final state (call layer(x) without a state)"
        if reason is not None:
            if self.backend == "fused":
                raise BackendUnavailable("fused", reason)
            return None
        p = self.params
        return fused_lif_scan(x, decay=phases.decay_factor(p.tau_mem_ms, self.dt_ms), v_rest=p.v_rest_mv,
                              v_thresh=p.v_thresh_mv, v_reset=p.v_reset_mv, subtract=p.reset == "subtract",
                              derivative=self.surrogate.derivative, detach_reset=self.detach_reset)


class IF(LIF):
    """Non-leaky integrate-and-fire neurons: :class:`LIF` with ``tau_mem_ms = inf``.

    ``v_t = v_{t-1} + I_t``; BindsNET's ``IFNodes`` defaults (reset -65 mV, threshold -52 mV, refractory
    5 ms). ``v_min_mv`` gives an optional lower bound.
    """

    def __init__(self, shape: int | tuple[int, ...], params: LIFParams | None = None, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, surrogate: SurrogateArg = None, detach_reset: bool = False,
                 backend: str = "auto", **overrides: float) -> None:
        overrides.setdefault("tau_mem_ms", math.inf)
        super().__init__(shape, params, dt_ms, trace, surrogate, detach_reset, backend, **overrides)
