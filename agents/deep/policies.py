"""SB3 policies whose features extractor is a spiking network (:mod:`agents.deep.extractors`).

These are SB3's own policy classes with spiking defaults: the extractor is :class:`SpikingMlp` or
:class:`SpikingNatureCNN`, and ``net_arch`` defaults to ``[]``, so the heads (action logits, value, Q) are
linear maps of the spiking readout -- the synapses of non-spiking output neurons whose membrane they read
(see the extractors' module docstring). Because the membranes are reset at every env step, the policies are
stateless per env step and work unchanged with SB3's PPO, A2C and DQN, e.g. ``PPO(SpikingCnnPolicy, env)``.
Extractor settings go through ``features_extractor_kwargs`` (``time_steps``, ``encoding``, ``readout``,
``tau_mem_ms``, ...).

``inner_lr_scale`` (actor-critic policies) slows the learning of the extractor's inner synaptic layers, those
whose spikes drive a further spiking layer (:meth:`SpikingFeaturesExtractor.inner_layers`). Under Adam every
weight moves by about the learning rate whatever its gradient, and a small move of an inner layer flips spikes
downstream: measured on a trained Breakout policy (T = 4, one sign step of 2.5e-5 on one layer), the log-probability
of the taken action changed 60 x (second convolution) and 20 x (third) more than the surrogate gradient predicts,
with correlations of 0.2-0.4, against 1.3 x for the last synaptic layer and exactly 1 x for the heads. The
inner layers' steps are then mostly noise in the policy. Slowing them (0.1, Breakout, PPO, two seeds) lowered
PPO's clip fraction by about a fifth early in training but did not improve learning (README), so the default is 1.
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
from spikerl.validation import check_number


class SpikingActorCriticPolicy(ActorCriticPolicy):
    """Actor-critic policy (PPO, A2C) on a :class:`SpikingMlp`; alias ``"SpikingMlpPolicy"``.

    Defaults differ from ``ActorCriticPolicy`` in ``net_arch=[]`` (linear heads on the readout) and
    ``share_features_extractor=False`` (separate spiking networks for actor and critic, as SB3's MLP policy
    keeps separate actor and critic layers). ``inner_lr_scale`` (a number > 0, default 1) multiplies the
    learning rate of the extractors' inner synaptic layers (module docstring): the optimizer holds them in a
    parameter group of their own, with ``"lr_scale"`` applied at each step, so SB3's learning-rate schedule keeps
    setting one rate for the whole policy. Other arguments as ``ActorCriticPolicy``.
    """

    def __init__(self, observation_space: gym.spaces.Space, action_space: gym.spaces.Space,
                 lr_schedule: Schedule, net_arch: list[int] | dict[str, list[int]] | None = None,
                 features_extractor_class: type[BaseFeaturesExtractor] = SpikingMlp,
                 features_extractor_kwargs: dict[str, Any] | None = None,
                 share_features_extractor: bool = False, inner_lr_scale: float = 1.0, **kwargs: Any) -> None:
        self.inner_lr_scale = check_number("inner_lr_scale", inner_lr_scale, 0.0, low_open=True)
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
        if self.inner_lr_scale != 1.0:
            self.optimizer = self._inner_scaled_optimizer(lr_schedule(1))

    def _inner_scaled_optimizer(self, lr: float) -> torch.optim.Optimizer:
        """SB3's optimizer with two parameter groups: the extractors' inner layers (``"lr_scale"``
        ``inner_lr_scale``) and everything else (``"lr_scale"`` 1). Each step runs at ``lr * lr_scale`` and
        leaves ``lr`` as SB3 set it."""
        inner = {id(p) for module in self.modules() if isinstance(module, SpikingFeaturesExtractor)
                 for layer in module.inner_layers() for p in layer.parameters()}
        params = list(self.parameters())
        groups = [{"params": [p for p in params if id(p) in inner], "lr_scale": self.inner_lr_scale},
                  {"params": [p for p in params if id(p) not in inner], "lr_scale": 1.0}]
        optimizer = self.optimizer_class(groups, lr=lr, **self.optimizer_kwargs)
        optimizer.register_step_pre_hook(_scale_learning_rates)
        optimizer.register_step_post_hook(_restore_learning_rates)
        return optimizer

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "inner_lr_scale": self.inner_lr_scale}


def _scale_learning_rates(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    for group in optimizer.param_groups:
        group["unscaled_lr"] = group["lr"]
        group["lr"] = group["lr"] * group["lr_scale"]


def _restore_learning_rates(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    for group in optimizer.param_groups:
        group["lr"] = group.pop("unscaled_lr")


class SpikingActorCriticCnnPolicy(SpikingActorCriticPolicy):
    """Actor-critic policy on a :class:`SpikingNatureCNN` shared by actor and critic (as SB3's
    ``CnnPolicy``); alias ``"SpikingCnnPolicy"``."""

    def __init__(self, observation_space: gym.spaces.Space, action_space: gym.spaces.Space,
                 lr_schedule: Schedule, net_arch: list[int] | dict[str, list[int]] | None = None,
                 features_extractor_class: type[BaseFeaturesExtractor] = SpikingNatureCNN,
                 features_extractor_kwargs: dict[str, Any] | None = None,
                 share_features_extractor: bool = True, inner_lr_scale: float = 1.0, **kwargs: Any) -> None:
        super().__init__(observation_space, action_space, lr_schedule, net_arch, features_extractor_class,
                         features_extractor_kwargs, share_features_extractor, inner_lr_scale, **kwargs)


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
