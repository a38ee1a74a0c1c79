"""Helpers for the envs tests: an environment that plays back hand-made frames."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces


class ScriptedFramesEnv(gym.Env):
    """Emits ``frames[0]`` on reset and ``frames[t]`` on the t-th step; terminates on the last frame.

    Reward of step ``t`` is ``t`` so that tests can see which step produced an observation.
    """

    def __init__(self, frames: np.ndarray) -> None:
        self.frames = np.asarray(frames, dtype=np.uint8)
        self.observation_space = spaces.Box(0, 255, self.frames.shape[1:], np.uint8)
        self.action_space = spaces.Discrete(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return self.frames[0].copy(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._t = min(self._t + 1, len(self.frames) - 1)
        return self.frames[self._t].copy(), float(self._t), self._t == len(self.frames) - 1, False, {}


@pytest.fixture
def scripted_env():
    """Factory: ``scripted_env(frames) -> ScriptedFramesEnv``."""
    return ScriptedFramesEnv


@pytest.fixture
def random_frames():
    """Factory: ``random_frames(n, *shape, seed=0)`` -> uint8 array ``(n, *shape)`` of uniform intensities."""

    def make(n: int, *shape: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)

    return make
