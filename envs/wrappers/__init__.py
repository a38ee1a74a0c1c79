"""Gymnasium wrappers: observation wrappers that turn frames into input for a spiking network, and
:class:`LifeLossPenalty` (reward shaping for training).

Layout convention: wrappers that change pixel geometry (:class:`Crop`, and Gymnasium's ``GrayscaleObservation``
and ``ResizeObservation`` which :func:`envs.preprocess` reuses) act on frames as Gymnasium emits them,
``(H, W)`` or ``(H, W, C)``; :class:`ChannelFirst` then gives the package's layout ``(C, H, W)``, on which
:class:`FrameDifference` and :class:`Binarize` act. All observations are uint8 in ``[0, 255]``.
"""

from envs.wrappers.binarize import Binarize
from envs.wrappers.channel_first import ChannelFirst
from envs.wrappers.crop import Crop, CropMargins
from envs.wrappers.frame_difference import FrameDifference, absolute_difference
from envs.wrappers.life_loss import LifeLossPenalty

__all__ = ["Binarize", "ChannelFirst", "Crop", "CropMargins", "FrameDifference", "LifeLossPenalty",
           "absolute_difference"]
