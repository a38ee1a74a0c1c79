"""Fused CPU kernels in plain C, compiled at first use and loaded with ctypes: the ``"c"`` backend.

* :func:`lif_scan`, :func:`adaptive_lif_scan`: ``T`` steps of a neuron model in one call (the ``"c"`` backend of
  ``LIF.scan``, ``IF.scan`` and ``AdaptiveLIF.scan``); their C lives beside the Python reference of each model
  (``spikerl/neurons/lif_scan.h``, ``adaptive_lif_scan.h``, ``phases.h``);
* :func:`propagate`: event-driven spike train x dense weights (used by ``Dense.forward_many``);
* :func:`add_spike_rows`: event-driven pairing of a spike train into an eligibility (used by
  :class:`~spikerl.plasticity.FactoredMSTDPET`);
* :func:`compiled`, :func:`scan_in_chunks`: the ``"compiled"`` backend, a layer's reference step loop fused by
  ``torch.compile`` and run in chunks of a few compiled lengths (:mod:`spikerl.kernels.compiled`; CPU and CUDA).

They take plain numbers and tensors (no engine types; this package imports nothing from ``spikerl.neurons``),
give bit-identical results to the torch code they replace (same IEEE operations in the same order; tested),
and raise :class:`BackendUnavailable` with the reason where they cannot serve a call (kernels off or not
built, CUDA tensors, other dtypes, autograd). A layer with ``backend="auto"`` then runs its torch code
silently. Without a C compiler the library warns once (:func:`available`); ``SPIKERL_NO_KERNELS=1`` turns
the kernels off. See :mod:`spikerl.kernels.build` for the cache.
"""

from spikerl.kernels.backend import BackendUnavailable
from spikerl.kernels.build import available, cache_dir, disabled, library
from spikerl.kernels.compiled import compiled, scan_in_chunks
from spikerl.kernels.event_driven import add_spike_rows, propagate
from spikerl.kernels.scan import adaptive_lif_scan, lif_scan

__all__ = ["BackendUnavailable", "available", "cache_dir", "disabled", "library", "lif_scan", "adaptive_lif_scan",
           "propagate", "add_spike_rows", "compiled", "scan_in_chunks"]
