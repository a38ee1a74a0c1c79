"""Tiny, fast environments under the ``spikerl/`` namespace, for tests and demos of reward-modulated learning."""

from __future__ import annotations

import gymnasium as gym

from envs.toy.catch import CatchEnv
from envs.toy.pattern_action import PatternActionEnv, band_patterns

#: Registered id -> entry point.
TOY_ENVS = {
    "spikerl/PatternAction-v0": "envs.toy.pattern_action:PatternActionEnv",
    "spikerl/Catch-v0": "envs.toy.catch:CatchEnv",
}


def register_toy_envs() -> None:
    """Register :data:`TOY_ENVS` with Gymnasium (idempotent)."""
    for env_id, entry_point in TOY_ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


__all__ = ["TOY_ENVS", "CatchEnv", "PatternActionEnv", "band_patterns", "register_toy_envs"]
