"""Leaky integrate-and-fire neurons (BindsNET's ``LIFNodes`` defaults).

Discrete dynamics with ``d = exp(-dt / tau_mem)`` and input ``I_t`` (mV per step)::

    v_t = v_rest + (v_{t-1} - v_rest) * d + I_t          (I_t ignored while refractory)
    s_t = v_t >= v_thresh;  v_t <- v_reset where s_t

Under a constant input ``I`` and no spikes, ``v_t = v_inf + (v_0 - v_inf) d^t`` with
``v_inf = v_rest + I / (1 - d)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikerl import kernels
from spikerl.neurons import phases
from spikerl.neurons.base import NeuronLayer, check_positive
from spikerl.traces import TraceParams
from spikerl.validation import check_fields_finite


@dataclass(frozen=True)
class LIFParams:
    """Parameters of :class:`LIF`; defaults are BindsNET's ``LIFNodes``.

    Attributes:
        v_rest_mv: resting potential.
        v_reset_mv: potential after a spike.
        v_thresh_mv: firing threshold.
        tau_mem_ms: membrane time constant (``inf`` gives a non-leaky integrate-and-fire neuron).
        refractory_ms: time after a spike during which input is ignored.
        v_min_mv: optional lower bound on the membrane potential.
    """

    v_rest_mv: float = -65.0
    v_reset_mv: float = -65.0
    v_thresh_mv: float = -52.0
    tau_mem_ms: float = 100.0
    refractory_ms: float = 5.0
    v_min_mv: float | None = None

    def __post_init__(self) -> None:
        check_fields_finite(self, allow_inf=("tau_mem_ms",))
        check_positive("tau_mem_ms", self.tau_mem_ms, allow_inf=True)
        if self.refractory_ms < 0:
            raise ValueError(f"refractory_ms must be >= 0, got {self.refractory_ms}")


class LIFState(NamedTuple):
    """``v``: membrane potential (mV); ``refractory``: remaining refractory steps. Both ``[B, *shape]``."""

    v: torch.Tensor
    refractory: torch.Tensor


def lif_step(current: torch.Tensor, state: LIFState, params: LIFParams,
             dt_ms: float = 1.0) -> tuple[torch.Tensor, LIFState]:
    """One step of the LIF model (pure function). ``current [B, *shape]`` in mV per step."""
    decay = phases.decay_factor(params.tau_mem_ms, dt_ms)
    steps = phases.refractory_steps(params.refractory_ms, dt_ms)
    refr = state.refractory if steps > 0 else None
    v = phases.leak(state.v, params.v_rest_mv, decay)
    v = phases.integrate(v, current, refr)
    v = phases.clamp_min(v, params.v_min_mv)
    spikes = phases.fire(v, params.v_thresh_mv)
    v = phases.reset(v, spikes, params.v_reset_mv)
    refr = phases.count_refractory(refr, spikes, steps)
    return spikes, LIFState(v, state.refractory if refr is None else refr)


class LIF(NeuronLayer):
    """Layer of leaky integrate-and-fire neurons.

    ``LIF(100)`` uses :class:`LIFParams` defaults; override fields by keyword, e.g.
    ``LIF(100, tau_mem_ms=20.0)``, or pass ``params=LIFParams(...)``.
    """

    State = LIFState

    def __init__(self, shape: int | tuple[int, ...], params: LIFParams | None = None, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, **overrides: float) -> None:
        super().__init__(shape, dataclasses.replace(params or LIFParams(), **overrides), dt_ms, trace)

    def initial_state(self, batch_size: int) -> LIFState:
        return LIFState(self._zeros(batch_size, self.params.v_rest_mv), self._zeros(batch_size))

    def step(self, current: torch.Tensor, state: LIFState) -> tuple[torch.Tensor, LIFState]:
        return lif_step(current, state, self.params, self.dt_ms)

    def scan(self, currents: torch.Tensor, state: LIFState, record: tuple[str, ...] = ()
             ) -> tuple[torch.Tensor, LIFState, dict[str, torch.Tensor]]:
        """As :meth:`NeuronLayer.scan`; on CPU float tensors one fused C call (:mod:`spikerl.kernels`,
        bit-identical to the step loop), else the step loop (always when a subclass overrides ``step``)."""
        fused = (kernels.lif_scan(currents, state.v, state.refractory, self.params, self.dt_ms, record)
                 if type(self).step is LIF.step and currents.dtype == self.dtype else None)
        if fused is None:
            return super().scan(currents, state, record)
        spikes, final, recorded = fused
        return spikes, LIFState(*final), recorded


class IF(LIF):
    """Non-leaky integrate-and-fire neurons: :class:`LIF` with ``tau_mem_ms = inf``.

    ``v_t = v_{t-1} + I_t``; BindsNET's ``IFNodes`` defaults (reset -65 mV, threshold -52 mV, refractory
    5 ms). ``v_min_mv`` gives an optional lower bound.
    """

    def __init__(self, shape: int | tuple[int, ...], params: LIFParams | None = None, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, **overrides: float) -> None:
        overrides.setdefault("tau_mem_ms", math.inf)
        super().__init__(shape, params, dt_ms, trace, **overrides)
