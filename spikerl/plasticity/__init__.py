"""Learning rules, written once against ``Connection.pair``."""

from spikerl.plasticity.base import LearningRule, TraceState
from spikerl.plasticity.post_pre import PostPre

__all__ = ["LearningRule", "TraceState", "PostPre"]
