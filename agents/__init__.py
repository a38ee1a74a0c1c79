"""Spiking reinforcement-learning agents with the Stable-Baselines3 API.

``RSTDP``: encoder -> spikerl network -> decoder, trained online by reward-modulated STDP with
eligibility traces (MSTDPET). ``learn``, ``predict``, ``save``, ``load``, SB3 callbacks, ``evaluate_policy``
and ``tensorboard_log=`` work as with SB3's own algorithms.
"""

from agents.policy import RuleConfig, SpikingPolicy, SpikingPolicyConfig
from agents.rstdp import RSTDP

__all__ = ["RSTDP", "RuleConfig", "SpikingPolicy", "SpikingPolicyConfig"]
