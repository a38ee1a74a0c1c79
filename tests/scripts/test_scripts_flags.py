"""No ignored flags: every script refuses a device it cannot use and out-of-range values with a usage error, and
reports the settings it actually used when a loaded checkpoint or the data set overrides a flag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from script_helpers import load_script, mnist_available

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
CATCH = "spikerl/Catch-v0"
CUDA_MESSAGE = "--device: device 'cuda' requested but torch.cuda.is_available() is False"


def run(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / f"{script}.py"), *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error given on a machine without CUDA")
@pytest.mark.parametrize("argv", [
    ["play", CATCH, "--no-train"],
    ["eth_mnist", "--n_train", "10"],
    ["supervised_mnist", "--n_train", "10"],
])
def test_device_cuda_without_cuda_is_a_usage_error_in_every_script(argv, tmp_path):
    """Before the fix play.py ran on the CPU without a word, eth_mnist.py died in torch.Generator and
    supervised_mnist.py exited 1; now all three stop at once with status 2 and the reason."""
    proc = run(*argv, "--device", "cuda", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert CUDA_MESSAGE in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("script, argv, message", [
    ("play", [CATCH, "--temperature", "-1"], "argument --temperature: must be a finite number > 0, got -1"),
    ("play", [CATCH, "--epsilon", "2"], r"argument --epsilon: must be a finite number in [0, 1], got 2"),
    ("play", [CATCH, "--learning-rate", "nan"], "argument --learning-rate: must be a finite number > 0, got nan"),
    ("play", [CATCH, "--tau-e-ms", "0"], "argument --tau-e-ms: must be a finite number > 0, got 0"),
    ("play", [CATCH, "--input-spikes-per-step", "inf"], "argument --input-spikes-per-step: must be a finite"),
    ("play", [CATCH, "--population-size", "0"], "argument --population-size: must be an integer >= 1, got 0"),
    ("play", [CATCH, "--hidden-size", "-3"], "argument --hidden-size: must be an integer >= 0, got -3"),
    ("play", [CATCH, "--steps-per-action", "1.5"], "argument --steps-per-action: expected an integer, got '1.5'"),
    ("eth_mnist", ["--dt", "nan"], "argument --dt: must be a finite number > 0, got nan"),
    ("eth_mnist", ["--intensity", "-5"], "argument --intensity: must be a finite number >= 0, got -5"),
    ("eth_mnist", ["--time", "0"], "argument --time: must be a finite number > 0, got 0"),
    ("supervised_mnist", ["--lr", "nan"], "argument --lr: must be a finite number > 0, got nan"),
    ("benchmark", ["agent", "--population-size", "0"], "argument --population-size: must be an integer >= 1"),
    ("benchmark", ["lif", "--dt", "-1"], "argument --dt: must be a finite number > 0, got -1"),
])
def test_out_of_range_flags_are_usage_errors_not_tracebacks(script, argv, message, capsys):
    module = load_script(script)
    entry = module.parse_args if script == "eth_mnist" else module.main
    with pytest.raises(SystemExit) as exit_info:
        entry(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_play_load_warns_about_agent_flags_the_checkpoint_overrides(tmp_path):
    """The loaded agent's settings win; each flag given with another value is named on stderr with the value
    used, and the JSON line gives the settings used and the overridden flags."""
    import envs
    from agents import RSTDP

    path = tmp_path / "agent.pt"
    RSTDP("SpikingPolicy", envs.make_vec(CATCH, n_envs=1, seed=0), seed=0, population_size=4).save(path)
    proc = run("play", CATCH, "--load", str(path), "--population-size", "8", "--epsilon", "0.5", "--hidden-size", "0",
               "--eval-episodes", "1", "--n-envs", "1", "--tensorboard", "", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["settings"]["population_size"] == 4 and result["settings"]["epsilon"] == 0.0
    # --hidden-size 0 equals the agent's value: nothing overridden, nothing said
    assert result["overridden_by_checkpoint"] == {"population_size": {"requested": 8, "used": 4},
                                                  "epsilon": {"requested": 0.5, "used": 0.0}}
    assert f"warning: --population-size 8 is ignored: the agent loaded from {path} uses population_size=4" \
        in proc.stderr
    assert "warning: --epsilon 0.5 is ignored" in proc.stderr and "--hidden-size" not in proc.stderr


@pytest.mark.skipif(not mnist_available(), reason="MNIST files not found (set SPIKERL_MNIST_DIR)")
def test_eth_mnist_reports_checkpoint_overrides_and_clips_n_train(tmp_path):
    """--n_neurons and --time differ from the loaded model's: warned, and the JSON settings give the model's.
    --n_train 70000 is more than MNIST's 60000 training images: clipped with a warning, and the JSON says so."""
    from spikerl.models import DiehlAndCook2015

    path = tmp_path / "dc.pt"
    DiehlAndCook2015(n_neurons=6, time_ms=30.0, generator=torch.Generator().manual_seed(0)).save(path)
    proc = run("eth_mnist", "--mode", "test", "--load", str(path), "--n_neurons", "12", "--time", "50",
               "--n_train", "70000", "--n_assign", "20", "--n_test", "10", "--no_progress", "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    settings = json.loads(proc.stdout.strip().splitlines()[-1])["settings"]
    assert settings["n_neurons"] == 6 and settings["time"] == 30.0 and settings["model"]["n_neurons"] == 6
    assert settings["overridden_by_checkpoint"] == {"n_neurons": {"requested": 12, "used": 6},
                                                    "time": {"requested": 50.0, "used": 30.0}}
    assert settings["n_train"] == 60000 and settings["n_train_requested"] == 70000
    assert settings["n_test"] == 10 and settings["n_test_requested"] == 10 and settings["n_assign"] == 20
    assert f"warning: --n_neurons 12 is ignored: the checkpoint {path} has n_neurons 6" in proc.stderr
    assert f"warning: --time 50.0 is ignored: the checkpoint {path} has time 30.0" in proc.stderr
    assert "warning: --n_train 70000 exceeds the 60000 MNIST training images; using 60000" in proc.stderr
