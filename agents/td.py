"""The temporal-difference (TD) error that modulates the actor-critic's plasticity."""

from __future__ import annotations

import torch


def td_error(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor, terminated: torch.Tensor,
             gamma: float) -> torch.Tensor:
    """``delta_t = r_t + gamma * V(s_t+1) * (1 - terminated_t) - V(s_t)`` per environment, all ``[B]``.

    ``terminated``: bool ``[B]``, the episode ended in a terminal state (its value is 0 by definition); an episode
    cut by a time limit (truncated) is not terminated: pass the value of its last observation as ``next_values``
    and ``terminated = False``, so it still bootstraps. ``rewards`` and values are in reward units.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    keep = (~terminated.to(torch.bool)).to(values.dtype)
    return rewards.to(values.dtype) + gamma * next_values * keep - values
