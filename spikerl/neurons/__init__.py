"""Neuron models: parameter dataclass + state NamedTuple + pure step function + thin module.

Every layer runs on the :class:`~spikerl.Network` (bool spikes) and standalone as a multi-step ``nn.Module``
(``layer(x [T, B, *shape])``, float spikes, trainable with ``surrogate=``); see :mod:`spikerl.neurons.base`.
"""

from spikerl.neurons.adaptive_lif import AdaptiveLIF, AdaptiveLIFParams, AdaptiveLIFState, adaptive_lif_step
from spikerl.neurons.base import NeuronLayer
from spikerl.neurons.current_lif import CurrentLIF, CurrentLIFParams, CurrentLIFState, current_lif_step
from spikerl.neurons.input import Input
from spikerl.neurons.izhikevich import Izhikevich, IzhikevichParams, IzhikevichState, izhikevich_step
from spikerl.neurons.lif import IF, LIF, LIFParams, LIFState, lif_step
from spikerl.neurons.mcculloch_pitts import (McCullochPitts, McCullochPittsParams, McCullochPittsState,
                                             mcculloch_pitts_step)
from spikerl.neurons.srm0 import SRM0, SRM0Params, SRM0State, escape_probability, srm0_step
from spikerl.neurons.surrogate import SurrogateSpike, arctan_spike, fast_sigmoid_spike, heaviside

__all__ = [
    "NeuronLayer", "Input", "IF", "LIF", "LIFParams", "LIFState", "lif_step",
    "AdaptiveLIF", "AdaptiveLIFParams", "AdaptiveLIFState", "adaptive_lif_step",
    "CurrentLIF", "CurrentLIFParams", "CurrentLIFState", "current_lif_step",
    "Izhikevich", "IzhikevichParams", "IzhikevichState", "izhikevich_step",
    "McCullochPitts", "McCullochPittsParams", "McCullochPittsState", "mcculloch_pitts_step",
    "SRM0", "SRM0Params", "SRM0State", "srm0_step", "escape_probability",
    "SurrogateSpike", "fast_sigmoid_spike", "arctan_spike", "heaviside",
]
