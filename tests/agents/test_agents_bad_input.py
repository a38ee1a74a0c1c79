"""Bad input fails loudly with a clear message, never with a silent wrong update."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

import envs
from agents import RSTDP

PATTERN = "spikerl/PatternAction-v0"


@pytest.fixture(scope="module")
def agent():
    return RSTDP("SpikingPolicy", envs.make_vec(PATTERN, n_envs=1, seed=0), seed=0)


@pytest.mark.parametrize("shape", [(8, 8), (1, 8), (2, 1, 8, 9), (2, 8, 8, 1), (1, 1, 1, 8, 8)])
def test_predict_rejects_wrong_observation_shapes(agent, shape):
    with pytest.raises(ValueError, match=r"expected observation of shape \(1, 8, 8\)"):
        agent.predict(np.zeros(shape, dtype=np.uint8))


def test_predict_rejects_dict_observations(agent):
    with pytest.raises(ValueError, match="Box observations"):
        agent.predict({"image": np.zeros((1, 8, 8), dtype=np.uint8)})


def test_unbounded_observations_are_refused_at_construction():
    """CartPole's velocities are unbounded (infinite Box): a rate encoder cannot scale them."""
    with pytest.raises(ValueError, match="infinite bounds"):
        RSTDP("SpikingPolicy", gym.make("CartPole-v1"))


def test_continuous_actions_are_refused_at_construction():
    with pytest.raises(ValueError, match="Continuous"):
        RSTDP("SpikingPolicy", gym.make("Pendulum-v1"))


class DictObservationEnv(gym.Env):
    observation_space = spaces.Dict({"image": spaces.Box(0, 255, (1, 4, 4), np.uint8)})
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def test_non_box_observations_are_refused_at_construction():
    with pytest.raises(ValueError, match="Box observation space"):
        RSTDP("SpikingPolicy", DictObservationEnv())


@pytest.mark.parametrize("kwargs, match", [
    ({"policy": "MlpPolicy"}, "one policy"),
    ({"epsilon": 1.5}, "epsilon"),
    ({"steps_per_action": 0}, "steps_per_action"),
    ({"hidden_size": -1}, "hidden_size"),
])
def test_bad_constructor_arguments(kwargs, match):
    kwargs = {"policy": "SpikingPolicy", **kwargs}
    with pytest.raises(ValueError, match=match):
        RSTDP(env=envs.make_vec(PATTERN, n_envs=1, seed=0), **kwargs)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_reward_raises_before_touching_the_weights(corrupt_reward_after, bad):
    """Env 1 of 2 returns a bad reward from its 6th step on: learn raises on that step, and the weights and the
    reward baseline are those after step 5 (a reward is applied only once the whole batch is checked)."""
    vec = DummyVecEnv([lambda: envs.make(PATTERN), lambda: corrupt_reward_after(envs.make(PATTERN), 6, bad)])
    vec.seed(0)
    model = RSTDP("SpikingPolicy", vec, seed=0)
    model.learn(10)  # 5 batched steps, all rewards finite
    plastic = model.policy.plastic
    w = model.policy.network.connections[plastic].w.clone()
    baseline = model.policy.network.rules[plastic].baseline.value.clone()
    with pytest.raises(ValueError, match="non-finite reward"):
        model.learn(10, reset_num_timesteps=False)
    torch.testing.assert_close(model.policy.network.connections[plastic].w, w, rtol=0, atol=0)
    torch.testing.assert_close(model.policy.network.rules[plastic].baseline.value, baseline, rtol=0, atol=0)
    assert torch.isfinite(model.policy.network.connections[plastic].w).all()
    assert model.num_timesteps == 10  # the bad step is not counted
