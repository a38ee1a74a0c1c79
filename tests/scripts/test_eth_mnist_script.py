"""scripts/eth_mnist.py end to end on tiny settings: train + save, then test + load, one JSON line each."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from script_helpers import needs_mnist

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "eth_mnist.py"
FLAGS = ["--n_neurons", "--mode", "--plot", "--n_train", "--n_test", "--n_epochs", "--time", "--dt", "--intensity",
         "--batch_size", "--update_interval", "--seed", "--device", "--data", "--save", "--load", "--tensorboard"]


def run(*args: str) -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), *args, "--no_progress", "--threads", "1"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_documents_every_flag():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0
    for flag in FLAGS:
        assert flag in proc.stdout, flag


@needs_mnist
def test_train_save_then_test_load(tmp_path):
    ckpt = tmp_path / "dc.pt"
    common = ["--n_neurons", "10", "--n_train", "48", "--n_test", "30", "--time", "40", "--intensity", "128",
              "--seed", "1"]
    train = run(*common, "--batch_size", "8", "--update_interval", "16", "--save", str(ckpt),
                "--plot", "--tensorboard", str(tmp_path / "tb"))
    assert train["settings"]["learning"] == "batched" and train["settings"]["model"]["n_neurons"] == 10
    assert train["train_samples"] == 48 and train["train_seconds"] > 0 and train["wall_seconds"] > 0
    for key in ("all_activity", "proportion_weighting", "linear"):
        assert 0.0 <= train["test_accuracy"][key] <= 1.0
    assert set(train["running_accuracy"]) == {"samples", "all_activity", "proportion_weighting"}
    assert ckpt.exists() and any((tmp_path / "tb").iterdir())
    for name in ("weights", "assignments", "accuracy"):
        assert (tmp_path / f"eth_mnist_{name}.png").stat().st_size > 0

    test = run(*common, "--mode", "test", "--load", str(ckpt))
    assert test["settings"]["model"] == train["settings"]["model"] and test["train_samples"] == 0
    # same frozen model, same evaluation seed: the same responses, so the same accuracies
    assert test["test_accuracy"] == train["test_accuracy"]


@pytest.mark.slow
@needs_mnist
def test_online_training_resumes_from_a_checkpoint(tmp_path):
    ckpt = tmp_path / "dc.pt"
    common = ["--n_neurons", "8", "--n_train", "12", "--n_test", "10", "--time", "30", "--batch_size", "1",
              "--update_interval", "6", "--save", str(ckpt)]
    first = run(*common, "--n_epochs", "1")
    assert first["settings"]["learning"] == "online" and first["train_samples"] == 12
    second = run(*common, "--n_epochs", "2", "--load", str(ckpt))
    assert second["train_samples"] == 12     # only the second epoch was trained
