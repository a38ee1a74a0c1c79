"""``scripts/benchmark.py deep`` runs end to end on a tiny setting and prints one JSON line with both rates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"


def test_deep_workload_reports_both_rates_and_their_ratio() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "deep", "--env", "CartPole-v1", "--steps", "64", "--n-envs",
                          "2", "--n-steps", "16", "--batch-size", "32", "--n-epochs", "1", "--time-steps", "2",
                          "--repeats", "2", "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    expected = {"workload": "deep", "env": "CartPole-v1", "algo": "ppo", "steps": 64, "time_steps": 2}
    assert expected.items() <= result.items()
    assert result["devices"] == {"sb3": "cpu", "spiking": "cpu"}
    assert len(result["sb3_all_seconds"]) == len(result["spiking_all_seconds"]) == 2
    ratio = result["spiking_steps_per_second"] / result["sb3_steps_per_second"]
    assert result["spiking_vs_sb3"] == pytest.approx(ratio)
    assert result["sb3_steps_per_second"] > 0 and result["spiking_steps_per_second"] > 0
