"""scripts/supervised_mnist.py end to end in subprocesses, on tiny settings, and its flag resolution."""

from __future__ import annotations

import json
import subprocess

import pytest
from script_helpers import last_json, load_script, needs_mnist, run_script

TINY = ["--n_train", "192", "--n_test", "100", "--batch_size", "64", "--time", "2", "--channels", "4", "8",
        "--threads", "1", "--no_progress", "--seed", "3"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_script("supervised_mnist", *args, check=check)


def test_help_documents_every_flag():
    parser = load_script("supervised_mnist").build_parser()
    text = parser.format_help()
    for action in parser._actions:
        if action.option_strings:
            assert action.help, action.option_strings  # every flag has a description
            assert any(s in text for s in action.option_strings)
    flags = {s for a in parser._actions for s in a.option_strings}
    assert {"--method", "--n_epochs", "--batch_size", "--lr", "--time", "--n_train", "--n_test", "--seed",
            "--device", "--data", "--save", "--load", "--tensorboard", "--threads"} <= flags
    assert "surrogate" in text and "clamp" in text


def test_flags_override_checkpoint_settings_which_override_defaults():
    script = load_script("supervised_mnist")
    args = script.build_parser().parse_args(["--lr", "0.01"])
    stored = {"lr": 0.5, "batch_size": 7, "n_epochs": 3, "time": 99}
    s = script.resolve(args, script.SURROGATE_DEFAULTS, stored)
    assert s["lr"] == 0.01  # given on the command line
    assert (s["batch_size"], s["n_epochs"]) == (7, 3)  # from the checkpoint
    assert s["time"] == script.SURROGATE_DEFAULTS["time"]  # architecture comes from the model, not settings
    with pytest.raises(SystemExit, match="--n_epochs must be a positive integer"):
        script.resolve(script.build_parser().parse_args(["--n_epochs", "0"]), script.SURROGATE_DEFAULTS, {})


@pytest.fixture
def restore_threads():
    before = __import__("torch").get_num_threads()
    yield
    __import__("torch").set_num_threads(before)


@needs_mnist
def test_end_to_end_in_a_subprocess_with_checkpoint_and_tensorboard(tmp_path):
    ckpt, logdir = tmp_path / "model.pt", tmp_path / "tb"
    proc = run("--n_epochs", "1", "--save", str(ckpt), "--tensorboard", str(logdir), *TINY)
    result = last_json(proc)
    assert result["method"] == "surrogate" and result["seed"] == 3 and result["time"] == 2
    assert (result["n_train"], result["n_test"], result["epochs_trained"]) == (192, 100, 1)
    assert [h["epoch"] for h in result["history"]] == [1]
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert result["test_accuracy"] * 100 == pytest.approx(round(result["test_accuracy"] * 100))  # k of 100 images
    assert result["wall_time_s"] > 0 and result["threads"] == 1 and result["model"]["channels"] == [4, 8]
    assert "test_accuracy=" in proc.stderr  # the per-epoch line goes to stderr, stdout holds only JSON
    assert ckpt.is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in logdir.iterdir())


@needs_mnist
def test_resume_continues_from_the_checkpoint(tmp_path, capsys, restore_threads):
    script = load_script("supervised_mnist")
    ckpt = tmp_path / "model.pt"
    first = script.main(["--n_epochs", "1", "--save", str(ckpt), *TINY])
    second = script.main(["--n_epochs", "2", "--load", str(ckpt), "--save", str(ckpt), *TINY])
    assert second["resumed_from_epoch"] == 1 and [h["epoch"] for h in second["history"]] == [2]
    assert second["test_accuracy"] != first["test_accuracy"] or second["test_loss"] != first["test_loss"]
    assert "resumed from" in capsys.readouterr().err

    without_flags = ["--load", str(ckpt), "--n_test", "100", "--threads", "1", "--no_progress"]
    evaluated = script.main(without_flags)  # n_epochs 2, batch size, seed ... from the checkpoint: just test
    assert evaluated["history"] == [] and evaluated["n_epochs"] == 2 and evaluated["seed"] == 3
    assert evaluated["time"] == 2 and evaluated["channels"] == [4, 8]
    assert evaluated["test_accuracy"] == second["test_accuracy"]
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["test_accuracy"] == second["test_accuracy"]

    with pytest.raises(SystemExit, match="--time 5 differs from the checkpoint's time_steps 2"):
        script.main([*without_flags, "--time", "5"])
