"""Environment names: short ALE game names (``SpaceInvaders`` -> ``ALE/SpaceInvaders-v5``) and id resolution."""

from __future__ import annotations

import difflib
import functools

import ale_py
import gymnasium as gym
from ale_py.roms import get_all_rom_ids

gym.register_envs(ale_py)

#: Entry point of every ALE environment in Gymnasium's registry (v5 and the legacy v0/v4 ids).
ALE_ENTRY_POINT = "ale_py.env:AtariEnv"

#: How many close matches an unknown-name error lists.
MAX_SUGGESTIONS = 5


def _normalise(name: str) -> str:
    """Case- and separator-insensitive key: ``"Space_Invaders"`` and ``"spaceinvaders"`` match."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


@functools.cache
def ale_games() -> dict[str, str]:
    """Short name -> Gymnasium id of each installed ALE game, e.g. ``{"Pong": "ALE/Pong-v5", ...}``.

    The games are those of ale_py's ROM list that have a single-player ``ALE/<Game>-v5`` id in the registry.
    """
    v5_by_rom = {
        spec.kwargs.get("game"): env_id
        for env_id, spec in gym.registry.items()
        if env_id.startswith("ALE/") and env_id.endswith("-v5")
    }
    ids = (v5_by_rom[rom] for rom in get_all_rom_ids() if rom in v5_by_rom)
    return {env_id.removeprefix("ALE/").removesuffix("-v5"): env_id for env_id in ids}


@functools.cache
def _games_by_key() -> dict[str, str]:
    return {_normalise(short): env_id for short, env_id in ale_games().items()}


def close_matches(name: str) -> list[str]:
    """Up to ``MAX_SUGGESTIONS`` short names or registered ids that look like ``name`` (difflib, case-insensitive)."""
    candidates = {candidate.lower(): candidate for candidate in [*ale_games(), *gym.registry]}
    found = difflib.get_close_matches(name.lower(), list(candidates), n=MAX_SUGGESTIONS, cutoff=0.6)
    return [candidates[key] for key in found]


def resolve_id(name: str) -> str:
    """Gymnasium id for ``name``.

    A registered id (``CartPole-v1``, ``ALE/Pong-v5``, ``PongNoFrameskip-v4``, ``spikerl/Catch-v0``) is returned
    unchanged; an ALE game's short name (``SpaceInvaders``, also ``space_invaders``) maps to ``ALE/<Game>-v5``.

    Raises:
        ValueError: unknown name; the message lists close matches.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"expected an environment name such as 'SpaceInvaders' or 'CartPole-v1', got {name!r}")
    if name in gym.registry:
        return name
    env_id = _games_by_key().get(_normalise(name))
    if env_id is not None:
        return env_id
    matches = close_matches(name)
    hint = f"close matches: {', '.join(matches)}" if matches else "no close match"
    raise ValueError(
        f"unknown environment {name!r} ({hint}); expected a short ALE game name such as 'SpaceInvaders' "
        "(see envs.ale_games()) or a registered Gymnasium id such as 'CartPole-v1' or 'ALE/Pong-v5'"
    )


def is_ale_id(env_id: str) -> bool:
    """Whether a registered id builds an ALE ``AtariEnv``."""
    return str(gym.spec(env_id).entry_point) == ALE_ENTRY_POINT
