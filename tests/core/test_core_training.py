"""The project's one training loop (spikerl.training): the epoch order, resuming, checkpoint cadence, stopping."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from spikerl.training import (
    SEED_STRIDE,
    TrainingProgress,
    epoch_order,
    progress_from_dict,
    train_epochs,
)


def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    a = epoch_order(50, epoch=1, seed=3)
    assert sorted(a.tolist()) == list(range(50))
    assert torch.equal(a, epoch_order(50, epoch=1, seed=3))
    assert not torch.equal(a, epoch_order(50, epoch=2, seed=3))
    assert not torch.equal(a, epoch_order(50, epoch=1, seed=4))
    # the documented seeding, which checkpoints written by earlier versions of the Diehl & Cook trainer rely on
    expected = torch.randperm(50, generator=torch.Generator().manual_seed(3 * SEED_STRIDE + 1))
    assert SEED_STRIDE == 1_000_003 and torch.equal(a, expected)


class Recorder:
    """A step function that records the batches it is given and counts 2 per batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __call__(self, idx: torch.Tensor) -> int:
        self.batches.append(idx.tolist())
        return 2


def test_every_epoch_shows_each_sample_once_in_batches_of_the_epoch_order():
    step = Recorder()
    progress = train_epochs(step, 10, epochs=2, batch_size=4, seed=5, show_progress=False)
    # batches of 4, 4, 2 per epoch, in epoch_order
    assert [len(b) for b in step.batches] == [4, 4, 2, 4, 4, 2]
    assert sum(step.batches[:3], []) == epoch_order(10, 0, 5).tolist()
    assert sum(step.batches[3:], []) == epoch_order(10, 1, 5).tolist()
    assert (progress.epoch, progress.offset, progress.samples, progress.presentations) == (2, 0, 20, 2 * 6)


def test_stopped_and_resumed_run_sees_the_same_batches_as_an_uninterrupted_one():
    straight = Recorder()
    train_epochs(straight, 10, epochs=2, batch_size=3, seed=1, show_progress=False)
    first = Recorder()
    progress = train_epochs(first, 10, epochs=2, batch_size=3, seed=1, show_progress=False,
                            should_stop=lambda: len(first.batches) == 6)
    # stopped after the 6th batch: the second of epoch 1 (epoch 0 had 4 batches: 3, 3, 3, 1)
    assert (progress.epoch, progress.offset, progress.samples) == (1, 6, 16)
    stored = progress_from_dict(dataclasses.asdict(progress))
    second = Recorder()
    train_epochs(second, 10, epochs=2, batch_size=3, seed=1, progress=stored, show_progress=False)
    assert first.batches + second.batches == straight.batches
    assert stored.samples == 20 and stored.presentations == 2 * len(straight.batches)


def test_checkpoints_every_n_samples_after_each_epoch_and_at_the_end():
    saved: list[tuple[int, int]] = []
    train_epochs(Recorder(), 10, epochs=2, batch_size=4, seed=0, show_progress=False,
                 checkpoint=lambda p: saved.append((p.epoch, p.samples)), checkpoint_every=6)
    # samples after each batch: 4, 8, 10 | 14, 18, 20; every 6 -> at 8 (>= 6), 14 (>= 12), 18 (>= 18);
    # the end (20) once more
    assert saved == [(0, 8), (1, 14), (1, 18), (2, 20)]
    saved.clear()
    train_epochs(Recorder(), 10, epochs=2, batch_size=4, seed=0, show_progress=False,
                 checkpoint=lambda p: saved.append((p.epoch, p.samples)), checkpoint_each_epoch=True)
    assert saved == [(1, 10), (2, 20)]  # the end state was just written: not twice


def test_a_stop_request_at_the_end_of_an_epoch_stops_before_the_next():
    step = Recorder()
    progress = train_epochs(step, 10, epochs=3, batch_size=5, seed=0, show_progress=False,
                            should_stop=lambda: len(step.batches) == 2)
    assert (progress.epoch, progress.offset, len(step.batches)) == (1, 0, 2)


def test_stop_after_epoch_and_epoch_hooks():
    ends: list[int] = []
    progress = train_epochs(Recorder(), 6, epochs=5, batch_size=4, seed=0, show_progress=False,
                            on_epoch_end=lambda p: ends.append(p.epoch), stop_after_epoch=1,
                            progress=TrainingProgress(epoch=1, offset=4, samples=10))
    assert ends == [2] and (progress.epoch, progress.offset, progress.samples) == (2, 0, 12)


@pytest.mark.parametrize("bad", [dict(n=0), dict(batch_size=0), dict(epochs=-1)])
def test_bad_arguments_are_refused_by_name(bad):
    kwargs = dict(n=5, epochs=1, batch_size=2, seed=0) | bad
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match="n >= 1, batch_size >= 1 and epochs >= 0"):
        train_epochs(Recorder(), n, show_progress=False, **kwargs)
