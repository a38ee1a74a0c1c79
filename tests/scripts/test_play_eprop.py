"""scripts/play.py's plastic hidden layer flags (``--hidden-learning-rate``, ``--hidden-feedback``,
``--value-feedback``); their usage errors are in test_play.py."""

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


def test_flags_reach_the_agent_and_are_unset_by_default():
    script = load_script("play")
    parse = script.build_parser().parse_args
    assert "hidden_learning_rate" not in script.agent_kwargs(parse(["SpaceInvaders"]), ale=True)
    chosen = script.agent_kwargs(parse(["SpaceInvaders", "--algo", "rstdp-ac", "--hidden-size", "64",
                                        "--hidden-learning-rate", "0.001", "--value-feedback", "0.5",
                                        "--hidden-feedback", "symmetric", "--critic-feedback", "symmetric"]),
                                  ale=True)
    assert (chosen["hidden_size"], chosen["hidden_learning_rate"], chosen["value_feedback"]) == (64, 0.001, 0.5)
    assert chosen["hidden_feedback"] == chosen["critic_feedback"] == "symmetric"


def test_actor_critic_ale_default_is_the_symmetric_eprop_hidden_layer():
    """``--algo rstdp-ac`` on an ALE game gets the measured best hidden layer; choosing no hidden layer (or the
    feature layer) drops all three of its defaults, and R-STDP keeps learning from the pixels."""
    script = load_script("play")
    parse = script.build_parser().parse_args
    ac = script.agent_kwargs(parse(["SpaceInvaders", "--algo", "rstdp-ac"]), ale=True)
    assert (ac["hidden_size"], ac["hidden_learning_rate"], ac["hidden_feedback"]) == (256, 1e-4, "symmetric")
    assert script.agent_kwargs(parse(["SpaceInvaders"]), ale=True)["hidden_size"] == 0
    for flags in (["--hidden-size", "0"], ["--feature-maps", "4"]):
        chosen = script.agent_kwargs(parse(["SpaceInvaders", "--algo", "rstdp-ac", *flags]), ale=True)
        assert "hidden_learning_rate" not in chosen and "hidden_feedback" not in chosen
        assert chosen["hidden_size"] == 0
    assert script.agent_kwargs(parse([CATCH, "--algo", "rstdp-ac"]), ale=False) == {}
    # a rate alone uses the actor-critic's default hidden layer on ALE games; with --hidden-size 0 it has none
    rate = script.agent_kwargs(parse(["SpaceInvaders", "--algo", "rstdp-ac", "--hidden-learning-rate", "3e-4"]),
                               ale=True)
    assert (rate["hidden_size"], rate["hidden_learning_rate"]) == (256, 3e-4)


def test_a_hidden_learning_rate_without_hidden_layer_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script("play").main(["SpaceInvaders", "--algo", "rstdp-ac", "--hidden-size", "0",
                                  "--hidden-learning-rate", "1e-4", "--timesteps", "0"])
    assert exit_info.value.code == 2
    assert "--hidden-learning-rate 0.0001 trains the hidden layer: add --hidden-size N" in capsys.readouterr().err


def test_hidden_weight_bound_flag(capsys):
    """``--hidden-weight-bound`` reaches the agent (unset by default); without a learning hidden layer it is a
    usage error."""
    script = load_script("play")
    parse = script.build_parser().parse_args
    assert "hidden_weight_bound" not in script.agent_kwargs(parse(["SpaceInvaders", "--algo", "rstdp-ac"]), ale=True)
    chosen = script.agent_kwargs(parse(["SpaceInvaders", "--algo", "rstdp-ac", "--hidden-weight-bound", "8"]),
                                 ale=True)
    assert (chosen["hidden_weight_bound"], chosen["hidden_learning_rate"]) == (8.0, 1e-4)
    with pytest.raises(SystemExit) as exit_info:
        script.main(["SpaceInvaders", "--algo", "rstdp-ac", "--hidden-size", "0", "--hidden-weight-bound", "8",
                     "--timesteps", "0"])
    assert exit_info.value.code == 2
    assert "--hidden-weight-bound 8.0 bounds a learning hidden layer" in capsys.readouterr().err


def test_play_trains_and_scores_an_actor_critic_with_a_plastic_hidden_layer(tmp_path):
    """End to end on Catch: the JSON line's settings show the plastic hidden layer as used."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "play.py"), CATCH, "--algo", "rstdp-ac",
                           "--timesteps", "200", "--n-envs", "2", "--eval-episodes", "1", "--validate-every", "0",
                           "--no-progress", "--hidden-size", "16", "--hidden-learning-rate", "0.001",
                           "--value-feedback", "0.5", "--save", str(tmp_path / "agent.pt"),
                           "--tensorboard", "''"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    settings = json.loads(proc.stdout.strip().splitlines()[-1])["settings"]
    assert (settings["hidden_size"], settings["hidden_learning_rate"], settings["value_feedback"]) == (16, 0.001, 0.5)
    assert settings["hidden_feedback"] == "random"


def test_life_loss_flags_reach_the_training_envs_and_the_json_line(tmp_path):
    """A short SpaceInvaders run with ``--terminal-on-life-loss --life-loss-penalty``: the JSON line's protocol
    records how the agent was trained, and evaluation still plays whole games (no EpisodicLifeEnv among its
    wrappers). That the wrappers act (episode ends and penalties at each life): tests/envs/test_envs_vec.py."""
    script = load_script("play")
    argv = ["SpaceInvaders", "--algo", "rstdp-ac", "--hidden-size", "0", "--timesteps", "64", "--n-envs", "2",
            "--vec-env", "dummy", "--eval-episodes", "1", "--eval-max-frames", "200", "--validate-every", "0",
            "--no-progress", "--tensorboard", "", "--save", str(tmp_path / "agent.pt")]
    result = script.main([*argv, "--terminal-on-life-loss", "--life-loss-penalty", "0.5"])
    assert result["protocol"]["training"] == {"terminal_on_life_loss": True, "life_loss_penalty": 0.5}
    assert all(step["name"] != "EpisodicLifeEnv" for step in result["protocol"]["preprocessing"])
