"""Current-based leaky integrate-and-fire neurons (BindsNET's ``CurrentLIFNodes`` defaults).

Input spikes charge a synaptic current that decays with its own time constant, and the membrane integrates
that current. With ``d_syn = exp(-dt / tau_syn)``, ``d_mem = exp(-dt / tau_mem)`` and input ``I_t`` (mV per
step)::

    i_t = i_{t-1} * d_syn + I_t                          (always, also while refractory)
    v_t = v_rest + (v_{t-1} - v_rest) * d_mem + i_t      (i_t not added while refractory)
    s_t = v_t >= v_thresh;  v_t <- v_reset where s_t

The synaptic current is not reset by a spike. A single input pulse ``I`` at step 0 therefore adds
``I * d_syn^k`` to the membrane at step ``k``: the post-synaptic potential is a difference of two
exponentials instead of LIF's instantaneous jump.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikerl.neurons import phases
from spikerl.neurons.base import NeuronLayer, check_positive
from spikerl.neurons.surrogate import SpikeFn, SurrogateArg
from spikerl.traces import TraceParams
from spikerl.validation import check_fields_finite


@dataclass(frozen=True)
class CurrentLIFParams:
    """Parameters of :class:`CurrentLIF`; defaults are BindsNET's ``CurrentLIFNodes``.

    Attributes:
        v_rest_mv, v_reset_mv, v_thresh_mv, tau_mem_ms, refractory_ms, v_min_mv: as in ``LIFParams``.
        tau_syn_ms: time constant of the synaptic current. The default 2 ms is BindsNET's ``tc_i_decay``:
            a fast (AMPA-like) synapse, so that a pulse still acts within a few steps at ``dt = 1 ms``.
    """

    v_rest_mv: float = -65.0
    v_reset_mv: float = -65.0
    v_thresh_mv: float = -52.0
    tau_mem_ms: float = 100.0
    tau_syn_ms: float = 2.0
    refractory_ms: float = 5.0
    v_min_mv: float | None = None

    def __post_init__(self) -> None:
        check_fields_finite(self)
        check_positive("tau_mem_ms", self.tau_mem_ms)
        check_positive("tau_syn_ms", self.tau_syn_ms)
        if self.refractory_ms < 0:
            raise ValueError(f"refractory_ms must be >= 0, got {self.refractory_ms}")


class CurrentLIFState(NamedTuple):
    """``v``: membrane potential (mV); ``i_syn``: synaptic current (mV per step); ``refractory``: remaining
    refractory steps. All ``[B, *shape]``."""

    v: torch.Tensor
    i_syn: torch.Tensor
    refractory: torch.Tensor


def current_lif_step(current: torch.Tensor, state: CurrentLIFState, params: CurrentLIFParams,
                     dt_ms: float = 1.0, spike_fn: SpikeFn | None = None,
                     detach_reset: bool = False) -> tuple[torch.Tensor, CurrentLIFState]:
    """One step of the current-based LIF model (pure function). ``current [B, *shape]`` in mV per step.

    ``spike_fn`` and ``detach_reset`` as in :func:`spikerl.neurons.lif.lif_step`.
    """
    p = params
    steps = phases.refractory_steps(p.refractory_ms, dt_ms)
    refr = state.refractory if steps > 0 else None
    i_syn = phases.leak(state.i_syn, 0.0, phases.decay_factor(p.tau_syn_ms, dt_ms)) + current
    v = phases.leak(state.v, p.v_rest_mv, phases.decay_factor(p.tau_mem_ms, dt_ms))
    v = phases.integrate(v, i_syn, refr)
    v = phases.clamp_min(v, p.v_min_mv)
    spikes = phases.fire(v, p.v_thresh_mv, spike_fn)
    v = phases.reset(v, spikes, p.v_reset_mv, detach_reset)
    refr = phases.count_refractory(refr, spikes, steps)
    return spikes, CurrentLIFState(v, i_syn, state.refractory if refr is None else refr)


class CurrentLIF(NeuronLayer):
    """Layer of current-based LIF neurons (exponentially decaying synaptic current).

    ``CurrentLIF(100)`` uses :class:`CurrentLIFParams` defaults; override fields by keyword, e.g.
    ``CurrentLIF(100, tau_syn_ms=5.0)``, or pass ``params=CurrentLIFParams(...)``.
    """

    State = CurrentLIFState

    def __init__(self, shape: int | tuple[int, ...], params: CurrentLIFParams | None = None, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, surrogate: SurrogateArg = None, detach_reset: bool = False,
                 **overrides: float) -> None:
        super().__init__(shape, dataclasses.replace(params or CurrentLIFParams(), **overrides), dt_ms, trace,
                         surrogate, detach_reset)

    def initial_state(self, batch_size: int) -> CurrentLIFState:
        return CurrentLIFState(self._zeros(batch_size, self.params.v_rest_mv), self._zeros(batch_size),
                               self._zeros(batch_size))

    def step(self, current: torch.Tensor, state: CurrentLIFState, spike_fn: SpikeFn | None = None,
             detach_reset: bool = False) -> tuple[torch.Tensor, CurrentLIFState]:
        return current_lif_step(current, state, self.params, self.dt_ms, spike_fn, detach_reset)
