"""Time of the first spike of every neuron in a spike train (decodes :func:`spikerl.encoding.latency`)."""

from __future__ import annotations

import math
import numbers

import torch

from spikerl.encoding._checks import check_tensor


def first_spike_times(train: torch.Tensor, no_spike: float = math.inf) -> torch.Tensor:
    """Step index of the first spike of every neuron.

    Args:
        train: spike train ``[T, B, *shape]``, bool or 0/1 numbers.
        no_spike: value for neurons that never spike. The default ``inf`` keeps "earlier is smaller" and
            compares later than every real time; pass ``T`` (one step after the window) for a finite value.

    Returns:
        float ``[B, *shape]``: the first ``t`` with ``train[t] != 0`` (in steps; multiply by ``dt_ms`` for ms),
        or ``no_spike``. Its dtype is the default float dtype, or the train's dtype for float trains.
    """
    train = check_tensor("train", train, floating=False, min_dim=2)
    if isinstance(no_spike, bool) or not isinstance(no_spike, numbers.Real) or math.isnan(no_spike):
        raise TypeError(f"no_spike must be a real number (inf allowed), got {no_spike!r}")
    spiked = train != 0
    dtype = train.dtype if train.is_floating_point() else torch.get_default_dtype()
    # argmax returns the index of the first maximum, i.e. of the first spike (0 when there is none).
    first = spiked.to(torch.uint8).argmax(dim=0).to(dtype)
    return torch.where(spiked.any(dim=0), first, torch.full_like(first, no_spike))
