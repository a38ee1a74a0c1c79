"""spikerl: spiking neural networks on PyTorch, simulated in discrete time.

Time is in milliseconds (``dt_ms``, default 1.0); spike trains are time-major ``[T, B, *shape]`` and
state is ``[B, *shape]``. See README for a tour.
"""

from spikerl.connections import Connection, Dense
from spikerl.network import Network, NetworkState
from spikerl.neurons import IF, LIF, AdaptiveLIF, Input, NeuronLayer
from spikerl.plasticity import LearningRule, PostPre
from spikerl.traces import TraceParams

__version__ = "0.1.0"

__all__ = [
    "Network", "NetworkState", "NeuronLayer", "Input", "IF", "LIF", "AdaptiveLIF",
    "Connection", "Dense", "LearningRule", "PostPre", "TraceParams",
]
