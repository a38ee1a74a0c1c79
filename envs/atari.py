"""Atari (ALE) environments with the default preprocessing pipeline for spiking agents.

Default pipeline of :func:`make_atari` (each step can be changed or turned off by a keyword argument):

1. ``ALE/<Game>-v5`` with ``obs_type="grayscale"``: the emulator gives a ``(210, 160)`` luminance frame, cheaper
   than RGB followed by a conversion. v5 protocol (Machado et al., 2018): 4 emulator frames per step, sticky
   actions with ``repeat_action_probability=0.25``, minimal action set, at most 108000 frames per episode.
2. Max-pooled frame skip (SB3's ``MaxAndSkipEnv``, skip 4) only where the emulator does not skip already
   (``NoFrameskip-v4`` ids, or v5 with ``frameskip=1``), so frames are never skipped twice. SB3's
   ``AtariWrapper`` is not used: it skips 4 frames itself and adds DQN-specific choices (reward clipping,
   episodic life) that would change the reported score's protocol.
3. Crop of the score area for the games in :data:`SCORE_CROPS`; other games are not cropped.
4. Resize to ``(84, 84)`` with cv2 ``INTER_AREA``.
5. Channel-first: the observation is uint8 ``(1, 84, 84)`` in ``[0, 255]``.
6. Optional: frame difference (motion), stacking ``[frame, difference]``, binarisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import gymnasium as gym
from stable_baselines3.common.atari_wrappers import MaxAndSkipEnv

from envs.names import is_ale_id, resolve_id
from envs.pipeline import preprocess
from envs.wrappers import CropMargins

#: Margins ``(top, bottom, left, right)`` in pixels of the 210x160 screen that hold the score, lives, walls or
#: ground rather than the play field, keyed by ALE ROM name. Read off the games' frames.
SCORE_CROPS: dict[str, CropMargins] = {
    "space_invaders": CropMargins(top=20, bottom=15),  # score rows 10-19; ground and lives from row 195
    "breakout": CropMargins(top=32, bottom=15, left=8, right=8),  # score and top wall above row 32; side walls
    "pong": CropMargins(top=34, bottom=16),  # score and top wall above row 34; bottom wall from row 194
}

#: Frames per step of the max-pooling skip added when the emulator itself does not skip.
DEFAULT_MAX_POOL_SKIP = 4

#: Default output size ``(height, width)`` in pixels.
DEFAULT_RESIZE = (84, 84)


def emulator_frameskip(env: gym.Env) -> int | tuple[int, int]:
    """Frames the ALE emulator advances per ``step`` of the unwrapped env (a ``(low, high)`` pair if stochastic)."""
    return env.unwrapped._ezpickle_kwargs["frameskip"]


def _max_pool_wrapper(env: gym.Env, max_pool_skip: int | None) -> gym.Env:
    """Add ``MaxAndSkipEnv`` where the emulator does not skip frames; refuse to skip twice."""
    frameskip = emulator_frameskip(env)
    if max_pool_skip is None:
        max_pool_skip = DEFAULT_MAX_POOL_SKIP if frameskip == 1 else 1
    if not isinstance(max_pool_skip, int) or max_pool_skip < 1:
        raise ValueError(f"max_pool_skip must be a positive integer (frames per step), got {max_pool_skip!r}")
    if max_pool_skip > 1 and frameskip != 1:
        raise ValueError(
            f"max_pool_skip={max_pool_skip} would skip frames twice: the emulator already skips {frameskip} frames "
            "per step; pass frameskip=1 (v5 ids) or use a NoFrameskip-v4 id, or leave max_pool_skip=None"
        )
    return MaxAndSkipEnv(env, skip=max_pool_skip) if max_pool_skip > 1 else env


def make_atari(
    name: str,
    *,
    preprocessing: bool = True,
    crop: Sequence[int] | Literal["auto"] | None = "auto",
    grayscale: bool = True,
    resize: Sequence[int] | None = DEFAULT_RESIZE,
    max_pool_skip: int | None = None,
    frame_difference: bool = False,
    include_frame: bool = False,
    binarize: int | None = None,
    **ale_kwargs: Any,
) -> gym.Env:
    """Build an ALE game with the pipeline described in this module's docstring.

    Args:
        name: short game name (``"SpaceInvaders"``) or an ALE id (``"ALE/Pong-v5"``, ``"PongNoFrameskip-v4"``).
        preprocessing: ``False`` returns the plain ``gym.make`` env (``ale_kwargs`` still apply).
        crop: ``"auto"`` (the game's entry in :data:`SCORE_CROPS`, else none), ``(top, bottom, left, right)``
            in pixels, or ``None``.
        grayscale: ``True`` asks the ALE for ``obs_type="grayscale"``; ``False`` keeps RGB (3 channels).
        resize: output ``(height, width)`` in pixels, or ``None`` to keep the cropped size.
        max_pool_skip: frames per step of SB3's ``MaxAndSkipEnv``; ``None`` means 4 when the emulator does not
            skip (``frameskip == 1``) and off otherwise.
        frame_difference, include_frame, binarize: see :func:`envs.preprocess`.
        **ale_kwargs: passed to ``gym.make`` (``frameskip``, ``repeat_action_probability``,
            ``full_action_space``, ``render_mode``, ``obs_type``, ...).

    Returns:
        The env; with the defaults its observations are uint8 ``(1, 84, 84)``.

    Raises:
        ValueError: ``name`` is not an ALE game, or a preprocessing argument is invalid (see
            :func:`envs.preprocess`).
    """
    env_id = resolve_id(name)
    if not is_ale_id(env_id):
        raise ValueError(f"make_atari expects an ALE game such as 'SpaceInvaders' or 'ALE/Pong-v5', got {name!r}")
    if not preprocessing:
        return gym.make(env_id, **ale_kwargs)
    ale_kwargs.setdefault("obs_type", "grayscale" if grayscale else "rgb")
    env = _max_pool_wrapper(gym.make(env_id, **ale_kwargs), max_pool_skip)
    if crop == "auto":
        crop = SCORE_CROPS.get(env.unwrapped._ezpickle_kwargs["game"])
    return preprocess(
        env,
        crop=crop,
        grayscale=grayscale,
        resize=resize,
        frame_difference=frame_difference,
        include_frame=include_frame,
        binarize=binarize,
    )
