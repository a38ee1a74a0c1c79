"""scripts/play.py's feature-layer flags (``--feature-maps``, ``--feature-patch``, ``--feature-stride``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from script_helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
CATCH = "spikerl/Catch-v0"


@pytest.mark.parametrize("argv, message", [
    (["--feature-maps", "-1"], "argument --feature-maps: must be an integer >= 0, got -1"),
    (["--feature-maps", "2.5"], "argument --feature-maps: expected an integer"),
    (["--feature-patch", "-1"], "argument --feature-patch: must be an integer >= 0, got -1"),
    (["--feature-stride", "0"], "argument --feature-stride: must be an integer >= 1, got 0"),
    (["--feature-maps", "4", "--hidden-size", "16"], "--feature-maps 4 and --hidden-size 16: choose the learned "
                                                     "feature layer or the fixed random hidden layer, not both"),
])
def test_bad_feature_flags_are_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        load_script("play").main([CATCH, *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_feature_flags_reach_the_agent_and_are_unset_by_default():
    script = load_script("play")
    parse = script.build_parser().parse_args
    assert "feature_maps" not in script.agent_kwargs(parse(["SpaceInvaders"]), ale=True)  # off: as before
    chosen = script.agent_kwargs(parse(["SpaceInvaders", "--feature-maps", "8", "--feature-patch", "6",
                                        "--feature-stride", "3"]), ale=True)
    assert (chosen["feature_maps"], chosen["feature_patch"], chosen["feature_stride"]) == (8, 6, 3)
    assert chosen["hidden_size"] == 0


def test_play_trains_and_scores_an_agent_with_a_feature_layer(tmp_path):
    """End to end on Catch (8 x 5 frames): the JSON line's settings show the feature layer as used."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "play.py"), CATCH, "--timesteps", "200",
                           "--n-envs", "2", "--eval-episodes", "1", "--validate-every", "0", "--no-progress",
                           "--feature-maps", "3", "--feature-patch", "3", "--feature-stride", "2",
                           "--save", str(tmp_path / "agent.pt"), "--tensorboard", str(tmp_path / "tb")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    settings = json.loads(proc.stdout.strip().splitlines()[-1])["settings"]
    assert (settings["feature_maps"], settings["feature_patch"], settings["feature_stride"]) == (3, 3, 2)
