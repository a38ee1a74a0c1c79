"""The one training loop: epochs of shuffled batches, a progress bar, periodic checkpoints, stop requests.

Every trainer of the project (:func:`spikerl.models.diehl_cook.training.train_unsupervised`,
:func:`spikerl.models.label_clamp.train_clamped` and the surrogate-gradient
:func:`spikerl.models.supervised_training.fit`) runs its batches through :func:`train_epochs`; what it does with a
batch (present it with STDP, clamp labels, take an optimizer step) is the ``step`` function it passes.

* **Order.** The samples of epoch ``e`` are shown in the order :func:`epoch_order` ``(n, e, seed)``: a
  permutation that depends only on ``(seed, e)``, so a resumed run sees the same batches as an uninterrupted one.
* **Progress.** :class:`TrainingProgress` (JSON-able, stored in checkpoints) says where training stands: the
  epoch, the samples of it already shown (``offset``), totals and wall time. :func:`train_epochs` continues from
  it and updates it in place.
* **Checkpoints.** ``checkpoint(progress)`` is called every ``checkpoint_every`` samples, at the end of every
  epoch when ``checkpoint_each_epoch`` is set, and when the loop ends (finished or stopped) unless that state was
  just written. The callback
  writes the file (through :func:`spikerl.checkpoint.write_checkpoint`, which every format of the project uses).
* **Stop requests.** ``should_stop`` (e.g. :class:`spikerl.stopping.StopRequest`) is checked after every batch;
  when true the loop ends there, a clean point to resume from.
* **TensorBoard.** Trainers log through a :class:`ScalarWriter` (what they need of
  ``torch.utils.tensorboard.SummaryWriter``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

SEED_STRIDE = 1_000_003
"""Epoch ``e`` of seed ``s`` shuffles with the torch generator seeded ``s * SEED_STRIDE + e`` (a prime larger than
any epoch count, so no two ``(seed, epoch)`` pairs of a run share a generator seed)."""


class ScalarWriter(Protocol):
    """What the trainers need of a TensorBoard ``SummaryWriter``."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None: ...


def epoch_order(n: int, epoch: int, seed: int) -> torch.Tensor:
    """The order in which ``n`` samples are shown in ``epoch``: long ``[n]``, a permutation of ``range(n)`` fixed
    by ``(seed, epoch)`` (``torch.randperm`` with a generator seeded ``seed * SEED_STRIDE + epoch``)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * SEED_STRIDE + epoch))


@dataclass
class TrainingProgress:
    """Where training stands (JSON-able; stored in checkpoints).

    Attributes:
        epoch: current epoch (0-based); ``offset``: samples of it already shown.
        samples: samples shown in total; ``presentations``: what the step functions counted (presentations
            including repetitions for Diehl & Cook, optimizer steps for gradient training).
        seconds: wall time spent in the step functions so far.
        history: per-trainer records (e.g. running accuracies, one dict per block, with ``"samples"``).
    """

    epoch: int = 0
    offset: int = 0
    samples: int = 0
    presentations: int = 0
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def progress_from_dict(data: dict[str, Any]) -> TrainingProgress:
    """Inverse of ``dataclasses.asdict`` for :class:`TrainingProgress` (ignores unknown keys)."""
    names = {f.name for f in dataclasses.fields(TrainingProgress)}
    return TrainingProgress(**{k: v for k, v in data.items() if k in names})


def check_training_data(inputs: torch.Tensor, labels: torch.Tensor) -> None:
    """Raise ``ValueError`` unless there are as many labels as inputs, and at least one."""
    if inputs.shape[0] != labels.shape[0] or inputs.shape[0] == 0:
        raise ValueError(f"need as many labels as inputs (and at least one), got {inputs.shape[0]} inputs "
                         f"and {labels.shape[0]} labels")


def train_epochs(step: Callable[[torch.Tensor], int], n: int, *, epochs: int, batch_size: int, seed: int,
                 progress: TrainingProgress | None = None,
                 checkpoint: Callable[[TrainingProgress], None] | None = None, checkpoint_every: int = 0,
                 checkpoint_each_epoch: bool = False, should_stop: Callable[[], bool] | None = None,
                 on_epoch_end: Callable[[TrainingProgress], None] | None = None,
                 stop_after_epoch: int | None = None, show_progress: bool = True, desc: str = "epoch",
                 postfix: Callable[[TrainingProgress], dict[str, str] | None] | None = None) -> TrainingProgress:
    """Run epochs ``progress.epoch .. epochs - 1`` over ``n`` samples in batches of ``batch_size``.

    Args:
        step: trains on one batch, given its sample indices (long ``[<= batch_size]``, from :func:`epoch_order`);
            returns what it counts into ``progress.presentations``.
        n: number of samples.
        epochs: total epochs (a resumed run continues up to this number).
        seed: fixes the order of each epoch.
        progress: where to continue from (default: the start); updated in place and returned.
        checkpoint: called with ``progress`` every ``checkpoint_every`` samples (0: never), after each epoch
            (``checkpoint_each_epoch``) and once when the loop ends.
        should_stop: checked after every batch; when true the loop ends there.
        on_epoch_end: called after each finished epoch (after its checkpoint), e.g. to evaluate.
        stop_after_epoch: end after finishing this epoch (0-based), for a caller that works epoch by epoch.
        show_progress: show a tqdm bar per epoch (``desc`` and the epoch), with ``postfix(progress)`` as its
            postfix after every batch (``None``: leave it).

    Returns:
        ``progress``, with ``epoch == epochs`` and ``offset == 0`` unless stopped within an epoch.
    """
    from tqdm.auto import tqdm

    if n <= 0 or batch_size <= 0 or epochs < 0:
        raise ValueError(f"need n >= 1, batch_size >= 1 and epochs >= 0, got {n}, {batch_size} and {epochs}")
    progress = progress if progress is not None else TrainingProgress()
    next_save = (progress.samples // checkpoint_every + 1) * checkpoint_every if checkpoint_every else None
    stopped, saved_at = False, None
    last = epochs if stop_after_epoch is None else min(epochs, stop_after_epoch + 1)

    def save() -> None:
        nonlocal saved_at
        if checkpoint is not None:
            checkpoint(progress)
            saved_at = progress.samples, progress.epoch

    while progress.epoch < last and not stopped:
        order = epoch_order(n, progress.epoch, seed)
        bar = tqdm(total=n, initial=progress.offset, desc=f"{desc} {progress.epoch + 1}/{epochs}",
                   disable=not show_progress, dynamic_ncols=True)
        while progress.offset < n:
            idx = order[progress.offset:progress.offset + batch_size]
            start = time.perf_counter()
            counted = step(idx)
            progress.seconds += time.perf_counter() - start
            progress.offset += idx.numel()
            progress.samples += idx.numel()
            progress.presentations += counted
            bar.update(idx.numel())
            shown = postfix(progress) if show_progress and postfix is not None else None
            if shown is not None:
                bar.set_postfix(shown, refresh=False)
            if next_save is not None and progress.samples >= next_save:
                save()
                next_save += checkpoint_every
            if should_stop is not None and should_stop():
                stopped = progress.offset < n
                break
        bar.close()
        if stopped:
            break
        progress.epoch += 1
        progress.offset = 0
        if checkpoint_each_epoch:
            save()
        if on_epoch_end is not None:
            on_epoch_end(progress)
        if should_stop is not None and should_stop():
            break
    if saved_at != (progress.samples, progress.epoch):  # the final state, unless just written
        save()
    return progress
