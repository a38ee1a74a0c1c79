"""scripts/play.py never loses training: SIGTERM and exceptions save and say how to resume, the resumed run ends
with the uninterrupted run's weights, unwritable save paths fail before training, earlier runs' files stay."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from script_helpers import load_script, run_script, start_script, wait_for_line

CATCH = "spikerl/Catch-v0"
#: Tiny, deterministic settings: dummy envs, no validation, no TensorBoard, one evaluation episode.
COMMON = ["--n-envs", "2", "--validate-every", "0", "--eval-episodes", "1", "--tensorboard", "", "--no-progress"]


def run(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run_script("play", *args, cwd=cwd, check=check)


def test_sigterm_then_resume_ends_with_the_uninterrupted_weights(tmp_path):
    """SIGTERM mid-run: exit 143, the agent saved after a whole env step, the message gives ``--resume PATH
    --timesteps REMAINING``; running that command ends with exactly the weights (and step count) of an
    uninterrupted run of the same total (same env seeds continued through the action replay)."""
    total = 6000
    whole, part = tmp_path / "whole.pt", tmp_path / "part.pt"
    run(CATCH, "--timesteps", str(total), "--save", str(whole), *COMMON, cwd=tmp_path)

    proc = start_script("play", CATCH, "--timesteps", str(total), "--save", str(part), *COMMON, cwd=tmp_path)
    wait_for_line(proc, "training R-STDP")
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, rest[-2000:]
    assert "SIGTERM received" in rest and "interrupted by SIGTERM" in rest
    done = torch.load(part, weights_only=True)["num_timesteps"]
    assert 0 < done < total and done % 2 == 0  # whole env steps of both envs
    remaining = int(re.search(rf"--resume {re.escape(str(part))} --timesteps (\d+)", rest).group(1))
    assert remaining == total - done

    resumed = run(CATCH, "--resume", str(part), "--timesteps", str(remaining), *COMMON, cwd=tmp_path)
    assert f"replayed {done // 2} logged env steps" in resumed.stderr
    a, b = (torch.load(p, weights_only=True) for p in (whole, part))
    assert a["num_timesteps"] == b["num_timesteps"] == total
    assert a["policy"].keys() == b["policy"].keys()
    for key in a["policy"]:
        assert torch.equal(a["policy"][key], b["policy"][key]), key


def test_exception_during_training_saves_prints_resume_and_reraises(tmp_path, monkeypatch, capsys):
    """An error in the middle of training (here: raised on the 40th env step) leaves the agent saved with the
    steps done so far and the ``--resume`` command printed; the error itself propagates (exit status 1)."""
    from agents import RSTDP

    calls = {"n": 0}
    original = RSTDP._record_prediction_error

    def failing(self, rewards):
        calls["n"] += 1
        if calls["n"] == 40:
            raise RuntimeError("simulated failure in step 40")
        return original(self, rewards)

    monkeypatch.setattr(RSTDP, "_record_prediction_error", failing)
    monkeypatch.chdir(tmp_path)
    save = tmp_path / "agent.pt"
    with pytest.raises(RuntimeError, match="simulated failure"):
        load_script("play").main([CATCH, "--timesteps", "5000", "--save", str(save), *COMMON])
    err = capsys.readouterr().err
    assert "stopped by RuntimeError after 78 env steps" in err  # 39 whole steps of 2 envs
    assert f"--resume {save}" in err
    assert torch.load(save, weights_only=True)["num_timesteps"] == 39 * 2


@pytest.mark.parametrize("make_bad", [
    lambda tmp: tmp / "a_file" / "agent.pt",      # the folder would have to be a regular file
    lambda tmp: Path("/proc/spikerl-no-such-dir/agent.pt"),  # /proc refuses new folders even to root
])
def test_unwritable_save_path_fails_before_training(tmp_path, make_bad):
    (tmp_path / "a_file").write_text("not a folder")
    bad = make_bad(tmp_path)
    start = time.perf_counter()
    proc = run(CATCH, "--timesteps", "100000", "--save", str(bad), *COMMON, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "cannot write checkpoints to" in proc.stderr and "nothing trained" in proc.stderr
    assert "training R-STDP" not in proc.stderr
    assert time.perf_counter() - start < 60


def test_existing_default_save_path_gets_a_new_name_and_earlier_files_stay(tmp_path):
    """An earlier run's ``runs/<name>_seed0.pt`` and ``_best.pt`` are kept byte for byte (``_best`` is no longer
    deleted at start); this run saves to ``-2`` and says so; ``--overwrite`` reuses the default name."""
    runs = tmp_path / "runs"
    runs.mkdir()
    earlier, earlier_best = runs / "spikerl_Catch-v0_seed0.pt", runs / "spikerl_Catch-v0_seed0_best.pt"
    earlier.write_bytes(b"earlier run")
    earlier_best.write_bytes(b"earlier best")
    proc = run(CATCH, "--timesteps", "100", *COMMON, "--validate-every", "50", cwd=tmp_path)
    second = runs / "spikerl_Catch-v0_seed0-2.pt"
    assert f"saving this run to {Path('runs') / second.name}" in proc.stderr
    assert earlier.read_bytes() == b"earlier run" and earlier_best.read_bytes() == b"earlier best"
    assert torch.load(second, weights_only=True)["num_timesteps"] == 100
    assert (runs / "spikerl_Catch-v0_seed0-2_best.pt").exists()  # this run's own best, beside its model

    run(CATCH, "--timesteps", "100", *COMMON, "--overwrite", cwd=tmp_path)
    assert torch.load(earlier, weights_only=True)["num_timesteps"] == 100


def test_existing_save_path_needs_overwrite(tmp_path, capsys):
    save = tmp_path / "agent.pt"
    save.write_bytes(b"keep me")
    with pytest.raises(SystemExit) as exit_info:
        load_script("play").main([CATCH, "--timesteps", "100", "--save", str(save), *COMMON])
    assert exit_info.value.code == 2
    assert "exists (an earlier run's?); pass --overwrite" in capsys.readouterr().err
    assert save.read_bytes() == b"keep me"


def test_corrupt_resume_file_is_named(tmp_path, capsys):
    good = tmp_path / "good.pt"
    run(CATCH, "--timesteps", "100", "--save", str(good), *COMMON, cwd=tmp_path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SystemExit) as exit_info:
        load_script("play").main([CATCH, "--resume", str(bad), "--timesteps", "100", *COMMON])
    assert exit_info.value.code == 2
    assert f"corrupt or truncated checkpoint: {bad}" in capsys.readouterr().err
