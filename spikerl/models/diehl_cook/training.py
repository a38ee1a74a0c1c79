"""Training and evaluating the Diehl & Cook (2015) network on labelled images (e.g. MNIST).

What is here:

* :func:`train_unsupervised`: epochs of unsupervised learning (STDP, adaptive thresholds) through the project's
  training loop (:func:`spikerl.training.train_epochs`: shuffled order fixed by ``(seed, epoch)``, progress bar,
  periodic checkpoints, stop requests), with the running accuracy on the bar and optional TensorBoard scalars;
  resumable from a :class:`~spikerl.training.TrainingProgress`.
* :class:`RunningAccuracy`: Diehl & Cook's / BindsNET's running estimate. The training stream is cut into
  blocks of ``update_interval`` samples; the samples of block ``k`` are classified from their spike counts
  with the label assignment computed from block ``k - 1`` (so no sample is classified by an assignment it
  helped to make); then block ``k`` gives the next assignment.
* :func:`collect_counts` and :func:`evaluate_counts`: the final evaluation. With learning frozen (weights and
  thresholds fixed), the network's spike counts on training images give the label assignment and train
  the linear readout; the test images are then classified by all-activity, proportion weighting
  (:mod:`spikerl.decoding`) and the linear readout (:class:`~spikerl.models.linear_readout.LinearReadout`).
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from spikerl.decoding import all_activity, assign_labels, proportion_weighting
from spikerl.models.diehl_cook.model import DiehlAndCook2015, Mode
from spikerl.models.linear_readout import LinearReadout
from spikerl.training import ScalarWriter, TrainingProgress, check_training_data, train_epochs


class RunningAccuracy:
    """Accuracy of each block of ``update_interval`` samples, classified with the previous block's assignment.

    Feed it the spike counts and labels of the training stream with :meth:`update`; it returns one
    ``{"all_activity": acc, "proportion_weighting": acc}`` per completed block (from the second block on).
    """

    def __init__(self, update_interval: int, n_neurons: int, n_classes: int = 10) -> None:
        if update_interval <= 0:
            raise ValueError(f"update_interval must be a positive int, got {update_interval}")
        self.update_interval, self.n_classes = update_interval, n_classes
        self.counts = torch.zeros(update_interval, n_neurons)
        self.labels = torch.zeros(update_interval, dtype=torch.long)
        self.filled = 0
        self.assignments: torch.Tensor | None = None
        self.proportions: torch.Tensor | None = None

    def update(self, counts: torch.Tensor, labels: torch.Tensor) -> list[dict[str, float]]:
        """Add samples ``counts [B, n]``, ``labels [B]``; returns the accuracies of the blocks they complete."""
        counts, labels = counts.detach().cpu().float(), labels.detach().cpu().long()
        done = []
        while counts.shape[0]:
            take = min(self.update_interval - self.filled, counts.shape[0])
            self.counts[self.filled:self.filled + take] = counts[:take]
            self.labels[self.filled:self.filled + take] = labels[:take]
            self.filled += take
            counts, labels = counts[take:], labels[take:]
            if self.filled == self.update_interval:
                if self.assignments is not None:
                    done.append(self.block_accuracy())
                self.assignments, self.proportions, _ = assign_labels(self.counts, self.labels, self.n_classes)
                self.filled = 0
        return done

    def block_accuracy(self) -> dict[str, float]:
        """Accuracy of the current (full) block with the previous assignment."""
        a = all_activity(self.counts, self.assignments, self.n_classes)
        p = proportion_weighting(self.counts, self.assignments, self.proportions, self.n_classes)
        return {"all_activity": (a == self.labels).float().mean().item(),
                "proportion_weighting": (p == self.labels).float().mean().item()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors that let a resumed run continue the same blocks."""
        out = {"counts": self.counts, "labels": self.labels, "filled": torch.tensor(self.filled)}
        if self.assignments is not None:
            out.update(assignments=self.assignments, proportions=self.proportions)
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.counts, self.labels = state["counts"].clone(), state["labels"].clone()
        self.filled = int(state["filled"])
        self.assignments = state["assignments"].clone() if "assignments" in state else None
        self.proportions = state["proportions"].clone() if "proportions" in state else None


def train_unsupervised(model: DiehlAndCook2015, images: torch.Tensor, labels: torch.Tensor, *, epochs: int,
                       batch_size: int, mode: Mode, update_interval: int, seed: int,
                       generator: torch.Generator | None = None, progress: TrainingProgress | None = None,
                       running: RunningAccuracy | None = None, writer: ScalarWriter | None = None,
                       checkpoint: Callable[[TrainingProgress, RunningAccuracy], None] | None = None,
                       checkpoint_every: int = 0, show_progress: bool = True,
                       should_stop: Callable[[], bool] | None = None) -> TrainingProgress:
    """Train ``model`` on ``images [N, ...]`` for ``epochs`` epochs, continuing from ``progress``.

    Args:
        mode: ``"online"`` (one sample at a time, ``batch_size`` only sets how often the bar moves) or
            ``"batched"`` (``batch_size`` samples per presentation).
        update_interval: block size of the running accuracy.
        seed: fixes the order of samples in each epoch (:func:`spikerl.training.epoch_order`).
        generator: Poisson generator (its state belongs in checkpoints for an exact resume).
        writer: optional TensorBoard writer (scalars under ``train/``).
        checkpoint: called with the progress every ``checkpoint_every`` samples and at the end.
        should_stop: checked after every presentation; when true, training ends there (the final checkpoint is
            still written), a clean point to resume from (e.g. :class:`spikerl.stopping.StopRequest`).

    Returns:
        the updated :class:`TrainingProgress` (``progress`` itself when given: it is updated in place).
    """
    check_training_data(images, labels)
    running = running or RunningAccuracy(update_interval, model.n_neurons)

    def step(idx: torch.Tensor) -> int:
        out = model.present(images[idx], learning=True, mode=mode, generator=generator)
        samples = progress.samples + idx.numel()  # after this batch
        for acc in running.update(out.counts, labels[idx]):
            progress.history.append({"samples": samples, **acc})
            if writer is not None:
                for key, value in acc.items():
                    writer.add_scalar(f"train/running_{key}", value, samples)
        if writer is not None:
            writer.add_scalar("train/spikes_per_sample", out.counts.sum(1).mean().item(), samples)
            writer.add_scalar("train/theta_mean_mv", model.theta.mean().item(), samples)
        return int(out.shown.sum())

    def postfix(prog: TrainingProgress) -> dict[str, str] | None:
        if not prog.history:
            return None
        last = prog.history[-1]
        return {"acc": f"{last['all_activity']:.3f}", "prop": f"{last['proportion_weighting']:.3f}",
                "rate": f"{prog.samples / max(prog.seconds, 1e-9):.0f}/s"}

    progress = progress if progress is not None else TrainingProgress()
    return train_epochs(step, images.shape[0], epochs=epochs, batch_size=batch_size if mode == "batched"
                        else max(batch_size, 10), seed=seed, progress=progress,
                        checkpoint=None if checkpoint is None else (lambda prog: checkpoint(prog, running)),
                        checkpoint_every=checkpoint_every, should_stop=should_stop, show_progress=show_progress,
                        postfix=postfix)


@torch.no_grad()
def collect_counts(model: DiehlAndCook2015, images: torch.Tensor, batch_size: int = 256,
                   generator: torch.Generator | None = None, show_progress: bool = False,
                   desc: str = "responses") -> torch.Tensor:
    """Excitatory spike counts ``[N, n_neurons]`` (CPU) for ``images [N, ...]`` with learning frozen."""
    from tqdm.auto import tqdm

    out = torch.empty(images.shape[0], model.n_neurons)
    for start in tqdm(range(0, images.shape[0], batch_size), desc=desc, disable=not show_progress,
                      dynamic_ncols=True):
        out[start:start + batch_size] = model.present(images[start:start + batch_size], learning=False,
                                                      generator=generator).counts.cpu()
    return out


def evaluate_counts(train_counts: torch.Tensor, train_labels: torch.Tensor, test_counts: torch.Tensor,
                    test_labels: torch.Tensor, n_classes: int = 10) -> dict[str, Any]:
    """Accuracies of the three classifiers on the test counts, fitted on the training counts.

    Returns ``{"all_activity", "proportion_weighting", "linear"}`` accuracies (floats in [0, 1]) and the
    ``"assignments"`` (long ``[n]``) used by the first two.
    """
    train_labels, test_labels = train_labels.long().cpu(), test_labels.long().cpu()
    train_counts, test_counts = train_counts.float().cpu(), test_counts.float().cpu()
    assignments, proportions, _ = assign_labels(train_counts, train_labels, n_classes)
    readout = LinearReadout(train_counts.shape[1], n_classes).fit(train_counts, train_labels)
    predictions = {
        "all_activity": all_activity(test_counts, assignments, n_classes),
        "proportion_weighting": proportion_weighting(test_counts, assignments, proportions, n_classes),
        "linear": readout.predict(test_counts),
    }
    result: dict[str, Any] = {k: (v == test_labels).float().mean().item() for k, v in predictions.items()}
    result["assignments"] = assignments
    return result
