"""Helpers for the agents tests: small PatternAction vec envs, a reward-corrupting wrapper, one torch thread."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest
import torch

import envs

#: The test task: name the band pattern on screen (1 x 8 x 8 uint8 frames, 3 actions, reward on the same step).
PATTERN = "spikerl/PatternAction-v0"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: on a busy 2-core machine every multi-threaded tiny matmul waits for a descheduled
    worker (tens of ms each), and these tests run thousands of them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def pattern_vec():
    """Factory: ``pattern_vec(n_envs=2, seed=0, **env_kwargs)`` -> PatternAction ``VecEnv`` (envs seeded seed+i)."""

    def make(n_envs: int = 2, seed: int = 0, **env_kwargs: Any):
        return envs.make_vec(PATTERN, n_envs=n_envs, seed=seed, **env_kwargs)

    return make


class CorruptRewardAfter(gym.Wrapper):
    """Passes the env through, but from its ``after``-th step on (counted over the wrapper's life) returns
    ``value`` (NaN by default) as the reward."""

    def __init__(self, env: gym.Env, after: int, value: float = float("nan")) -> None:
        super().__init__(env)
        self.after, self.value, self.steps = after, value, 0

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        return obs, (self.value if self.steps >= self.after else reward), terminated, truncated, info


@pytest.fixture
def corrupt_reward_after():
    """The :class:`CorruptRewardAfter` wrapper class."""
    return CorruptRewardAfter


@pytest.fixture
def greedy_before_and_after():
    """Factory: ``greedy_before_and_after(agent, env_id, budget)`` -> ``(before, after)``, the agent's mean greedy
    return on 10 unseen episodes (env seeded 1000) before and after ``agent.learn(budget)``."""
    from stable_baselines3.common.evaluation import evaluate_policy

    def score(agent: Any, env_id: str) -> float:
        mean, _ = evaluate_policy(agent, envs.make_vec(env_id, n_envs=1, seed=1000), n_eval_episodes=10,
                                  deterministic=True)
        return mean

    def run(agent: Any, env_id: str, budget: int) -> tuple[float, float]:
        before = score(agent, env_id)
        agent.learn(budget)
        return before, score(agent, env_id)

    return run
