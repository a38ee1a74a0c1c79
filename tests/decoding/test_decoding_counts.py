"""Counts, rates and first-spike times of hand-made spike trains."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.decoding import firing_rates, first_spike_times, sparse_spike_counts, spike_counts


def hand_train() -> torch.Tensor:
    """T = 4, B = 2, 3 neurons. Sample 0: neuron 0 at t = 0, 2; neuron 1 at t = 3; neuron 2 silent.
    Sample 1: neuron 0 silent; neuron 1 at t = 1, 2, 3; neuron 2 at t = 0."""
    train = torch.zeros(4, 2, 3, dtype=torch.bool)
    train[[0, 2], 0, 0] = True
    train[3, 0, 1] = True
    train[[1, 2, 3], 1, 1] = True
    train[0, 1, 2] = True
    return train


def test_spike_counts_by_hand() -> None:
    counts = spike_counts(hand_train())
    assert counts.tolist() == [[2, 1, 0], [0, 3, 1]]
    assert counts.dtype == torch.get_default_dtype()


def test_sparse_spike_counts_by_hand_are_exact_longs() -> None:
    counts = sparse_spike_counts(hand_train())
    assert counts.tolist() == [[2, 1, 0], [0, 3, 1]] and counts.dtype == torch.long
    assert sparse_spike_counts(torch.zeros(5, 2, 3, dtype=torch.bool)).tolist() == [[0] * 3] * 2
    with pytest.raises(ValueError, match=r"\[T, B, n\]"):
        sparse_spike_counts(torch.zeros(5, 3, dtype=torch.bool))


def test_spike_counts_keeps_float_dtype_and_shape() -> None:
    train = hand_train().to(torch.float64).reshape(4, 2, 3, 1)
    counts = spike_counts(train)
    assert counts.dtype == torch.float64 and counts.shape == (2, 3, 1)


def test_firing_rates_in_hz() -> None:
    # count / (T * dt / 1000): T = 4 steps of 0.5 ms = 2 ms, so one spike is 500 Hz
    rates = firing_rates(hand_train(), dt_ms=0.5)
    assert torch.allclose(rates, torch.tensor([[2, 1, 0], [0, 3, 1]]) / (4 * 0.5 / 1000.0))


def test_first_spike_times_by_hand() -> None:
    t = first_spike_times(hand_train())
    assert t.tolist() == [[0.0, 3.0, math.inf], [math.inf, 1.0, 0.0]]
    # a finite marker, e.g. T, for neurons that never spike
    assert first_spike_times(hand_train(), no_spike=4).tolist() == [[0, 3, 4], [4, 1, 0]]


def test_first_spike_times_of_integer_train() -> None:
    train = torch.tensor([[[0, 0]], [[0, 1]], [[1, 1]]])  # [3, 1, 2]
    assert first_spike_times(train).tolist() == [[2.0, 1.0]]


def test_inputs_untouched() -> None:
    train = hand_train()
    before = train.clone()
    spike_counts(train), firing_rates(train), first_spike_times(train)
    assert torch.equal(train, before)


def test_errors() -> None:
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        spike_counts(torch.zeros(5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        spike_counts([[0, 1]])
    with pytest.raises(ValueError, match="dt_ms"):
        firing_rates(hand_train(), dt_ms=-1.0)
    with pytest.raises(TypeError, match="no_spike"):
        first_spike_times(hand_train(), no_spike=float("nan"))
