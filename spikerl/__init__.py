"""spikerl: spiking neural networks on PyTorch, simulated in discrete time."""

__version__ = "0.1.0"
