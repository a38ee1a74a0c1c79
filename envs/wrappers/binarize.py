"""Binarize: threshold pixel intensities to on/off, a direct spike/no-spike input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from envs.wrappers._image import require_image_space

#: Value of an "on" pixel; kept at 255 so the space stays a standard uint8 image in [0, 255].
ON_VALUE = 255


class Binarize(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Map each pixel to ``255 if x > threshold else 0`` (uint8, shape unchanged).

    Args:
        threshold: intensity in ``[0, 254]``; pixels strictly above it are on.
    """

    def __init__(self, env: gym.Env, threshold: int = 0) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, threshold=threshold)
        gym.ObservationWrapper.__init__(self, env)
        require_image_space(env.observation_space, "Binarize", expected="(H, W) or (C, H, W)")
        if not isinstance(threshold, (int, np.integer)) or not 0 <= threshold < ON_VALUE:
            raise ValueError(f"Binarize threshold must be an integer in [0, {ON_VALUE - 1}], got {threshold!r}")
        self.threshold = int(threshold)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """``x -> ON_VALUE * (x > threshold)``, uint8."""
        return (observation > self.threshold).astype(np.uint8) * np.uint8(ON_VALUE)
