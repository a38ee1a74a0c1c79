"""PatternAction: name the pattern you see. A one-step association task for reward-modulated plasticity."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.toy._render import check_render_args, upscale_rgb
from envs.wrappers._image import image_box


def band_patterns(n_patterns: int, size: int) -> np.ndarray:
    """``K`` disjoint binary patterns, uint8 ``(K, 1, size, size)`` with values 0/255.

    Pattern ``k`` lights the columns ``c`` with ``floor(c * K / size) == k``: ``K`` vertical bands of
    near-equal width that together cover the frame and never overlap.
    """
    band_of_column = np.arange(size) * n_patterns // size
    lit = band_of_column[None, :] == np.arange(n_patterns)[:, None]  # (K, size)
    return np.broadcast_to(lit[:, None, None, :], (n_patterns, 1, size, size)).astype(np.uint8) * np.uint8(255)


class PatternActionEnv(gym.Env):
    """Each step shows one of ``K`` fixed binary patterns, drawn uniformly; the correct action is its index.

    Observation: uint8 ``(1, size, size)``, 0/255 (see :func:`band_patterns`). Action: ``Discrete(K)``.
    Reward: ``+1`` for the pattern's index, ``wrong_reward`` (default ``0``) otherwise, paid on the same step.
    Episode: terminates after exactly ``episode_length`` steps.

    ``optimal_return = episode_length``; a uniformly random policy expects
    ``chance_return = episode_length * (1 + (K - 1) * wrong_reward) / K``. ``label`` is the index of the pattern
    on screen (for oracles and tests).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        n_patterns: int = 3,
        size: int = 8,
        episode_length: int = 20,
        wrong_reward: float = 0.0,
        render_mode: str | None = None,
        render_scale: int = 32,
    ) -> None:
        if not 2 <= n_patterns <= size:
            raise ValueError(f"n_patterns must be in [2, size={size}] (one band of columns each), got {n_patterns}")
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1 step, got {episode_length}")
        check_render_args(render_mode, render_scale, self.metadata["render_modes"])
        self.patterns = band_patterns(n_patterns, size)
        self.episode_length = episode_length
        self.wrong_reward = float(wrong_reward)
        self.render_mode = render_mode
        self.render_scale = render_scale
        self.observation_space = image_box((1, size, size))
        self.action_space = spaces.Discrete(n_patterns)
        self.optimal_return = float(episode_length)
        self.chance_return = episode_length * (1.0 + (n_patterns - 1) * self.wrong_reward) / n_patterns
        self.label = 0
        self._steps = 0

    def _draw_label(self) -> int:
        return int(self.np_random.integers(self.action_space.n))

    def _observation(self) -> np.ndarray:
        return self.patterns[self.label].copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode and show the first pattern."""
        super().reset(seed=seed)
        self._steps = 0
        self.label = self._draw_label()
        return self._observation(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Score ``action`` against the pattern on screen, then show the next pattern.

        Info: ``{"correct": bool}`` for the scored action.
        """
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an integer in [0, {self.action_space.n}), got {action!r}")
        correct = int(action) == self.label
        self._steps += 1
        self.label = self._draw_label()
        terminated = self._steps >= self.episode_length
        return self._observation(), 1.0 if correct else self.wrong_reward, terminated, False, {"correct": correct}

    def render(self) -> np.ndarray | None:
        """``(size * render_scale, size * render_scale, 3)`` uint8 RGB image of the current pattern."""
        if self.render_mode != "rgb_array":
            gym.logger.warn("render() needs render_mode='rgb_array'; returning None")
            return None
        return upscale_rgb(self._observation(), self.render_scale)
