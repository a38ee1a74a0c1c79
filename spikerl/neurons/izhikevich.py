"""Izhikevich (2003) neurons: a quadratic membrane with a slow recovery variable.

Continuous model (``v`` in mV, ``t`` in ms)::

    v' = 0.04 v^2 + 5 v + 140 - u + I
    u' = a (b v - u)
    if v >= v_peak (30 mV):  v <- c,  u <- u + d

Units: ``u`` and ``I`` are in Izhikevich's units, mV/ms (the current is already divided by the membrane
capacitance), so ``a`` and ``b`` are per ms and ``d`` is mV/ms. **Unlike the LIF models, the input here is
a rate**, not a voltage increment per step: a constant ``I`` moves the membrane by about ``I * dt`` mV per
step. ``I = 10`` makes a regular-spiking neuron fire tonically.

Discretisation: forward Euler on ``(v, u)`` with ``n = substeps`` sub-steps of ``h = dt / n`` per step
(default 2, i.e. 0.5 ms at ``dt = 1 ms``, as in Izhikevich's published code)::

    v_{k+1} = v_k + h (0.04 v_k^2 + 5 v_k + 140 - u_k + I_t)
    u_{k+1} = u_k + h a (b v_k - u_k)

A neuron whose ``v`` reaches ``v_peak`` in a sub-step stops integrating for the rest of the step (this keeps
the quadratic term from overflowing), spikes at the end of the step and is reset. At most one spike per
step. While refractory the input is ignored (``I_t = 0``) but the dynamics go on.

Initial state: ``v = c``, ``u = b * c``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikerl.neurons import phases
from spikerl.neurons.base import NeuronLayer
from spikerl.neurons.surrogate import SpikeFn, SurrogateArg
from spikerl.traces import TraceParams
from spikerl.validation import check_fields_finite


@dataclass(frozen=True)
class IzhikevichParams:
    """Parameters of :class:`Izhikevich`; defaults are the regular-spiking (RS) cell.

    Attributes:
        a_per_ms: time scale of the recovery variable ``u``.
        b_per_ms: sensitivity of ``u`` to ``v``.
        c_mv: reset potential after a spike.
        d_mv_per_ms: increase of ``u`` after a spike.
        v_peak_mv: spike cut-off (``v >= v_peak`` is a spike).
        refractory_ms: time after a spike during which input is ignored (default none).
        substeps: forward-Euler sub-steps per simulation step.
    """

    a_per_ms: float = 0.02
    b_per_ms: float = 0.2
    c_mv: float = -65.0
    d_mv_per_ms: float = 8.0
    v_peak_mv: float = 30.0
    refractory_ms: float = 0.0
    substeps: int = 2

    def __post_init__(self) -> None:
        check_fields_finite(self)
        if self.refractory_ms < 0:
            raise ValueError(f"refractory_ms must be >= 0, got {self.refractory_ms}")
        if isinstance(self.substeps, bool) or not isinstance(self.substeps, int) or self.substeps < 1:
            raise ValueError(f"substeps must be a positive int, got {self.substeps!r}")
        if not self.c_mv < self.v_peak_mv:
            raise ValueError(f"c_mv ({self.c_mv}) must be below v_peak_mv ({self.v_peak_mv})")

    @classmethod
    def regular_spiking(cls, **overrides: float) -> IzhikevichParams:
        """Regular spiking (RS) excitatory cell: ``a=0.02, b=0.2, c=-65, d=8``."""
        return dataclasses.replace(cls(a_per_ms=0.02, b_per_ms=0.2, c_mv=-65.0, d_mv_per_ms=8.0), **overrides)

    @classmethod
    def fast_spiking(cls, **overrides: float) -> IzhikevichParams:
        """Fast spiking (FS) inhibitory cell: ``a=0.1, b=0.2, c=-65, d=2``."""
        return dataclasses.replace(cls(a_per_ms=0.1, b_per_ms=0.2, c_mv=-65.0, d_mv_per_ms=2.0), **overrides)


class IzhikevichState(NamedTuple):
    """``v``: membrane potential (mV); ``u``: recovery variable (mV/ms); ``refractory``: remaining
    refractory steps. All ``[B, *shape]``."""

    v: torch.Tensor
    u: torch.Tensor
    refractory: torch.Tensor


def izhikevich_step(current: torch.Tensor, state: IzhikevichState, params: IzhikevichParams,
                    dt_ms: float = 1.0, spike_fn: SpikeFn | None = None,
                    detach_reset: bool = False) -> tuple[torch.Tensor, IzhikevichState]:
    """One step of the Izhikevich model (pure function). ``current [B, *shape]`` in mV/ms (see module doc).

    ``spike_fn`` and ``detach_reset`` as in :func:`spikerl.neurons.lif.lif_step`: the surrogate is taken at
    ``v - v_peak``. The quadratic membrane shoots far past the peak within a step, so the surrogate derivative
    at the spiking step is usually tiny: usable, but a poor model for gradient training.
    """
    p = params
    steps = phases.refractory_steps(p.refractory_ms, dt_ms)
    refr = state.refractory if steps > 0 else None
    drive = current if refr is None else current * (refr <= 0)  # input ignored while refractory
    h = dt_ms / p.substeps
    v, u = state.v, state.u
    for _ in range(p.substeps):
        running = v < p.v_peak_mv  # neurons past the peak stop integrating for this step
        v_next = v + h * (0.04 * v * v + 5.0 * v + 140.0 - u + drive)
        u_next = u + (h * p.a_per_ms) * (p.b_per_ms * v - u)
        v, u = torch.where(running, v_next, v), torch.where(running, u_next, u)
    spikes = phases.fire(v, p.v_peak_mv, spike_fn)
    v = phases.reset(v, spikes, p.c_mv, detach_reset)
    u = u + p.d_mv_per_ms * spikes.to(u.dtype)
    refr = phases.count_refractory(refr, spikes, steps)
    return spikes, IzhikevichState(v, u, state.refractory if refr is None else refr)


class Izhikevich(NeuronLayer):
    """Layer of Izhikevich neurons.

    ``Izhikevich(100)`` is regular spiking; use the presets ``Izhikevich.regular_spiking(100)`` and
    ``Izhikevich.fast_spiking(100)``, override fields by keyword (``Izhikevich(100, d_mv_per_ms=4.0)``) or
    pass ``params=IzhikevichParams(...)``. Inputs are in mV/ms (see the module docstring).
    """

    State = IzhikevichState

    def __init__(self, shape: int | tuple[int, ...], params: IzhikevichParams | None = None, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, surrogate: SurrogateArg = None, detach_reset: bool = False,
                 **overrides: float) -> None:
        super().__init__(shape, dataclasses.replace(params or IzhikevichParams(), **overrides), dt_ms, trace,
                         surrogate, detach_reset)

    @classmethod
    def regular_spiking(cls, shape: int | tuple[int, ...], dt_ms: float = 1.0, trace: TraceParams | None = None,
                        surrogate: SurrogateArg = None, detach_reset: bool = False,
                        **overrides: float) -> Izhikevich:
        """Regular spiking (RS) layer: ``a=0.02, b=0.2, c=-65, d=8``."""
        return cls(shape, IzhikevichParams.regular_spiking(**overrides), dt_ms, trace, surrogate, detach_reset)

    @classmethod
    def fast_spiking(cls, shape: int | tuple[int, ...], dt_ms: float = 1.0, trace: TraceParams | None = None,
                     surrogate: SurrogateArg = None, detach_reset: bool = False,
                     **overrides: float) -> Izhikevich:
        """Fast spiking (FS) layer: ``a=0.1, b=0.2, c=-65, d=2``."""
        return cls(shape, IzhikevichParams.fast_spiking(**overrides), dt_ms, trace, surrogate, detach_reset)

    def initial_state(self, batch_size: int) -> IzhikevichState:
        p = self.params
        return IzhikevichState(self._zeros(batch_size, p.c_mv), self._zeros(batch_size, p.b_per_ms * p.c_mv),
                               self._zeros(batch_size))

    def step(self, current: torch.Tensor, state: IzhikevichState, spike_fn: SpikeFn | None = None,
             detach_reset: bool = False) -> tuple[torch.Tensor, IzhikevichState]:
        return izhikevich_step(current, state, self.params, self.dt_ms, spike_fn, detach_reset)
