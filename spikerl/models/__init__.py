"""Ready-made spiking network models."""

from spikerl.models.conv_snn import ConvSNN, ConvSNNConfig, mnist_to_input
from spikerl.encoding import PackedSpikes
from spikerl.models.diehl_cook import DiehlAndCook2015, DiehlAndCookParams, Presentation
from spikerl.models.label_clamp import LabelClampClassifier, LabelClampParams, class_groups
from spikerl.models.linear_readout import LinearReadout
