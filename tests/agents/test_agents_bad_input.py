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


@pytest.mark.parametrize("name", ["learning_rate", "temperature", "epsilon", "input_spikes_per_step", "tau_mem_ms",
                                  "hidden_drive_mv", "hidden_spread", "output_drive_mv", "wmax_ratio", "inhibition_mv",
                                  "tau_plus_ms", "tau_minus_ms", "a_plus", "a_minus", "tau_e_ms"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_hyperparameters_are_refused_by_name(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        RSTDP("SpikingPolicy", envs.make_vec(PATTERN, n_envs=1, seed=0), **{name: bad})


@pytest.mark.parametrize("kwargs, match", [
    ({"learning_rate": 0.0}, r"learning_rate must be a finite number > 0, got 0.0"),
    ({"learning_rate": -0.01}, r"learning_rate must be a finite number > 0"),
    ({"temperature": -1.0}, r"temperature must be a finite number > 0, got -1.0"),
    ({"epsilon": -0.1}, r"epsilon must be a finite number in \[0, 1\]"),
    ({"tau_e_ms": 0.0}, r"tau_e_ms must be a finite number > 0"),
    ({"inhibition_mv": -1.0}, r"inhibition_mv must be a finite number >= 0"),
])
def test_out_of_range_hyperparameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RSTDP("SpikingPolicy", envs.make_vec(PATTERN, n_envs=1, seed=0), **kwargs)


class VectorEnv(gym.Env):
    """Box(0, 1, (4,)) float observations, 2 actions, reward 1 for action 0; from its ``nan_after``-th step on
    (counted over its life) the observation holds a NaN."""

    observation_space = spaces.Box(0.0, 1.0, (4,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, nan_after: int | None = None) -> None:
        self.nan_after, self.steps = nan_after, 0

    def _obs(self) -> np.ndarray:
        obs = np.array([0.9, 0.1, 0.8, 0.4], dtype=np.float32)
        if self.nan_after is not None and self.steps >= self.nan_after:
            obs[2] = np.nan
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(), {}

    def step(self, action):
        self.steps += 1
        return self._obs(), float(action == 0), False, self.steps % 10 == 0, {}


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_predict_refuses_non_finite_observations(bad):
    model = RSTDP("SpikingPolicy", VectorEnv(), seed=0)
    obs = np.array([[0.5, 0.5, bad, 0.5]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"observation must be finite, found 1 NaN or infinite value\(s\) among 4 "
                                         r"\(first: .* at index \[0, 2\]\)"):
        model.predict(obs)


def test_calibration_refuses_non_finite_observations():
    """A NaN pixel in the first observations would make the measured input rate NaN and every weight NaN."""
    model = RSTDP("SpikingPolicy", VectorEnv(), seed=0)
    policy = model.policy
    with pytest.raises(ValueError, match="calibration observation must be finite"):
        policy.calibrate(torch.tensor([[0.5, float("nan"), 0.5, 0.5]]))
    assert not bool(policy.calibrated)
    assert torch.equal(policy.network.connections[policy.plastic].w, torch.zeros_like(policy.network.connections[
        policy.plastic].w))


def test_learn_stops_at_the_first_non_finite_observation_with_finite_weights():
    """The env's 6th observation holds a NaN: learn raises when it is about to be encoded, so the weights never
    see it (a NaN pixel would otherwise be encoded silently as a pixel that never spikes)."""
    model = RSTDP("SpikingPolicy", VectorEnv(nan_after=6), seed=0)
    with pytest.raises(ValueError, match="observation must be finite"):
        model.learn(20)
    assert model.num_timesteps == 6  # 6 steps taken; the 7th would have acted on the NaN observation
    assert torch.isfinite(model.policy.network.connections[model.policy.plastic].w).all()
