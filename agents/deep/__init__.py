"""Gradient-trained spiking agents: SB3's PPO, A2C and DQN with spiking policies.

See :mod:`agents.deep.extractors` (spiking Nature-CNN and MLP, encodings, readouts),
:mod:`agents.deep.policies`, :mod:`agents.deep.algorithms`, :mod:`agents.deep.convert` (ANN-to-SNN
conversion), :mod:`agents.deep.safe_zip` (load without unpickling) and :mod:`agents.deep.spike_stats`
(TensorBoard statistics).
"""

from agents.deep.algorithms import SpikingA2C, SpikingDQN, SpikingPPO
from agents.deep.convert import SpikingConvertedPolicy, convert, rollout_observations
from agents.deep.extractors import SpikingFeaturesExtractor, SpikingMlp, SpikingNatureCNN
from agents.deep.policies import (SpikingActorCriticCnnPolicy, SpikingActorCriticPolicy, SpikingCnnDQNPolicy,
                                  SpikingCnnPolicy, SpikingDQNPolicy, SpikingMlpPolicy)
from agents.deep.safe_zip import UnsafeModelError
from agents.deep.spike_stats import SpikeStatsCallback

__all__ = ["SpikeStatsCallback", "SpikingA2C", "SpikingActorCriticCnnPolicy", "SpikingActorCriticPolicy",
           "SpikingCnnDQNPolicy", "SpikingCnnPolicy", "SpikingConvertedPolicy", "SpikingDQN", "SpikingDQNPolicy",
           "SpikingFeaturesExtractor", "SpikingMlp", "SpikingMlpPolicy", "SpikingNatureCNN", "SpikingPPO",
           "UnsafeModelError", "convert", "rollout_observations"]
