"""Checks shared by the image wrappers: is this observation space a uint8 image, and in which layout?"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

#: Largest channel count accepted as the last axis of a channel-last ``(H, W, C)`` frame.
MAX_CHANNELS = 4


def require_image_space(space: spaces.Space, wrapper: str, *, expected: str) -> spaces.Box:
    """Return ``space`` as a uint8 ``Box`` of rank 2 or 3 with bounds ``[0, 255]``, or raise ``ValueError``.

    Args:
        space: the observation space the wrapper is about to transform.
        wrapper: wrapper name, used in the error message.
        expected: the layout the wrapper expects, e.g. ``"(H, W) or (H, W, C)"``, used in the error message.
    """
    if not isinstance(space, spaces.Box) or len(space.shape) not in (2, 3):
        raise ValueError(f"{wrapper} expects an image observation space: uint8 Box of shape {expected}, got {space}")
    if space.dtype != np.uint8 or np.any(space.low != 0) or np.any(space.high != 255):
        raise ValueError(
            f"{wrapper} expects an image observation space with dtype uint8 and bounds [0, 255], "
            f"got dtype {space.dtype} and bounds [{space.low.min()}, {space.high.max()}]"
        )
    return space


def require_channel_last(space: spaces.Box, wrapper: str) -> None:
    """Raise ``ValueError`` unless ``space`` is ``(H, W)`` or channel-last ``(H, W, C)`` with ``C <= 4``.

    Frames from Gymnasium and the ALE come in this layout; apply pixel-geometry wrappers (crop, resize)
    before :class:`~envs.wrappers.channel_first.ChannelFirst`.
    """
    if len(space.shape) == 3 and space.shape[-1] > MAX_CHANNELS:
        raise ValueError(
            f"{wrapper} expects a frame of shape (H, W) or channel-last (H, W, C) with C <= {MAX_CHANNELS}, "
            f"got shape {space.shape}; apply {wrapper} before ChannelFirst"
        )


def image_box(shape: tuple[int, ...]) -> spaces.Box:
    """A uint8 image space of the given shape with bounds ``[0, 255]``."""
    return spaces.Box(low=0, high=255, shape=shape, dtype=np.uint8)
