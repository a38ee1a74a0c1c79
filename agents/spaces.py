"""Observation and action spaces the spiking agents accept, described as JSON (for code-free checkpoints)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


def check_observation_space(space: spaces.Space) -> None:
    """Accept ``Box`` spaces with finite bounds (images, bounded vectors); raise a clear error otherwise."""
    if not isinstance(space, spaces.Box):
        raise ValueError(f"spiking agents need a Box observation space (an image or a bounded vector), "
                         f"got {space}")
    if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
        raise ValueError(f"observation space {space} has infinite bounds; spike encoders need finite low/high "
                         "(wrap the env with a normalising/clipping wrapper, or use image observations)")
    if (space.high <= space.low).any():
        raise ValueError(f"observation space {space} has high <= low in some dimension")


def check_action_space(space: spaces.Space) -> None:
    """Accept ``Discrete`` action spaces only."""
    if not isinstance(space, spaces.Discrete):
        raise ValueError(f"spiking agents decode spikes into one of n discrete actions; got action space {space}. "
                         "Continuous (Box) and multi-discrete actions are not supported")


def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """JSON-able description of a Box or Discrete space."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "low": space.low.tolist(), "high": space.high.tolist(),
                "shape": list(space.shape), "dtype": str(space.dtype)}
    raise ValueError(f"cannot describe space {space}")


def space_from_json(data: dict[str, Any]) -> spaces.Space:
    """Inverse of :func:`space_to_json`."""
    if data["type"] == "Discrete":
        return spaces.Discrete(data["n"], start=data["start"])
    if data["type"] == "Box":
        dtype = np.dtype(data["dtype"])
        return spaces.Box(np.asarray(data["low"], dtype=dtype), np.asarray(data["high"], dtype=dtype),
                          shape=tuple(data["shape"]), dtype=dtype)
    raise ValueError(f"unknown space type {data['type']!r}")
