"""Supervised training loop: schedule, minibatch order, checkpoints, exact resume, and learning MNIST."""

from __future__ import annotations

import math
import time
import pytest
import torch

from spikerl.models import ConvSNN
from spikerl.models.supervised_training import (
    FORMAT,
    TrainSettings,
    evaluate,
    fit,
    learning_rate,
    load_checkpoint,
    make_optimizer,
    save_checkpoint,
    train_epoch,
)


def quadrant_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [n, 1, 28, 28] with a bright 10x10 patch in quadrant ``label`` (0..3) plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.2
    for q in range(4):  # loop over the 4 classes, not over samples
        r, c = (q // 2) * 14 + 2, (q % 2) * 14 + 2
        x[labels == q, :, r:r + 10, c:c + 10] += 0.8
    return x, labels


def small_model(seed: int = 0) -> ConvSNN:
    torch.manual_seed(seed)
    return ConvSNN(time_steps=3, channels=(4, 8), n_classes=4)


def test_learning_rate_warms_up_linearly_then_decays_as_a_cosine():
    lr, total, warm = 1e-3, 110, 10
    assert learning_rate(0, total, lr, warm) == pytest.approx(lr * 1 / warm)
    assert learning_rate(9, total, lr, warm) == pytest.approx(lr)
    assert learning_rate(10, total, lr, warm) == pytest.approx(lr)  # cosine starts at its peak
    assert learning_rate(60, total, lr, warm) == pytest.approx(lr / 2)  # half way: (1 + cos(pi/2)) / 2
    assert learning_rate(35, total, lr, warm) == pytest.approx(lr * (1 + math.cos(math.pi / 4)) / 2)
    assert learning_rate(110, total, lr, warm) == pytest.approx(0.0, abs=1e-15)
    assert learning_rate(0, total, lr, 0) == pytest.approx(lr)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        TrainSettings(batch_size=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        TrainSettings(lr=-1.0)
    with pytest.raises(ValueError, match=r"warmup_fraction must be in \[0, 1\)"):
        TrainSettings(warmup_fraction=1.0)


class RecordingWriter:
    """Stands in for SummaryWriter: records (tag, value, step)."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []

    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None:
        self.scalars.append((tag, float(scalar_value), int(global_step)))


def test_fit_trains_logs_and_returns_history():
    train, test = quadrant_data(96, seed=0), quadrant_data(64, seed=1)
    model = small_model()
    settings = TrainSettings(n_epochs=2, batch_size=16, lr=5e-3, log_every=2)
    writer = RecordingWriter()
    before = [p.detach().clone() for p in model.parameters()]
    history = fit(model, train, test, settings, writer=writer, progress=False, log=None)
    assert [h["epoch"] for h in history] == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "train_accuracy", "test_accuracy", "test_loss",
                               "epoch_time_s"}
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    tags = {t for t, _, _ in writer.scalars}
    assert {"train/loss", "train/lr", "test/accuracy", "train/epoch_loss"} <= tags
    steps_per_epoch = 96 // 16
    test_steps = [s for t, _, s in writer.scalars if t == "test/accuracy"]
    assert test_steps == [steps_per_epoch, 2 * steps_per_epoch]
    accuracy, loss = evaluate(model, *test)
    assert accuracy == history[-1]["test_accuracy"] and loss == pytest.approx(history[-1]["test_loss"])


def test_save_load_gives_identical_predictions(tmp_path):
    train, test = quadrant_data(64), quadrant_data(32, seed=1)
    model = small_model()
    settings = TrainSettings(n_epochs=1, batch_size=16)
    optimizer = make_optimizer(model, settings)
    fit(model, train, None, settings, optimizer=optimizer, progress=False, log=None)  # BN stats move too
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, optimizer, epoch=1, step=4, settings={"note": "x"})
    loaded = load_checkpoint(path)
    assert (loaded.epoch, loaded.step, loaded.settings) == (1, 4, {"note": "x"})
    assert loaded.model.cfg == model.cfg
    model.eval(), loaded.model.eval()
    with torch.no_grad():
        assert torch.equal(model(test[0]), loaded.model(test[0]))
    payload = torch.load(path, weights_only=True)  # plain data only
    assert payload["format"] == FORMAT


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    """Stop after epoch 1, save, load, train epoch 2: the same weights as 2 epochs in one go."""
    train = quadrant_data(48)
    settings = TrainSettings(n_epochs=2, batch_size=16, lr=3e-3, warmup_fraction=0.25)
    straight = small_model()
    saved_each_epoch = tmp_path / "straight.pt"
    fit(straight, train, None, settings, progress=False, log=None, save_path=saved_each_epoch)
    assert load_checkpoint(saved_each_epoch)[2:4] == (2, 2 * 3)  # (epochs, steps) after the last epoch

    interrupted = small_model()
    optimizer = make_optimizer(interrupted, settings)
    result = train_epoch(interrupted, optimizer, *train, settings, epoch=0, step=0, progress=False)
    path = tmp_path / "after_epoch_1.pt"
    save_checkpoint(path, interrupted, optimizer, epoch=1, step=result.step)
    ck = load_checkpoint(path)
    resumed_optimizer = make_optimizer(ck.model, settings)
    resumed_optimizer.load_state_dict(ck.optimizer_state)
    history = fit(ck.model, train, None, settings, optimizer=resumed_optimizer, start_epoch=ck.epoch,
                  start_step=ck.step, progress=False, log=None)
    assert [h["epoch"] for h in history] == [2]
    for (name, a), b in zip(straight.state_dict().items(), ck.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"format": "something/else"}, path)
    with pytest.raises(ValueError, match="not a spikerl supervised-training checkpoint"):
        load_checkpoint(path)


def test_data_errors_are_clear():
    model = small_model()
    with pytest.raises(ValueError, match="got 4 inputs but 3 labels"):
        evaluate(model, torch.zeros(4, 1, 28, 28), torch.zeros(3, dtype=torch.long))


def test_learns_mnist_well_above_chance_in_one_short_epoch():
    """2000 training images, 1 epoch, T = 4: well above the 10% of chance on 1000 test images."""
    from spikerl.datasets import MNISTNotFoundError, load_mnist
    from spikerl.models import mnist_to_input

    try:
        train_images, train_labels = load_mnist("train", download=False)
        test_images, test_labels = load_mnist("test", download=False)
    except MNISTNotFoundError:
        pytest.skip("MNIST files not available (set SPIKERL_MNIST_DIR)")
    train = mnist_to_input(train_images[:2000]), train_labels[:2000]
    test = mnist_to_input(test_images[:1000]), test_labels[:1000]
    torch.manual_seed(0)
    model = ConvSNN(time_steps=4)
    start = time.perf_counter()
    history = fit(model, train, test, TrainSettings(n_epochs=1, batch_size=32, lr=4e-3, seed=0),
                  progress=False, log=None)
    assert history[0]["test_accuracy"] > 0.80
    assert time.perf_counter() - start < 120  # typically ~10 s; generous for a loaded machine
