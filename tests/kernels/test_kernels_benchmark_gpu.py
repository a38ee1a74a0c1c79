"""scripts/benchmark.py gpu: the lif, agent and dc workloads on two devices in one run, and their speedup.

Without CUDA the default (``--devices cpu cuda``) exits with a message saying so; ``--devices cpu cpu`` runs the
whole workload on the CPU twice, so its code is checked on every machine (the speedup is then about 1, but
timing is not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"
TINY = ["--n", "40", "--steps", "20", "--batch", "2", "--n-envs", "2", "--env-steps", "10", "--hidden-size", "4",
        "--n-neurons", "8", "--time", "15", "--repeats", "2"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "gpu", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the workload runs instead")
def test_without_cuda_it_says_so_and_fails() -> None:
    out = run(*TINY)
    assert out.returncode == 1 and out.stdout == ""
    assert "the gpu workload compares cpu and cuda, but torch finds no CUDA device here" in out.stderr
    assert "--devices cpu cpu" in out.stderr


def test_two_devices_give_one_json_line_with_each_part_and_its_speedup() -> None:
    out = run(*TINY, "--devices", "cpu", "cpu")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.strip().splitlines()
    result = json.loads(line)
    assert result["workload"] == "gpu" and result["devices"] == ["cpu", "cpu"]
    for part in ("lif", "agent", "dc"):
        a, b = result[part]["reference"], result[part]["device"]
        assert a["seconds"] > 0 and b["seconds"] > 0 and len(b["all_seconds"]) == 2
        assert result[part]["speedup"] == pytest.approx(a["seconds"] / b["seconds"])
    assert result["seconds"] == pytest.approx(sum(result[p]["device"]["seconds"] for p in ("lif", "agent", "dc")))


def test_compiled_adds_a_run_of_diehl_cook_with_its_pair_compiled() -> None:
    """On the CPU Diehl & Cook takes its fused C path, which does not use the compiled pair, so this checks the
    JSON line's shape without compiling anything."""
    out = run(*TINY, "--devices", "cpu", "cpu", "--parts", "dc", "--compiled")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    compiled = result["dc"]["compiled"]
    assert compiled["group_backend"] == "compiled" and result["dc"]["device"]["group_backend"] == "torch"
    assert result["dc"]["compiled_speedup"] == pytest.approx(result["dc"]["reference"]["seconds"] / compiled["seconds"])
