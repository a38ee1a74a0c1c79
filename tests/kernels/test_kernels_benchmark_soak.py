"""scripts/benchmark.py soak runs the agent on Catch end to end, samples at the requested interval, computes its
verdict from its own samples, and exits with status 1 when the verdict fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"
STEPS, INTERVAL, N_ENVS = 2000, 500, 8


def run_soak(steps: int, interval: int, *extra: str) -> tuple[int, dict]:
    """Exit status and JSON line of a soak run on Catch with N_ENVS envs."""
    out = subprocess.run([sys.executable, str(SCRIPT), "soak", "--env", "spikerl/Catch-v0", "--steps", str(steps),
                          "--interval", str(interval), "--n-envs", str(N_ENVS), *extra],
                         capture_output=True, text=True, timeout=300)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return out.returncode, json.loads(lines[0])


def test_soak_samples_and_verdict() -> None:
    code, result = run_soak(STEPS, INTERVAL)
    assert code == 0 and result["passed"] is True
    samples = result["samples"]
    # env steps advance by N_ENVS: a sample at the first step count >= each multiple of INTERVAL
    expected = [-(-k * INTERVAL // N_ENVS) * N_ENVS for k in range(1, STEPS // INTERVAL + 1)]
    assert [s["steps"] for s in samples] == expected and result["steps"] == STEPS
    assert result["finite"] is True and all(s["finite"] and s["eligibility_finite"] for s in samples)
    # RSS from /proc: a process with torch and SB3 loaded is between 50 MiB and 4 GiB, never above its peak
    assert all(50.0 < s["rss_mib"] < 4096.0 and s["children_rss_mib"] == 0.0 for s in samples)
    assert all(0.0 < s["anon_mib"] < s["rss_mib"] for s in samples)  # the heap is part of the resident memory
    assert max(s["rss_mib"] for s in samples) <= result["rss_peak_self_mib"] + 1.0
    # the verdict from the samples: baseline = first sample at or after 10 % of the steps
    assert result["warmup_steps"] == STEPS // 10
    baseline = next(s for s in samples if s["steps"] >= STEPS // 10)
    assert result["rss_baseline_mib"] == baseline["rss_mib"]
    assert result["rss_growth"] == pytest.approx((samples[-1]["rss_mib"] - baseline["rss_mib"]) / baseline["rss_mib"])
    assert result["flat"] == (result["rss_growth"] <= 0.05)
    w = samples[-1]["weights"]
    assert 0.0 <= w["min"] <= w["mean"] <= w["max"] and w["std"] > 0.0  # plastic weights live in [0, wmax]
    assert all(s["steps_per_second"] > 0 for s in samples)


def test_failed_verdict_exits_nonzero() -> None:
    # growth <= -1 would need the RSS to vanish: memory is judged not flat, the run fails with status 1
    code, result = run_soak(800, 400, "--max-growth", "-1")
    assert result["flat"] is False and result["finite"] is True and result["passed"] is False
    assert code == 1
