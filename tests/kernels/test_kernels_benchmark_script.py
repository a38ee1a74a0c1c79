"""scripts/benchmark.py runs end to end on a tiny setting and prints one JSON line with the required keys;
with --reference it runs the reference scripts (here a stand-in) and reports the ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"

# A stand-in for the reference bench_lif.py: BindsNET "takes" 2 s, Brian2 0.5 s, and both echo their flags.
FAKE_REFERENCE = """
import argparse, json
p = argparse.ArgumentParser()
for flag in ("--impl", "--target", "--n", "--steps", "--threads", "--rate", "--dt", "--seed", "--repeats"):
    p.add_argument(flag)
a = p.parse_args()
print("building...")
print(json.dumps({"impl": a.impl, "target": a.target, "n": int(a.n), "steps": int(a.steps),
                  "threads": int(a.threads), "seconds": 2.0 if a.impl == "bindsnet" else 0.5}))
"""


def run_benchmark(*args: str) -> dict:
    out = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_lif_prints_one_json_line() -> None:
    result = run_benchmark("lif", "--n", "30", "--steps", "40", "--repeats", "2", "--count-spikes")
    assert {"workload": "lif", "n": 30, "steps": 40}.items() <= result.items()
    assert result["seconds"] > 0 and len(result["all_seconds"]) == 2 and result["encode_seconds"] > 0
    assert sorted(result["all_seconds"])[0] <= result["seconds"] <= sorted(result["all_seconds"])[-1]
    assert result["threads"] == 1 and isinstance(result["kernels"], bool)
    assert result["output_spikes"] >= 0 and result["input_spikes"] >= 0


def test_reference_ratios(tmp_path: Path) -> None:
    (tmp_path / "bench_lif.py").write_text(FAKE_REFERENCE)
    result = run_benchmark("lif", "--n", "20", "--steps", "30", "--repeats", "1", "--threads", "1",
                           "--reference", "--ref-python", sys.executable, "--ref-bench", str(tmp_path))
    assert result["bindsnet"]["impl"] == "bindsnet" and result["bindsnet"]["n"] == 20
    assert result["brian2_cpp"]["target"] == "cpp_standalone" and result["brian2_cpp"]["steps"] == 30
    assert result["speedup_vs_bindsnet"] == pytest.approx(2.0 / result["seconds"])
    assert result["ratio_vs_brian2_cpp"] == pytest.approx(result["seconds"] / 0.5)


def test_missing_reference_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "lif", "--n", "10", "--steps", "5", "--repeats", "1",
                          "--reference", "--ref-python", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "reference python" in out.stderr and "SPIKERL_REF_PYTHON" in out.stderr


@pytest.mark.parametrize("algo", ["rstdp", "rstdp-ac"])
def test_agent_workload_times_each_algo(algo: str) -> None:
    result = run_benchmark("agent", "--env", "spikerl/Catch-v0", "--algo", algo, "--n-envs", "2", "--steps", "40",
                           "--repeats", "1", "--hidden-size", "8")
    assert {"workload": "agent", "algo": algo, "n_envs": 2, "steps": 40, "vec_env": "dummy"}.items() <= result.items()
    assert result["agent"] == {"hidden_size": 8}
    assert result["raw_steps_per_second"] > 0 and result["agent_steps_per_second"] > 0
    assert result["agent_vs_raw"] == pytest.approx(result["agent_steps_per_second"] / result["raw_steps_per_second"])


def test_agent_workload_takes_play_settings_of_the_algo_for_ale_games() -> None:
    """The actor-critic's ALE settings, as play.py's (its e-prop hidden layer); --hidden-size 0 drops the layer
    and every default that describes it, as in play.py."""
    common = ("agent", "--env", "SpaceInvaders", "--algo", "rstdp-ac", "--n-envs", "1", "--steps", "8", "--repeats",
              "1", "--vec-env", "dummy")
    default = run_benchmark(*common)["agent"]
    assert (default["hidden_size"], default["hidden_learning_rate"], default["hidden_feedback"]) == (
        256, 1e-4, "symmetric")
    assert default["entropy_rate"] == 0.03 and default["gamma"] == 0.95
    pixels = run_benchmark(*common, "--hidden-size", "0")["agent"]
    assert pixels["hidden_size"] == 0 and "hidden_learning_rate" not in pixels and "hidden_feedback" not in pixels


def test_eligibility_workload_times_both_rules() -> None:
    result = run_benchmark("eligibility", "--inputs", "60", "--targets", "5", "--batch", "2", "--steps", "4",
                           "--spikes", "3", "--env-steps", "3", "--repeats", "2")
    assert {"workload": "eligibility", "inputs": 60, "targets": 5, "batch": 2, "steps": 4}.items() <= result.items()
    for rule in ("dense", "factored"):
        timing = result[rule]
        assert timing["accumulate_ms"] > 0 and timing["reward_ms"] > 0 and len(timing["all_accumulate_ms"]) == 2
        assert timing["total_ms"] == pytest.approx(timing["accumulate_ms"] + timing["reward_ms"])
    assert result["factored_vs_dense"] == pytest.approx(result["factored"]["total_ms"] / result["dense"]["total_ms"])
