"""``tensorboard_log=``: the event files hold the promised scalars, histograms and images, with sane values."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents import RSTDP

EPISODE = 5  # steps per PatternAction episode in this test


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """Train 2 envs x 30 steps with a hidden layer, logging after every episode, and read the events back."""
    import torch

    import envs

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    logdir = tmp_path_factory.mktemp("tb")
    vec = envs.make_vec("spikerl/PatternAction-v0", n_envs=2, seed=0, episode_length=EPISODE)
    agent = RSTDP("SpikingPolicy", vec, seed=0, hidden_size=16, tensorboard_log=str(logdir), log_weights_every=2)
    agent.learn(60, log_interval=1, tb_log_name="tbtest")
    torch.set_num_threads(threads)
    runs = [p for p in logdir.iterdir() if p.is_dir()]
    assert [p.name for p in runs] == ["tbtest_1"]
    accumulator = EventAccumulator(str(runs[0]), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    accumulator.Reload()
    accumulator.connections = [key.replace("->", "_to_") for key in agent.policy.network.connections]
    assert {"X_to_H", "H_to_O"} <= set(accumulator.connections)
    return accumulator


def test_scalar_tags(events):
    scalars = set(events.Tags()["scalars"])
    expected = {"rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps", "reward/baseline",
                "reward/prediction_error", "reward/prediction_error_abs",
                "spikes/X_rate_hz", "spikes/H_rate_hz", "spikes/O_rate_hz"}
    expected |= {f"weights/{c}_{stat}" for c in events.connections for stat in ("mean", "std", "min", "max")}
    assert expected <= scalars, sorted(expected - scalars)


def test_histogram_and_image_tags(events):
    histograms, images = set(events.Tags()["histograms"]), set(events.Tags()["images"])
    expected = {"spikes/H_rate_hist", "spikes/O_rate_hist"} | {f"weights/{c}" for c in events.connections}
    assert expected <= histograms, sorted(expected - histograms)
    assert "weights/H_to_O_image" in images
    # images every 2nd log (log_weights_every=2), histograms at every log
    assert len(events.Images("weights/H_to_O_image")) == len(events.Histograms("weights/H_to_O")) // 2


def test_logged_values(events):
    """One log per finished batch of episodes (log_interval=1): 60 steps / (2 envs x 5 steps) = 6 logs, at the
    timesteps 10, 20, ..., 60; every episode lasts 5 steps and earns 0..5; rates lie in [0, 1000] Hz at dt=1 ms;
    the plastic weights respect their bounds [0, wmax]."""
    lengths = events.Scalars("rollout/ep_len_mean")
    assert [e.step for e in lengths] == [10, 20, 30, 40, 50, 60]
    assert all(e.value == EPISODE for e in lengths)
    assert all(0 <= e.value <= EPISODE for e in events.Scalars("rollout/ep_rew_mean"))
    assert all(e.value > 0 for e in events.Scalars("time/fps"))
    for layer in "XHO":
        assert all(0.0 <= e.value <= 1000.0 for e in events.Scalars(f"spikes/{layer}_rate_hz"))
    assert any(e.value > 0 for e in events.Scalars("spikes/X_rate_hz"))
    assert all(e.value >= 0.0 for e in events.Scalars("weights/H_to_O_min"))
    assert all(0.0 <= e.value <= 1.0 for e in events.Scalars("reward/baseline"))  # EMA of 0/1 rewards
    # r - b with r in {0, 1} and b in [0, 1]: the mean error lies in [-1, 1], and within +- its mean magnitude
    errors = events.Scalars("reward/prediction_error")
    magnitudes = events.Scalars("reward/prediction_error_abs")
    assert len(errors) == len(magnitudes) == 6
    for error, magnitude in zip(errors, magnitudes):
        assert 0.0 < magnitude.value <= 1.0 and abs(error.value) <= magnitude.value + 1e-6


class ConstantRewardEnv(gym.Env):
    """A fixed lit 1x4x4 frame and reward 0.5 on every step; episodes of 4 steps."""

    observation_space = gym.spaces.Box(0, 255, (1, 4, 4), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.full((1, 4, 4), 255, np.uint8), {}

    def step(self, action):
        self.t += 1
        return np.full((1, 4, 4), 255, np.uint8), 0.5, self.t == 4, False, {}


def test_prediction_error_follows_the_baseline_analytically():
    """Reward 0.5 every step and a moving-average baseline over w = 5 rewards starting at 0: the baseline before
    step t is 0.5 (1 - (1 - 1/w)^t), so the prediction error is 0.5 (1 - 1/w)^t; the sums over 12 steps match."""
    agent = RSTDP("SpikingPolicy", DummyVecEnv([ConstantRewardEnv]), seed=0, baseline_window=5)
    agent.learn(12, log_interval=0)
    expected = sum(0.5 * (1 - 1 / 5) ** t for t in range(12))
    total, total_abs, count = agent._prediction_error_sums
    assert count == 12
    assert total == pytest.approx(expected, rel=1e-6) and total_abs == pytest.approx(expected, rel=1e-6)
