"""Catch: a falling ball and a paddle, with the reward delayed until the ball lands (tests eligibility traces)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.toy._render import check_render_args, upscale_rgb
from envs.wrappers._image import image_box

#: Actions: paddle moves one column left, stays, or moves one column right.
LEFT, STAY, RIGHT = 0, 1, 2

#: The actions' names, in order (``get_action_meanings``, as ALE games name theirs).
ACTION_MEANINGS = ("LEFT", "STAY", "RIGHT")

#: Pixel value of the ball and the paddle.
ON = 255


class CatchEnv(gym.Env):
    """A ball falls one row per step from a random top column; a one-cell paddle on the bottom row catches it.

    Observation: uint8 ``(1, rows, columns)``, 0 except the ball and the paddle (255). The ball starts on row 0;
    the paddle starts in column ``columns // 2`` and stays where it is between balls.

    Each step: the paddle moves by ``action - 1`` columns (clipped to the frame), then the ball falls one row.
    When it reaches the bottom row (``rows - 1`` steps after it appeared) the step pays ``+1`` if the paddle is
    in the ball's column and ``-1`` otherwise, and the next ball appears on row 0. Every other step pays 0.
    The episode terminates when ``n_balls`` balls have landed: ``n_balls * (rows - 1)`` steps.

    ``columns <= rows`` is required, so the paddle (``columns - 1`` moves at most) can reach every ball in its
    ``rows - 1`` steps: ``optimal_return = n_balls``. State for oracles and tests: ``ball_row``,
    ``ball_column``, ``paddle_column``, ``balls_landed``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(
        self,
        rows: int = 8,
        columns: int = 5,
        n_balls: int = 10,
        render_mode: str | None = None,
        render_scale: int = 32,
    ) -> None:
        if rows < 2 or not 1 <= columns <= rows:
            raise ValueError(
                f"Catch needs rows >= 2 and 1 <= columns <= rows (so every ball can be caught), "
                f"got rows={rows}, columns={columns}"
            )
        if n_balls < 1:
            raise ValueError(f"n_balls must be >= 1, got {n_balls}")
        check_render_args(render_mode, render_scale, self.metadata["render_modes"])
        self.rows, self.columns, self.n_balls = rows, columns, n_balls
        self.render_mode = render_mode
        self.render_scale = render_scale
        self.observation_space = image_box((1, rows, columns))
        self.action_space = spaces.Discrete(3)
        self.optimal_return = float(n_balls)
        self.ball_row = self.ball_column = self.paddle_column = self.balls_landed = 0

    def _drop_ball(self) -> None:
        self.ball_row = 0
        self.ball_column = int(self.np_random.integers(self.columns))

    def _observation(self) -> np.ndarray:
        frame = np.zeros(self.observation_space.shape, dtype=np.uint8)
        frame[0, self.ball_row, self.ball_column] = ON
        frame[0, self.rows - 1, self.paddle_column] = ON
        return frame

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Centre the paddle and drop the first ball."""
        super().reset(seed=seed)
        self.paddle_column = self.columns // 2
        self.balls_landed = 0
        self._drop_ball()
        return self._observation(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move the paddle, let the ball fall one row, and score it if it landed.

        Info: ``{"balls_landed": int}``.
        """
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (left), 1 (stay) or 2 (right), got {action!r}")
        self.paddle_column = min(max(self.paddle_column + int(action) - STAY, 0), self.columns - 1)
        self.ball_row += 1
        reward = 0.0
        if self.ball_row == self.rows - 1:
            reward = 1.0 if self.ball_column == self.paddle_column else -1.0
            self.balls_landed += 1
            if self.balls_landed < self.n_balls:
                self._drop_ball()
        terminated = self.balls_landed == self.n_balls
        return self._observation(), reward, terminated, False, {"balls_landed": self.balls_landed}

    def get_action_meanings(self) -> list[str]:
        """``["LEFT", "STAY", "RIGHT"]``: the actions' names, as ALE games give theirs (reports show them)."""
        return list(ACTION_MEANINGS)

    def render(self) -> np.ndarray | None:
        """``(rows * render_scale, columns * render_scale, 3)`` uint8 RGB image of the current frame."""
        if self.render_mode != "rgb_array":
            gym.logger.warn("render() needs render_mode='rgb_array'; returning None")
            return None
        return upscale_rgb(self._observation(), self.render_scale)
