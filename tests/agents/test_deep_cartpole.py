"""The test-sized target of issue 11: spiking PPO on CartPole-v1 reaches a mean return >= 475 within 100k steps.

Hyperparameters are rl-zoo3's for PPO on CartPole-v1 (8 envs, 32 steps each per rollout, batch 256, 20 epochs,
gamma 0.98, GAE lambda 0.8, no entropy bonus, learning rate and clip range decaying linearly from 1e-3 and
0.2) with the spiking MLP policy (separate actor and critic networks of 64-64 LIF neurons, T simulation steps
per env step, the default). Training stops early once a 10-episode evaluation every 10k steps reaches 475 (SB3's
``StopTrainingOnRewardThreshold``); the assertion is on a separate 20-episode greedy evaluation, on other seeds,
of the model training ended with. CartPole's return is capped at 500; the uniformly random policy scores
about 22.
"""

from __future__ import annotations

from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.utils import LinearSchedule

from agents import SpikingPPO

TARGET, BUDGET = 475.0, 100_000
HIDDEN = 64


def test_spiking_ppo_solves_cartpole_within_100k_steps():
    model = SpikingPPO("SpikingMlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=0), n_steps=32,
                       batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                       learning_rate=LinearSchedule(1e-3, 0.0, 1.0), clip_range=LinearSchedule(0.2, 0.0, 1.0),
                       seed=0, policy_kwargs=dict(features_extractor_kwargs=dict(hidden=(HIDDEN, HIDDEN))))
    stop = StopTrainingOnRewardThreshold(TARGET)
    evaluation = EvalCallback(make_vec_env("CartPole-v1", n_envs=1, seed=500), callback_on_new_best=stop,
                              eval_freq=10_000 // 8, n_eval_episodes=10)
    model.learn(BUDGET, callback=evaluation)
    assert model.num_timesteps <= BUDGET
    mean, _ = evaluate_policy(model, make_vec_env("CartPole-v1", n_envs=1, seed=1000), n_eval_episodes=20,
                              deterministic=True)
    assert mean >= TARGET
