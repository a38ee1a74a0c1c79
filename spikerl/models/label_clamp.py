"""Supervised learning by label clamping with the Diehl & Cook (2015) network.

The network is :class:`~spikerl.models.DiehlAndCook2015` unchanged (Poisson inputs ``X`` -> adaptive-threshold
excitatory ``Ae`` with PostPre STDP -> one-to-one inhibitory ``Ai`` -> lateral inhibition of ``Ae``). What the
labels add:

* **Fixed class groups.** Before training, excitatory neuron ``i`` of ``n`` is given class
  ``floor(i * n_classes / n)`` (:func:`class_groups`): ``n / n_classes`` neurons per class, in contiguous blocks.
* **Clamp (training).** While an image of class ``c`` is shown, every neuron of group ``c`` is forced to spike
  independently with probability ``p = clamp_rate_hz * dt_ms / 1000`` in each step (a Bernoulli process; the
  engine's ``clamp`` mask, :meth:`spikerl.network.Network.run`). A forced spike is a spike like any other: it
  drives the neuron's inhibitory partner (hence lateral inhibition) and it is a postsynaptic spike for STDP.
  The other neurons run free (``silence_others=False``, default) or are forced quiet (``True``).
* **Label-gated plasticity (training).** Only the input weights of group ``c`` change: the postsynaptic spikes
  given to the STDP rule are the network's spikes restricted to group ``c`` (``gate_plasticity=True``,
  default). Neurons of other classes that fire for the image keep their weights (they would otherwise learn
  the wrong class), but their adaptive thresholds rise with those spikes.
* **Thresholds.** Each natural spike (one in a step where its neuron was not clamped) raises its neuron's
  threshold by ``theta_plus_mv`` as in Diehl & Cook; forced spikes do not (``theta_from_clamped=False``,
  default), so thresholds measure how strongly each neuron responds by itself. This is the homeostasis that
  balances neurons with concentrated and with spread-out weights at test time, and it raises the threshold of a
  neuron that fires for images of other classes.
* **Test.** The network runs free (no clamp, no learning) with Diehl & Cook's protocol (repeated at higher
  intensity while fewer than ``min_spikes`` spikes). The predicted class is the group with the highest mean
  spike count (all-activity, :func:`spikerl.decoding.all_activity` with the fixed groups as assignments).
  :func:`evaluate` also reports all-activity and proportion weighting with assignments recomputed from the
  frozen network's responses to training images, and a linear readout of the counts.

Why these choices (100 neurons, one pass, batch 50, seed 0; 10,000 training and 1,000 test images unless
said otherwise): the clamp alone, with free and plastic other neurons (the design of the predecessor BindsNET
example) gave 61% at 20 Hz. Forcing the whole group to spike often makes all its neurons learn the class
mean, and L1-normalised class means classify MNIST poorly (64% as templates); spikes that the image itself
causes give the group's neurons different prototypes (competition through lateral inhibition). So a weak
clamp is best: 76% without clamp (some neurons never fire and never learn), 83% at 0.2 Hz, 82% at 0.5 Hz,
80% at 1 Hz, 76% at 2 Hz, 73% at 5 Hz. Silencing the other groups removes the homeostasis against false
alarms (55-59%). On all 60,000 training and 10,000 test images: 87.3% at 0.2 Hz (the default), 85.6% at
0.5 Hz. That is about what the unsupervised network reaches with labels assigned after training (87.5%
reported in :mod:`spikerl.models.diehl_cook`): at this size the labels decide which neurons serve which
class more than they add accuracy.

Training is batched as :meth:`~spikerl.models.DiehlAndCook2015.learn_batched`: ``B`` images are shown at
once with the weights and thresholds of the batch's start; the summed STDP update of the presentation
(:func:`spikerl.plasticity.presentation_stdp_update`, in C where it applies) is then applied
``stdp_chunk`` samples at a time (the network's parameter; label clamping was tuned and measured with
:data:`CLAMP_STDP_CHUNK` = 128, which ``supervised_mnist.py --method clamp`` uses: with chunks of 32 a short
run on 400 images scored 0.37 instead of 0.49), the weights clipped and normalised after each chunk; the thresholds
decay over the batch's ``B * (time_ms + rest_ms)`` and rise with its natural spikes. The
excitatory/inhibitory pair is simulated step by step by :class:`~spikerl.network.Network` (the input
current for all steps is computed at once, :meth:`~spikerl.models.DiehlAndCook2015.input_current`).

Example::

    model = DiehlAndCook2015(n_neurons=100, stdp_chunk=CLAMP_STDP_CHUNK)
    clf = LabelClampClassifier(model)
    clf.learn(images[:50], labels[:50])          # one batched, clamped presentation
    clf.predict(test_images)                     # [N] classes from free-running spike counts
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import torch

from spikerl.decoding import all_activity, sparse_spike_counts
from spikerl.encoding import PackedSpikes, bernoulli_trains
from spikerl.models.diehl_cook import DiehlAndCook2015
from spikerl.models.diehl_cook.training import collect_counts, evaluate_counts
from spikerl.training import ScalarWriter, TrainingProgress, check_training_data, train_epochs
from spikerl.validation import warn_if_saturated

CHECKPOINT_KEY = "label_clamp"
"""Key of the :class:`LabelClampParams` in the ``extra`` metadata of a Diehl & Cook checkpoint."""

#: Samples per applied STDP update when training by label clamping (see the module docstring).
CLAMP_STDP_CHUNK = 128

@dataclass(frozen=True)
class LabelClampParams:
    """How labels steer learning (see the module docstring).

    Attributes:
        n_classes: number of classes; the network needs at least one neuron per class.
        clamp_rate_hz: rate at which each neuron of the label's group is forced to spike during training
            (probability ``clamp_rate_hz * dt_ms / 1000`` per step). 0 disables the clamp.
        gate_plasticity: only the label group's input weights learn.
        silence_others: force the neurons of the other classes quiet during training.
        theta_from_clamped: forced spikes raise the adaptive thresholds too.
    """

    n_classes: int = 10
    clamp_rate_hz: float = 0.2
    gate_plasticity: bool = True
    silence_others: bool = False
    theta_from_clamped: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int) or self.n_classes < 1:
            raise ValueError(f"n_classes must be an int >= 1, got {self.n_classes!r}")
        rate = self.clamp_rate_hz
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate < 0:
            raise ValueError(f"clamp_rate_hz must be a finite number >= 0, got {rate!r}")
        for name in ("gate_plasticity", "silence_others", "theta_from_clamped"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")

    def clamp_prob(self, dt_ms: float) -> float:
        """Per-step probability of a forced spike: ``clamp_rate_hz * dt_ms / 1000`` (at most 1: a higher rate
        saturates, with a warning)."""
        warn_if_saturated("clamp_rate_hz", self.clamp_rate_hz, dt_ms)
        return min(1.0, self.clamp_rate_hz * dt_ms / 1000.0)


def class_groups(n_neurons: int, n_classes: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The class of each neuron, long ``[n_neurons]``: ``group[i] = floor(i * n_classes / n_neurons)``.

    Contiguous blocks of ``floor`` or ``ceil(n_neurons / n_classes)`` neurons, class 0 first.
    """
    for name, value in (("n_neurons", n_neurons), ("n_classes", n_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if n_neurons < n_classes:
        raise ValueError(f"need at least one neuron per class: n_neurons={n_neurons} < n_classes={n_classes}")
    return torch.arange(n_neurons, device=device) * n_classes // n_neurons


def label_members(labels: torch.Tensor, groups: torch.Tensor, n_classes: int) -> torch.Tensor:
    """bool ``[B, n]``: ``member[b, i] = (groups[i] == labels[b])``, after checking ``labels [B]``."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.dim() != 1 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor [B], got {labels.dtype} {list(labels.shape)}")
    if labels.numel() and bool(((labels < 0) | (labels >= n_classes)).any()):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    return groups.unsqueeze(0) == labels.to(groups.device).unsqueeze(1)


def clamp_train(members: torch.Tensor, prob: float, steps: int, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """Forced spikes bool ``[steps, B, n]``: each member neuron spikes with probability ``prob`` per step.

    ``members`` bool ``[B, n]``; non-members never spike. Sampled with
    :func:`spikerl.encoding.bernoulli_trains` (independent Bernoulli trials per step).
    """
    p = members.to(torch.get_default_dtype()) * prob
    return bernoulli_trains(p, steps, generator)


class ClampedPresentation(NamedTuple):
    """What :meth:`LabelClampClassifier.learn` returns.

    Attributes:
        counts: float ``[B, n]``: all excitatory spikes (natural and forced).
        forced: float ``[B, n]``: clamp spikes (the clamp mask's spikes).
        natural: float ``[B, n]``: spikes in steps where the neuron was not clamped.
    """

    counts: torch.Tensor
    forced: torch.Tensor
    natural: torch.Tensor


class LabelClampClassifier:
    """A :class:`~spikerl.models.DiehlAndCook2015` trained by label clamping (see the module docstring).

    Args:
        model: the network (on its device already); its weights and thresholds are trained in place.
        params: a :class:`LabelClampParams`; keyword ``overrides`` replace its fields.
    """

    def __init__(self, model: DiehlAndCook2015, params: LabelClampParams | None = None, **overrides: Any) -> None:
        if not isinstance(model, DiehlAndCook2015):
            raise TypeError(f"model must be a DiehlAndCook2015, got {type(model).__name__}")
        self.model = model
        self.params = dataclasses.replace(params or LabelClampParams(), **overrides)
        self.groups = class_groups(model.n_neurons, self.params.n_classes, device=model.input_weights.device)

    @property
    def n_classes(self) -> int:
        return self.params.n_classes

    @property
    def device(self) -> torch.device:
        return self.model.input_weights.device

    # --- training -------------------------------------------------------------------------------------
    @torch.no_grad()
    def learn(self, images: torch.Tensor, labels: torch.Tensor,
              generator: torch.Generator | None = None) -> ClampedPresentation:
        """One clamped, batched presentation of ``images [B, ...]`` with ``labels [B]``, then the updates.

        Steps: Poisson trains at ``intensity_hz``; clamp trains for the label groups; the pair (Ae, Ai) run
        with ``clamp`` (and ``silence`` when asked); ``W <- normalise(clamp(W + dw, 0, wmax))`` with ``dw``
        the summed PostPre update for the (gated) postsynaptic spikes, applied in chunks of ``stdp_chunk``
        samples as in :meth:`~spikerl.models.DiehlAndCook2015.learn_batched`;
        ``theta <- theta * exp(-B (T dt + rest) / tau_theta) + theta_plus * (natural spikes of the batch)``.
        """
        model, p = self.model, self.model.params
        if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
            raise ValueError(f"need one label per image (and at least one image), got {images.shape[0]} images "
                             f"and {labels.shape[0]} labels")
        members = label_members(labels, self.groups, self.n_classes)
        spikes = model.encode(images, generator=generator)
        current = model.input_current(spikes)
        steps, batch = current.shape[:2]
        forced = clamp_train(members, self.params.clamp_prob(p.dt_ms), steps, generator)
        masks: dict[str, dict[str, torch.Tensor]] = {"clamp": {"Ae": forced}}
        if self.params.silence_others:
            masks["silence"] = {"Ae": ~members}
        pair = model.recurrent_pair()  # the input current is injected into Ae; the masks act on Ae
        pair.reset(batch)
        post = pair.run({"Ae": current}, learning=False, record=["Ae.spikes"], **masks)["Ae.spikes"]
        taught = post & members.unsqueeze(0) if self.params.gate_plasticity else post
        self._apply_stdp(spikes, taught)
        natural = post & ~forced
        theta = model.theta
        theta.mul_(math.exp(-batch * (p.steps * p.dt_ms + p.rest_ms) / p.tau_theta_ms))
        adapting = post if self.params.theta_from_clamped else natural
        theta.add_(p.theta_plus_mv * sparse_spike_counts(adapting).sum(0).to(theta.dtype))
        dtype = theta.dtype
        return ClampedPresentation(sparse_spike_counts(post).to(dtype), sparse_spike_counts(forced & post).to(dtype),
                                   sparse_spike_counts(natural).to(dtype))

    def _apply_stdp(self, spikes: PackedSpikes, post: torch.Tensor) -> None:
        """``W <- normalise(clamp(W + dw, 0, wmax))`` for each chunk of ``stdp_chunk`` samples in turn.

        ``dw``: the chunk's summed PostPre update (:meth:`~spikerl.models.DiehlAndCook2015.summed_stdp_update`:
        in C where it applies, else :func:`spikerl.plasticity.presentation_stdp_update`, the same sum).
        Chunks as in :meth:`~spikerl.models.DiehlAndCook2015.learn_batched`.
        """
        model, chunk = self.model, self.model.params.stdp_chunk
        conn = model.connections["X->Ae"]
        for start in range(0, post.shape[1], chunk):
            dw = model.summed_stdp_update(spikes.batch_slice(start, start + chunk), post[:, start:start + chunk])
            conn.apply_update(dw)
            conn.normalize()

    # --- testing ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def responses(self, images: torch.Tensor, batch_size: int = 500, generator: torch.Generator | None = None,
                  show_progress: bool = False, desc: str = "responses") -> torch.Tensor:
        """Free-running spike counts ``[N, n]`` (CPU) for ``images [N, ...]``: no clamp, learning frozen."""
        return collect_counts(self.model, images, batch_size, generator, show_progress, desc)

    def classify_counts(self, counts: torch.Tensor) -> torch.Tensor:
        """All-activity with the fixed groups: long ``[N]`` (``-1`` where no neuron spiked)."""
        return all_activity(counts.float().cpu(), self.groups.cpu(), self.n_classes)

    def predict(self, images: torch.Tensor, batch_size: int = 500,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Predicted classes long ``[N]`` of ``images [N, ...]`` from free-running spike counts."""
        return self.classify_counts(self.responses(images, batch_size, generator))

    # --- checkpoints --------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, extra: dict[str, Any] | None = None,
             tensors: dict[str, torch.Tensor] | None = None) -> None:
        """A Diehl & Cook checkpoint (:meth:`~spikerl.models.DiehlAndCook2015.save`) whose ``extra`` also holds
        the :class:`LabelClampParams` under ``"label_clamp"``."""
        self.model.save(path, extra={**(extra or {}), CHECKPOINT_KEY: dataclasses.asdict(self.params)},
                        tensors=tensors)

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
             ) -> tuple[LabelClampClassifier, dict[str, Any], dict[str, torch.Tensor]]:
        """Read a checkpoint written by :meth:`save` (``torch.load(weights_only=True)``); returns
        ``(classifier, extra, tensors)``."""
        model, extra, tensors = DiehlAndCook2015.load(path, map_location=map_location)
        if CHECKPOINT_KEY not in extra:
            raise ValueError(f"{os.fspath(path)} is a Diehl & Cook checkpoint without label-clamp settings "
                             f"(no {CHECKPOINT_KEY!r} in its metadata); write it with LabelClampClassifier.save")
        return cls(model, LabelClampParams(**extra.pop(CHECKPOINT_KEY))), extra, tensors


# --- training loop and evaluation -------------------------------------------------------------------------
@dataclass
class ClampStats:
    """Running totals of a training run (for the progress bar, TensorBoard and the result)."""

    samples: int = 0
    spikes: float = 0.0
    forced: float = 0.0
    natural: float = 0.0
    correct_natural: float = 0.0

    def add(self, out: ClampedPresentation, members: torch.Tensor) -> None:
        self.samples += out.counts.shape[0]
        self.spikes += float(out.counts.sum())
        self.forced += float(out.forced.sum())
        self.natural += float(out.natural.sum())
        self.correct_natural += float((out.natural * members).sum())

    def summary(self) -> dict[str, float]:
        n = max(self.samples, 1)
        return {"spikes_per_sample": self.spikes / n, "forced_spikes_per_sample": self.forced / n,
                "natural_spikes_per_sample": self.natural / n,
                "natural_label_fraction": self.correct_natural / max(self.natural, 1.0)}


def train_clamped(clf: LabelClampClassifier, images: torch.Tensor, labels: torch.Tensor, *, epochs: int,
                  batch_size: int, seed: int, generator: torch.Generator | None = None,
                  progress: TrainingProgress | None = None, writer: ScalarWriter | None = None,
                  checkpoint: Callable[[TrainingProgress], None] | None = None, checkpoint_every: int = 0,
                  show_progress: bool = True, should_stop: Callable[[], bool] | None = None
                  ) -> tuple[TrainingProgress, ClampStats]:
    """Train ``clf`` on ``images [N, ...]``, ``labels [N]`` for ``epochs`` epochs, continuing from ``progress``.

    Samples are shown in batches of ``batch_size`` in an order fixed by ``(seed, epoch)``
    (:func:`spikerl.training.epoch_order`; the loop is :func:`spikerl.training.train_epochs`). ``checkpoint`` is
    called every ``checkpoint_every`` samples and at the end; ``writer`` gets scalars under ``train/``.
    ``should_stop`` is checked after every batch: when true, training ends there (the final checkpoint is still
    written).
    Returns the updated progress (``progress`` itself when given) and the statistics of this call.
    """
    check_training_data(images, labels)
    stats = ClampStats()

    def step(idx: torch.Tensor) -> int:
        batch_labels = labels[idx]
        out = clf.learn(images[idx], batch_labels, generator)
        stats.add(out, label_members(batch_labels, clf.groups, clf.n_classes).to(out.natural.dtype))
        if writer is not None:
            samples = progress.samples + idx.numel()  # after this batch
            writer.add_scalar("train/spikes_per_sample", out.counts.sum(1).mean().item(), samples)
            writer.add_scalar("train/natural_spikes_per_sample", out.natural.sum(1).mean().item(), samples)
            writer.add_scalar("train/theta_mean_mv", clf.model.theta.mean().item(), samples)
        return idx.numel()

    def postfix(prog: TrainingProgress) -> dict[str, str]:
        s = stats.summary()
        return {"nat": f"{s['natural_spikes_per_sample']:.1f}", "label": f"{s['natural_label_fraction']:.2f}",
                "rate": f"{prog.samples / max(prog.seconds, 1e-9):.0f}/s"}

    progress = progress if progress is not None else TrainingProgress()
    train_epochs(step, images.shape[0], epochs=epochs, batch_size=batch_size, seed=seed, progress=progress,
                 checkpoint=checkpoint, checkpoint_every=checkpoint_every, should_stop=should_stop,
                 show_progress=show_progress, desc="clamp epoch", postfix=postfix)
    return progress, stats


def evaluate(clf: LabelClampClassifier, test_images: torch.Tensor, test_labels: torch.Tensor,
             assign_images: torch.Tensor | None = None, assign_labels: torch.Tensor | None = None,
             batch_size: int = 500, generator: torch.Generator | None = None,
             show_progress: bool = False) -> dict[str, Any]:
    """Test accuracies of the free-running network.

    Returns ``{"accuracy"}``: all-activity with the fixed class groups (the method's prediction); with
    ``assign_images``/``assign_labels`` also ``"all_activity_reassigned"``, ``"proportion_weighting"`` and
    ``"linear"`` (:func:`~spikerl.models.diehl_cook.training.evaluate_counts` fitted on the frozen network's
    responses to those images) and ``"groups_kept"``: the fraction of neurons whose recomputed assignment is
    their group.
    """
    test_counts = clf.responses(test_images, batch_size, generator, show_progress, "test")
    test_labels = test_labels.long().cpu()
    result: dict[str, Any] = {
        "accuracy": (clf.classify_counts(test_counts) == test_labels).float().mean().item()}
    if assign_images is not None and assign_labels is not None:
        counts = clf.responses(assign_images, batch_size, generator, show_progress, "assign (train)")
        other = evaluate_counts(counts, assign_labels, test_counts, test_labels, clf.n_classes)
        result.update(all_activity_reassigned=other["all_activity"],
                      proportion_weighting=other["proportion_weighting"], linear=other["linear"],
                      groups_kept=(other["assignments"] == clf.groups.cpu()).float().mean().item())
    return result
