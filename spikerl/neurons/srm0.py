"""SRM0 neurons with escape noise: a LIF membrane with a stochastic threshold (BindsNET's ``SRM0Nodes``).

The membrane follows the LIF dynamics of :mod:`spikerl.neurons.lif` (``d = exp(-dt / tau_mem)``, input
``I_t`` in mV per step, ignored while refractory)::

    v_t = v_rest + (v_{t-1} - v_rest) * d + I_t

Instead of a hard threshold, a neuron escapes (spikes) with the instantaneous rate (hazard, per ms)::

    rho(v) = rho0 * exp((v - v_thresh) / delta_u)

held constant over the step, so the probability of a spike in a step of ``dt`` ms is::

    p_t = 1 - exp(-rho(v_t) * dt)
    s_t = U_t < p_t,   U_t ~ Uniform[0, 1) independently per neuron and sample
    v_t <- v_reset where s_t

``rho0`` is the rate at threshold and ``delta_u`` the width of the soft threshold (``delta_u -> 0`` gives
back a hard threshold). Refractoriness is absolute: on the ``R`` steps after a spike the input is ignored
**and the neuron cannot fire** (BindsNET only ignores the input; without this the refractory period would
not bound the rate, since ``p > 0`` at every potential).

Random numbers come from the layer's optional ``torch.Generator`` (``SRM0(..., generator=g)``), which must
live on the layer's device; with a seeded generator runs are reproducible. Without one, torch's global
generator is used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikerl.neurons import phases
from spikerl.neurons.base import NeuronLayer, check_positive
from spikerl.neurons.surrogate import SurrogateArg
from spikerl.traces import TraceParams
from spikerl.validation import check_fields_finite


@dataclass(frozen=True)
class SRM0Params:
    """Parameters of :class:`SRM0`; defaults are BindsNET's ``SRM0Nodes``.

    Attributes:
        v_rest_mv, v_reset_mv, tau_mem_ms, refractory_ms, v_min_mv: as in ``LIFParams``.
        v_thresh_mv: the soft threshold, where the escape rate equals ``rho0_per_ms``.
        rho0_per_ms: escape rate at threshold, per ms (1/ms = 1 kHz).
        delta_u_mv: width of the soft threshold: the rate grows ``e``-fold per ``delta_u_mv`` of potential.
    """

    v_rest_mv: float = -70.0
    v_reset_mv: float = -70.0
    v_thresh_mv: float = -50.0
    tau_mem_ms: float = 10.0
    refractory_ms: float = 5.0
    v_min_mv: float | None = None
    rho0_per_ms: float = 1.0
    delta_u_mv: float = 5.0

    def __post_init__(self) -> None:
        check_fields_finite(self)
        check_positive("tau_mem_ms", self.tau_mem_ms)
        check_positive("rho0_per_ms", self.rho0_per_ms)
        check_positive("delta_u_mv", self.delta_u_mv)
        if self.refractory_ms < 0:
            raise ValueError(f"refractory_ms must be >= 0, got {self.refractory_ms}")


class SRM0State(NamedTuple):
    """``v``: membrane potential (mV); ``refractory``: remaining refractory steps. Both ``[B, *shape]``."""

    v: torch.Tensor
    refractory: torch.Tensor


def escape_probability(v: torch.Tensor, params: SRM0Params, dt_ms: float = 1.0) -> torch.Tensor:
    """Probability of a spike within one step at potential ``v``: ``1 - exp(-rho(v) * dt)`` (see module doc)."""
    rho = params.rho0_per_ms * torch.exp((v - params.v_thresh_mv) / params.delta_u_mv)
    return -torch.expm1(-rho * dt_ms)


def srm0_step(current: torch.Tensor, state: SRM0State, params: SRM0Params, dt_ms: float = 1.0,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, SRM0State]:
    """One step of the SRM0 model. ``current [B, *shape]`` in mV per step.

    Pure apart from drawing ``B * n`` uniform numbers from ``generator`` (torch's global one if None).
    """
    p = params
    if generator is not None and generator.device.type != state.v.device.type:
        raise ValueError(f"the generator is on {generator.device} but the neurons are on {state.v.device}; "
                         "create the generator on the layer's device")
    steps = phases.refractory_steps(p.refractory_ms, dt_ms)
    refr = state.refractory if steps > 0 else None
    v = phases.leak(state.v, p.v_rest_mv, phases.decay_factor(p.tau_mem_ms, dt_ms))
    v = phases.integrate(v, current, refr)
    v = phases.clamp_min(v, p.v_min_mv)
    uniform = torch.rand(v.shape, generator=generator, dtype=v.dtype, device=v.device)
    spikes = uniform < escape_probability(v, p, dt_ms)
    if refr is not None:
        spikes = spikes & (refr <= 0)
    v = phases.reset(v, spikes, p.v_reset_mv)
    refr = phases.count_refractory(refr, spikes, steps)
    return spikes, SRM0State(v, state.refractory if refr is None else refr)


class SRM0(NeuronLayer):
    """Layer of SRM0 neurons with escape noise (stochastic spiking).

    ``SRM0(100, generator=torch.Generator().manual_seed(0))`` gives reproducible spikes. Override fields of
    :class:`SRM0Params` by keyword, e.g. ``SRM0(100, delta_u_mv=2.0)``, or pass ``params=SRM0Params(...)``.
    The generator is not part of ``state_dict``. The multi-step module mode works without a surrogate only
    (see ``surrogate_unsupported``).
    """

    State = SRM0State
    surrogate_unsupported = ("its spikes are random draws (escape noise, U < p(v)), not a threshold crossing "
                             "H(v - v_thresh) whose derivative a surrogate could replace; use surrogate=None")

    def __init__(self, shape: int | tuple[int, ...], params: SRM0Params | None = None, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, generator: torch.Generator | None = None,
                 surrogate: SurrogateArg = None, **overrides: float) -> None:
        super().__init__(shape, dataclasses.replace(params or SRM0Params(), **overrides), dt_ms, trace, surrogate)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.generator = generator

    def initial_state(self, batch_size: int) -> SRM0State:
        return SRM0State(self._zeros(batch_size, self.params.v_rest_mv), self._zeros(batch_size))

    def step(self, current: torch.Tensor, state: SRM0State) -> tuple[torch.Tensor, SRM0State]:
        return srm0_step(current, state, self.params, self.dt_ms, self.generator)
