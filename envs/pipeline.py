"""The preprocessing pipeline for pixel environments, as a chain of Gymnasium wrappers.

Order (each step optional)::

    crop -> grayscale -> resize -> ChannelFirst -> frame difference -> binarise

Crop comes first so that the resize spends its pixels on the play field; the frame difference is taken on the
small grayscale frame (cheap, and the motion map has the final resolution); binarisation comes last so that it
thresholds the motion map when frame differencing is on. Output: uint8 ``(C, H, W)`` in ``[0, 255]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
from gymnasium.wrappers import GrayscaleObservation, ResizeObservation

from envs.wrappers import Binarize, ChannelFirst, Crop, FrameDifference
from envs.wrappers._image import require_image_space
from envs.wrappers.crop import crop_margins


def _resize_shape(resize: Sequence[int]) -> tuple[int, int]:
    """Validate ``resize`` as ``(height, width)`` in pixels, both positive integers."""
    try:
        height, width = resize
    except (TypeError, ValueError) as error:
        raise ValueError(f"resize must be (height, width) in pixels, got {resize!r}") from error
    if not all(isinstance(n, int) and n > 0 for n in (height, width)):
        raise ValueError(f"resize must be (height, width) with positive integer sizes, got {resize!r}")
    return height, width


def preprocess(
    env: gym.Env,
    *,
    crop: Sequence[int] | None = None,
    grayscale: bool = True,
    resize: Sequence[int] | None = None,
    frame_difference: bool = False,
    include_frame: bool = False,
    binarize: int | None = None,
) -> gym.Env:
    """Wrap a pixel environment so that it emits uint8 ``(C, H, W)`` frames for a spiking network.

    Args:
        env: environment with uint8 image observations ``(H, W)`` or ``(H, W, C)``.
        crop: ``(top, bottom, left, right)`` pixels to cut off the raw frame, or ``None`` to keep it whole.
        grayscale: convert RGB ``(H, W, 3)`` frames to one luminance channel (Gymnasium's
            ``GrayscaleObservation``); frames that are already single-channel are left as they are.
        resize: ``(height, width)`` of the output in pixels (Gymnasium's ``ResizeObservation``: cv2,
            ``INTER_AREA``), or ``None`` to keep the cropped size.
        frame_difference: replace frames with ``|x_t - x_{t-1}|`` (zeros after reset), see
            :class:`~envs.wrappers.FrameDifference`.
        include_frame: with ``frame_difference``, stack ``[x_t, |x_t - x_{t-1}|]`` on the channel axis.
        binarize: threshold in ``[0, 254]``; pixels above it become 255, others 0. ``None`` keeps intensities.

    Returns:
        The wrapped env; its observation space is uint8 ``(C, H, W)``, ``C = 1`` for grayscale (2 with
        ``include_frame``), ``C = 3`` for colour (6 with ``include_frame``).

    Raises:
        ValueError: non-image observations, a crop larger than the frame, a non-positive resize, a bad threshold,
            or ``include_frame`` without ``frame_difference``.
    """
    require_image_space(env.observation_space, "preprocess", expected="(H, W) or (H, W, C)")
    if include_frame and not frame_difference:
        raise ValueError("include_frame=True stacks the frame with its difference; it needs frame_difference=True")
    target = _resize_shape(resize) if resize is not None else None
    if crop is not None:
        env = Crop(env, *crop_margins(crop))
    shape = env.observation_space.shape
    if grayscale and len(shape) == 3 and shape[2] == 3:
        env = GrayscaleObservation(env, keep_dim=False)
    if target is not None:
        env = ResizeObservation(env, target)
    env = ChannelFirst(env)
    if frame_difference:
        env = FrameDifference(env, include_frame=include_frame)
    if binarize is not None:
        env = Binarize(env, threshold=binarize)
    return env
