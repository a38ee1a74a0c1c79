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
  (:mod:`spikerl.models.diehl_cook.fused`; tested to give the same spikes, weights and thresholds).
* ``"batched"``: ``B`` images are shown at once with the weights and thresholds of the batch's start,
  using the fast inference path (in C where it applies: each sample's trains drawn, its input current and
  the recurrent pair Ae/Ai stepped, one sample after another, the batch split between threads; otherwise
  input currents for all steps at once, then the recurrent pair in torch); then the STDP updates of the
  whole presentation, summed over time and over the batch, are applied at once, and each threshold rises by
  ``theta_plus_mv`` per spike of the batch. With frozen weights the sum of the rule's per-step updates is
  computed exactly from the few postsynaptic spikes (:func:`spikerl.plasticity.presentation_stdp_update`,
  tested against stepping the rule). It approximates online learning: within a batch, samples see neither
  each other's nor their own weight changes. The summed update is applied ``stdp_chunk`` samples at a time
  (32), each chunk clamped to ``[0, wmax]`` and normalised, as online learning clamps and normalises after
  every sample: summed over a whole large batch the update saturates the weights. 100 neurons, 1 epoch, seed 0,
  all-activity test accuracy: online 87.1 %; batches of 16: 87.7 %; of 64 (chunks of 128): 87.2 %; of 256
  in chunks of 128: 86.1 %, of 64: 87.7 %, of 32: 87.9 %; of 1024 in one piece: 63.8 %.

Input trains are stored and sampled only for each image's non-blank pixels
(:class:`spikerl.encoding.PackedSpikes`, :func:`spikerl.encoding.poisson_packed`). Where the C path applies,
:meth:`DiehlAndCook2015.present` without online learning draws the trains in C instead, from one seed per
sample taken from the generator (the same distribution, other random numbers).

Without learning both modes give the same spike counts (tested).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable
from typing import Any, Literal, NamedTuple

import torch

from spikerl.checkpoint import check_finite, json_field, read_checkpoint, write_checkpoint
from spikerl.connections import Dense
from spikerl.decoding import sparse_spike_counts
from spikerl.encoding import PackedSpikes, images_to_unit, poisson_packed
from spikerl.models.diehl_cook.fused import (
    BatchPresentation,
    FusedParams,
    Weights,
    batch_presentation,
    online_presentation,
    stdp_update,
)
from spikerl.models.diehl_cook.params import DiehlAndCookParams
from spikerl.network import Network
from spikerl.neurons import LIF, AdaptiveLIF, Input, phases
from spikerl.plasticity import PostPre, presentation_stdp_update
from spikerl.traces import TraceParams

CHECKPOINT_FORMAT = "spikerl.diehl_cook/1"

Mode = Literal["online", "batched"]


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
        group_backend: how the step loop runs (:data:`spikerl.network.GROUP_BACKENDS`): the whole network's in
            online learning, the recurrent pair's (:meth:`recurrent_pair`) in the batched paths. ``"compiled"``
            fuses it with ``torch.compile``, for CUDA; the CPU's fused C path, where it applies, uses neither.

    Example::

        model = DiehlAndCook2015(n_neurons=100)
        out = model.present(images_uint8, learning=True, mode="batched")    # images [B, 28, 28]
        out.counts                                                          # [B, 100] spike counts
    """

    def __init__(self, params: DiehlAndCookParams | None = None, generator: torch.Generator | None = None,
                 group_backend: str = "torch", **overrides: Any) -> None:
        p = dataclasses.replace(params or DiehlAndCookParams(), **overrides)
        super().__init__(dt_ms=p.dt_ms, group_backend=group_backend)
        self.params = p
        self._pair: dict[str, Network] = {}  # recurrent_pair(), built on first use
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

    def recurrent_pair(self) -> Network:
        """The recurrent part (``Ae``, ``Ai`` and their two connections) as a network of its own over the same
        modules (weights and thresholds are shared, not copied): the batched paths inject the input current
        into it. Built once and kept (outside the module tree, so it adds nothing to ``state_dict``); its state
        is its own, and it takes the model's ``group_backend``."""
        pair = self._pair.get("pair")
        if pair is None:
            pair = Network(dt_ms=self.dt_ms)
            pair.add_layer("Ae", self.layers["Ae"])
            pair.add_layer("Ai", self.layers["Ai"])
            pair.add_connection("Ae", "Ai", self.connections["Ae->Ai"])
            pair.add_connection("Ai", "Ae", self.connections["Ai->Ae"])
            self._pair["pair"] = pair
        pair.group_backend = self.group_backend
        return pair

    # --- the fused C path ---------------------------------------------------------------------------
    def fused_applies(self, learning: bool = True) -> bool:
        """Whether this network is the one that :mod:`~spikerl.models.diehl_cook.fused` restates.

        Its layers, connections and rule must be the ones built here (no monitors, no structural changes, the
        reference ``step`` functions, no ``v_min``, no bias or mask, one dtype); online ``learning`` also needs
        this class's ``run``, and learning in batches a rule with ``reduction="sum"`` (checked by the callers).
        """
        if (self.monitors or set(self.layers) != {"X", "Ae", "Ai"} or set(self.rules) != {"X->Ae"}
                or list(self.edges) != ["X->Ae", "Ae->Ai", "Ai->Ae"]):
            return False
        w, rule, ae, ai = self.connections["X->Ae"].w, self.rules["X->Ae"], self.layers["Ae"], self.layers["Ai"]
        return (type(rule) is PostPre and rule.weight_decay == 0
                and type(ae).step is AdaptiveLIF.step and type(ai).step is LIF.step
                and ae.params.v_min_mv is None and ai.params.v_min_mv is None
                and all(c.bias is None and c.mask is None for c in self.connections.values())
                and all(t.dtype == w.dtype for t in (self.connections["Ae->Ai"].w, self.connections["Ai->Ae"].w,
                                                     ae.theta))
                and (type(self).run is DiehlAndCook2015.run or not learning))

    def fused_params(self) -> FusedParams:
        """The constants of the fused kernels, from the layers, the input connection and its rule."""
        ae, ai = self.layers["Ae"], self.layers["Ai"]
        rule, conn, dt = self.rules["X->Ae"], self.connections["X->Ae"], self.dt_ms
        pa, pi = ae.params, ai.params
        return FusedParams(
            exc_v_rest=pa.v_rest_mv, exc_v_reset=pa.v_reset_mv, exc_v_thresh=pa.v_thresh_mv,
            exc_decay=phases.decay_factor(pa.tau_mem_ms, dt),
            exc_refractory=phases.refractory_steps(pa.refractory_ms, dt),
            theta_plus=pa.theta_plus_mv, theta_decay=phases.decay_factor(pa.tau_theta_ms, dt),
            inh_v_rest=pi.v_rest_mv, inh_v_reset=pi.v_reset_mv, inh_v_thresh=pi.v_thresh_mv,
            inh_decay=phases.decay_factor(pi.tau_mem_ms, dt),
            inh_refractory=phases.refractory_steps(pi.refractory_ms, dt),
            nu_pre=rule.nu_pre, nu_post=rule.nu_post, pre_decay=rule.pre_trace.decay(dt),
            post_decay=rule.post_trace.decay(dt), pre_scale=rule.pre_trace.scale, post_scale=rule.post_trace.scale,
            wmin=conn.wmin, wmax=conn.wmax, one_spike=int(pa.one_spike),
            pre_nearest=int(rule.pre_trace.mode == "nearest"), post_nearest=int(rule.post_trace.mode == "nearest"),
            adapt=1)

    def fused_weights(self) -> Weights:
        """The tensors the fused kernels read: input weights, the pair's weights, the thresholds."""
        return Weights(self.connections["X->Ae"].w, self.connections["Ae->Ai"].w, self.connections["Ai->Ae"].w,
                       self.layers["Ae"].theta)

    def _fused_batch(self, learning: bool, **kwargs: Any) -> BatchPresentation | None:
        """:func:`~spikerl.models.diehl_cook.fused.batch_presentation` for this network, or ``None`` where the
        kernel does not apply (then the caller takes the torch path)."""
        if not self.fused_applies(learning=False) or (learning and self.rules["X->Ae"].reduction != "sum"):
            return None
        return batch_presentation(self.fused_weights(), self.fused_params(), self.params.steps, learning=learning,
                                  chunk=self.params.stdp_chunk, **kwargs)

    def summed_stdp_update(self, pre: PackedSpikes, post: torch.Tensor, fused: bool = True) -> torch.Tensor:
        """The input connection's summed PostPre update ``dw [n_inputs, n]`` for input trains ``pre [T, B, A]``
        and excitatory spikes ``post`` bool ``[T, B, n]``, with frozen weights: in C where it applies
        (``fused``), else :func:`spikerl.plasticity.presentation_stdp_update` (the same sum)."""
        rule = self.rules["X->Ae"]
        dw = None
        if fused and self.fused_applies(learning=False) and rule.reduction == "sum":
            dw = stdp_update(pre, post, self.fused_weights(), self.fused_params())
        if dw is None:
            dw = presentation_stdp_update(pre, post, rule, self.params.n_inputs, self.dt_ms, self.input_weights.dtype)
        return dw

    # --- encoding -----------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor, intensity_hz: torch.Tensor | float | None = None,
               generator: torch.Generator | None = None) -> PackedSpikes:
        """Poisson trains for ``images [B, ...]`` at ``pixel/255 * intensity_hz`` (default ``params.intensity_hz``)."""
        x = images_to_unit(images.to(self.input_weights.device), self.params.n_inputs).to(self.input_weights.dtype)
        rate = self.params.intensity_hz if intensity_hz is None else intensity_hz
        return poisson_packed(x, rate, self.params.steps, self.dt_ms, generator)

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
        recurrent pair (Ae, Ai) step by step for the whole batch (:meth:`recurrent_pair`), or the same
        computation fused in C where it applies (:func:`~spikerl.models.diehl_cook.fused.batch_presentation`).
        """
        fast = self._fused_batch(False, spikes=spikes, record=True) if fused else None
        if fast is not None:
            return fast.spikes
        pair = self.recurrent_pair()
        pair.reset(spikes.spikes.shape[1])
        return pair.run({"Ae": self.input_current(spikes, events)}, learning=False, record=["Ae.spikes"])["Ae.spikes"]

    @torch.no_grad()
    def learn_online(self, spikes: PackedSpikes, fused: bool = True) -> torch.Tensor:
        """One presentation of one sample with STDP and threshold adaptation at every step.

        Returns the excitatory spikes ``[T, 1, n]``. Weights are normalised after the presentation, and the
        thresholds decay over ``rest_ms`` afterwards. The network's step-by-step path
        (``run(learning=True)``) does the work; with ``fused`` (default) the same computation runs as one
        C call where it applies (:func:`~spikerl.models.diehl_cook.fused.online_presentation`).
        """
        if spikes.spikes.shape[1] != 1:
            raise ValueError(f"online learning shows one sample at a time, got a batch of {spikes.spikes.shape[1]}")
        post = None
        if fused and self.fused_applies(learning=True):
            post = online_presentation(spikes, self.fused_weights(), self.fused_params())
        if post is not None:
            self.connections["X->Ae"].normalize()
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
        fast = self._fused_batch(True, spikes=spikes, record=True) if fused else None
        if fast is not None:
            self._apply_batch_plasticity(fast.dw, fast.counts)
            return fast.spikes
        post = self.simulate_frozen(spikes, False, spikes.spikes.nonzero())
        chunk = self.params.stdp_chunk
        updates = (presentation_stdp_update(spikes.batch_slice(start, start + chunk), post[:, start:start + chunk],
                                            self.rules["X->Ae"], self.params.n_inputs, self.dt_ms,
                                            self.input_weights.dtype)
                   for start in range(0, post.shape[1], chunk))
        self._apply_batch_plasticity(updates, sparse_spike_counts(post))
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
        (:func:`~spikerl.models.diehl_cook.fused.batch_presentation`), plus the batched plasticity when
        learning; returns the spike counts ``[B, n]``, or ``None`` when the kernel does not apply."""
        p = self.params
        prob = (x * rate_hz.unsqueeze(1) * (p.dt_ms / 1000.0)).clamp(max=1.0)
        out = self._fused_batch(learning, prob=prob, generator=generator)
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
                spikes = poisson_packed(x[todo], rate[todo], p.steps, p.dt_ms, generator)
                if not learning:
                    post = self.simulate_frozen(spikes)
                elif mode == "online":
                    post = self.learn_online(spikes)
                else:
                    post = self.learn_batched(spikes)
                got = sparse_spike_counts(post)
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
