"""Spiking policies with SB3: plain PPO, the spiking algorithms, predict, evaluate_policy, save/load."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.utils import LinearSchedule

import envs
from agents import (SpikingA2C, SpikingActorCriticCnnPolicy, SpikingActorCriticPolicy, SpikingCnnDQNPolicy,
                    SpikingCnnPolicy, SpikingDQN, SpikingDQNPolicy, SpikingMlp, SpikingNatureCNN, SpikingPPO)

TINY = dict(time_steps=2, features_dim=32)  # a small Nature CNN for speed


class Inverted(gym.ObservationWrapper):
    """``255 - frame``: Catch's frames light 2 of 1440 pixels, too few to drive a freshly initialised spiking
    CNN (Atari frames are dense); inverted, they light all but 2."""

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return 255 - observation


def catch_vec(n_envs: int = 2, seed: int = 0):
    """Catch with 40 x 36 frames (the smallest the Nature-CNN layout accepts), inverted; 3 actions."""
    envs.register_toy_envs()
    return make_vec_env("spikerl/Catch-v0", n_envs=n_envs, seed=seed, env_kwargs=dict(rows=40, columns=36),
                        wrapper_class=Inverted)


def test_plain_ppo_with_spiking_cnn_policy_learns_and_predicts():
    model = PPO(SpikingCnnPolicy, catch_vec(), n_steps=16, batch_size=16, n_epochs=1, seed=0,
                policy_kwargs=dict(features_extractor_kwargs=TINY))
    assert isinstance(model.policy.features_extractor, SpikingNatureCNN)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(32)
    assert model.num_timesteps == 32
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))  # it trained
    obs = model.get_env().reset()
    actions, state = model.predict(obs, deterministic=True)
    assert actions.shape == (2,) and state is None and set(actions.tolist()) <= {0, 1, 2}


@pytest.mark.parametrize("algo, policy, extractor", [
    (SpikingPPO, "SpikingCnnPolicy", SpikingNatureCNN), (SpikingA2C, "SpikingCnnPolicy", SpikingNatureCNN),
    (SpikingDQN, "SpikingCnnPolicy", SpikingNatureCNN), (SpikingPPO, "SpikingMlpPolicy", SpikingMlp),
    (SpikingDQN, "SpikingMlpPolicy", SpikingMlp)])
def test_spiking_algorithms_accept_the_policy_names(algo, policy, extractor):
    cnn = policy == "SpikingCnnPolicy"
    env = catch_vec() if cnn else make_vec_env("CartPole-v1", n_envs=2, seed=0)
    kwargs = dict(buffer_size=100, learning_starts=8, batch_size=8) if algo is SpikingDQN else dict(n_steps=8)
    if algo is SpikingPPO:
        kwargs["batch_size"] = 16
    features = TINY if cnn else dict(time_steps=2, hidden=(16,))
    model = algo(policy, env, seed=0, policy_kwargs=dict(features_extractor_kwargs=features), **kwargs)
    model.learn(16)
    extractors = [m for m in model.policy.modules() if isinstance(m, extractor)]
    assert extractors and all(e.time_steps == 2 for e in extractors)
    if algo is SpikingDQN:
        assert type(model.policy) is (SpikingCnnDQNPolicy if cnn else SpikingDQNPolicy)
    else:
        assert type(model.policy) is (SpikingActorCriticCnnPolicy if cnn else SpikingActorCriticPolicy)


def test_evaluate_policy_and_callbacks_work():
    steps_seen = []

    class Count(BaseCallback):
        def _on_step(self) -> bool:
            steps_seen.append(self.num_timesteps)
            return True

    model = SpikingPPO("SpikingCnnPolicy", catch_vec(), n_steps=8, batch_size=16, n_epochs=1, seed=0,
                       policy_kwargs=dict(features_extractor_kwargs=TINY))
    model.learn(16, callback=Count())
    assert steps_seen == [2, 4, 6, 8, 10, 12, 14, 16]  # 2 envs: one callback per vec step
    mean, std = evaluate_policy(model, catch_vec(1, seed=5), n_eval_episodes=2)
    # Catch scores +1 per caught ball and -1 per missed one, 10 balls per episode.
    assert -10.0 <= mean <= 10.0 and std >= 0.0


@pytest.mark.parametrize("algo, policy", [(SpikingPPO, "SpikingCnnPolicy"), (SpikingDQN, "SpikingCnnPolicy"),
                                          (SpikingA2C, "SpikingMlpPolicy")])
def test_save_load_gives_identical_predictions(tmp_path, algo, policy):
    cnn = policy == "SpikingCnnPolicy"
    env = catch_vec() if cnn else make_vec_env("CartPole-v1", n_envs=2, seed=0)
    kwargs = dict(buffer_size=100, learning_starts=8) if algo is SpikingDQN else dict(n_steps=8)
    if algo is SpikingPPO:
        kwargs.update(batch_size=16, clip_range=LinearSchedule(0.2, 0.0, 1.0))
    model = algo(policy, env, seed=0, learning_rate=LinearSchedule(1e-3, 0.0, 1.0),
                 policy_kwargs=dict(features_extractor_kwargs=TINY if cnn else dict(hidden=(16, 8))), **kwargs)
    model.learn(16)
    model.save(tmp_path / "model.zip")
    loaded = algo.load(tmp_path / "model.zip", env=env)
    obs = np.stack([env.observation_space.sample() for _ in range(6)])
    with torch.no_grad():
        for (a, b) in zip(model.policy.state_dict().items(), loaded.policy.state_dict().items()):
            assert a[0] == b[0] and torch.equal(a[1], b[1])
        q = model.policy.q_net if algo is SpikingDQN else None
        if q is not None:
            torch.testing.assert_close(q(model.policy.obs_to_tensor(obs)[0]),
                                       loaded.policy.q_net(loaded.policy.obs_to_tensor(obs)[0]), rtol=0, atol=0)
        else:
            t = model.policy.obs_to_tensor(obs)[0]
            da, db = model.policy.get_distribution(t), loaded.policy.get_distribution(t)
            assert torch.equal(da.distribution.logits, db.distribution.logits)
            assert torch.equal(model.policy.predict_values(t), loaded.policy.predict_values(t))
    assert np.array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    # Schedules, spaces and the policy came back from JSON as the same values.
    assert loaded.observation_space == model.observation_space and loaded.action_space == model.action_space
    assert type(loaded.policy) is type(model.policy)
    assert [loaded.lr_schedule(p) for p in (1.0, 0.5, 0.0)] == [model.lr_schedule(p) for p in (1.0, 0.5, 0.0)]
    if algo is SpikingPPO:
        assert [loaded.clip_range(p) for p in (1.0, 0.25)] == [model.clip_range(p) for p in (1.0, 0.25)]
    loaded.learn(16, reset_num_timesteps=False)  # and it trains on
    assert loaded.num_timesteps == 32


def test_load_from_a_file_object(tmp_path):
    model = SpikingPPO("SpikingMlpPolicy", "CartPole-v1", n_steps=8, batch_size=8, seed=0,
                       policy_kwargs=dict(features_extractor_kwargs=dict(hidden=(8,))))
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = SpikingPPO.load(buffer)
    obs = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    assert np.array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])


def test_policy_kwargs_with_classes_round_trip(tmp_path):
    model = SpikingPPO("SpikingMlpPolicy", "CartPole-v1", n_steps=8, batch_size=8, seed=0,
                       policy_kwargs=dict(features_extractor_kwargs=dict(hidden=(8,)), net_arch=[4],
                                          activation_fn=torch.nn.ReLU, optimizer_class=torch.optim.SGD))
    model.save(tmp_path / "m")
    loaded = SpikingPPO.load(tmp_path / "m")
    assert loaded.policy_kwargs["activation_fn"] is torch.nn.ReLU
    assert isinstance(loaded.policy.optimizer, torch.optim.SGD)
