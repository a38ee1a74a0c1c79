"""ChannelFirst: put frames in the package's layout, ``(C, H, W)``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from envs.wrappers._image import image_box, require_channel_last, require_image_space


class ChannelFirst(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Turn ``(H, W)`` frames into ``(1, H, W)`` and channel-last ``(H, W, C)`` frames into ``(C, H, W)``.

    Every image observation produced by :mod:`envs` is uint8 ``(C, H, W)`` (``C = 1`` for grayscale): the layout
    SB3 recognises as a channel-first image and the one a spiking encoder flattens as ``[C, H, W]``.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        space = require_image_space(env.observation_space, "ChannelFirst", expected="(H, W) or (H, W, C)")
        require_channel_last(space, "ChannelFirst")
        self._two_dimensional = len(space.shape) == 2
        height, width = space.shape[:2]
        channels = 1 if self._two_dimensional else space.shape[2]
        self.observation_space = image_box((channels, height, width))

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """``(H, W) -> (1, H, W)`` or ``(H, W, C) -> (C, H, W)``, as a contiguous copy."""
        if self._two_dimensional:
            return np.ascontiguousarray(observation[None])
        return np.ascontiguousarray(observation.transpose(2, 0, 1))
