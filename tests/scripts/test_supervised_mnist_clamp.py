"""scripts/supervised_mnist.py --method clamp end to end in subprocesses, on tiny settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from script_helpers import last_json, needs_mnist, run_script

TINY = ["--method", "clamp", "--n_train", "60", "--n_test", "40", "--batch_size", "20", "--time", "40",
        "--threads", "1", "--no_progress", "--seed", "2"]


pytestmark = needs_mnist


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_script("supervised_mnist", *args, check=check)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[dict, Path, str]:
    """One tiny run (1 epoch) with --save and --tensorboard: its JSON result, checkpoint and stderr."""
    folder = tmp_path_factory.mktemp("clamp")
    proc = run(*TINY, "--save", str(folder / "clamp.pt"), "--tensorboard", str(folder / "tb"))
    return last_json(proc), folder, proc.stderr


def test_clamp_runs_end_to_end_and_prints_one_json_line(trained):
    result, folder, stderr = trained
    assert result["method"] == "clamp"
    assert (result["n_train"], result["n_test"], result["time"], result["seed"]) == (60, 40, 40, 2)
    assert result["samples_trained"] == 60 and result["n_assign"] == 60
    assert result["model"]["time_ms"] == 40.0 and result["model"]["n_neurons"] == 100
    assert result["label_clamp"]["clamp_rate_hz"] > 0
    for key in ("test_accuracy", "test_accuracy_reassigned", "test_accuracy_proportion_weighting",
                "test_accuracy_linear_readout", "groups_kept"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["train_stats"]["forced_spikes_per_sample"] > 0
    assert result["threads"] == 1 and result["wall_time_s"] > 0
    assert "test accuracy" in stderr
    assert (folder / "clamp.pt").exists()
    assert any(f.name.startswith("events.out.tfevents") for f in (folder / "tb").iterdir())


def test_loaded_checkpoint_predicts_the_same_without_training(trained):
    result, folder, _ = trained
    tested = last_json(run(*TINY, "--load", str(folder / "clamp.pt")))  # epoch 1 already done: only tests
    assert tested["samples_trained"] == 60 and tested["resumed_from_samples"] == 60
    for key in ("test_accuracy", "test_accuracy_proportion_weighting", "test_accuracy_linear_readout"):
        assert tested[key] == result[key], key


def test_resumed_run_equals_an_uninterrupted_one(trained):
    _, folder, _ = trained
    straight = last_json(run(*TINY, "--n_epochs", "2"))
    resumed = last_json(run(*TINY, "--n_epochs", "2", "--load", str(folder / "clamp.pt")))
    assert resumed["samples_trained"] == straight["samples_trained"] == 120
    for key in ("test_accuracy", "test_accuracy_proportion_weighting", "test_accuracy_linear_readout",
                "groups_kept"):
        assert resumed[key] == straight[key], key


def test_surrogate_flags_and_conflicting_settings_are_rejected(trained):
    _, folder, _ = trained
    proc = run(*TINY, "--lr", "0.1", check=False)
    assert proc.returncode != 0 and "--lr is a setting of --method surrogate" in proc.stderr
    args = [*TINY[:TINY.index("--time")], *TINY[TINY.index("--time") + 2:], "--time", "30"]
    proc = run(*args, "--load", str(folder / "clamp.pt"), check=False)
    assert proc.returncode != 0 and "--time 30 differs from the checkpoint's 40" in proc.stderr
