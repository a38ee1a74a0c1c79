"""Supervised MNIST classification with spiking networks.

Methods (``--method``):

* ``surrogate``: a small convolutional spiking network (:class:`spikerl.models.ConvSNN`) trained by
  backpropagation through time with a surrogate spike derivative, Adam and a warm-up + cosine learning-rate
  schedule. The modern baseline that snnTorch and SpikingJelly users compare against.
* ``clamp``: label clamping with the Diehl & Cook (2015) network (:class:`spikerl.models.LabelClampClassifier`).

Progress goes to stderr (tqdm bar with running loss and accuracy, one line per epoch); the last line on stdout
is one JSON object with the settings, the test accuracy and the wall time.

Examples::

    python scripts/supervised_mnist.py --method surrogate --n_epochs 2 --seed 0 --threads 2
    python scripts/supervised_mnist.py --n_epochs 1 --save ckpt.pt          # 1 epoch, then ...
    python scripts/supervised_mnist.py --n_epochs 2 --load ckpt.pt --save ckpt.pt   # ... resume to 2 epochs

Training is never lost: the --save path is checked to be writable before training; Ctrl-C or SIGTERM ends
training after the current batch, saves the checkpoint (exit status 130 / 143; with --method surrogate it records
the batches done in the unfinished epoch, which the resumed run skips) and prints the command that resumes exactly
there; any exception during training also saves it and then propagates. An existing --save file other than the
--load one is replaced only with --overwrite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any, Callable

import torch

from spikerl.validation import check_device, number_flag

SURROGATE_DEFAULTS: dict[str, Any] = {
    "n_epochs": 2, "batch_size": 32, "lr": 5e-3, "time": 6, "n_train": 60_000, "n_test": 10_000,
    "seed": 0, "surrogate": "fast_sigmoid", "channels": [12, 64],
}
"""Defaults of ``--method surrogate`` (flags left unset take these, or the loaded checkpoint's values)."""

RESUMABLE = ("n_epochs", "batch_size", "lr", "n_train", "seed")
"""Training settings a resumed run takes from its checkpoint unless given on the command line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train and test a spiking network on MNIST with a supervised method; prints one JSON line.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--method", choices=sorted(METHODS), default="surrogate",
                        help="surrogate: conv SNN trained by BPTT with a surrogate spike derivative; "
                             "clamp: Diehl & Cook network with label clamping")
    d = SURROGATE_DEFAULTS
    parser.add_argument("--n_epochs", type=int, default=None,
                        help=f"total training epochs; a resumed run continues up to this number "
                             f"(surrogate default {d['n_epochs']})")
    parser.add_argument("--batch_size", type=int, default=None, help=f"samples per step (default {d['batch_size']})")
    parser.add_argument("--lr", type=number_flag(0, low_open=True), default=None,
                        help=f"peak learning rate of Adam; warm-up then cosine decay to 0 (default {d['lr']})")
    parser.add_argument("--time", type=int, default=None,
                        help=f"simulation steps per sample, dt = 1 ms (default {d['time']})")
    parser.add_argument("--n_train", type=int, default=None,
                        help=f"use the first N training images (default {d['n_train']}, all)")
    parser.add_argument("--n_test", type=int, default=None,
                        help=f"evaluate on the first N test images (default {d['n_test']}, all)")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"seeds weight initialisation and minibatch order (default {d['seed']})")
    parser.add_argument("--surrogate", choices=("fast_sigmoid", "arctan"), default=None,
                        help=f"surrogate spike derivative (default {d['surrogate']})")
    parser.add_argument("--channels", type=int, nargs=2, default=None, metavar=("C1", "C2"),
                        help=f"output channels of the two conv layers (default {d['channels']})")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--data", default=None,
                        help="folder with the four MNIST .gz files (default $SPIKERL_MNIST_DIR, then "
                             "~/.cache/spikerl/mnist; downloaded there if missing)")
    parser.add_argument("--save", default=None, metavar="PATH",
                        help="write a resumable checkpoint (state_dict + JSON config + optimizer) after every epoch")
    parser.add_argument("--overwrite", action="store_true",
                        help="let --save replace an existing file (not needed when it is the --load file)")
    parser.add_argument("--load", default=None, metavar="PATH",
                        help="resume from a checkpoint: its model, optimizer state and finished epochs; training "
                             "flags not given take the checkpoint's values")
    parser.add_argument("--tensorboard", default=None, metavar="DIR", help="write TensorBoard scalars to DIR")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (torch.set_num_threads); default: torch's choice")
    parser.add_argument("--no_progress", action="store_true", help="disable the tqdm progress bar")
    return parser


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def say_stopped(args: argparse.Namespace, why: str) -> None:
    """Tell the user that training stopped, what was saved and how to resume (the checkpoint itself is written
    by the training loop)."""
    if args.save:
        log(f"\n{why}: saved the checkpoint to {args.save}; continue with the same flags plus --load {args.save} "
            f"--save {args.save}")
    else:
        log(f"\n{why}: nothing saved (no --save given)")


def resolve(args: argparse.Namespace, defaults: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """Settings: command-line flags given, else the checkpoint's (for :data:`RESUMABLE` ones), else defaults."""
    settings = dict(defaults)
    settings.update({k: v for k, v in stored.items() if k in RESUMABLE})
    settings.update({k: v for k, v in vars(args).items() if k in defaults and v is not None})
    for name in ("n_epochs", "batch_size", "time", "n_train", "n_test"):
        if settings[name] <= 0:
            raise SystemExit(f"error: --{name} must be a positive integer, got {settings[name]}")
    return settings


def load_mnist_images(root: str | None, n_train: int, n_test: int) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """The first ``n_train`` training and ``n_test`` test images (uint8 ``[N, 28, 28]``) and labels."""
    from spikerl.datasets import load_mnist

    splits = []
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = load_mnist(split, root=root)
        if n > len(labels):
            raise SystemExit(f"error: asked for {n} {split} images but MNIST {split} has {len(labels)}")
        splits.append((images[:n], labels[:n]))
    return tuple(splits)


def load_data(root: str | None, n_train: int, n_test: int) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """:func:`load_mnist_images` as the convolutional network's input
    (:func:`spikerl.models.conv_snn.mnist_to_input`)."""
    from spikerl.models.conv_snn import mnist_to_input

    return tuple((mnist_to_input(images), labels) for images, labels in load_mnist_images(root, n_train, n_test))


def run_surrogate(args: argparse.Namespace) -> dict[str, Any]:
    """Train (or resume) and test the convolutional SNN; returns the result dict printed as JSON."""
    from spikerl.models.conv_snn import ConvSNN
    from spikerl.models.supervised_training import (
        TrainSettings, evaluate, fit, load_checkpoint, make_optimizer)
    from spikerl.stopping import run_guarded

    device = torch.device(args.device)
    checkpoint = load_checkpoint(args.load, map_location=device) if args.load else None
    s = resolve(args, SURROGATE_DEFAULTS, checkpoint.settings if checkpoint else {})
    train_settings = TrainSettings(n_epochs=s["n_epochs"], batch_size=s["batch_size"], lr=s["lr"], seed=s["seed"])
    if checkpoint is not None:
        model = checkpoint.model
        for flag, field in (("time", "time_steps"), ("surrogate", "surrogate"), ("channels", "channels")):
            given, saved = getattr(args, flag), getattr(model.cfg, field)
            if given is not None and type(saved)(given) != saved:
                raise SystemExit(f"error: --{flag} {given} differs from the checkpoint's {field} {saved}")
        s.update(time=model.cfg.time_steps, surrogate=model.cfg.surrogate, channels=list(model.cfg.channels))
    else:
        torch.manual_seed(s["seed"])
        model = ConvSNN(time_steps=s["time"], surrogate=s["surrogate"], channels=tuple(s["channels"])).to(device)
    optimizer = make_optimizer(model, train_settings)
    start_epoch = start_step = start_batch = 0
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint.optimizer_state)
        start_epoch, start_step, start_batch = checkpoint.epoch, checkpoint.step, checkpoint.batches_in_epoch
        log(f"resumed from {args.load} after epoch {start_epoch} (step {start_step}"
            + (f", {start_batch} batches into epoch {start_epoch + 1})" if start_batch else ")"))
    train, test = load_data(args.data, s["n_train"], s["n_test"])

    writer = None
    if args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only when asked for

        writer = SummaryWriter(args.tensorboard)
        writer.add_text("settings", json.dumps({**s, "model": model.config()}), start_step)
    try:
        train_start = time.perf_counter()

        def train_model(stop: Callable[[], bool]) -> list[dict[str, float]]:
            return fit(model, train, test, train_settings, optimizer=optimizer, start_epoch=start_epoch,
                       start_step=start_step, start_batch=start_batch, save_path=args.save, writer=writer,
                       progress=not args.no_progress, extra_settings={"n_train": s["n_train"]}, log=log,
                       should_stop=stop)

        history = run_guarded(train_model, lambda why: say_stopped(args, why))
        train_time = time.perf_counter() - train_start
        if history:
            accuracy, loss = history[-1]["test_accuracy"], history[-1]["test_loss"]
        else:  # nothing left to train: just test the loaded model
            accuracy, loss = evaluate(model, *test, train_settings.eval_batch_size)
    finally:
        if writer is not None:
            writer.close()
    return {
        **s, "model": model.config(), "resumed_from_epoch": start_epoch if checkpoint else None,
        "epochs_trained": s["n_epochs"], "test_accuracy": accuracy, "test_loss": loss, "history": history,
        "train_time_s": round(train_time, 2),
    }


CLAMP_DEFAULTS: dict[str, Any] = {
    "n_epochs": 1, "batch_size": 50, "time": 350, "n_train": 60_000, "n_test": 10_000, "seed": 0,
    "n_neurons": 100, "clamp_rate_hz": 0.2, "n_assign": 10_000, "save_every": 10_000,
}
"""Defaults of ``--method clamp`` (flags left unset take these, or a loaded checkpoint's values);
``clamp_rate_hz`` is :class:`~spikerl.models.LabelClampParams`' default."""

CLAMP_RESUMABLE = ("n_epochs", "batch_size", "n_train", "seed")
"""Training settings a resumed ``--method clamp`` run takes from its checkpoint unless given on the command line."""

CLAMP_ARCHITECTURE = ("n_neurons", "time", "clamp_rate_hz")
"""Settings fixed by a clamp checkpoint's network; a different value on the command line is an error."""

SURROGATE_ONLY = ("lr", "surrogate", "channels")
"""Flags that belong to ``--method surrogate``; ``--method clamp`` refuses them."""


def clamp_settings(args: argparse.Namespace, stored: dict[str, Any]) -> dict[str, Any]:
    """Settings of ``--method clamp``: flags given, else the checkpoint's (:data:`CLAMP_RESUMABLE` and
    :data:`CLAMP_ARCHITECTURE`), else :data:`CLAMP_DEFAULTS`."""
    given = {k: getattr(args, k, None) for k in CLAMP_DEFAULTS}
    given = {k: v for k, v in given.items() if v is not None}
    for name in SURROGATE_ONLY:
        if getattr(args, name, None) is not None:
            raise SystemExit(f"error: --{name} is a setting of --method surrogate; --method clamp does not use it")
    for name in CLAMP_ARCHITECTURE:
        if name in given and name in stored and given[name] != stored[name]:
            raise SystemExit(f"error: --{name} {given[name]} differs from the checkpoint's {stored[name]}")
    settings = dict(CLAMP_DEFAULTS)
    settings.update({k: v for k, v in stored.items() if k in CLAMP_RESUMABLE or k in CLAMP_ARCHITECTURE})
    settings.update(given)
    for name in ("n_epochs", "batch_size", "time", "n_train", "n_test", "n_neurons", "n_assign", "save_every"):
        if settings[name] <= 0:
            raise SystemExit(f"error: --{name} must be a positive integer, got {settings[name]}")
    return settings


def run_clamp(args: argparse.Namespace) -> dict[str, Any]:
    """Train (or resume) and test the label-clamped Diehl & Cook network; returns the JSON-able result.

    On CPU without ``--threads`` it uses one thread: the per-step work on ``[B, n]`` tensors is too small to gain
    from more, and loses much on a busy machine.
    """
    import dataclasses
    from pathlib import Path

    from spikerl.models import DiehlAndCook2015, LabelClampClassifier
    from spikerl.models.label_clamp import CLAMP_STDP_CHUNK, ClampStats, evaluate, train_clamped
    from spikerl.stopping import run_guarded
    from spikerl.training import TrainingProgress, progress_from_dict

    device = torch.device(args.device)
    if device.type == "cpu" and args.threads is None:
        torch.set_num_threads(1)
    show = not args.no_progress
    progress, tensors, stored = TrainingProgress(), {}, {}
    if args.load:
        clf, extra, tensors = LabelClampClassifier.load(args.load, map_location=device)
        progress = progress_from_dict(extra.get("progress", {}))
        stored = extra.get("settings", {})
        stored.update(n_neurons=clf.model.n_neurons, time=clf.model.params.steps,
                      clamp_rate_hz=clf.params.clamp_rate_hz)
        log(f"resumed from {args.load}: epoch {progress.epoch}, {progress.samples} samples trained")
    s = clamp_settings(args, stored)
    if not args.load:
        model = DiehlAndCook2015(n_neurons=s["n_neurons"], time_ms=float(s["time"]), stdp_chunk=CLAMP_STDP_CHUNK,
                                 generator=torch.Generator().manual_seed(s["seed"])).to(device)
        clf = LabelClampClassifier(model, clamp_rate_hz=float(s["clamp_rate_hz"]))
    (train_x, train_y), (test_x, test_y) = load_mnist_images(args.data, s["n_train"], s["n_test"])

    generator = torch.Generator(device=device).manual_seed(s["seed"])
    if "generator" in tensors:
        generator.set_state(tensors["generator"])

    def checkpoint(prog: TrainingProgress) -> None:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        clf.save(args.save, extra={"progress": dataclasses.asdict(prog), "settings": s},
                 tensors={"generator": generator.get_state()})

    writer = None
    if args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only when asked for

        writer = SummaryWriter(args.tensorboard)
        writer.add_text("settings", json.dumps({**s, "model": clf.model.config(),
                                                "label_clamp": dataclasses.asdict(clf.params)}), progress.samples)
    try:
        samples_before = progress.samples

        def train(stop: Callable[[], bool]) -> tuple[TrainingProgress, ClampStats]:
            return train_clamped(clf, train_x, train_y, epochs=s["n_epochs"], batch_size=s["batch_size"],
                                 seed=s["seed"], generator=generator, progress=progress, writer=writer,
                                 checkpoint=checkpoint if args.save else None, checkpoint_every=s["save_every"],
                                 show_progress=show, should_stop=stop)

        def on_stop(why: str) -> None:  # train_clamped updated progress in place
            if args.save:
                checkpoint(progress)
            say_stopped(args, f"{why} after {progress.samples} training images")

        progress, stats = run_guarded(train, on_stop)
        train_seconds = progress.seconds
        eval_start = time.perf_counter()
        n_assign = min(s["n_assign"], s["n_train"])
        eval_generator = torch.Generator(device=device).manual_seed(s["seed"] + 1)
        result = evaluate(clf, test_x, test_y, train_x[:n_assign], train_y[:n_assign], generator=eval_generator,
                          show_progress=show)
        eval_seconds = time.perf_counter() - eval_start
        if writer is not None:
            for key in ("accuracy", "all_activity_reassigned", "proportion_weighting", "linear"):
                writer.add_scalar(f"test/{key}", result[key], progress.samples)
    finally:
        if writer is not None:
            writer.close()
    log(f"test accuracy (all-activity, fixed groups): {result['accuracy']:.4f}; proportion weighting "
        f"(reassigned on {n_assign} training images): {result['proportion_weighting']:.4f}")
    return {
        **s, "model": clf.model.config(), "label_clamp": dataclasses.asdict(clf.params),
        "resumed_from_samples": samples_before if args.load else None, "samples_trained": progress.samples,
        "test_accuracy": result["accuracy"], "test_accuracy_reassigned": result["all_activity_reassigned"],
        "test_accuracy_proportion_weighting": result["proportion_weighting"],
        "test_accuracy_linear_readout": result["linear"], "groups_kept": result["groups_kept"],
        "n_assign": n_assign, "train_stats": stats.summary(), "train_time_s": round(train_seconds, 2),
        "train_samples_per_s": round(progress.samples / max(train_seconds, 1e-9), 1),
        "eval_time_s": round(eval_seconds, 2),
    }


METHODS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "surrogate": run_surrogate,
    "clamp": run_clamp,
}
"""``--method`` name -> function that runs it and returns the JSON-able result."""


def check_save_path(args: argparse.Namespace) -> None:
    """Before any training: ``--save`` must not replace another run's file without ``--overwrite`` (the
    ``--load`` file may be continued), and must be writable."""
    from pathlib import Path

    from spikerl.checkpoint import CheckpointWriteError, check_writable

    save = Path(args.save)
    continued = args.load is not None and save.resolve() == Path(args.load).resolve()
    if save.exists() and not (args.overwrite or continued):
        build_parser().error(f"--save {save} exists (an earlier run's?); pass --overwrite to replace it, or choose "
                             "another path")
    try:
        check_writable(save)
    except CheckpointWriteError as error:
        raise SystemExit(f"error: {error.strerror}; nothing trained") from None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_device(args.device)
    except ValueError as error:
        parser.error(f"--device: {error}")
    if args.save:
        check_save_path(args)
    if args.threads is not None:
        if args.threads <= 0:
            raise SystemExit(f"error: --threads must be a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result = METHODS[args.method](args)
    result = {
        "method": args.method, **result,
        "wall_time_s": round(time.perf_counter() - start, 2),
        "device": args.device, "threads": torch.get_num_threads(),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_avg_1m_5m_15m": [round(x, 2) for x in os.getloadavg()]},
        "torch": torch.__version__, "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
