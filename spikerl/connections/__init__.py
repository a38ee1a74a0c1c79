"""Connections: weights between layers, propagation of spikes and pairing for plasticity."""

from spikerl.connections.base import Connection
from spikerl.connections.dense import Dense

__all__ = ["Connection", "Dense"]
