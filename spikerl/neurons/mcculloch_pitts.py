"""McCulloch-Pitts neurons: memoryless threshold units.

With input ``I_t`` (mV per step, as for every layer)::

    v_t = I_t                     (0 while refractory)
    s_t = v_t >= v_thresh         (never while refractory)

There is no membrane memory, so there is nothing to leak or reset: ``v`` is kept in the state only so that
it can be recorded. The optional refractory period (default none) silences a unit for ``R`` steps after
each spike.
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
class McCullochPittsParams:
    """Parameters of :class:`McCullochPitts`; defaults are BindsNET's ``McCullochPitts``.

    Attributes:
        v_thresh_mv: a unit fires when its input is at least this.
        refractory_ms: time after a spike during which the unit ignores its input and cannot fire.
    """

    v_thresh_mv: float = 1.0
    refractory_ms: float = 0.0

    def __post_init__(self) -> None:
        check_fields_finite(self)
        if self.refractory_ms < 0:
            raise ValueError(f"refractory_ms must be >= 0, got {self.refractory_ms}")


class McCullochPittsState(NamedTuple):
    """``v``: the step's input (mV, for recording); ``refractory``: remaining refractory steps.
    Both ``[B, *shape]``."""

    v: torch.Tensor
    refractory: torch.Tensor


def mcculloch_pitts_step(current: torch.Tensor, state: McCullochPittsState, params: McCullochPittsParams,
                         dt_ms: float = 1.0, spike_fn: SpikeFn | None = None
                         ) -> tuple[torch.Tensor, McCullochPittsState]:
    """One step of the McCulloch-Pitts model (pure function). ``current [B, *shape]`` in mV per step.

    ``spike_fn`` as in :func:`spikerl.neurons.lif.lif_step`.
    """
    steps = phases.refractory_steps(params.refractory_ms, dt_ms)
    refr = state.refractory if steps > 0 else None
    v = phases.integrate(torch.zeros_like(state.v), current, refr)
    spikes = phases.fire(v, params.v_thresh_mv, spike_fn)
    if refr is not None:
        spikes = phases.suppress(spikes, refr <= 0)
    refr = phases.count_refractory(refr, spikes, steps)
    return spikes, McCullochPittsState(v, state.refractory if refr is None else refr)


class McCullochPitts(NeuronLayer):
    """Layer of McCulloch-Pitts threshold units: ``s_t = I_t >= v_thresh``.

    ``McCullochPitts(10, v_thresh_mv=2.0)`` overrides fields of :class:`McCullochPittsParams` by keyword.
    """

    State = McCullochPittsState

    def __init__(self, shape: int | tuple[int, ...], params: McCullochPittsParams | None = None,
                 dt_ms: float = 1.0, trace: TraceParams | None = None, surrogate: SurrogateArg = None,
                 **overrides: float) -> None:
        super().__init__(shape, dataclasses.replace(params or McCullochPittsParams(), **overrides), dt_ms, trace,
                         surrogate)

    def initial_state(self, batch_size: int) -> McCullochPittsState:
        return McCullochPittsState(self._zeros(batch_size), self._zeros(batch_size))

    def step(self, current: torch.Tensor, state: McCullochPittsState, spike_fn: SpikeFn | None = None,
             detach_reset: bool = False) -> tuple[torch.Tensor, McCullochPittsState]:
        """As :meth:`NeuronLayer.step`; ``detach_reset`` has no effect (a unit has no membrane to reset)."""
        return mcculloch_pitts_step(current, state, self.params, self.dt_ms, spike_fn)
