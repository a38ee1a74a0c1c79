"""Connections: weights between layers, propagation of spikes and pairing for plasticity."""

from spikerl.connections.base import Connection
from spikerl.connections.conv2d import Conv2d
from spikerl.connections.dense import Dense
from spikerl.connections.locally_connected import LocallyConnected2d
from spikerl.connections.max_pool import MaxPool2d
from spikerl.connections.one_to_one import OneToOne
from spikerl.connections.sparse import Sparse

__all__ = ["Connection", "Dense", "Sparse", "Conv2d", "LocallyConnected2d", "MaxPool2d", "OneToOne"]
