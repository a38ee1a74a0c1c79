"""``describe_protocol``: the evaluation protocol of an environment, as a JSON-able dict, for score reports."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
from ale_py.env import AtariEnv
from stable_baselines3.common.atari_wrappers import MaxAndSkipEnv
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper

#: Wrappers that keep records or enforce the API but leave observations, rewards and timing unchanged.
BOOKKEEPING_WRAPPERS = frozenset(
    {"Monitor", "OrderEnforcing", "PassiveEnvChecker", "RecordEpisodeStatistics", "TimeLimit", "EnvCompatibility"}
)


def _wrapper_chain(env: gym.Env) -> list[gym.Env]:
    """Wrappers from the innermost (next to the base env) to the outermost."""
    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append(env)
        env = env.env
    return chain[::-1]


def _step_record(wrapper: gym.Wrapper) -> dict[str, Any]:
    """``{"name": ..., **constructor arguments}`` for one preprocessing wrapper."""
    record: dict[str, Any] = {"name": type(wrapper).__name__}
    if isinstance(wrapper, MaxAndSkipEnv):
        record["skip"] = wrapper._skip
    saved = getattr(wrapper, "_saved_kwargs", None) or {}
    record.update({key: value for key, value in saved.items() if key != "env"})
    return record


def _max_episode_steps(chain: list[gym.Env], base: gym.Env) -> int | None:
    limits = [wrapper._max_episode_steps for wrapper in chain if isinstance(wrapper, gym.wrappers.TimeLimit)]
    if limits:
        return min(limits)
    return base.spec.max_episode_steps if base.spec is not None else None


def _ale_record(base: gym.Env) -> dict[str, Any]:
    """Settings of an ALE ``AtariEnv`` that decide what a score means."""
    settings = base._ezpickle_kwargs
    frameskip = settings["frameskip"]
    return {
        "game": settings["game"],
        "obs_type": settings["obs_type"],
        "frameskip": list(frameskip) if isinstance(frameskip, tuple) else frameskip,
        "repeat_action_probability": round(base.ale.getFloat("repeat_action_probability"), 6),
        "full_action_space": bool(settings["full_action_space"]),
        "mode": settings["mode"],
        "difficulty": settings["difficulty"],
        "max_num_frames_per_episode": base.ale.getInt("max_num_frames_per_episode"),
    }


def _single_env(env: gym.Env | VecEnv) -> gym.Env:
    """The first env of a ``DummyVecEnv`` (through any ``VecEnvWrapper``), or ``env`` itself."""
    while isinstance(env, VecEnvWrapper):
        env = env.venv
    if isinstance(env, DummyVecEnv):
        return env.envs[0]
    if isinstance(env, VecEnv):
        raise TypeError(
            f"describe_protocol reads the env object, which {type(env).__name__} keeps in worker processes; "
            "expected a gymnasium.Env or a DummyVecEnv (call it on envs.make(name, **same_kwargs) instead)"
        )
    return env


def describe_protocol(env: gym.Env | VecEnv) -> dict[str, Any]:
    """The protocol under which ``env`` produces scores, as a JSON-able dict.

    Keys:
        ``id``: registered Gymnasium id (``None`` if unregistered). ``max_episode_steps``: agent steps before
        truncation by a ``TimeLimit`` (``None``: no limit). ``observation_shape``, ``observation_dtype``: what
        the agent sees. ``preprocessing``: the wrappers between the base env and the agent, innermost first,
        each ``{"name": class name, **constructor arguments}`` (bookkeeping wrappers such as ``Monitor`` left
        out). ``frames_per_step``: emulator frames per agent step (emulator frameskip times max-pool skip;
        ``None`` outside the ALE or with stochastic frameskip). ``optimal_return`` where the env exposes one.
        For ALE envs also ``game``, ``obs_type``, ``frameskip``, ``repeat_action_probability``,
        ``full_action_space``, ``mode``, ``difficulty``, ``max_num_frames_per_episode``.
    """
    env = _single_env(env)
    base = env.unwrapped
    chain = _wrapper_chain(env)
    preprocessing = [_step_record(w) for w in chain if type(w).__name__ not in BOOKKEEPING_WRAPPERS]
    protocol: dict[str, Any] = {
        "id": base.spec.id if base.spec is not None else None,
        "max_episode_steps": _max_episode_steps(chain, base),
        "observation_shape": list(env.observation_space.shape or ()),
        "observation_dtype": str(env.observation_space.dtype),
        "preprocessing": preprocessing,
        "frames_per_step": None,
    }
    if isinstance(base, AtariEnv):
        protocol.update(_ale_record(base))
        skip = math.prod(record["skip"] for record in preprocessing if record["name"] == "MaxAndSkipEnv")
        if isinstance(protocol["frameskip"], int):
            protocol["frames_per_step"] = protocol["frameskip"] * skip
    if hasattr(base, "optimal_return"):
        protocol["optimal_return"] = float(base.optimal_return)
    return protocol
