"""Diehl & Cook (2015): unsupervised learning of MNIST digits with STDP.

P. U. Diehl and M. Cook, "Unsupervised learning of digit recognition using spike-timing-dependent
plasticity", Front. Comput. Neurosci. 9:99 (2015), and the authors' Brian code
(``Diehl_and_Cook_spiking_MNIST.py``), called "the paper code" below.

Network (layer names as in BindsNET)::

    X  (n_inputs Poisson inputs) --Dense, PostPre STDP, w in [0, wmax], column sums = norm--> Ae
    Ae (n_neurons adaptive-threshold LIF) --one-to-one, exc_to_inh_mv--> Ai (n_neurons LIF)
    Ai --all-to-all except the neuron's own partner, inh_to_exc_mv (< 0)--> Ae

Presentation protocol: an image is shown for ``time_ms`` (350 ms) as Poisson spike trains of rate
``pixel / 255 * intensity_hz`` (63.75 Hz for a white pixel: the paper's ``pixel / 4``). If the excitatory
layer fired fewer than ``min_spikes`` (5) spikes, the image is shown again with ``intensity_step_hz``
(31.875 Hz, the paper code's ``+pixel / 8``) more, up to ``max_boosts`` times (the paper code has no limit).
Between presentations the paper lets the network rest for 150 ms; here the state is reset exactly
(membranes to rest, traces to 0, as BindsNET does) and the adaptive thresholds decay as they would over
``rest_ms``.

Modelling choices (each a parameter of :class:`DiehlAndCookParams`):

* **Threshold offset.** The paper code fires at ``v > theta - 20 mV + v_thresh_e`` with ``v_thresh_e =
  -52 mV`` and starts ``theta`` at 20 mV, decaying towards 0 with ``tau_theta = 1e7 ms``. We keep exactly
  that: ``exc_v_thresh_mv = -72`` and ``theta_init_mv = 20``. The first effective threshold is -52 mV, and
  over an epoch (60000 x 500 ms = 3 tau_theta) the initial 20 mV fades while learned increments take over.
  BindsNET instead uses -52 mV with theta starting at 0 (``exc_v_thresh_mv=-52, theta_init_mv=0``): the same
  at the start, a higher threshold later.
* **Current-based synapses.** The paper's synapses are conductances (time constants 1 ms and 2 ms, reversal
  potentials 0 and -100 mV). As BindsNET, we use current-based synapses whose weight is the voltage jump
  (mV) of one spike, with BindsNET's example values ``exc_to_inh_mv = 22.5`` (one excitatory spike fires its
  inhibitory partner at the next step) and ``inh_to_exc_mv = -120`` (strong lateral inhibition). An input
  spike of weight ``w`` (a conductance jump of ``w`` nS for 1 ms at ~ -60 mV) moves the paper's membrane by
  about ``0.6 w`` mV; here it moves it by ``w`` mV; the adaptive thresholds absorb the difference.
* **STDP.** PostPre with nearest-spike traces (a trace is set to 1 at a spike, as in the paper code and
  BindsNET), ``tau = 20 ms``, ``nu_pre = 1e-4`` (depression at presynaptic spikes), ``nu_post = 1e-2``
  (potentiation at postsynaptic spikes). The paper code's potentiation also has a second, 40 ms
  postsynaptic trace factor (a triplet term); it is left out, as in BindsNET.
* **One spike per step.** In 1 ms steps several excitatory neurons may cross threshold together, which the
  paper's continuous-time simulation would resolve by inhibition; ``one_spike`` keeps only the neuron with
  the largest overshoot (BindsNET's ``DiehlAndCookNodes``).
* **Normalisation.** After every learning run each neuron's incoming weights are rescaled to sum to
  ``norm`` = 78.4 (BindsNET; the paper code uses 78.0, about 0.1 per input).

Two execution modes share the weights and the thresholds:

* ``"online"``: the faithful mode. One image at a time, the STDP rule changes the weights at every step
  and the thresholds rise at every spike: :meth:`spikerl.network.Network.run` with ``learning=True``, or
  the same computation fused into one C call per presentation where it applies
  (:mod:`spikerl.models.diehl_cook_online`; tested to give the same spikes, weights and thresholds).
* ``"batched"``: ``B`` images are shown at once with the weights and thresholds of the batch's start,
  using the fast inference path (in C where it applies: each sample's trains drawn, its input current and
  the recurrent pair Ae/Ai stepped, one sample after another, the batch split between threads; otherwise
  input currents for all steps at once, then the recurrent pair in torch); then the STDP updates of the
  whole presentation, summed over time and over the batch, are applied at once, and each threshold rises by
  ``theta_plus_mv`` per spike of the batch. With frozen weights the sum of the rule's per-step updates is
  computed exactly from the few postsynaptic spikes (:func:`presentation_stdp_update`, tested against
  stepping the rule). It approximates online learning: within a batch, samples see neither each other's nor
  their own weight changes. The summed update is applied ``stdp_chunk`` samples at a time (32), each chunk
  clamped to ``[0, wmax]`` and normalised, as online learning clamps and normalises after every sample:
  summed over a whole large batch the update saturates the weights. 100 neurons, 1 epoch, seed 0,
  all-activity test accuracy: online 87.1 %; batches of 16: 87.7 %; of 64 (chunks of 128): 87.2 %; of 256
  in chunks of 128: 86.1 %, of 64: 87.7 %, of 32: 87.9 %; of 1024 in one piece: 63.8 %.

Input trains are stored and sampled only for each image's non-blank pixels (:class:`PackedSpikes`,
:func:`bernoulli_trains`). Where the C path applies, :meth:`DiehlAndCook2015.present` without online learning
draws the trains in C instead, from one seed per sample taken from the generator (the same distribution,
other random numbers).

Without learning both modes give the same spike counts (tested).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from collections.abc import Iterable, Iterator
from typing import Any, Literal, NamedTuple

import torch

from spikerl.checkpoint import check_finite, json_field, read_checkpoint, write_checkpoint
from spikerl.connections import Dense
from spikerl.models.diehl_cook_online import batch_presentation, online_presentation
from spikerl.network import Network
from spikerl.neurons import LIF, AdaptiveLIF, Input
from spikerl.neurons.base import check_positive
from spikerl.validation import check_fields_finite, warn_if_saturated
from spikerl.plasticity import PostPre
from spikerl.traces import TraceParams, trace_step

CHECKPOINT_FORMAT = "spikerl.diehl_cook/1"

Mode = Literal["online", "batched"]


@dataclass(frozen=True)
class DiehlAndCookParams:
    """Parameters of :class:`DiehlAndCook2015`. Defaults: the paper and its code, unless said otherwise.

    Attributes:
        n_inputs: input neurons (784 for MNIST).
        n_neurons: excitatory neurons, and as many inhibitory ones (paper: 100 to 6400).
        dt_ms: simulation step (BindsNET 1 ms; the paper code 0.5 ms).
        time_ms: presentation time of an image (paper: 350 ms; BindsNET's example 250 ms).
        rest_ms: rest between presentations, during which the thresholds decay (paper: 150 ms).
        intensity_hz: rate of a white pixel (paper: pixel / 4 = 63.75 Hz; BindsNET's example 128 Hz).
        intensity_step_hz: rate added to a white pixel when an image is shown again (paper code:
            ``pixel / 8`` = 31.875 Hz).
        min_spikes: an image is shown again while the excitatory layer fires fewer spikes (paper: 5).
        max_boosts: at most this many repetitions per image (the paper code has no limit).
        exc_v_rest_mv, exc_v_reset_mv: excitatory rest and reset (paper code: -65, -65; BindsNET resets to -60).
        exc_v_thresh_mv: excitatory base threshold: the paper code's -52 mV minus its 20 mV offset.
        theta_init_mv: initial adaptive threshold (paper code: 20 mV, cancelling the offset).
        exc_tau_mem_ms, exc_refractory_ms: 100 ms and 5 ms (paper code).
        theta_plus_mv, tau_theta_ms: threshold increase per spike and its decay time (0.05 mV, 1e7 ms).
        one_spike: at most one excitatory spike per step (BindsNET; see module docstring).
        inh_v_rest_mv, inh_v_reset_mv, inh_v_thresh_mv: -60, -45, -40 mV (paper code).
        inh_tau_mem_ms, inh_refractory_ms: 10 ms and 2 ms (paper code).
        exc_to_inh_mv: weight of the one-to-one excitatory -> inhibitory synapses (BindsNET 22.5).
        inh_to_exc_mv: weight of the lateral inhibitory -> excitatory synapses (BindsNET example -120).
        wmax: upper bound of the input weights (1.0; lower bound 0).
        norm: sum of each excitatory neuron's input weights (BindsNET 78.4; paper code 78.0).
        w_init_max: initial weights are uniform in ``[0, w_init_max]``, then normalised (0.3, paper code).
        nu_pre, nu_post: STDP depression and potentiation rates (1e-4, 1e-2).
        tau_pre_ms, tau_post_ms: STDP trace time constants (20 ms, 20 ms).
        trace_mode: ``"nearest"`` (paper code, BindsNET) or ``"additive"`` STDP traces.
        stdp_chunk: batched mode applies the summed update of at most this many samples at a time, each
            chunk clamped and normalised (ours; see the module docstring).
    """

    n_inputs: int = 784
    n_neurons: int = 100
    dt_ms: float = 1.0
    time_ms: float = 350.0
    rest_ms: float = 150.0
    intensity_hz: float = 63.75
    intensity_step_hz: float = 31.875
    min_spikes: int = 5
    max_boosts: int = 10
    exc_v_rest_mv: float = -65.0
    exc_v_reset_mv: float = -65.0
    exc_v_thresh_mv: float = -72.0
    theta_init_mv: float = 20.0
    exc_tau_mem_ms: float = 100.0
    exc_refractory_ms: float = 5.0
    theta_plus_mv: float = 0.05
    tau_theta_ms: float = 1e7
    one_spike: bool = True
    inh_v_rest_mv: float = -60.0
    inh_v_reset_mv: float = -45.0
    inh_v_thresh_mv: float = -40.0
    inh_tau_mem_ms: float = 10.0
    inh_refractory_ms: float = 2.0
    exc_to_inh_mv: float = 22.5
    inh_to_exc_mv: float = -120.0
    wmax: float = 1.0
    norm: float = 78.4
    w_init_max: float = 0.3
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre_ms: float = 20.0
    tau_post_ms: float = 20.0
    trace_mode: Literal["nearest", "additive"] = "nearest"
    stdp_chunk: int = 32

    def __post_init__(self) -> None:
        for name, low in (("n_inputs", 1), ("n_neurons", 1), ("min_spikes", 0), ("max_boosts", 0), ("stdp_chunk", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        for name in ("dt_ms", "time_ms", "exc_tau_mem_ms", "inh_tau_mem_ms", "tau_theta_ms", "wmax", "norm",
                     "w_init_max", "tau_pre_ms", "tau_post_ms"):
            check_positive(name, getattr(self, name))
        for name in ("rest_ms", "intensity_hz", "intensity_step_hz", "theta_plus_mv", "nu_pre", "nu_post",
                     "exc_refractory_ms", "inh_refractory_ms", "exc_to_inh_mv"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.inh_to_exc_mv > 0:
            raise ValueError(f"inh_to_exc_mv is inhibitory and must be <= 0, got {self.inh_to_exc_mv}")
        if self.trace_mode not in ("nearest", "additive"):
            raise ValueError(f"trace_mode must be 'nearest' or 'additive', got {self.trace_mode!r}")
        if self.steps < 1:
            raise ValueError(f"time_ms={self.time_ms} is shorter than one step of dt_ms={self.dt_ms}")
        check_fields_finite(self)
        warn_if_saturated("intensity_hz + max_boosts * intensity_step_hz (the rate of a white pixel after the last "
                          "boost)", self.intensity_hz + self.max_boosts * self.intensity_step_hz, self.dt_ms)

    @property
    def steps(self) -> int:
        """Steps per presentation: ``round(time_ms / dt_ms)``."""
        return int(round(self.time_ms / self.dt_ms))


class PackedSpikes(NamedTuple):
    """Input spike trains stored only for each sample's non-blank pixels.

    Attributes:
        index: long ``[B, A]``: pixel index of each slot (``A`` = most non-blank pixels in the batch; spare
            slots of a sample point at pixels whose rate is 0, so they never spike).
        spikes: bool ``[T, B, A]``: the spike train of each slot.
    """

    index: torch.Tensor
    spikes: torch.Tensor

    def to_dense(self, n_inputs: int) -> torch.Tensor:
        """The full train ``[T, B, n_inputs]`` (bool)."""
        steps, batch, _ = self.spikes.shape
        out = torch.zeros(steps, batch, n_inputs, dtype=torch.bool, device=self.spikes.device)
        return out.scatter_(2, self.index.unsqueeze(0).expand_as(self.spikes), self.spikes)

    @staticmethod
    def from_dense(train: torch.Tensor) -> PackedSpikes:
        """Pack a dense train ``[T, B, n]`` (keeps every input that spikes at least once)."""
        active = train.any(0)
        width = max(1, int(active.sum(1).max()))
        index = torch.argsort((~active).to(torch.int8), dim=1, stable=True)[:, :width]
        return PackedSpikes(index, train.gather(2, index.unsqueeze(0).expand(train.shape[0], -1, -1)))


def images_to_unit(images: torch.Tensor, n_inputs: int) -> torch.Tensor:
    """Images ``[B, ...]`` (uint8 0..255, or float in [0, 1]) -> float ``[B, n_inputs]`` in [0, 1]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() < 2 or math.prod(images.shape[1:]) != n_inputs:
        raise ValueError(f"expected images of shape [B, ...] with {n_inputs} values per image, "
                         f"got {list(images.shape)}")
    x = images.reshape(images.shape[0], n_inputs)
    if x.dtype == torch.uint8:
        return x.to(torch.get_default_dtype()) / 255.0
    if not x.is_floating_point():
        raise TypeError(f"images must be uint8 (0..255) or float (0..1), got {x.dtype}")
    if bool(((x < 0) | (x > 1)).any()):
        raise ValueError("float images must lie in [0, 1]; pass uint8 images for 0..255 values")
    return x


def bernoulli_trains(p: torch.Tensor, steps: int, generator: torch.Generator | None = None,
                     draws: int = 8) -> torch.Tensor:
    """Spike trains ``[steps, *p.shape]`` (bool) that spike independently with probability ``p`` in each step.

    The same distribution as :func:`spikerl.encoding.poisson` (a Bernoulli process per element), sampled
    through its inter-spike gaps: the number of steps from one spike to the next is geometric,
    ``P(gap = k) = (1 - p)^(k - 1) p``, drawn by inversion, ``gap = floor(log(1 - u) / log(1 - p)) + 1``. This
    takes about one random number per spike (``draws`` per element and round, rounds until every element has
    passed the last step) instead of one per element and step: for MNIST rates, 20 to 30 times fewer.
    """
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    flat = p.reshape(-1)
    out = torch.zeros(steps, flat.numel(), dtype=torch.bool, device=p.device)
    slots = torch.nonzero(flat > 0).squeeze(1)
    log_q = torch.log1p(-flat[slots].clamp(max=1.0))          # log(1 - p); -inf where p = 1 (gap 1)
    last = torch.full((slots.numel(),), -1, dtype=torch.long, device=p.device)
    while slots.numel():
        u = torch.rand(draws, slots.numel(), generator=generator, device=p.device, dtype=flat.dtype)
        gaps = torch.floor(torch.log1p(-u) / log_q) + 1       # 1 - u in (0, 1]: gaps >= 1
        times = last + gaps.clamp(max=steps + 1).long().cumsum(0)
        k, j = (times < steps).nonzero().unbind(1)
        out[times[k, j], slots[j]] = True
        last = times[-1]
        more = last < steps - 1
        slots, log_q, last = slots[more], log_q[more], last[more]
    return out.reshape(steps, *p.shape)


def encode_packed(x: torch.Tensor, rate_hz: torch.Tensor | float, steps: int, dt_ms: float = 1.0,
                  generator: torch.Generator | None = None) -> PackedSpikes:
    """Poisson trains for intensities ``x [B, n]`` in [0, 1] at ``x * rate_hz`` (``rate_hz``: number or ``[B]``).

    In each step of ``dt_ms`` an input spikes with probability ``min(rate * dt / 1000, 1)``, as in
    :func:`spikerl.encoding.poisson`. Only non-zero pixels are stored and sampled
    (:func:`bernoulli_trains`).
    """
    rates = x * torch.as_tensor(rate_hz, dtype=x.dtype, device=x.device).reshape(-1, 1)
    if bool((rates < 0).any()) or not bool(torch.isfinite(rates).all()):
        raise ValueError("rates must be finite and >= 0")
    active = rates > 0
    width = max(1, int(active.sum(1).max()))
    index = torch.argsort((~active).to(torch.int8), dim=1, stable=True)[:, :width]
    p = (rates.gather(1, index) * (dt_ms / 1000.0)).clamp(max=1.0)
    return PackedSpikes(index, bernoulli_trains(p, steps, generator))


def _traces_at(spikes: torch.Tensor, decay: float, mode: str, scale: float, times: list[int],
               rows: torch.Tensor, dtype: torch.dtype, reverse: bool = False) -> torch.Tensor:
    """A trace of ``spikes [T, B, A]`` read at given steps: ``out[k] = trace[t_k, rows[k]]`` (``[K, A]``).

    ``times[t]`` is the number of queries at step ``t`` (queries ordered by step); ``reverse`` runs the
    filter backwards in time (``x_t = d x_{t+1} + s_t`` for an additive trace).
    """
    out = torch.empty(rows.shape[0], spikes.shape[2], dtype=dtype, device=spikes.device)
    offsets = [0]
    for c in times:
        offsets.append(offsets[-1] + c)
    trace = torch.zeros(spikes.shape[1:], dtype=out.dtype, device=spikes.device)
    steps = range(spikes.shape[0] - 1, -1, -1) if reverse else range(spikes.shape[0])
    for t in steps:
        trace = trace_step(spikes[t], trace, decay, mode, scale)
        if times[t]:
            out[offsets[t]:offsets[t + 1]] = trace.index_select(0, rows[offsets[t]:offsets[t + 1]])
    return out


def presentation_stdp_update(pre: PackedSpikes, post: torch.Tensor, rule: PostPre, n_inputs: int,
                             dt_ms: float = 1.0, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Sum over a presentation (and the batch) of the per-step PostPre updates, with frozen weights.

    The rule changes the weights at step ``t`` by ``nu_post x_pre_t (x) s_post_t - nu_pre s_pre_t (x) x_post_t``
    (traces start at 0 and include the spikes of step ``t``). Summed over ``t``, postsynaptic spikes being
    rare, it is computed per postsynaptic spike ``k`` (neuron ``j_k`` of sample ``b_k`` at step ``t_k``):

    * potentiation ``nu_post x_pre[t_k, b_k]``: the forward presynaptic trace read at ``t_k``;
    * depression: with the backward presynaptic sum ``R_t = s_pre_t + d R_{t+1}`` (``d`` the postsynaptic
      trace's decay), ``sum_t s_pre_t x_post_t[j]`` is ``c sum_k R[t_k]`` for an additive postsynaptic
      trace of scale ``c``, and ``c sum_k (R[t_k] - d^(t'_k - t_k) R[t'_k])`` for a nearest-spike one, where
      ``t'_k`` is the next spike of the same neuron in the same sample (``R = 0`` past the end).

    Args:
        pre: packed input trains ``[T, B, A]``.
        post: postsynaptic spikes bool ``[T, B, n]``.
        rule: the :class:`~spikerl.plasticity.PostPre` rule (rates, traces, reduction).
        n_inputs: number of input neurons.
        dtype: float type of the result (default: torch's default dtype).

    Returns:
        ``dw [n_inputs, n]`` (batch-summed, or averaged for ``reduction="mean"``), without weight decay.
    """
    p, q = rule.pre_trace, rule.post_trace
    steps, batch, n = post.shape
    events = post.nonzero()                                              # [K, 3] (t, b, j), sorted by t
    dtype = dtype or torch.get_default_dtype()
    dw = torch.zeros(n_inputs, n, dtype=dtype, device=post.device)
    if events.shape[0] == 0:
        return dw
    t, b, j = events.unbind(1)
    times = torch.bincount(t, minlength=steps).tolist()
    x_pre = _traces_at(pre.spikes, p.decay(dt_ms), p.mode, p.scale, times, b, dtype)
    back = _traces_at(pre.spikes, q.decay(dt_ms), "additive", 1.0, times, b, dtype, reverse=True)
    if q.mode == "nearest":
        # next spike of the same (sample, neuron): order the events by (b, j, t)
        key = (b * n + j) * steps + t
        order = torch.argsort(key)
        same = key[order][1:] // steps == key[order][:-1] // steps
        nxt = torch.full_like(t, -1)
        nxt[order[:-1][same]] = order[1:][same]
        gap = (t[nxt.clamp(min=0)] - t).to(dw.dtype)
        later = torch.where((nxt >= 0).unsqueeze(1), back[nxt.clamp(min=0)] * q.decay(dt_ms) ** gap.unsqueeze(1),
                            torch.zeros_like(back))
        back = back - later
    change = rule.nu_post * x_pre - (rule.nu_pre * q.scale) * back       # [K, A]
    dw.index_put_((pre.index[b], j.unsqueeze(1).expand_as(change)), change, accumulate=True)
    return rule.reduce(dw, batch)


def count_spikes(train: torch.Tensor) -> torch.Tensor:
    """Spike counts ``[B, n]`` (long) of a sparse train ``[T, B, n]`` (bool), from its events."""
    steps, batch, n = train.shape
    events = train.reshape(steps, batch * n).nonzero()[:, 1]
    return torch.bincount(events, minlength=batch * n).reshape(batch, n)


class Presentation(NamedTuple):
    """What :meth:`DiehlAndCook2015.present` returns.

    Attributes:
        counts: float ``[B, n_neurons]``: excitatory spike counts of each sample's last presentation.
        intensity_hz: float ``[B]``: the white-pixel rate of that presentation.
        shown: long ``[B]``: how many times each sample was shown (1 + repetitions).
    """

    counts: torch.Tensor
    intensity_hz: torch.Tensor
    shown: torch.Tensor


class DiehlAndCook2015(Network):
    """The Diehl & Cook (2015) network: layers ``X``, ``Ae``, ``Ai`` (see the module docstring).

    Args:
        params: a :class:`DiehlAndCookParams`; keyword ``overrides`` replace its fields,
            e.g. ``DiehlAndCook2015(n_neurons=400)``.
        generator: optional ``torch.Generator`` for the initial weights.

    Example::

        model = DiehlAndCook2015(n_neurons=100)
        out = model.present(images_uint8, learning=True, mode="batched")    # images [B, 28, 28]
        out.counts                                                          # [B, 100] spike counts
    """

    def __init__(self, params: DiehlAndCookParams | None = None, generator: torch.Generator | None = None,
                 **overrides: Any) -> None:
        p = dataclasses.replace(params or DiehlAndCookParams(), **overrides)
        super().__init__(dt_ms=p.dt_ms)
        self.params = p
        n = p.n_neurons
        stdp_trace = TraceParams(p.tau_pre_ms, p.trace_mode), TraceParams(p.tau_post_ms, p.trace_mode)
        self.add_layer("X", Input(p.n_inputs, dt_ms=p.dt_ms))
        self.add_layer("Ae", AdaptiveLIF(n, dt_ms=p.dt_ms, v_rest_mv=p.exc_v_rest_mv, v_reset_mv=p.exc_v_reset_mv,
                                         v_thresh_mv=p.exc_v_thresh_mv, tau_mem_ms=p.exc_tau_mem_ms,
                                         refractory_ms=p.exc_refractory_ms, theta_plus_mv=p.theta_plus_mv,
                                         tau_theta_ms=p.tau_theta_ms, one_spike=p.one_spike))
        self.add_layer("Ai", LIF(n, dt_ms=p.dt_ms, v_rest_mv=p.inh_v_rest_mv, v_reset_mv=p.inh_v_reset_mv,
                                 v_thresh_mv=p.inh_v_thresh_mv, tau_mem_ms=p.inh_tau_mem_ms,
                                 refractory_ms=p.inh_refractory_ms))
        w = p.w_init_max * torch.rand(p.n_inputs, n, generator=generator)
        self.add_connection("X", "Ae", Dense(p.n_inputs, n, w, wmin=0.0, wmax=p.wmax, norm=p.norm),
                            rule=PostPre(p.nu_pre, p.nu_post, *stdp_trace, reduction="sum"))
        eye = torch.eye(n)
        self.add_connection("Ae", "Ai", Dense(n, n, p.exc_to_inh_mv * eye))
        self.add_connection("Ai", "Ae", Dense(n, n, p.inh_to_exc_mv * (1 - eye)))
        self.connections["X->Ae"].normalize()
        with torch.no_grad():
            self.layers["Ae"].theta.fill_(p.theta_init_mv)
        # The recurrent part (Ae, Ai) as its own network over the same modules: the batched path injects
        # the input current into it. Kept out of the module tree (no duplicate state_dict entries).
        recurrent = Network(dt_ms=p.dt_ms)
        recurrent.add_layer("Ae", self.layers["Ae"])
        recurrent.add_layer("Ai", self.layers["Ai"])
        recurrent.add_connection("Ae", "Ai", self.connections["Ae->Ai"])
        recurrent.add_connection("Ai", "Ae", self.connections["Ai->Ae"])
        self.__dict__["_recurrent"] = recurrent

    # --- properties ---------------------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return self.params.n_neurons

    @property
    def input_weights(self) -> torch.Tensor:
        """The plastic weights ``[n_inputs, n_neurons]`` (a view of the parameter)."""
        return self.connections["X->Ae"].w

    @property
    def theta(self) -> torch.Tensor:
        """The adaptive thresholds ``[n_neurons]`` (mV)."""
        return self.layers["Ae"].theta

    # --- encoding -----------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor, intensity_hz: torch.Tensor | float | None = None,
               generator: torch.Generator | None = None) -> PackedSpikes:
        """Poisson trains for ``images [B, ...]`` at ``pixel/255 * intensity_hz`` (default ``params.intensity_hz``)."""
        x = images_to_unit(images.to(self.input_weights.device), self.params.n_inputs).to(self.input_weights.dtype)
        rate = self.params.intensity_hz if intensity_hz is None else intensity_hz
        return encode_packed(x, rate, self.params.steps, self.dt_ms, generator)

    # --- one presentation ---------------------------------------------------------------------------
    def input_current(self, spikes: PackedSpikes, events: torch.Tensor | None = None) -> torch.Tensor:
        """Current into ``Ae`` from the input trains with the present weights, delayed one step: ``[T, B, n]``.

        ``I_t = s_{t-1} @ W`` (``I_0 = 0``: the network starts from a reset state), as the network's update
        order prescribes. Event-driven: each step's current is the sum of the weight rows of the inputs
        that spiked (``embedding_bag``). ``events``: ``spikes.spikes.nonzero()`` if already computed.
        """
        w = self.input_weights
        steps, batch, _ = spikes.spikes.shape
        out = torch.empty(steps, batch, self.n_neurons, dtype=w.dtype, device=w.device)
        out[0] = 0
        if steps > 1:
            events = spikes.spikes.nonzero() if events is None else events        # sorted by (t, b, a)
            t, b, a = events[events[:, 0] < steps - 1].unbind(1)
            bags = torch.searchsorted(t * batch + b, torch.arange((steps - 1) * batch, device=w.device))
            summed = torch.nn.functional.embedding_bag(spikes.index[b, a], w, bags, mode="sum")
            out[1:] = summed.reshape(steps - 1, batch, self.n_neurons)
        return out

    @torch.no_grad()
    def simulate_frozen(self, spikes: PackedSpikes, fused: bool = True, events: torch.Tensor | None = None
                        ) -> torch.Tensor:
        """Excitatory spikes ``[T, B, n]`` for input trains, with weights and thresholds fixed.

        Starts from a reset state. Uses the fast path: the input current for all steps at once, then the
        recurrent pair (Ae, Ai) step by step for the whole batch (the network's path), or the same computation
        fused in C where it applies (:func:`~spikerl.models.diehl_cook_online.batch_presentation`).
        """
        fast = batch_presentation(self, spikes=spikes, record=True) if fused else None
        if fast is not None:
            return fast.spikes
        net = self.__dict__["_recurrent"]
        net.reset(spikes.spikes.shape[1])
        return net.run({"Ae": self.input_current(spikes, events)}, learning=False, record=["Ae.spikes"])["Ae.spikes"]

    @torch.no_grad()
    def learn_online(self, spikes: PackedSpikes, fused: bool = True) -> torch.Tensor:
        """One presentation of one sample with STDP and threshold adaptation at every step.

        Returns the excitatory spikes ``[T, 1, n]``. Weights are normalised after the presentation, and the
        thresholds decay over ``rest_ms`` afterwards. The network's step-by-step path
        (``run(learning=True)``) does the work; with ``fused`` (default) the same computation runs as one
        C call where it applies (:mod:`spikerl.models.diehl_cook_online`).
        """
        if spikes.spikes.shape[1] != 1:
            raise ValueError(f"online learning shows one sample at a time, got a batch of {spikes.spikes.shape[1]}")
        post = online_presentation(self, spikes) if fused else None
        if post is not None:
            self.state = None  # the fused call keeps no network state; the next run starts from a reset
        else:
            self.reset(1)
            post = self.run({"X": spikes.to_dense(self.params.n_inputs)}, learning=True,
                            record=["Ae.spikes"])["Ae.spikes"]
        self._rest(1)
        return post

    @torch.no_grad()
    def learn_batched(self, spikes: PackedSpikes, fused: bool = True) -> torch.Tensor:
        """One presentation of a batch with frozen weights, then the summed STDP update (module docstring).

        Returns the excitatory spikes ``[T, B, n]``. Afterwards, for each chunk of ``stdp_chunk`` samples in
        turn: ``W <- normalise(clamp(W + dw_chunk, 0, wmax))``; then
        ``theta <- theta * exp(-B (T dt + rest) / tau_theta) + theta_plus * (spikes of the batch)``.
        """
        fast = batch_presentation(self, spikes=spikes, learning=True, record=True) if fused else None
        if fast is not None:
            self._apply_batch_plasticity(fast.dw, fast.counts)
            return fast.spikes
        events = spikes.spikes.nonzero()
        post = self.simulate_frozen(spikes, False, events)
        p = self.params

        def chunk_updates() -> Iterator[torch.Tensor]:
            for start in range(0, post.shape[1], p.stdp_chunk):
                stop = start + p.stdp_chunk
                part = PackedSpikes(spikes.index[start:stop], spikes.spikes[:, start:stop])
                yield presentation_stdp_update(part, post[:, start:stop], self.rules["X->Ae"], p.n_inputs,
                                               self.dt_ms, self.input_weights.dtype)

        self._apply_batch_plasticity(chunk_updates(), count_spikes(post))
        return post

    def _apply_batch_plasticity(self, chunk_updates: Iterable[torch.Tensor], counts: torch.Tensor) -> None:
        """After a frozen batch: ``W <- normalise(clamp(W + dw))`` per chunk update ``[n_inputs, n]`` in turn,
        then the thresholds decay over the batch's presentations and rests and rise by ``theta_plus_mv`` per
        spike (``counts [B, n]``)."""
        conn, p = self.connections["X->Ae"], self.params
        for dw in chunk_updates:
            conn.apply_update(dw)
            conn.normalize()
        theta = self.layers["Ae"].theta
        theta.mul_(math.exp(-counts.shape[0] * (p.steps * p.dt_ms + p.rest_ms) / p.tau_theta_ms))
        theta.add_(p.theta_plus_mv * counts.sum(0).to(theta.dtype))

    def _rest(self, samples: int) -> None:
        """Threshold decay over ``samples`` rest periods of ``rest_ms``."""
        p = self.params
        self.layers["Ae"].theta.mul_(math.exp(-samples * p.rest_ms / p.tau_theta_ms))

    # --- the presentation protocol ------------------------------------------------------------------
    @torch.no_grad()
    def present(self, images: torch.Tensor, learning: bool = False, mode: Mode = "batched",
                generator: torch.Generator | None = None) -> Presentation:
        """Show ``images [B, ...]`` with the paper's protocol; returns the excitatory spike counts.

        Each image is shown at ``intensity_hz``; while the excitatory layer fires fewer than ``min_spikes``
        spikes it is shown again with ``intensity_step_hz`` more (at most ``max_boosts`` times).

        Args:
            images: uint8 (0..255) or float (0..1) ``[B, ...]`` with ``n_inputs`` values per image.
            learning: apply STDP and threshold adaptation.
            mode: ``"online"`` (one image at a time, weights change every step; only matters when learning)
                or ``"batched"`` (see module docstring).
            generator: optional ``torch.Generator`` for the Poisson trains.
        """
        if mode not in ("online", "batched"):
            raise ValueError(f"mode must be 'online' or 'batched', got {mode!r}")
        if learning and mode == "online":
            parts = [self._present_with_boosts(images[b:b + 1], learning, mode, generator)
                     for b in range(images.shape[0])]
            return Presentation(*(torch.cat(x) for x in zip(*parts)))
        return self._present_with_boosts(images, learning, mode, generator)

    def _present_fused(self, x: torch.Tensor, rate_hz: torch.Tensor, learning: bool,
                       generator: torch.Generator | None) -> torch.Tensor | None:
        """One frozen presentation of intensities ``x [B, n_inputs]`` at ``rate_hz [B]`` in one fused C call
        (:func:`~spikerl.models.diehl_cook_online.batch_presentation`), plus the batched plasticity when
        learning; returns the spike counts ``[B, n]``, or ``None`` when the kernel does not apply."""
        p = self.params
        prob = (x * rate_hz.unsqueeze(1) * (p.dt_ms / 1000.0)).clamp(max=1.0)
        out = batch_presentation(self, prob=prob, generator=generator, learning=learning)
        if out is not None and learning:
            self._apply_batch_plasticity(out.dw, out.counts)
        return None if out is None else out.counts

    def _present_with_boosts(self, images: torch.Tensor, learning: bool, mode: Mode,
                             generator: torch.Generator | None) -> Presentation:
        p = self.params
        fused = not learning or mode == "batched"
        device = self.input_weights.device
        x = images_to_unit(images.to(device), p.n_inputs).to(self.input_weights.dtype)
        batch = x.shape[0]
        counts = torch.zeros(batch, self.n_neurons, dtype=x.dtype, device=device)
        rate = torch.full((batch,), p.intensity_hz, dtype=x.dtype, device=device)
        shown = torch.zeros(batch, dtype=torch.long, device=device)
        todo = torch.arange(batch, device=device)
        for boost in range(p.max_boosts + 1):
            got = self._present_fused(x[todo], rate[todo], learning, generator) if fused else None
            if got is None:
                spikes = encode_packed(x[todo], rate[todo], p.steps, p.dt_ms, generator)
                if not learning:
                    post = self.simulate_frozen(spikes)
                elif mode == "online":
                    post = self.learn_online(spikes)
                else:
                    post = self.learn_batched(spikes)
                got = count_spikes(post)
            got = got.to(x.dtype)
            counts[todo] = got
            shown[todo] += 1
            todo = todo[got.sum(1) < p.min_spikes]
            if boost == p.max_boosts or todo.numel() == 0:
                break
            rate[todo] += p.intensity_step_hz
        return Presentation(counts, rate, shown)

    # --- checkpoints --------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """JSON-able parameters (``dataclasses.asdict(params)``)."""
        return dataclasses.asdict(self.params)

    def save(self, path: str | os.PathLike, extra: dict[str, Any] | None = None,
             tensors: dict[str, torch.Tensor] | None = None) -> None:
        """Write a checkpoint: ``{"format", "config" (JSON), "state_dict", "extra" (JSON), "tensors"}``.

        ``extra``: JSON-able metadata (progress, settings); ``tensors``: extra tensors (e.g. a generator
        state). Written atomically by :func:`spikerl.checkpoint.write_checkpoint`; read with :meth:`load`
        (``torch.load(weights_only=True)``).
        """
        payload = {"format": CHECKPOINT_FORMAT, "config": json.dumps(self.config()),
                   "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
                   "extra": json.dumps(extra or {}),
                   "tensors": {k: v.detach().cpu() for k, v in (tensors or {}).items()}}
        write_checkpoint(payload, path)

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
             ) -> tuple[DiehlAndCook2015, dict[str, Any], dict[str, torch.Tensor]]:
        """Read a checkpoint written by :meth:`save`; returns ``(model, extra, tensors)``.

        Refuses a damaged file, missing keys, bad JSON and non-finite weights by name (see
        :func:`spikerl.checkpoint.read_checkpoint`); all are ``ValueError``.
        """
        payload = read_checkpoint(path, expected_format=CHECKPOINT_FORMAT, kind="Diehl & Cook",
                                  required=("config", "state_dict", "extra", "tensors"))
        config, extra = json_field(payload, "config", path), json_field(payload, "extra", path)
        check_finite(payload["state_dict"], path, "weight")
        model = cls(DiehlAndCookParams(**config))
        model.load_state_dict(payload["state_dict"])
        return model.to(map_location), extra, dict(payload["tensors"])
