"""The readout's falling learning rate (``learning_rate_end``): the line against hand values, the rule's rate during
``learn``, exact resume along the line, checkpoints, the actor-critic (its critic keeps its rate) and bad input."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

import envs
from agents import RSTDP, RSTDPActorCritic
from agents.policy import RuleConfig

N_ENVS = 4


def make_env(seed: int = 3):
    return envs.make_vec("spikerl/Catch-v0", n_envs=N_ENVS, seed=seed, vec_env_cls=DummyVecEnv)


def plastic_weights(agent: RSTDP) -> torch.Tensor:
    return agent.policy.network.connections[agent.policy.plastic].w


def test_rate_is_the_line_from_learning_rate_to_learning_rate_end():
    rule = RuleConfig(learning_rate=0.01, learning_rate_end=0.001)
    assert rule.rate(1.0) == pytest.approx(0.01)
    assert rule.rate(0.5) == pytest.approx(0.0055)
    assert rule.rate(0.0) == pytest.approx(0.001)
    constant = RuleConfig(learning_rate=0.01)
    assert constant.rate(1.0) == constant.rate(0.3) == constant.rate(0.0) == 0.01


def test_the_rule_follows_the_line_during_learn_and_the_logger_reports_it():
    """Progress is set before each env step: the last of 400 steps (4 envs) runs at progress 1 - 396 / 400."""
    agent = RSTDP("SpikingPolicy", make_env(), learning_rate=0.01, learning_rate_end=0.002, seed=3)
    recorded = {}
    agent.learn(400)
    scale = float(agent.policy.weight_scale)
    rule = agent.policy.network.rules[agent.policy.plastic]
    assert rule.lr == pytest.approx((0.002 + 0.008 * (1 - 396 / 400)) * scale)
    agent.logger.record = lambda key, value, exclude=None: recorded.__setitem__(key, value)
    agent.dump_logs()
    assert recorded["train/learning_rate"] == pytest.approx(0.002 + 0.008 * (1 - 396 / 400))
    constant = RSTDP("SpikingPolicy", make_env(), learning_rate=0.01, seed=3).learn(400)
    assert constant.policy.network.rules[constant.policy.plastic].lr == pytest.approx(
        0.01 * float(constant.policy.weight_scale))


class StopAt(BaseCallback):
    """Stops ``learn`` after ``steps`` env steps, as play.py's SIGTERM handler does."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def _on_step(self) -> bool:
        return self.num_timesteps < self.steps


def test_an_interrupted_run_resumes_on_the_same_line(tmp_path):
    """``learn(2400)`` stopped at 1200 steps, saved, loaded, replayed and continued with ``learn(1200,
    reset_num_timesteps=False)`` == 2400 steps in one go (same ops: ``torch.equal``); the constant rate gives other
    weights, so the schedule acts."""
    kwargs = dict(learning_rate=0.01, learning_rate_end=0.001, seed=3)
    whole = RSTDP("SpikingPolicy", make_env(), **kwargs).learn(2400)
    first = RSTDP("SpikingPolicy", make_env(), **kwargs).learn(2400, callback=StopAt(1200))
    assert first.num_timesteps == 1200
    first.save(tmp_path / "first.pt")
    second = RSTDP.load(tmp_path / "first.pt", env=make_env())
    assert second.rule_config.learning_rate_end == 0.001
    second.replay_env()
    second.learn(1200, reset_num_timesteps=False)
    assert torch.equal(plastic_weights(second), plastic_weights(whole))
    constant = RSTDP("SpikingPolicy", make_env(), learning_rate=0.01, seed=3).learn(2400)
    assert not torch.equal(plastic_weights(constant), plastic_weights(whole))


def test_the_actor_critic_anneals_its_actor_only():
    agent = RSTDPActorCritic("ActorCriticSpikingPolicy", make_env(), learning_rate=0.01, learning_rate_end=0.0,
                             critic_learning_rate=0.02, seed=3).learn(400)
    policy = agent.policy
    assert policy.network.rules[policy.plastic].lr == pytest.approx(
        0.01 * (1 - 396 / 400) * float(policy.weight_scale))
    assert policy.network.rules[policy.critic].lr == pytest.approx(0.02 * float(policy.critic_weight_scale))


def test_bad_rates_are_refused_with_their_names():
    with pytest.raises(ValueError, match="learning_rate_end must be a finite number >= 0"):
        RSTDP("SpikingPolicy", make_env(), learning_rate_end=-0.001)
    with pytest.raises(TypeError, match="learning_rate must be a number .* pass learning_rate_end"):
        RSTDP("SpikingPolicy", make_env(), learning_rate=lambda progress: 0.01 * progress)
