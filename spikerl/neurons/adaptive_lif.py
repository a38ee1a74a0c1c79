"""Adaptive-threshold LIF neurons (Diehl & Cook 2015; BindsNET's ``DiehlAndCookNodes`` defaults).

Membrane as in :mod:`spikerl.neurons.lif`. The threshold is ``v_thresh + theta`` where ``theta`` is a
learned, per-neuron quantity shared by the batch. While adapting (the module is in training mode, which
the network sets from ``run(learning=...)``)::

    theta_t = theta_{t-1} * exp(-dt / tau_theta) + theta_plus * sum_b s_t[b]

i.e. every spike raises its neuron's threshold by ``theta_plus`` (batch increments add up, as if the
samples had been shown one after another). With ``one_spike=True`` at most one neuron per sample fires in
a step: among those above threshold, the one with the largest overshoot ``v - v_thresh - theta``. With
``one_spike_per="position"`` the competition is local instead: in a layer of shape ``(C, *positions)`` (feature
maps), at most one of the ``C`` neurons at each position fires per step (a winner-take-all per position, as in
convolutional STDP networks).

``theta`` is kept in a buffer (saved with ``state_dict``); a run's changes are committed to it when the
run ends, so resetting the network between samples keeps what was learned. A run simulated with frozen
thresholds (not adapting) can commit its adaptation afterwards with :meth:`AdaptiveLIF.adapt_to` (the
thresholds of batched learning: they rise by ``theta_plus`` per spike of the run, after it).

Backends: ``"torch"`` (the step loop), ``"c"`` (the Network path's scan in one C call;
``adaptive_lif_scan.h`` beside this file restates :func:`adaptive_lif_step`), ``"auto"``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikerl import kernels
from spikerl.kernels import BackendUnavailable
from spikerl.neurons import phases
from spikerl.neurons.base import NeuronLayer, check_positive
from spikerl.neurons.surrogate import SpikeFn, SurrogateArg
from spikerl.traces import TraceParams, decay_powers
from spikerl.validation import check_fields_finite


@dataclass(frozen=True)
class AdaptiveLIFParams:
    """Parameters of :class:`AdaptiveLIF`; defaults are BindsNET's ``DiehlAndCookNodes``.

    Attributes:
        v_rest_mv, v_reset_mv, v_thresh_mv, tau_mem_ms, refractory_ms, v_min_mv: as in ``LIFParams``.
        theta_plus_mv: threshold increase per spike.
        tau_theta_ms: time constant of the threshold's decay (1e7 ms: practically none).
        one_spike: at most one spike per sample and step (see ``one_spike_per``).
        one_spike_per: ``"sample"`` (one spike in the whole layer) or ``"position"`` (one per position of a
            layer of shape ``(C, *positions)``, among its ``C`` neurons there).
    """

    v_rest_mv: float = -65.0
    v_reset_mv: float = -60.0
    v_thresh_mv: float = -52.0
    tau_mem_ms: float = 100.0
    refractory_ms: float = 5.0
    v_min_mv: float | None = None
    theta_plus_mv: float = 0.05
    tau_theta_ms: float = 1e7
    one_spike: bool = True
    one_spike_per: str = "sample"

    def __post_init__(self) -> None:
        if self.one_spike_per not in ("sample", "position"):
            raise ValueError(f"one_spike_per must be 'sample' or 'position', got {self.one_spike_per!r}")
        check_fields_finite(self, allow_inf=("tau_mem_ms", "tau_theta_ms"))
        check_positive("tau_mem_ms", self.tau_mem_ms, allow_inf=True)
        check_positive("tau_theta_ms", self.tau_theta_ms, allow_inf=True)
        for name in ("refractory_ms", "theta_plus_mv"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class AdaptiveLIFState(NamedTuple):
    """``v``, ``refractory``: ``[B, *shape]``; ``theta``: ``[*shape]`` (shared by the batch)."""

    v: torch.Tensor
    refractory: torch.Tensor
    theta: torch.Tensor


def keep_largest(spikes: torch.Tensor, overshoot: torch.Tensor, per_position: bool = False) -> torch.Tensor:
    """Per sample, keep only the spike with the largest ``overshoot`` (``[B, *shape]``, bool or float 0/1);
    ``per_position``: per sample and position of a ``[B, C, *positions]`` layer, among its ``C`` neurons there.

    On float spikes the losers are silenced and pass no gradient (the choice of the winner is an argmax);
    every other neuron keeps its spike function's gradient.
    """
    batch = spikes.shape[0]
    fired = phases.fired(spikes)
    groups = (batch, spikes.shape[1], -1) if per_position else (batch, -1)
    flat = torch.where(fired, overshoot.detach(), torch.full_like(overshoot, -torch.inf)).reshape(groups)
    winner = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, flat.argmax(1, keepdim=True), True)
    winner = winner.reshape(spikes.shape)
    return phases.suppress(spikes, winner if spikes.dtype == torch.bool else winner | ~fired)


def adaptive_lif_step(current: torch.Tensor, state: AdaptiveLIFState, params: AdaptiveLIFParams,
                      dt_ms: float = 1.0, adapt: bool = True, spike_fn: SpikeFn | None = None,
                      detach_reset: bool = False) -> tuple[torch.Tensor, AdaptiveLIFState]:
    """One step (pure function); ``adapt`` turns threshold adaptation on.

    ``spike_fn=None`` gives bool spikes; a surrogate spike function gives float 0/1 spikes carrying its
    derivative (also into ``theta``, which then depends on the spikes), ``detach_reset`` detaches the
    reset's gradient.
    """
    p = params
    steps = phases.refractory_steps(p.refractory_ms, dt_ms)
    refr = state.refractory if steps > 0 else None
    v = phases.leak(state.v, p.v_rest_mv, phases.decay_factor(p.tau_mem_ms, dt_ms))
    v = phases.integrate(v, current, refr)
    v = phases.clamp_min(v, p.v_min_mv)
    threshold = p.v_thresh_mv + state.theta
    spikes = phases.fire(v, threshold, spike_fn)
    if p.one_spike:
        spikes = keep_largest(spikes, v - threshold, p.one_spike_per == "position")
    v = phases.reset(v, spikes, p.v_reset_mv, detach_reset)
    refr = phases.count_refractory(refr, spikes, steps)
    theta = state.theta
    if adapt:
        theta = theta * phases.decay_factor(p.tau_theta_ms, dt_ms) + p.theta_plus_mv * spikes.sum(0).to(theta.dtype)
    return spikes, AdaptiveLIFState(v, state.refractory if refr is None else refr, theta)


class AdaptiveLIF(NeuronLayer):
    """Layer of adaptive-threshold LIF neurons (the Diehl & Cook excitatory neuron).

    Adapts its threshold while in training mode (``layer.train()``; the network sets it from
    ``run(learning=...)``). The learned threshold is the buffer ``theta [*shape]``. The multi-step module mode
    (``layer(x [T, B, *shape])``) starts from that buffer, adapts within the call in training mode, and does
    not write the buffer back (call :meth:`end_run` with the returned state to keep it).

    ``backend``: ``"auto"``, ``"torch"`` or ``"c"`` (see :mod:`spikerl.neurons.base`); ``"c"`` serves the
    Network path and raises :class:`~spikerl.kernels.BackendUnavailable` on a call it cannot serve.
    """

    State = AdaptiveLIFState
    BACKENDS = ("auto", "torch", "c")

    def __init__(self, shape: int | tuple[int, ...], params: AdaptiveLIFParams | None = None, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, surrogate: SurrogateArg = None, detach_reset: bool = False,
                 backend: str = "auto", **overrides: float) -> None:
        super().__init__(shape, dataclasses.replace(params or AdaptiveLIFParams(), **overrides), dt_ms, trace,
                         surrogate, detach_reset, backend)
        if backend == "c" and self._c_unsupported() is not None:
            raise BackendUnavailable("c", self._c_unsupported(), what="layer")
        self.register_buffer("theta", torch.zeros(self.shape))

    def initial_state(self, batch_size: int) -> AdaptiveLIFState:
        return AdaptiveLIFState(self._zeros(batch_size, self.params.v_rest_mv), self._zeros(batch_size),
                                self.theta.clone())

    def step(self, current: torch.Tensor, state: AdaptiveLIFState, spike_fn: SpikeFn | None = None,
             detach_reset: bool = False) -> tuple[torch.Tensor, AdaptiveLIFState]:
        return adaptive_lif_step(current, state, self.params, self.dt_ms, self.training, spike_fn, detach_reset)

    def scan(self, currents: torch.Tensor, state: AdaptiveLIFState, record: tuple[str, ...] = (),
             backend: str | None = None) -> tuple[torch.Tensor, AdaptiveLIFState, dict[str, torch.Tensor]]:
        """As :meth:`NeuronLayer.scan`. ``"c"``: one C call (:func:`spikerl.kernels.adaptive_lif_scan`,
        bit-identical to the step loop) on CPU float tensors; ``"auto"``: that where it can serve the call, else
        the step loop (always when a subclass overrides ``step``); ``"torch"``: the step loop."""
        backend = self.choose_backend(backend)
        if backend in ("auto", "c"):
            p = self.params
            fused = self.try_c(backend, self._c_unsupported(currents), lambda: kernels.adaptive_lif_scan(
                currents, state.v, state.refractory, state.theta, v_rest=p.v_rest_mv, v_reset=p.v_reset_mv,
                v_thresh=p.v_thresh_mv, decay=phases.decay_factor(p.tau_mem_ms, self.dt_ms),
                refractory_steps=phases.refractory_steps(p.refractory_ms, self.dt_ms), v_min=p.v_min_mv,
                theta_plus=p.theta_plus_mv, theta_decay=phases.decay_factor(p.tau_theta_ms, self.dt_ms),
                one_spike=p.one_spike, adapt=self.training, record=record))
            if fused is not None:
                spikes, final, recorded = fused
                return spikes, AdaptiveLIFState(*final), recorded
        return super().scan(currents, state, record, "torch")

    def _c_unsupported(self, currents: torch.Tensor | None = None) -> str | None:
        """Why the C backend cannot serve this layer (or its scan of ``currents``) at all, or ``None``."""
        if type(self).step is not AdaptiveLIF.step:
            return f"{type(self).__name__} overrides step, which the C kernel does not know"
        if self.params.one_spike and self.params.one_spike_per != "sample":
            return "the C kernel keeps one spike per sample, not one per position"
        if currents is not None and currents.dtype != self.dtype:
            return f"currents are {currents.dtype} but the layer is {self.dtype}"
        return None

    @torch.no_grad()
    def adapt_to(self, spikes: torch.Tensor) -> None:
        """Commit the adaptation of a run of spikes ``[T, B, *shape]`` simulated with the thresholds frozen:
        ``theta <- d^T theta + theta_plus * sum_t d^(T-1-t) sum_b s_t[b]`` with ``d = exp(-dt / tau_theta)``,
        what the adapting step gives for these spikes. Updates the ``theta`` buffer in place."""
        if spikes.dim() != 2 + len(self.shape) or tuple(spikes.shape[2:]) != self.shape:
            raise ValueError(f"expected spikes [T, B, {', '.join(map(str, self.shape))}], got {list(spikes.shape)}")
        p, steps = self.params, spikes.shape[0]
        decay = phases.decay_factor(p.tau_theta_ms, self.dt_ms)
        weights = decay_powers(steps, decay, self.theta.dtype, self.theta.device)
        counts = torch.tensordot(weights, spikes.sum(1, dtype=self.theta.dtype), dims=1)
        self.theta.mul_(decay ** steps).add_(counts, alpha=p.theta_plus_mv)

    @torch.no_grad()
    def end_run(self, state: AdaptiveLIFState, learning: bool) -> None:
        if learning:
            self.theta.copy_(state.theta)
