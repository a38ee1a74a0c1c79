"""Neuron models: parameter dataclass + state NamedTuple + pure step function + thin module."""

from spikerl.neurons.adaptive_lif import AdaptiveLIF, AdaptiveLIFParams, AdaptiveLIFState, adaptive_lif_step
from spikerl.neurons.base import NeuronLayer
from spikerl.neurons.input import Input
from spikerl.neurons.lif import IF, LIF, LIFParams, LIFState, lif_step

__all__ = [
    "NeuronLayer", "Input", "IF", "LIF", "LIFParams", "LIFState", "lif_step",
    "AdaptiveLIF", "AdaptiveLIFParams", "AdaptiveLIFState", "adaptive_lif_step",
]
