"""Packed Poisson trains (spikerl.encoding.packed): rates, the round trip to dense trains, and the gap sampler's
Binomial statistics."""

import math

import pytest
import torch

from spikerl.encoding import PackedSpikes, bernoulli_trains, images_to_unit, poisson_packed


def test_packed_encoding_rates_and_round_trip():
    x = torch.zeros(3, 784)
    x[0, :100] = 1.0
    x[1, 50:60] = 0.5
    packed = poisson_packed(x, torch.tensor([100.0, 200.0, 50.0]), steps=2000,
                            generator=torch.Generator().manual_seed(1))
    assert packed.index.shape == (3, 100)
    dense = packed.to_dense(784)
    assert not dense[:, 2].any() and not dense[:, 0, 100:].any() and not dense[:, 1, :50].any()
    # expected counts: rate * T * dt / 1000 = 100 Hz * 2 s = 200 (sample 0); 0.5 * 200 Hz * 2 s = 200 (sample 1)
    counts0, counts1 = dense[:, 0, :100].sum(0).float(), dense[:, 1, 50:60].sum(0).float()
    assert abs(counts0.mean() - 200) < 4 * math.sqrt(200 / 100) and abs(counts1.mean() - 200) < 4 * math.sqrt(20)
    again = PackedSpikes.from_dense(dense)
    assert torch.equal(again.to_dense(784), dense)


@pytest.mark.parametrize("p", [0.003, 0.05, 0.4])
def test_bernoulli_trains_have_binomial_counts_and_no_memory(p):
    steps, n = 200, 4000
    train = bernoulli_trains(torch.full((2, n), p), steps, torch.Generator().manual_seed(0))
    counts = train.sum(0).float().reshape(-1)
    mean, var = steps * p, steps * p * (1 - p)                    # Binomial(T, p)
    assert abs(counts.mean() - mean) < 5 * math.sqrt(var / counts.numel())
    assert abs(counts.var() / var - 1) < 0.1
    # independent steps: P(spike at t+1 | spike at t) = p
    both = (train[1:] & train[:-1]).sum().float() / train[:-1].sum()
    assert abs(both - p) < 5 * math.sqrt(p * (1 - p) / train[:-1].sum())
    # each step fires with probability p (no drift over the train)
    per_step = train.float().mean((1, 2))
    assert (per_step - p).abs().max() < 6 * math.sqrt(p * (1 - p) / (2 * n))


def test_bernoulli_trains_edge_probabilities():
    train = bernoulli_trains(torch.tensor([[0.0, 1.0]]), 30)
    assert not train[:, 0, 0].any() and train[:, 0, 1].all()


def test_batch_slice_keeps_the_samples_rows():
    train = torch.rand(5, 4, 9, generator=torch.Generator().manual_seed(0)) < 0.3
    packed = PackedSpikes.from_dense(train)
    assert torch.equal(packed.batch_slice(1, 3).to_dense(9), train[:, 1:3])


def test_images_to_unit_scales_uint8_and_checks_floats():
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    torch.testing.assert_close(images_to_unit(images, 4), torch.tensor([[0.0, 1.0, 0.2, 0.4]]))
    with pytest.raises(ValueError, match=r"5 values per image, got \[1, 2, 2\]"):
        images_to_unit(images, 5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        images_to_unit(torch.full((1, 4), 2.0), 4)
    with pytest.raises(TypeError, match="uint8"):
        images_to_unit(torch.ones(1, 4, dtype=torch.int32), 4)
