"""Spiking reinforcement-learning agents with the Stable-Baselines3 API.

``RSTDP``: encoder -> spikerl network -> decoder, trained online by reward-modulated STDP with
eligibility traces (MSTDPET). ``learn``, ``predict``, ``save``, ``load``, SB3 callbacks, ``evaluate_policy``
and ``tensorboard_log=`` work as with SB3's own algorithms.

``RSTDPActorCritic`` (:mod:`agents.rstdp_ac`): the R-STDP actor plus a spiking critic whose spike count reads out
the state's value; both learn by STDP modulated by the TD error ``r + gamma V(s') - V(s)``.

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
from agents.actor_critic_policy import ActorCriticSpikingPolicy, CriticConfig
from agents.rstdp_ac import RSTDPActorCritic
from agents.td import td_error

__all__ = ["ActorCriticSpikingPolicy", "CriticConfig", "RSTDP", "RSTDPActorCritic", "RuleConfig",
           "SpikeStatsCallback", "SpikingA2C", "SpikingActorCriticCnnPolicy",
           "SpikingActorCriticPolicy", "SpikingCnnDQNPolicy", "SpikingCnnPolicy", "SpikingDQN", "SpikingDQNPolicy",
           "SpikingMlp", "SpikingMlpPolicy", "SpikingNatureCNN", "SpikingPPO", "SpikingPolicy",
           "SpikingPolicyConfig", "UnsafeModelError", "convert", "rollout_observations", "td_error"]
