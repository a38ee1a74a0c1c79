"""FrameDifference: motion as the absolute difference of consecutive (preprocessed) frames."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.wrappers._image import image_box, require_image_space


def absolute_difference(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """``|current - previous|`` for uint8 arrays, computed without wrap-around; same shape and dtype."""
    return np.maximum(current, previous) - np.minimum(current, previous)


class FrameDifference(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Replace each frame ``x_t`` with the motion map ``d_t = |x_t - x_{t-1}|`` (uint8, same shape).

    First frame of an episode: ``d_0 = 0`` everywhere (no motion has been seen yet, so a spiking encoder
    emits no spikes rather than a burst for the whole static scene). The previous frame is forgotten on reset.

    With ``include_frame=True`` the output stacks the frame and its motion map on the channel axis:
    ``(C, H, W) -> (2C, H, W)`` as ``[x_t, d_t]``; a 2-D ``(H, W)`` input gives ``(2, H, W)``. Three-dimensional
    inputs are taken as channel-first (apply after :class:`~envs.wrappers.channel_first.ChannelFirst`).
    """

    def __init__(self, env: gym.Env, include_frame: bool = False) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, include_frame=include_frame)
        gym.ObservationWrapper.__init__(self, env)
        space = require_image_space(env.observation_space, "FrameDifference", expected="(H, W) or (C, H, W)")
        self.include_frame = include_frame
        self._previous: np.ndarray | None = None
        if include_frame:
            frame_shape = (1, *space.shape) if len(space.shape) == 2 else space.shape
            self.observation_space = image_box((2 * frame_shape[0], *frame_shape[1:]))

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """Forget the previous episode's last frame, then reset; the first motion map is all zeros."""
        self._previous = None
        return super().reset(**kwargs)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """Motion map ``|x_t - x_{t-1}|`` (or ``[x_t, d_t]`` stacked), updating the stored previous frame."""
        previous = observation if self._previous is None else self._previous
        difference = absolute_difference(observation, previous)
        self._previous = observation.copy()
        if not self.include_frame:
            return difference
        if observation.ndim == 2:
            return np.stack([observation, difference])
        return np.concatenate([observation, difference], axis=0)
