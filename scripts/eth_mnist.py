#!/usr/bin/env python
"""Diehl & Cook (2015) unsupervised MNIST: train with STDP, then classify the test set.

Train 100 neurons for one epoch (batched learning), then evaluate on the 10,000 test images:

    python scripts/eth_mnist.py --n_neurons 100 --n_epochs 1 --batch_size 64 --save dc100.pt

The faithful online mode (one image at a time, weights changing at every step) is --batch_size 1.
Test a saved model:  python scripts/eth_mnist.py --mode test --load dc100.pt
Resume training:      python scripts/eth_mnist.py --load dc100.pt --save dc100.pt --n_epochs 3

Training is never lost: the --save path is checked to be writable before training; Ctrl-C or SIGTERM ends
training after the current presentation, saves the checkpoint (exit status 130 / 143) and prints the command that
resumes exactly there (same flags plus --load; the Poisson generator, sample order and running accuracy are in the
checkpoint); any exception during training also saves it and then propagates. An existing --save file other than
the --load one is replaced only with --overwrite.

Evaluation: with learning frozen, the network's spike counts on the first --n_assign training images
assign a label to each neuron and fit a linear readout; the test images are classified by all-activity,
proportion weighting and the linear readout. The last line printed is one JSON object with the settings,
the accuracies and the wall time. Settings are those actually used: with --load the checkpoint's model
(--n_neurons, --time, --dt, --intensity, --stdp_chunk) wins over the flags, which are then warned about and
listed in "overridden_by_checkpoint"; --n_train / --n_test above the MNIST sizes (60000 / 10000) are clipped
with a warning ("n_train" is the number used, "n_train_requested" the flag).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import torch

from spikerl.checkpoint import CheckpointWriteError, check_writable
from spikerl.datasets import load_mnist
from spikerl.models import DiehlAndCook2015, DiehlAndCookParams
from spikerl.models.diehl_cook.training import RunningAccuracy, collect_counts, evaluate_counts, train_unsupervised
from spikerl.stopping import StopRequest, run_guarded
from spikerl.training import TrainingProgress, progress_from_dict
from spikerl.validation import check_device, number_flag

MODEL_DEFAULTS = {"n_neurons": 100, "time": 350.0, "dt": 1.0, "intensity": 63.75,
                  "stdp_chunk": DiehlAndCookParams.stdp_chunk}
"""Model flags left unset take these; with ``--load`` the checkpoint's values win (a flag given with another
value is warned about, and the JSON line's settings give the values used)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["train", "test"], default="train",
                   help="train (then evaluate) or test a model given by --load (default: train)")
    p.add_argument("--n_neurons", type=int, default=None,
                   help=f"excitatory (= inhibitory) neurons (default: {MODEL_DEFAULTS['n_neurons']})")
    p.add_argument("--n_train", type=int, default=60000, help="training images used per epoch (default: 60000)")
    p.add_argument("--n_test", type=int, default=10000, help="test images classified (default: 10000)")
    p.add_argument("--n_assign", type=int, default=None,
                   help="training images whose frozen responses assign labels and fit the readout "
                        "(default: --n_train)")
    p.add_argument("--n_epochs", type=int, default=1, help="training epochs (default: 1)")
    p.add_argument("--time", type=number_flag(0, low_open=True), default=None,
                   help=f"presentation time per image, ms (default: {MODEL_DEFAULTS['time']})")
    p.add_argument("--dt", type=number_flag(0, low_open=True), default=None,
                   help=f"simulation step, ms (default: {MODEL_DEFAULTS['dt']})")
    p.add_argument("--intensity", type=number_flag(0), default=None,
                   help=f"firing rate of a white pixel, Hz (default: {MODEL_DEFAULTS['intensity']}, the paper's "
                        "pixel/4; above 1000 / dt it saturates, with a warning)")
    p.add_argument("--batch_size", type=int, default=1,
                   help="images per presentation; 1 = faithful online learning (default: 1)")
    p.add_argument("--learning", choices=["auto", "online", "batched"], default="auto",
                   help="online: weights change every step, one image at a time; batched: a batch is shown "
                        "with frozen weights, then the summed update is applied; auto: online for "
                        "--batch_size 1, else batched (default: auto)")
    p.add_argument("--stdp_chunk", type=number_flag(1, integer=True), default=None,
                   help="batched learning applies the summed update of this many images at a time, clipping and "
                        f"normalising the weights after each (default: {MODEL_DEFAULTS['stdp_chunk']})")
    p.add_argument("--update_interval", type=int, default=250,
                   help="block size of the running accuracy, in training images (default: 250)")
    p.add_argument("--eval_batch_size", type=int, default=500, help="images per batch when evaluating (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="random seed (weights, order, Poisson trains; default: 0)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--data", default=None,
                   help="folder with the MNIST .gz files (default: $SPIKERL_MNIST_DIR, then the user cache)")
    p.add_argument("--save", default=None, help="write a checkpoint here (periodically and at the end)")
    p.add_argument("--save_every", type=int, default=10000,
                   help="checkpoint every this many training images when --save is given (default: 10000)")
    p.add_argument("--overwrite", action="store_true",
                   help="let --save replace an existing file (not needed when it is the --load file)")
    p.add_argument("--load", default=None,
                   help="load a checkpoint: in train mode training continues where it stopped")
    p.add_argument("--plot", action="store_true",
                   help="plot weights, assignments and the accuracy curve (PNG files next to --save, "
                        "or in the current folder)")
    p.add_argument("--tensorboard", metavar="DIR", default=None, help="log scalars to TensorBoard in DIR")
    p.add_argument("--no_progress", action="store_true", help="hide the progress bars")
    args = p.parse_args(argv)
    if args.mode == "test" and args.load is None:
        p.error("--mode test needs --load CHECKPOINT")
    for name in ("n_neurons", "n_train", "n_test", "batch_size", "update_interval", "eval_batch_size"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            p.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.mode == "train" and args.save and Path(args.save).exists() and not args.overwrite and not (
            args.load and Path(args.save).resolve() == Path(args.load).resolve()):
        p.error(f"--save {args.save} exists (an earlier run's?); pass --overwrite to replace it, or choose another "
                "path")
    try:
        check_device(args.device)
    except ValueError as error:
        p.error(f"--device: {error}")
    return args


def model_settings(args: argparse.Namespace, model: DiehlAndCook2015 | None) -> tuple[dict, dict]:
    """The model flags as used, and those a loaded ``model`` overrides.

    Without a model: the flags given, else :data:`MODEL_DEFAULTS`. With a loaded model its parameters win; each
    flag given with another value is warned about on stderr. Returns ``(used, overridden)`` with
    ``overridden = {flag: {"requested": ..., "used": ...}}``.
    """
    used = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in MODEL_DEFAULTS.items()}
    if model is None:
        return used, {}
    params = model.params
    used = {"n_neurons": params.n_neurons, "time": params.time_ms, "dt": params.dt_ms,
            "intensity": params.intensity_hz, "stdp_chunk": params.stdp_chunk}
    overridden = {k: {"requested": getattr(args, k), "used": v} for k, v in used.items()
                  if getattr(args, k) is not None and getattr(args, k) != v}
    for k, values in overridden.items():
        print(f"warning: --{k} {values['requested']} is ignored: the checkpoint {args.load} has {k} {values['used']}",
              file=sys.stderr, flush=True)
    return used, overridden


def clip_to_dataset(name: str, requested: int, available: int, split: str) -> int:
    """``requested`` images, or all ``available`` ones with a warning on stderr when more were asked for."""
    if requested <= available:
        return requested
    print(f"warning: --{name} {requested} exceeds the {available} MNIST {split} images; using {available}",
          file=sys.stderr, flush=True)
    return available


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    wall = time.perf_counter()
    if args.mode == "train" and args.save:
        try:
            check_writable(args.save)
        except CheckpointWriteError as error:
            raise SystemExit(f"error: {error.strerror}; nothing trained") from None
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    learning = args.learning if args.learning != "auto" else ("online" if args.batch_size == 1 else "batched")

    train_x, train_y = load_mnist("train", root=args.data)
    test_x, test_y = load_mnist("test", root=args.data)
    n_train = clip_to_dataset("n_train", args.n_train, train_x.shape[0], "training")
    n_test = clip_to_dataset("n_test", args.n_test, test_x.shape[0], "test")
    train_x, train_y = train_x[:n_train], train_y[:n_train]
    test_x, test_y = test_x[:n_test], test_y[:n_test]

    generator = torch.Generator(device=device).manual_seed(args.seed)
    progress, running = TrainingProgress(), None
    if args.load:
        model, extra, tensors = DiehlAndCook2015.load(args.load, map_location=device)
        progress = progress_from_dict(extra.get("progress", {}))
        if "generator" in tensors:
            generator.set_state(tensors["generator"])
        running_state = {k[len("running."):]: v for k, v in tensors.items() if k.startswith("running.")}
        if running_state and running_state["counts"].shape[1] == model.n_neurons:
            running = RunningAccuracy(int(running_state["counts"].shape[0]), model.n_neurons)
            running.load_state_dict(running_state)
        used, overridden = model_settings(args, model)
    else:
        used, overridden = model_settings(args, None)
        model = DiehlAndCook2015(n_neurons=used["n_neurons"], time_ms=used["time"], dt_ms=used["dt"],
                                 intensity_hz=used["intensity"], stdp_chunk=used["stdp_chunk"],
                                 generator=torch.Generator().manual_seed(args.seed)).to(device)
    if running is None:
        running = RunningAccuracy(args.update_interval, model.n_neurons)
    n_assign = min(args.n_assign or n_train, n_train)
    settings = {k: v for k, v in vars(args).items()}
    settings.update(used, learning=learning, n_train=n_train, n_train_requested=args.n_train, n_test=n_test,
                    n_test_requested=args.n_test, n_assign=n_assign, overridden_by_checkpoint=overridden,
                    model=model.config())

    def checkpoint(prog: TrainingProgress, run: RunningAccuracy) -> None:
        if args.save:
            Path(args.save).parent.mkdir(parents=True, exist_ok=True)
            tensors = {"generator": generator.get_state(), **{f"running.{k}": v for k, v in run.state_dict().items()}}
            model.save(args.save, extra={"progress": dataclasses.asdict(prog), "settings": settings}, tensors=tensors)

    writer = None
    if args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter  # imported only when asked for
        writer = SummaryWriter(args.tensorboard)

    trained_before = progress.samples
    if args.mode == "train":
        def train(stop: StopRequest) -> TrainingProgress:
            return train_unsupervised(model, train_x, train_y, epochs=args.n_epochs, batch_size=args.batch_size,
                                      mode=learning, update_interval=args.update_interval, seed=args.seed,
                                      generator=generator, progress=progress, running=running, writer=writer,
                                      checkpoint=checkpoint if args.save else None, checkpoint_every=args.save_every,
                                      show_progress=not args.no_progress, should_stop=stop)

        def on_stop(why: str) -> None:  # progress and running were updated in place by train_unsupervised
            if not args.save:
                print(f"\n{why} after {progress.samples} training images; nothing saved (no --save given)",
                      file=sys.stderr, flush=True)
                return
            checkpoint(progress, running)
            print(f"\n{why} after {progress.samples} training images; saved the checkpoint to {args.save}; "
                  f"continue with the same flags plus --load {args.save}", file=sys.stderr, flush=True)

        progress = run_guarded(train, on_stop)
    train_samples = progress.samples - trained_before

    eval_start = time.perf_counter()
    eval_generator = torch.Generator(device=device).manual_seed(args.seed + 1)
    assign_counts = collect_counts(model, train_x[:n_assign], args.eval_batch_size, eval_generator,
                                   not args.no_progress, "assign (train)")
    test_counts = collect_counts(model, test_x, args.eval_batch_size, eval_generator, not args.no_progress,
                                 "test")
    result = evaluate_counts(assign_counts, train_y[:n_assign], test_counts, test_y)
    eval_seconds = time.perf_counter() - eval_start
    assignments = result.pop("assignments")
    if writer is not None:
        for key, value in result.items():
            writer.add_scalar(f"test/{key}", value, progress.samples)
        writer.close()

    if args.plot:
        save_plots(model, assignments, progress, Path(args.save).parent if args.save else Path("."))

    running_last = progress.history[-1] if progress.history else None
    summary = {
        "script": "eth_mnist",
        "settings": settings,
        "test_accuracy": result,
        "running_accuracy": running_last,
        "train_samples": train_samples,
        "train_seconds": round(progress.seconds, 3),
        "train_samples_per_s": round(progress.samples / progress.seconds, 3) if progress.seconds else None,
        "presentations": progress.presentations,
        "eval_seconds": round(eval_seconds, 3),
        "eval_samples_per_s": round((n_assign + test_x.shape[0]) / eval_seconds, 3),
        "wall_seconds": round(time.perf_counter() - wall, 3),
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(summary), flush=True)
    return summary


def save_plots(model: DiehlAndCook2015, assignments: torch.Tensor, progress: TrainingProgress, folder: Path) -> None:
    """Weights, assignments and the running-accuracy curve as PNG files (works headless)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from spikerl.plotting import plot_accuracy, plot_assignments, plot_weights

    folder.mkdir(parents=True, exist_ok=True)
    plot_weights(model.input_weights.detach().cpu()).savefig(folder / "eth_mnist_weights.png")
    plot_assignments(assignments, 10).savefig(folder / "eth_mnist_assignments.png")
    history = {k: [h[k] for h in progress.history] for k in ("all_activity", "proportion_weighting")}
    if progress.history:
        plot_accuracy(history, xlabel="block of training images").savefig(folder / "eth_mnist_accuracy.png")
    print(f"plots written to {folder.resolve()}", file=sys.stderr)


if __name__ == "__main__":
    main()
