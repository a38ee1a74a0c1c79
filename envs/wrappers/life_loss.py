"""``LifeLossPenalty``: a learning signal for losing a life, for games whose score never says so."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym

from spikerl.validation import check_number


class LifeLossPenalty(gym.Wrapper):
    """Subtract ``penalty`` from the reward of each step on which ``info["lives"]`` falls (ALE games report it).

    Reward shaping for training: wrap outside SB3's ``Monitor`` so that episode statistics keep the game's own
    score. A game over that takes the last life is penalised like any other lost life.

    Args:
        env: an env whose ``info`` carries ``"lives"`` after ``reset`` and ``step``.
        penalty: reward units subtracted per lost life, > 0.
    """

    def __init__(self, env: gym.Env, penalty: float = 1.0) -> None:
        super().__init__(env)
        self.penalty = check_number("penalty", penalty, low=0.0, low_open=True)
        self.lives: int | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.lives = self._lives(info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = self._lives(info)
        if self.lives is not None and lives < self.lives:
            reward = float(reward) - self.penalty
        self.lives = lives
        return obs, reward, terminated, truncated, info

    @staticmethod
    def _lives(info: dict[str, Any]) -> int:
        if "lives" not in info:
            raise ValueError("LifeLossPenalty needs an env that reports info['lives'] (an ALE game)")
        return int(info["lives"])
