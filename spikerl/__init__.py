"""spikerl: spiking neural networks on PyTorch, simulated in discrete time.

Time is in milliseconds (``dt_ms``, default 1.0); spike trains are time-major ``[T, B, *shape]`` and
state is ``[B, *shape]``. See README for a tour.
"""

from spikerl.connections import Connection, Conv2d, Dense, LocallyConnected2d, MaxPool2d, OneToOne, Sparse
from spikerl.monitors import Monitor
from spikerl.network import Network, NetworkState
from spikerl.neurons import (
    IF, LIF, SRM0, AdaptiveLIF, CurrentLIF, Input, Izhikevich, McCullochPitts, NeuronLayer, SurrogateSpike,
)
from spikerl.plasticity import MSTDP, MSTDPET, Hebbian, LearningRule, PostPre, WeightDependentPostPre
from spikerl.traces import TraceParams

__version__ = "0.1.0"

__all__ = [
    "Network", "NetworkState", "Monitor", "TraceParams",
    "NeuronLayer", "Input", "IF", "LIF", "AdaptiveLIF", "CurrentLIF", "Izhikevich", "McCullochPitts", "SRM0",
    "SurrogateSpike",
    "Connection", "Dense", "Sparse", "Conv2d", "LocallyConnected2d", "MaxPool2d", "OneToOne",
    "LearningRule", "PostPre", "WeightDependentPostPre", "Hebbian", "MSTDP", "MSTDPET",
]
