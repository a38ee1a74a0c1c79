"""Learning rules, written once against ``Connection.pair``."""

from spikerl.plasticity.base import LearningRule, PairRateRule, TraceState
from spikerl.plasticity.baseline import RewardBaseline
from spikerl.plasticity.hebbian import Hebbian
from spikerl.plasticity.mstdp import MSTDP
from spikerl.plasticity.mstdpet import MSTDPET, EligibilityState
from spikerl.plasticity.factored_mstdpet import FactoredMSTDPET, FactoredEligibilityState
from spikerl.plasticity.post_pre import PostPre
from spikerl.plasticity.presentation import presentation_stdp_update
from spikerl.plasticity.reward import RewardModulatedRule, check_reward
from spikerl.plasticity.weight_dependent import WeightDependentPostPre

__all__ = ["LearningRule", "PairRateRule", "TraceState", "PostPre", "WeightDependentPostPre", "Hebbian", "MSTDP",
           "MSTDPET", "EligibilityState", "FactoredMSTDPET", "FactoredEligibilityState", "RewardModulatedRule",
           "RewardBaseline", "check_reward", "presentation_stdp_update"]
