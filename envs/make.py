"""``envs.make`` and ``envs.make_vec``: one entry point for short names, ALE games and any Gymnasium id."""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
from stable_baselines3.common.atari_wrappers import EpisodicLifeEnv
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from envs.atari import make_atari
from envs.names import is_ale_id, resolve_id
from envs.wrappers import LifeLossPenalty
from spikerl.validation import check_number


def make(name: str, **kwargs: Any) -> gym.Env:
    """Create an environment by short name or Gymnasium id.

    ALE games (short names such as ``"SpaceInvaders"`` or ids such as ``"ALE/Pong-v5"``) go through
    :func:`envs.make_atari` and its preprocessing pipeline (uint8 ``(1, 84, 84)`` frames by default; pass
    ``preprocessing=False`` for the raw env); every other id goes to ``gym.make`` unchanged.

    Args:
        name: short ALE name or registered id (``"CartPole-v1"``, ``"spikerl/Catch-v0"``, ...).
        **kwargs: keyword arguments of :func:`envs.make_atari` for ALE games, of ``gym.make`` otherwise.

    Raises:
        ValueError: unknown name (with close matches), or invalid preprocessing arguments.
    """
    env_id = resolve_id(name)
    if is_ale_id(env_id):
        return make_atari(env_id, **kwargs)
    return gym.make(env_id, **kwargs)


def make_vec(
    name: str,
    n_envs: int = 1,
    seed: int | None = None,
    vec_env_cls: type[DummyVecEnv | SubprocVecEnv] | None = None,
    *,
    vec_env_kwargs: dict[str, Any] | None = None,
    terminal_on_life_loss: bool = False,
    life_loss_penalty: float = 0.0,
    **kwargs: Any,
) -> VecEnv:
    """``n_envs`` copies of ``make(name, **kwargs)``, each in a ``Monitor``, as an SB3 ``VecEnv``.

    Built on SB3's ``make_vec_env``: env ``i`` is seeded with ``seed + i`` at the first reset.
    ``render_mode`` defaults to ``"rgb_array"``, as in ``make_vec_env`` for string ids.

    Args:
        name: as for :func:`make`; resolved here, so an unknown name fails before any worker starts.
        n_envs: number of environments (>= 1).
        seed: base seed, or ``None``.
        vec_env_cls: ``DummyVecEnv`` (default) or ``SubprocVecEnv`` (needs the ``if __name__ == "__main__":``
            guard in scripts).
        vec_env_kwargs: passed to the ``VecEnv`` class, e.g. ``{"start_method": "fork"}``.
        terminal_on_life_loss: ALE games only: a lost life ends the episode for the learner (SB3's
            ``EpisodicLifeEnv``, outside the ``Monitor``, so episode statistics stay whole games; the game itself
            is reset only when it is over). For training; evaluation plays full games.
        life_loss_penalty: ALE games only: > 0 subtracts this from the reward of each step that loses a life
            (:class:`envs.wrappers.LifeLossPenalty`, outside the ``Monitor``: episode returns stay the game's score).
            For training.
        **kwargs: passed to :func:`make` for each copy.

    Returns:
        A ``VecEnv`` with ``num_envs == n_envs``; observations are batched as ``(n_envs, *obs_shape)``.
    """
    if not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    env_id = resolve_id(name)
    for option, value in (("terminal_on_life_loss", terminal_on_life_loss), ("life_loss_penalty", life_loss_penalty)):
        if value and not is_ale_id(env_id):
            raise ValueError(f"{option} needs an ALE game (one with lives), got {env_id!r}")
    if life_loss_penalty:
        check_number("life_loss_penalty", life_loss_penalty, low=0.0, low_open=True)
    kwargs.setdefault("render_mode", "rgb_array")
    return make_vec_env(
        functools.partial(make, env_id),
        n_envs=n_envs,
        seed=seed,
        vec_env_cls=vec_env_cls,
        vec_env_kwargs=vec_env_kwargs,
        env_kwargs=kwargs,
        wrapper_class=functools.partial(life_loss_wrappers, terminal=terminal_on_life_loss,
                                        penalty=life_loss_penalty),
    )


def life_loss_wrappers(env: gym.Env, terminal: bool, penalty: float) -> gym.Env:
    """``env`` (a ``Monitor``) wrapped for training: :class:`~envs.wrappers.LifeLossPenalty` when ``penalty``,
    then SB3's ``EpisodicLifeEnv`` when ``terminal`` (so a penalised step is also the learner's episode end)."""
    if penalty:
        env = LifeLossPenalty(env, penalty)
    return EpisodicLifeEnv(env) if terminal else env
