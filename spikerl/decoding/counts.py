"""Spike counts and firing rates of a spike train ``[T, B, *shape]``."""

from __future__ import annotations

import torch

from spikerl.encoding._checks import check_number, check_tensor


def spike_counts(train: torch.Tensor) -> torch.Tensor:
    """Number of spikes of every neuron over the train: ``counts[b, i] = sum_t train[t, b, i]``.

    Args:
        train: spike train ``[T, B, *shape]``, bool or 0/1 numbers.

    Returns:
        ``[B, *shape]``: float (the default dtype) for bool or integer trains, the train's dtype for float ones.
    """
    train = check_tensor("train", train, floating=False, min_dim=2)
    dtype = train.dtype if train.is_floating_point() else torch.get_default_dtype()
    return train.sum(dim=0, dtype=dtype)


def sparse_spike_counts(train: torch.Tensor) -> torch.Tensor:
    """Spike counts ``[B, n]`` (long) of a sparse bool train ``[T, B, n]``, from its events.

    ``counts[b, i] = sum_t train[t, b, i]`` as :func:`spike_counts`, but exact integers, and computed from the
    few spikes (``nonzero`` then ``bincount``) rather than by summing every element: for trains where most
    neurons are silent most of the time (Diehl & Cook's excitatory layer fires ~20 of 35,000 entries).
    """
    if not isinstance(train, torch.Tensor) or train.dim() != 3:
        raise ValueError(f"train must be a tensor [T, B, n], got {getattr(train, 'shape', type(train).__name__)}")
    steps, batch, n = train.shape
    events = train.reshape(steps, batch * n).nonzero()[:, 1]
    return torch.bincount(events, minlength=batch * n).reshape(batch, n)


def firing_rates(train: torch.Tensor, dt_ms: float = 1.0) -> torch.Tensor:
    """Mean firing rate in Hz over the train: ``rate = count / (T * dt_ms / 1000)``.

    Args:
        train: spike train ``[T, B, *shape]``, bool or 0/1 numbers.
        dt_ms: time step in ms.

    Returns:
        float ``[B, *shape]`` in Hz.
    """
    dt_ms = check_number("dt_ms", dt_ms, low=0.0, low_open=True)
    counts = spike_counts(train)
    return counts * (1000.0 / (train.shape[0] * dt_ms))
