"""Spiking reinforcement-learning agents with the Stable-Baselines3 API.

``RSTDP``: encoder -> spikerl network -> decoder, trained online by reward-modulated STDP with
eligibility traces (MSTDPET). ``learn``, ``predict``, ``save``, ``load``, SB3 callbacks, ``evaluate_policy``
and ``tensorboard_log=`` work as with SB3's own algorithms.

``SpikingPPO``, ``SpikingA2C``, ``SpikingDQN`` (:mod:`agents.deep`): SB3's own gradient-trained algorithms with
spiking policies (``"SpikingCnnPolicy"``: a Nature-CNN of LIF neurons; ``"SpikingMlpPolicy"``), trained by
backpropagation through time with surrogate gradients; their ``load`` unpickles nothing.

``convert`` (:mod:`agents.deep.convert`): a trained ReLU PPO, A2C or DQN turned into a spiking policy of
integrate-and-fire neurons (Rueckauer et al. 2017) with SB3's ``predict``.
"""

from agents.policy import RuleConfig, SpikingPolicy, SpikingPolicyConfig
from agents.deep import (SpikeStatsCallback, SpikingA2C, SpikingActorCriticCnnPolicy, SpikingActorCriticPolicy,
                         SpikingCnnDQNPolicy, SpikingCnnPolicy, SpikingDQN, SpikingDQNPolicy, SpikingMlp,
                         SpikingMlpPolicy, SpikingNatureCNN, SpikingPPO, UnsafeModelError, convert,
                         rollout_observations)
from agents.rstdp import RSTDP

__all__ = ["RSTDP", "RuleConfig", "SpikeStatsCallback", "SpikingA2C", "SpikingActorCriticCnnPolicy",
           "SpikingActorCriticPolicy", "SpikingCnnDQNPolicy", "SpikingCnnPolicy", "SpikingDQN", "SpikingDQNPolicy",
           "SpikingMlp", "SpikingMlpPolicy", "SpikingNatureCNN", "SpikingPPO", "SpikingPolicy",
           "SpikingPolicyConfig", "UnsafeModelError", "convert", "rollout_observations"]
