"""scripts/catch_ladder.py: the oracle codes light the right pixel, the JSON line reports every seed's curve beside
the baselines, and bad settings are usage errors."""

from __future__ import annotations

import numpy as np
import pytest
from script_helpers import last_json, load_script, run_script

import envs


def lit_pixels(observation: np.ndarray) -> list[tuple[int, int, int]]:
    return [tuple(int(i) for i in index) for index in np.argwhere(observation == 255)]


def test_relative_code_lights_the_ball_position_relative_to_the_paddle():
    ladder = load_script("catch_ladder")
    env = ladder.CatchOracle(envs.make("spikerl/Catch-v0", rows=8, columns=5), "relative")
    observation, _ = env.reset(seed=2)
    assert observation.shape == env.observation_space.shape == (1, 8, 9)
    catch = env.unwrapped
    for action in (0, 0, 2, 1, 0, 2, 2, 2, 2, 1):
        assert lit_pixels(observation) == [(0, catch.ball_row, catch.ball_column - catch.paddle_column + 4)]
        observation, *_ = env.step(action)
    # hand-computed: the paddle in column 4 and the ball in column 0 light column 0 - 4 + 4 = 0
    catch.paddle_column, catch.ball_column, catch.ball_row = 4, 0, 3
    assert lit_pixels(env.observation(None)) == [(0, 3, 0)]


def test_state_code_gives_every_state_its_own_pixel():
    ladder = load_script("catch_ladder")
    env = ladder.CatchOracle(envs.make("spikerl/Catch-v0", rows=4, columns=3), "state")
    env.reset(seed=0)
    catch = env.unwrapped
    seen = set()
    for row in range(3):
        for ball in range(3):
            for paddle in range(3):
                catch.ball_row, catch.ball_column, catch.paddle_column = row, ball, paddle
                (pixel,) = lit_pixels(env.observation(None))
                assert pixel == (0, row * 3 + ball, paddle)
                seen.add(pixel)
    assert len(seen) == 27 and env.observation_space.shape == (1, 12, 3)


def test_the_json_line_reports_each_seed_beside_the_baselines():
    proc = run_script("catch_ladder", "--rows", "8", "--columns", "5", "--timesteps", "800", "--seeds", "0", "1",
                      "--eval-episodes", "2", "--eval-points", "2", "--input", "relative",
                      "--set", "learning_rate=0.01")
    result = last_json(proc)
    assert (result["agent"], result["input"], result["settings"]) == ("rstdp", "relative", {"learning_rate": 0.01})
    assert [run["seed"] for run in result["runs"]] == [0, 1]
    for run in result["runs"]:
        assert [steps for steps, _ in run["curve"]] == [400, 800]
        assert run["final"] == run["curve"][-1][1] and -10 <= run["final"] <= 10
    assert result["mean_final"] == pytest.approx(np.mean([run["final"] for run in result["runs"]]), abs=1e-3)
    assert result["best_constant"] in ("LEFT", "STAY", "RIGHT")
    assert -10 <= result["random_mean"] <= 10 and result["best_constant_mean"] >= -10
    assert "seed 1: 800 steps, greedy" in proc.stderr


@pytest.mark.parametrize("argv, message", [
    (["--set", "no_such_option=3"], "no_such_option"),
    (["--set", "learning_rate"], "expected KEY=VALUE"),
    (["--set", "learning_rate=-1"], "learning_rate"),
    (["--rows", "4", "--columns", "6"], "--columns 6 > --rows 4"),
    (["--timesteps", "0"], "argument --timesteps: must be an integer >= 1, got 0"),
])
def test_bad_settings_are_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        load_script("catch_ladder").main(["--rows", "8", "--columns", "5", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
