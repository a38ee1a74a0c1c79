"""SB3 policies whose features extractor is a spiking network (:mod:`agents.deep.extractors`).

These are SB3's own policy classes with spiking defaults: the extractor is :class:`SpikingMlp` or
:class:`SpikingNatureCNN`, and ``net_arch`` defaults to ``[]``, so the heads (action logits, value, Q) are
linear maps of the spiking readout -- the synapses of non-spiking output neurons whose membrane they read
(see the extractors' module docstring). Because the membranes are reset at every env step, the policies are
stateless per env step and work unchanged with SB3's PPO, A2C and DQN, e.g. ``PPO(SpikingCnnPolicy, env)``.
Extractor settings go through ``features_extractor_kwargs`` (``time_steps``, ``encoding``, ``readout``,
``tau_mem_ms``, ...).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.dqn.policies import DQNPolicy

from agents.deep.extractors import SpikingFeaturesExtractor, SpikingMlp, SpikingNatureCNN


class SpikingActorCriticPolicy(ActorCriticPolicy):
    """Actor-critic policy (PPO, A2C) on a :class:`SpikingMlp`; alias ``"SpikingMlpPolicy"``.

    Defaults differ from ``ActorCriticPolicy`` in ``net_arch=[]`` (linear heads on the readout) and
    ``share_features_extractor=False`` (separate spiking networks for actor and critic, as SB3's MLP policy
    keeps separate actor and critic layers). Other arguments as ``ActorCriticPolicy``.
    """

    def __init__(self, observation_space: gym.spaces.Space, action_space: gym.spaces.Space,
                 lr_schedule: Schedule, net_arch: list[int] | dict[str, list[int]] | None = None,
                 features_extractor_class: type[BaseFeaturesExtractor] = SpikingMlp,
                 features_extractor_kwargs: dict[str, Any] | None = None,
                 share_features_extractor: bool = False, **kwargs: Any) -> None:
        super().__init__(observation_space, action_space, lr_schedule, net_arch=[] if net_arch is None else net_arch,
                         features_extractor_class=features_extractor_class,
                         features_extractor_kwargs=features_extractor_kwargs,
                         share_features_extractor=share_features_extractor, **kwargs)

    def _build(self, lr_schedule: Schedule) -> None:
        """SB3's build, then the spiking extractors' own initialisation (SB3's orthogonal init with gain
        ``sqrt(2)`` silences deep LIF layers; see :meth:`SpikingFeaturesExtractor.reset_parameters`)."""
        super()._build(lr_schedule)
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, SpikingFeaturesExtractor):
                    module.reset_parameters()


class SpikingActorCriticCnnPolicy(SpikingActorCriticPolicy):
    """Actor-critic policy on a :class:`SpikingNatureCNN` shared by actor and critic (as SB3's
    ``CnnPolicy``); alias ``"SpikingCnnPolicy"``."""

    def __init__(self, observation_space: gym.spaces.Space, action_space: gym.spaces.Space,
                 lr_schedule: Schedule, net_arch: list[int] | dict[str, list[int]] | None = None,
                 features_extractor_class: type[BaseFeaturesExtractor] = SpikingNatureCNN,
                 features_extractor_kwargs: dict[str, Any] | None = None,
                 share_features_extractor: bool = True, **kwargs: Any) -> None:
        super().__init__(observation_space, action_space, lr_schedule, net_arch, features_extractor_class,
                         features_extractor_kwargs, share_features_extractor, **kwargs)


class SpikingDQNPolicy(DQNPolicy):
    """DQN policy whose Q-network is a :class:`SpikingMlp` with a linear Q head (``net_arch=[]``); alias
    ``"SpikingMlpPolicy"`` of :class:`~agents.deep.algorithms.SpikingDQN`."""

    def __init__(self, observation_space: gym.spaces.Space, action_space: gym.spaces.Discrete,
                 lr_schedule: Schedule, net_arch: list[int] | None = None,
                 features_extractor_class: type[BaseFeaturesExtractor] = SpikingMlp,
                 features_extractor_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(observation_space, action_space, lr_schedule, net_arch=[] if net_arch is None else net_arch,
                         features_extractor_class=features_extractor_class,
                         features_extractor_kwargs=features_extractor_kwargs, **kwargs)


class SpikingCnnDQNPolicy(SpikingDQNPolicy):
    """DQN policy on a :class:`SpikingNatureCNN`; alias ``"SpikingCnnPolicy"`` of ``SpikingDQN``."""

    def __init__(self, observation_space: gym.spaces.Space, action_space: gym.spaces.Discrete,
                 lr_schedule: Schedule, net_arch: list[int] | None = None,
                 features_extractor_class: type[BaseFeaturesExtractor] = SpikingNatureCNN,
                 features_extractor_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(observation_space, action_space, lr_schedule, net_arch, features_extractor_class,
                         features_extractor_kwargs, **kwargs)


SpikingMlpPolicy = SpikingActorCriticPolicy
"""``PPO(SpikingMlpPolicy, env)``: the actor-critic spiking MLP policy."""

SpikingCnnPolicy = SpikingActorCriticCnnPolicy
"""``PPO(SpikingCnnPolicy, env)``: the actor-critic spiking Nature-CNN policy."""
