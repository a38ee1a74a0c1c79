"""The standard Atari preprocessing of deep RL agents, through SB3's own wrappers: :func:`make_standard_atari`.

SB3's ``make_atari_env`` (``AtariWrapper``: up to 30 no-op starts, max-pooled frame skip 4, 84x84 grayscale
``WarpFrame``, ``FireResetEnv`` where the game has FIRE) and ``VecFrameStack(4)``, on ``ALE/<Game>-v5`` with the
emulator's own frame skip turned off (``frameskip=1``), so frames are skipped once, 4 per agent step, and ALE v5's
sticky actions (``repeat_action_probability=0.25``) apply on every emulator frame. Observations are uint8
``(84, 84, 4)``, channel last (SB3's policies transpose them).

Training and evaluation differ only where the deep RL literature makes them differ:

* training (``training=True``): a lost life ends the episode for the learner (``terminal_on_life_loss``) and
  rewards are clipped to their sign (``clip_reward``), as in rl-baselines3-zoo;
* evaluation: full games (all lives) with the game's own score, capped at ``max_frames`` emulator frames.
  ``Monitor`` sits below the ``AtariWrapper``, so SB3's ``evaluate_policy`` reports the unclipped score of the
  whole game either way.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecFrameStack

from envs.names import is_ale_id, resolve_id

#: Frames stacked into one observation.
FRAME_STACK = 4

#: Emulator frames per evaluation episode at most: 5 minutes of play at 60 frames/s, the evaluation cap of
#: Mnih et al. 2015. It keeps a policy that never restarts play (in Breakout, any policy that never presses
#: FIRE after losing a ball) from running each episode to ALE v5's 108000-frame limit.
EVAL_MAX_FRAMES = 18_000


def make_standard_atari(name: str, n_envs: int, seed: int | None, training: bool,
                        vec_env_cls: type[DummyVecEnv | SubprocVecEnv] | None = None,
                        max_frames: int | None = EVAL_MAX_FRAMES, **ale_kwargs: Any) -> VecEnv:
    """``n_envs`` copies of an ALE game with the standard deep-RL preprocessing (module docstring).

    Args:
        name: short ALE name (``"SpaceInvaders"``) or a ``-v5`` / ``NoFrameskip-v4`` id.
        n_envs: number of envs; env ``i`` is seeded with ``seed + i``.
        seed: base seed, or ``None``.
        training: life loss ends the episode and rewards are clipped (training), or not (evaluation).
        vec_env_cls: ``DummyVecEnv`` (default) or ``SubprocVecEnv``.
        max_frames: evaluation episodes end after this many emulator frames (``None``: ALE's own limit);
            training episodes keep ALE's limit.
        **ale_kwargs: passed to ``gym.make`` (e.g. ``render_mode``).

    Returns:
        A ``VecFrameStack`` of uint8 ``(84, 84, 4)`` observations.

    Raises:
        ValueError: not an ALE game, ``n_envs < 1`` or ``max_frames < 1``.
    """
    env_id = resolve_id(name)
    if not is_ale_id(env_id):
        raise ValueError(f"the standard Atari preprocessing needs an ALE game, got {name!r} ({env_id})")
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1):
        raise ValueError(f"max_frames must be a positive integer or None, got {max_frames!r}")
    if env_id.endswith("-v5"):
        ale_kwargs.setdefault("frameskip", 1)  # AtariWrapper skips 4 frames itself
    if not training and max_frames is not None:
        ale_kwargs.setdefault("max_num_frames_per_episode", max_frames)
    wrapper_kwargs = {} if training else {"terminal_on_life_loss": False, "clip_reward": False}
    venv = make_atari_env(env_id, n_envs=n_envs, seed=seed, wrapper_kwargs=wrapper_kwargs, env_kwargs=ale_kwargs,
                          vec_env_cls=vec_env_cls)
    return VecFrameStack(venv, FRAME_STACK)
