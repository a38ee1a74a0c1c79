"""Spiking reinforcement-learning agents with the Stable-Baselines3 API.

``RSTDP``: encoder -> spikerl network -> decoder, trained online by reward-modulated STDP with
eligibility traces (MSTDPET). ``learn``, ``predict``, ``save``, ``load``, SB3 callbacks, ``evaluate_policy``
and ``tensorboard_log=`` work as with SB3's own algorithms.

``SpikingPPO``, ``SpikingA2C``, ``SpikingDQN`` (:mod:`agents.deep`): SB3's own gradient-trained algorithms with
spiking policies (``"SpikingCnnPolicy"``: a Nature-CNN of LIF neurons; ``"SpikingMlpPolicy"``), trained by
backpropagation through time with surrogate gradients; their ``load`` unpickles nothing.
"""

from agents.policy import RuleConfig, SpikingPolicy, SpikingPolicyConfig
from agents.deep import (SpikeStatsCallback, SpikingA2C, SpikingActorCriticCnnPolicy, SpikingActorCriticPolicy,
                         SpikingCnnDQNPolicy, SpikingCnnPolicy, SpikingDQN, SpikingDQNPolicy, SpikingMlp,
                         SpikingMlpPolicy, SpikingNatureCNN, SpikingPPO, UnsafeModelError)
from agents.rstdp import RSTDP

__all__ = ["RSTDP", "RuleConfig", "SpikeStatsCallback", "SpikingA2C", "SpikingActorCriticCnnPolicy",
           "SpikingActorCriticPolicy", "SpikingCnnDQNPolicy", "SpikingCnnPolicy", "SpikingDQN", "SpikingDQNPolicy",
           "SpikingMlp", "SpikingMlpPolicy", "SpikingNatureCNN", "SpikingPPO", "SpikingPolicy",
           "SpikingPolicyConfig", "UnsafeModelError"]
