"""Fused CPU kernels in plain C, compiled at first use and loaded with ctypes.

* :func:`lif_scan`, :func:`adaptive_lif_scan`: ``T`` steps of a neuron model in one call (used by
  ``LIF.scan``, ``IF.scan`` and ``AdaptiveLIF.scan``);
* :func:`propagate`: event-driven spike train x dense weights (used by ``Dense.forward_many``).

They give bit-identical results to the torch code they replace (same IEEE operations in the same order;
tested) and return ``None`` where they do not apply (CUDA tensors, other dtypes, autograd), so callers fall
back to torch. Without a C compiler the library warns once and everything runs on torch;
``SPIKERL_NO_KERNELS=1`` turns the kernels off. See :mod:`spikerl.kernels.build` for the cache.
"""

from spikerl.kernels.build import available, cache_dir, disabled, library
from spikerl.kernels.event_driven import propagate
from spikerl.kernels.scan import adaptive_lif_scan, lif_scan

__all__ = ["available", "cache_dir", "disabled", "library", "lif_scan", "adaptive_lif_scan", "propagate"]
