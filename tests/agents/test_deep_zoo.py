"""agents.deep.zoo: rl-baselines3-zoo's hyperparameters and the learning-rate override play.py offers."""

from __future__ import annotations

import math

import pytest
from stable_baselines3.common.utils import LinearSchedule

from agents.deep.zoo import describe_hyperparameters, with_learning_rate, zoo_hyperparameters


def test_a_linear_schedule_keeps_its_shape_with_the_new_start():
    """The zoo's Atari PPO decays 2.5e-4 linearly to 0; with 1e-3 it decays 1e-3 to 0: half-way (progress
    remaining 0.5) it is 5e-4, at the end 0."""
    zoo = zoo_hyperparameters("ppo", "ALE/Breakout-v5", ale=True)
    changed = with_learning_rate(zoo, 1e-3)
    schedule = changed["learning_rate"]
    assert isinstance(schedule, LinearSchedule)
    assert schedule(1.0) == pytest.approx(1e-3) and schedule(0.5) == pytest.approx(5e-4) and schedule(0.0) == 0.0
    assert describe_hyperparameters(changed)["learning_rate"] == "lin_0.001"
    assert zoo["learning_rate"](1.0) == pytest.approx(2.5e-4)  # the zoo's dict is not changed
    assert {k: v for k, v in changed.items() if k != "learning_rate"} == {
        k: v for k, v in zoo.items() if k != "learning_rate"}


@pytest.mark.parametrize("algo, env_id, ale", [("dqn", "ALE/SpaceInvaders-v5", True), ("a2c", "ALE/Pong-v5", True),
                                               ("ppo", "MountainCar-v0", False)])
def test_a_constant_or_default_rate_becomes_the_given_constant(algo, env_id, ale):
    """DQN's zoo rate on ALE is the constant 1e-4; A2C's zoo entry and SB3's defaults (other envs) set none."""
    assert with_learning_rate(zoo_hyperparameters(algo, env_id, ale), 3e-4)["learning_rate"] == 3e-4


@pytest.mark.parametrize("bad", [0.0, -1e-3, math.inf, math.nan, True, "1e-3"])
def test_a_rate_that_is_not_positive_and_finite_is_refused(bad):
    with pytest.raises((TypeError, ValueError), match="learning_rate must be a"):
        with_learning_rate({}, bad)
