"""Reward baseline: a running estimate of the expected reward, for reward prediction errors.

A reward-modulated rule with a baseline learns from ``r - b`` instead of ``r``. The baseline is an exponential
moving average over the rewards it has seen, shared by all samples of the batch::

    r_eff_b = r_b - b                          (for every sample b of the batch, with the current b)
    b      <- b + (mean_b(r_b) - b) / window   (after each use)

It starts at ``b = 0``. ``window = 1`` makes ``b`` the last (batch-mean) reward; a larger window averages over
roughly the last ``window`` rewards. "Each use" is every step that receives a reward (every step of a run
given ``reward=``, and every :meth:`Network.apply_reward <spikerl.network.Network.apply_reward>`); steps
without a reward leave ``b`` unchanged.

The value lives in a registered buffer: it follows ``.to(device)``, is saved in ``state_dict`` and survives
``Network.reset()`` (it is learned, like the weights, not per-episode state). Call :meth:`RewardBaseline.reset`
to forget it.
"""

from __future__ import annotations

import torch
from torch import nn


class RewardBaseline(nn.Module):
    """Exponential moving average of the batch-mean reward; ``baseline(r)`` returns ``r - b`` and updates ``b``.

    Args:
        window: number of rewards the average spans (``>= 1``); the update weight is ``1 / window``.
    """

    def __init__(self, window: int) -> None:
        super().__init__()
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"baseline window must be an int >= 1 (number of rewards), got {window!r}")
        self.window = window
        self.register_buffer("value", torch.zeros(()))

    def forward(self, reward: torch.Tensor) -> torch.Tensor:
        """Rewards ``[B]`` -> effective rewards ``[B]`` (``r - b``); then moves ``b`` towards ``mean(r)``."""
        b = self.value.to(reward.dtype)
        effective = reward - b
        # Reassign rather than update in place: a state_dict taken earlier keeps its value.
        self.value = (b + (reward.mean() - b) / self.window).to(self.value.dtype)
        return effective

    def reset(self) -> None:
        """Forget the running estimate (``b = 0``)."""
        self.value = torch.zeros_like(self.value)

    def extra_repr(self) -> str:
        return f"window={self.window}"
