"""Supervised training of a classifier (e.g. :class:`spikerl.models.ConvSNN`) by gradient descent.

What is here: the learning-rate schedule, one training epoch (an optimizer step per minibatch, run by the
project's training loop :func:`spikerl.training.train_epochs`: shuffled order, tqdm progress bar with running loss
and accuracy, stop requests) with optional TensorBoard logging, evaluation, and checkpoints that can resume
training exactly where it stopped (model, optimizer, epoch, step).

Training is reproducible and resumable by construction: the minibatch order of epoch ``e`` depends only on
``(seed, e)``, and the learning rate only on the global step, so training 1 epoch, saving, loading and
training 1 more gives the same weights as training 2 epochs in one go (on the same machine and threads). A run
stopped within an epoch (``should_stop``) saves how many batches of that epoch it took, and the resumed run skips
them, so it also continues exactly.

Schedule (``S`` = total steps, ``W`` = warm-up steps, ``p = (step - W) / (S - W)``)::

    lr(step) = lr_max * (step + 1) / W                       for step < W
    lr(step) = lr_max * (1 + cos(pi * p)) / 2                 afterwards (cosine decay to 0)

Checkpoints are a plain dict written by :func:`spikerl.checkpoint.write_checkpoint` (atomic, fsync-ed) and read
with ``torch.load(weights_only=True)`` (:func:`spikerl.checkpoint.read_checkpoint`):
the model's ``state_dict`` and JSON config, the optimizer's ``state_dict``, the finished epochs and steps, and a
JSON dict of training settings. Nothing pickled, nothing runs on load.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from spikerl.checkpoint import check_finite, json_field, read_checkpoint, write_checkpoint
from spikerl.training import ScalarWriter, TrainingProgress, train_epochs

FORMAT = "spikerl.supervised/1"

@dataclass(frozen=True)
class TrainSettings:
    """Training hyperparameters (JSON-able; stored in checkpoints).

    Attributes:
        n_epochs: total epochs to train (a resumed run continues up to this number).
        batch_size: samples per gradient step.
        lr: peak learning rate of Adam.
        weight_decay: Adam's (L2) weight decay.
        warmup_fraction: fraction of all steps spent warming the learning rate up linearly.
        seed: seeds weight initialisation (in the caller) and the minibatch order.
        eval_batch_size: samples per forward pass when evaluating.
        log_every: steps between TensorBoard training scalars.
    """

    n_epochs: int = 2
    batch_size: int = 32
    lr: float = 5e-3
    weight_decay: float = 0.0
    warmup_fraction: float = 0.03
    seed: int = 0
    eval_batch_size: int = 1000
    log_every: int = 50

    def __post_init__(self) -> None:
        for name in ("n_epochs", "batch_size", "eval_batch_size", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")


def learning_rate(step: int, total_steps: int, lr_max: float, warmup_steps: int) -> float:
    """Learning rate at 0-based ``step`` of ``total_steps``: linear warm-up, then cosine decay to 0."""
    if step < warmup_steps:
        return lr_max * (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return lr_max * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """Adam over all trainable parameters (its learning rate is set every step by :func:`learning_rate`)."""
    return torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)


class EpochResult(NamedTuple):
    """Mean training loss and accuracy over the batches trained in an epoch, the global step after them, and
    whether the epoch was stopped before its end (``should_stop``)."""

    loss: float
    accuracy: float
    step: int
    stopped: bool = False


def _check_data(inputs: torch.Tensor, labels: torch.Tensor) -> None:
    if inputs.shape[0] != labels.shape[0]:
        raise ValueError(f"got {inputs.shape[0]} inputs but {labels.shape[0]} labels")
    if inputs.shape[0] == 0:
        raise ValueError("got an empty data set")


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, labels: torch.Tensor,
                settings: TrainSettings, epoch: int, step: int, *, writer: ScalarWriter | None = None,
                progress: bool = True, start_batch: int = 0, should_stop: Callable[[], bool] | None = None,
                on_step: Callable[[int], None] | None = None) -> EpochResult:
    """Train ``model`` for one epoch on ``inputs [N, ...]`` / ``labels int64 [N]`` with cross-entropy.

    Minibatches follow :func:`spikerl.training.epoch_order` through the project's training loop
    (:func:`spikerl.training.train_epochs`); the learning rate follows :func:`learning_rate` of the global ``step``
    (the number of optimizer steps taken before this call). Data are moved to the model's device per batch.
    ``start_batch``: batches of this epoch already trained (a resumed run) are skipped. ``should_stop`` is
    checked after every optimizer step; when true the epoch ends there (``stopped=True``). ``on_step`` gets the
    global step right after every optimizer step (so a caller knows where an exception struck).
    """
    _check_data(inputs, labels)
    device = next(model.parameters()).device
    n = inputs.shape[0]
    steps_per_epoch = math.ceil(n / settings.batch_size)
    total_steps = steps_per_epoch * settings.n_epochs
    warmup_steps = int(settings.warmup_fraction * total_steps)
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen, global_step, shown = 0, step, {}

    def train_step(idx: torch.Tensor) -> int:
        nonlocal seen, global_step
        lr = learning_rate(global_step, total_steps, settings.lr, warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = inputs[idx].to(device, non_blocking=True), labels[idx].to(device, non_blocking=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        global_step += 1
        if on_step is not None:
            on_step(global_step)
        with torch.no_grad():
            batch_correct = (logits.argmax(1) == y).sum()
            loss_sum.add_(loss.detach() * len(y))
            correct.add_(batch_correct)
        seen += len(y)
        i = global_step - step - 1  # batches of this call before this one
        if progress and (i % 10 == 0 or i == steps_per_epoch - start_batch - 1):
            shown.update(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.4f}", lr=f"{lr:.2e}")
        if writer is not None and global_step % settings.log_every == 0:
            writer.add_scalar("train/loss", loss.item(), global_step)
            writer.add_scalar("train/batch_accuracy", batch_correct.item() / len(y), global_step)
            writer.add_scalar("train/lr", lr, global_step)
        return 1

    done = train_epochs(train_step, n, epochs=settings.n_epochs, batch_size=settings.batch_size, seed=settings.seed,
                        progress=TrainingProgress(epoch=epoch, offset=min(start_batch * settings.batch_size, n)),
                        should_stop=should_stop, stop_after_epoch=epoch, show_progress=progress,
                        postfix=lambda _: dict(shown) or None)
    result = EpochResult(loss_sum.item() / max(seen, 1), correct.item() / max(seen, 1), global_step,
                         done.epoch == epoch)
    if writer is not None:
        writer.add_scalar("train/epoch_loss", result.loss, global_step)
        writer.add_scalar("train/epoch_accuracy", result.accuracy, global_step)
    return result


@torch.no_grad()
def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
             ) -> tuple[float, float]:
    """``(accuracy, mean cross-entropy)`` of ``model`` in evaluation mode (the previous mode is restored)."""
    _check_data(inputs, labels)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct, loss_sum = 0, 0.0
    try:
        for x, y in zip(inputs.split(batch_size), labels.split(batch_size)):
            x, y = x.to(device), y.to(device)
            logits = model(x)
            correct += int((logits.argmax(1) == y).sum().item())
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum").item())
    finally:
        model.train(was_training)
    n = labels.shape[0]
    return correct / n, loss_sum / n


# --------------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------------

class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns: the rebuilt model on ``map_location`` and the saved progress."""

    model: nn.Module
    optimizer_state: dict[str, Any]
    epoch: int
    step: int
    settings: dict[str, Any]
    batches_in_epoch: int = 0


def _model_types() -> dict[str, Callable[[dict[str, Any]], nn.Module]]:
    from spikerl.models.conv_snn import ConvSNN

    return {"ConvSNN": ConvSNN.from_config}


def save_checkpoint(path: str | os.PathLike[str], model: nn.Module, optimizer: torch.optim.Optimizer | None,
                    *, epoch: int, step: int, settings: dict[str, Any] | None = None,
                    batches_in_epoch: int = 0) -> None:
    """Write a resumable checkpoint atomically. ``model`` must have ``config()`` (JSON-able, with ``"type"``).

    ``epoch`` is the number of finished epochs, ``step`` the number of optimizer steps taken, ``settings`` any
    JSON-able dict (e.g. ``asdict(TrainSettings)`` plus command-line options), ``batches_in_epoch`` the batches
    of the unfinished epoch ``epoch`` already trained (0 at an epoch's end).
    """
    payload: dict[str, Any] = {
        "format": FORMAT,
        "model_config": json.dumps(model.config()),
        "settings": json.dumps(settings or {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else {},
        "epoch": int(epoch),
        "step": int(step),
        "batches_in_epoch": int(batches_in_epoch),
    }
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    write_checkpoint(payload, path)


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` with ``torch.load(weights_only=True)``.

    Refuses a damaged file, missing keys, bad JSON and non-finite weights by name (see
    :func:`spikerl.checkpoint.read_checkpoint`); all are ``ValueError``.
    """
    payload = read_checkpoint(path, map_location, expected_format=FORMAT, kind="spikerl supervised-training",
                              required=("model_config", "settings", "state_dict", "optimizer", "epoch", "step"))
    config, settings = json_field(payload, "model_config", path), json_field(payload, "settings", path)
    check_finite(payload["state_dict"], path, "weight")
    types = _model_types()
    kind = config.get("type")
    if kind not in types:
        raise ValueError(f"checkpoint names an unknown model type {kind!r}; expected one of {sorted(types)}")
    model = types[kind](config)
    model.load_state_dict(payload["state_dict"])
    model.to(map_location)
    return Checkpoint(model, payload["optimizer"], payload["epoch"], payload["step"], settings,
                      int(payload.get("batches_in_epoch", 0)))


# --------------------------------------------------------------------------------------------------
# The whole loop
# --------------------------------------------------------------------------------------------------

def fit(model: nn.Module, train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor] | None,
        settings: TrainSettings, *, optimizer: torch.optim.Optimizer | None = None, start_epoch: int = 0,
        start_step: int = 0, start_batch: int = 0, save_path: str | os.PathLike[str] | None = None,
        extra_settings: dict[str, Any] | None = None, writer: ScalarWriter | None = None,
        progress: bool = True, log: Callable[[str], None] | None = print,
        should_stop: Callable[[], bool] | None = None) -> list[dict[str, float]]:
    """Train from epoch ``start_epoch`` up to ``settings.n_epochs``, evaluating on ``test`` after each epoch.

    With ``save_path``, a checkpoint is written after every epoch (settings = ``asdict(settings)`` updated by
    ``extra_settings``), and also where an exception in an epoch struck (then the exception propagates), so
    training is never lost. ``start_batch``: batches of
    epoch ``start_epoch`` already trained (from a checkpoint written by a stopped run). ``should_stop`` is checked
    after every optimizer step: when true, training stops there, the checkpoint records the batches done in the
    unfinished epoch (with ``save_path``) and no evaluation runs for it. Returns one dict per finished epoch:
    ``epoch``, ``train_loss``, ``train_accuracy``, ``test_accuracy``, ``test_loss``, ``epoch_time_s``.
    """
    optimizer = optimizer or make_optimizer(model, settings)
    stored = {**asdict(settings), **(extra_settings or {})}
    history: list[dict[str, float]] = []
    step = start_step
    for epoch in range(start_epoch, settings.n_epochs):
        start = time.perf_counter()
        skip = start_batch if epoch == start_epoch else 0
        reached = [step]  # the global step after the last optimizer step, also when train_epoch raises
        try:
            result = train_epoch(model, optimizer, *train, settings, epoch, step, writer=writer, progress=progress,
                                 start_batch=skip, should_stop=should_stop, on_step=reached.append)
        except BaseException:
            if save_path is not None:  # training is never lost: save where the error struck, then re-raise
                save_checkpoint(save_path, model, optimizer, epoch=epoch, step=reached[-1], settings=stored,
                                batches_in_epoch=skip + reached[-1] - step)
            raise
        if result.stopped:
            if save_path is not None:
                save_checkpoint(save_path, model, optimizer, epoch=epoch, step=result.step, settings=stored,
                                batches_in_epoch=skip + result.step - step)
            break
        step = result.step
        if save_path is not None:  # before the evaluation, so an error there loses nothing
            save_checkpoint(save_path, model, optimizer, epoch=epoch + 1, step=step, settings=stored)
        record = {"epoch": epoch + 1, "train_loss": result.loss, "train_accuracy": result.accuracy}
        if test is not None:
            record["test_accuracy"], record["test_loss"] = evaluate(model, *test, settings.eval_batch_size)
            if writer is not None:
                writer.add_scalar("test/accuracy", record["test_accuracy"], step)
                writer.add_scalar("test/loss", record["test_loss"], step)
        record["epoch_time_s"] = time.perf_counter() - start
        history.append(record)
        if log is not None:
            log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        if should_stop is not None and should_stop():
            break
    return history
