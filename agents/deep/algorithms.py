"""Spiking PPO, A2C and DQN: SB3's own algorithms with spiking policies, a safe ``load`` and activity logging.

``SpikingPPO("SpikingCnnPolicy", env)`` is ``PPO`` with the policy aliases ``"SpikingMlpPolicy"`` and
``"SpikingCnnPolicy"`` (:mod:`agents.deep.policies`); SB3's own aliases (``"MlpPolicy"``, ...) still work.
Training, rollouts, ``predict``, callbacks, ``evaluate_policy``, vec envs and ``tensorboard_log`` are SB3's.
The policies are stateless per env step (the membranes are reset every env step and the network runs ``T``
simulation steps), so SB3's rollout and replay logic applies as it is. Two additions:

* ``save``/``load`` never unpickle (:class:`~agents.deep.safe_zip.SafeZipMixin`);
* every ``learn`` also runs :class:`~agents.deep.spike_stats.SpikeStatsCallback`, so TensorBoard shows
  per-layer spike rates and membrane statistics (``spike_stats=False`` turns it off).
"""

from __future__ import annotations

from typing import Any

from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback, ConvertCallback

from agents.deep.policies import (SpikingActorCriticCnnPolicy, SpikingActorCriticPolicy, SpikingCnnDQNPolicy,
                                  SpikingDQNPolicy)
from agents.deep.safe_zip import SafeZipMixin
from agents.deep.spike_stats import SpikeStatsCallback


class SpikeStatsMixin:
    """Adds a :class:`SpikeStatsCallback` to the callbacks of every ``learn`` unless ``spike_stats`` is
    ``False`` (an attribute; set it on the model)."""

    spike_stats: bool = True
    spike_stats_min_steps: int = 0

    def _init_callback(self, callback: Any, progress_bar: bool = False) -> BaseCallback:
        if self.spike_stats:
            callbacks = [] if callback is None else list(callback) if isinstance(callback, list) else [callback]
            callbacks = [c if isinstance(c, BaseCallback) else ConvertCallback(c) for c in callbacks]
            callback = callbacks + [SpikeStatsCallback(min_steps_between=self.spike_stats_min_steps)]
        return super()._init_callback(callback, progress_bar)  # type: ignore[misc]


class SpikingPPO(SafeZipMixin, SpikeStatsMixin, PPO):
    """SB3's ``PPO`` with spiking policy aliases, safe ``load`` and spike statistics (module docstring)."""

    policy_aliases = {**PPO.policy_aliases, "SpikingMlpPolicy": SpikingActorCriticPolicy,
                      "SpikingCnnPolicy": SpikingActorCriticCnnPolicy}


class SpikingA2C(SafeZipMixin, SpikeStatsMixin, A2C):
    """SB3's ``A2C`` with spiking policy aliases, safe ``load`` and spike statistics (module docstring)."""

    policy_aliases = {**A2C.policy_aliases, "SpikingMlpPolicy": SpikingActorCriticPolicy,
                      "SpikingCnnPolicy": SpikingActorCriticCnnPolicy}


class SpikingDQN(SafeZipMixin, SpikeStatsMixin, DQN):
    """SB3's ``DQN`` with spiking policy aliases, safe ``load`` and spike statistics (module docstring).

    Spike statistics are recorded at most every 1000 env steps (DQN ends a "rollout" every ``train_freq``
    steps)."""

    policy_aliases = {**DQN.policy_aliases, "SpikingMlpPolicy": SpikingDQNPolicy,
                      "SpikingCnnPolicy": SpikingCnnDQNPolicy}
    spike_stats_min_steps = 1000


__all__ = ["SpikingA2C", "SpikingDQN", "SpikingPPO"]
