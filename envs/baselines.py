"""Baseline policies and scoring: the uniformly random policy and each constant action, scored on the same
episodes as an agent through SB3's ``evaluate_policy``.

A score means little without them: in many games one action, pressed throughout, beats a learner that has
collapsed onto it (SpaceInvaders' FIRE), and random play is the floor of every normalised scale.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from stable_baselines3.common.evaluation import evaluate_policy


class UniformRandomPolicy:
    """SB3's ``predict`` protocol with actions drawn uniformly from the action space (the chance baseline)."""

    def __init__(self, action_space: Any, seed: int) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, None]:
        return np.array([self.action_space.sample() for _ in range(len(observation))]), None


class ConstantPolicy:
    """SB3's ``predict`` protocol that always takes ``action`` (a constant-action baseline)."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, None]:
        return np.full(len(observation), self.action), None


def evaluate(policy: Any, env: Any, episodes: int, histogram: np.ndarray | None = None,
             deterministic: bool = True) -> tuple[float, float]:
    """SB3's ``evaluate_policy`` (greedy: ``deterministic=True``; else the policy samples its actions): mean and
    std of the episode returns. With ``histogram`` (an int array of one slot per action), also counts the actions
    taken in the scored episodes."""

    def count(local: dict[str, Any], _: dict[str, Any]) -> None:
        histogram[int(local["actions"][local["i"]])] += 1

    mean, std = evaluate_policy(policy, env, n_eval_episodes=episodes, deterministic=deterministic,
                                callback=None if histogram is None else count)
    return float(mean), float(std)


def action_names(env: Any) -> list[str]:
    """The actions' names (ALE: ``get_action_meanings``, e.g. ``["NOOP", "FIRE", ...]``), else their numbers."""
    try:
        return [str(name) for name in env.env_method("get_action_meanings", indices=[0])[0]]
    except AttributeError:
        return [str(a) for a in range(env.action_space.n)]


def baselines(make_eval_env: Callable[[], Any], episodes: int, seed: int) -> dict[str, Any]:
    """The uniformly random policy and every constant action, each on a fresh ``make_eval_env()`` (the same
    episode seeds as the agent's): ``{"random": (mean, std), "constant": {name: (mean, std)}, "best_constant":
    {"action", "name", "mean", "std"}}``. Constant actions only for Discrete action spaces."""
    env = make_eval_env()
    result: dict[str, Any] = {"random": evaluate(UniformRandomPolicy(env.action_space, seed), env, episodes)}
    names = action_names(env)
    env.close()
    result["constant"], result["best_constant"] = {}, None
    if hasattr(env.action_space, "n"):
        for action, name in enumerate(names):
            env = make_eval_env()
            result["constant"][name] = evaluate(ConstantPolicy(action), env, episodes)
            env.close()
        best = max(range(len(names)), key=lambda a: result["constant"][names[a]][0])
        mean, std = result["constant"][names[best]]
        result["best_constant"] = {"action": best, "name": names[best], "mean": mean, "std": std}
    return result
