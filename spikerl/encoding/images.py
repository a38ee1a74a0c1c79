"""Images -> intensities in [0, 1], the input of the rate encoders."""

from __future__ import annotations

import math

import torch


def images_to_unit(images: torch.Tensor, n_inputs: int) -> torch.Tensor:
    """Images ``[B, ...]`` (uint8 0..255, or float in [0, 1]) -> float ``[B, n_inputs]`` in [0, 1].

    uint8 values are divided by 255 (in torch's default dtype); float images are checked to lie in [0, 1] and
    only reshaped. Raises ``TypeError`` for other dtypes, ``ValueError`` for a shape without ``n_inputs`` values
    per image or float values outside [0, 1].
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() < 2 or math.prod(images.shape[1:]) != n_inputs:
        raise ValueError(f"expected images of shape [B, ...] with {n_inputs} values per image, "
                         f"got {list(images.shape)}")
    x = images.reshape(images.shape[0], n_inputs)
    if x.dtype == torch.uint8:
        return x.to(torch.get_default_dtype()) / 255.0
    if not x.is_floating_point():
        raise TypeError(f"images must be uint8 (0..255) or float (0..1), got {x.dtype}")
    if bool(((x < 0) | (x > 1)).any()):
        raise ValueError("float images must lie in [0, 1]; pass uint8 images for 0..255 values")
    return x
