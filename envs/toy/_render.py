"""Rendering helper shared by the toy environments."""

from __future__ import annotations

import numpy as np


def upscale_rgb(frame: np.ndarray, scale: int) -> np.ndarray:
    """``(1, H, W)`` uint8 frame -> ``(H * scale, W * scale, 3)`` uint8 RGB image (nearest neighbour, gray)."""
    image = np.repeat(np.repeat(frame[0], scale, axis=0), scale, axis=1)
    return np.repeat(image[:, :, None], 3, axis=2)


def check_render_args(render_mode: str | None, render_scale: int, modes: list[str]) -> None:
    """Raise ``ValueError`` for an unsupported render mode or a non-positive scale."""
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be one of {modes} or None, got {render_mode!r}")
    if not isinstance(render_scale, int) or render_scale < 1:
        raise ValueError(f"render_scale must be a positive integer (screen pixels per cell), got {render_scale!r}")
