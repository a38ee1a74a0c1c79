"""Crop: cut fixed margins (in pixels) off every frame, e.g. the score area of an Atari screen."""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from envs.wrappers._image import image_box, require_channel_last, require_image_space


class CropMargins(NamedTuple):
    """Pixels removed from each side of a frame (all >= 0)."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0


class Crop(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Keep rows ``[top, H - bottom)`` and columns ``[left, W - right)`` of each frame.

    Input: uint8 frames of shape ``(H, W)`` or channel-last ``(H, W, C)`` (the layout Gymnasium and the ALE emit).
    Output: uint8 frames of shape ``(H - top - bottom, W - left - right[, C])``, a fresh contiguous array
    (never a view into the wrapped env's buffer).

    Raises:
        ValueError: a negative margin, margins that leave no pixel, or a non-image observation space.
    """

    def __init__(self, env: gym.Env, top: int = 0, bottom: int = 0, left: int = 0, right: int = 0) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, top=top, bottom=bottom, left=left, right=right)
        gym.ObservationWrapper.__init__(self, env)
        space = require_image_space(env.observation_space, "Crop", expected="(H, W) or (H, W, C)")
        require_channel_last(space, "Crop")
        margins = CropMargins(top, bottom, left, right)
        if any(m < 0 for m in margins):
            raise ValueError(f"Crop margins must be >= 0 pixels, got {margins}")
        height, width = space.shape[:2]
        if top + bottom >= height or left + right >= width:
            raise ValueError(
                f"Crop {margins} is larger than the frame: frame is {height}x{width} (H x W), expected "
                f"top + bottom < {height} and left + right < {width}, got {top + bottom} and {left + right}"
            )
        self.margins = margins
        self._rows = slice(top, height - bottom)
        self._cols = slice(left, width - right)
        self.observation_space = image_box((height - top - bottom, width - left - right, *space.shape[2:]))

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """Crop one frame ``(H, W[, C]) -> (H', W'[, C])``."""
        return np.ascontiguousarray(observation[self._rows, self._cols])


def crop_margins(value: Any) -> CropMargins:
    """Turn ``(top, bottom, left, right)`` or a :class:`CropMargins` into :class:`CropMargins`, or raise."""
    if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != len(CropMargins._fields):
        raise ValueError(f"crop must be (top, bottom, left, right) in pixels, got {value!r}")
    if not all(isinstance(m, (int, np.integer)) for m in value):
        raise ValueError(f"crop margins must be integers (pixels), got {value!r}")
    return CropMargins(*(int(m) for m in value))
