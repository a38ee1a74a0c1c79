"""rl-baselines3-zoo's tuned hyperparameters for PPO, A2C and DQN, shared by the spiking and the SB3 agents.

:func:`zoo_hyperparameters` returns keyword arguments for the algorithm's constructor, taken from
rl-baselines3-zoo 2.9 (``hyperparams/<algo>.yml``): the ``atari`` entry for every ALE game, the ``CartPole-v1``
entry for CartPole, SB3's defaults elsewhere. The zoo's ``lin_<x>`` values are linear schedules from ``x`` to 0
over the run (SB3's ``LinearSchedule``); its ``n_envs``, ``frame_stack`` and policy choice are returned
separately (:data:`ZOO_N_ENVS`), since they shape the env and the policy rather than the algorithm.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.utils import LinearSchedule

from spikerl.validation import check_number

ALGOS = ("ppo", "a2c", "dqn")


def _linear(start: float) -> LinearSchedule:
    """The zoo's ``lin_<start>``: ``start`` at the beginning of the run, 0 at its end."""
    return LinearSchedule(start, 0.0, 1.0)


def _atari(algo: str) -> dict[str, Any]:
    if algo == "ppo":
        return dict(n_steps=128, n_epochs=4, batch_size=256, learning_rate=_linear(2.5e-4),
                    clip_range=_linear(0.1), vf_coef=0.5, ent_coef=0.01)
    if algo == "a2c":
        return dict(ent_coef=0.01, vf_coef=0.25,
                    policy_kwargs=dict(optimizer_class=RMSpropTFLike, optimizer_kwargs=dict(eps=1e-5)))
    return dict(buffer_size=100_000, learning_rate=1e-4, batch_size=32, learning_starts=100_000,
                target_update_interval=1000, train_freq=4, gradient_steps=1, exploration_fraction=0.1,
                exploration_final_eps=0.01, optimize_memory_usage=False)


def _cartpole(algo: str) -> dict[str, Any]:
    if algo == "ppo":
        return dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                    learning_rate=_linear(0.001), clip_range=_linear(0.2))
    if algo == "a2c":
        return dict(ent_coef=0.0)
    return dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
                target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
                exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]))


#: Envs the zoo trains on, per algorithm, for ALE games / CartPole-v1 / anything else.
ZOO_N_ENVS: dict[str, dict[str, int]] = {"ppo": {"atari": 8, "CartPole-v1": 8, "other": 8},
                                         "a2c": {"atari": 16, "CartPole-v1": 8, "other": 8},
                                         "dqn": {"atari": 1, "CartPole-v1": 1, "other": 1}}


def zoo_kind(env_id: str, ale: bool) -> str:
    """``"atari"``, ``"CartPole-v1"`` or ``"other"``: which zoo entry applies."""
    return "atari" if ale else env_id if env_id == "CartPole-v1" else "other"


def zoo_hyperparameters(algo: str, env_id: str, ale: bool) -> dict[str, Any]:
    """Constructor keyword arguments of ``algo`` (``"ppo"``, ``"a2c"``, ``"dqn"``) for ``env_id`` (module
    docstring). A fresh dict (and fresh schedules) on every call."""
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    kind = zoo_kind(env_id, ale)
    return _atari(algo) if kind == "atari" else _cartpole(algo) if kind == "CartPole-v1" else {}


def with_learning_rate(hyperparameters: dict[str, Any], learning_rate: float) -> dict[str, Any]:
    """A copy of ``hyperparameters`` whose initial learning rate is ``learning_rate``: the zoo's schedule shape is
    kept (a ``lin_<x>`` entry becomes ``lin_<learning_rate>``, a constant stays constant).

    Raises:
        TypeError, ValueError: ``learning_rate`` is not a finite number > 0 (:func:`spikerl.validation.check_number`).
    """
    learning_rate = check_number("learning_rate", learning_rate, 0.0, low_open=True)
    schedule = hyperparameters.get("learning_rate")
    value = _linear(learning_rate) if isinstance(schedule, LinearSchedule) else learning_rate
    return {**hyperparameters, "learning_rate": value}


def describe_hyperparameters(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """A JSON-able copy: schedules as ``"lin_<start>"``, classes by name."""
    def plain(value: Any) -> Any:
        if isinstance(value, LinearSchedule):
            return f"lin_{value.start:g}"
        if isinstance(value, type):
            return value.__name__
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return value

    return plain(hyperparameters)
