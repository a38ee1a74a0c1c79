"""Bernoulli encoder: per-step probability p, binomial counts, reproducibility, device, errors."""

from __future__ import annotations

from typing import Callable

import pytest
import torch

from spikerl.encoding import BernoulliEncoder, bernoulli


@pytest.mark.parametrize("p", [0.01, 0.2, 0.5, 0.9])
def test_empirical_probability(p: float, binomial_total: Callable[..., None]) -> None:
    train = bernoulli(torch.full((32, 64), p), steps=100, generator=torch.Generator().manual_seed(11))
    binomial_total(train, p)


def test_probability_zero_and_one_are_exact() -> None:
    train = bernoulli(torch.tensor([[0.0, 1.0]]).repeat(10, 1), steps=40)
    assert not train[..., 0].any()
    assert train[..., 1].all()


def test_per_element_probabilities_and_batch_independence(binomial_total: Callable[..., None]) -> None:
    p = torch.tensor([0.05, 0.3, 0.7])
    train = bernoulli(p.repeat(1000, 1), steps=20, generator=torch.Generator().manual_seed(12))
    for i, pi in enumerate(p.tolist()):
        binomial_total(train[..., i], pi)
    # rows of the batch are different draws, not copies
    assert not torch.equal(train[:, 0], train[:, 1])


def test_seeded_generator_reproduces() -> None:
    p = torch.full((4, 30), 0.3)
    a = bernoulli(p, 50, generator=torch.Generator().manual_seed(3))
    b = BernoulliEncoder(50, max_prob=1.0, generator=torch.Generator().manual_seed(3))(p)
    assert torch.equal(a, b)
    assert not torch.equal(a, bernoulli(p, 50, generator=torch.Generator().manual_seed(4)))


def test_encoder_scales_by_max_prob(binomial_total: Callable[..., None]) -> None:
    enc = BernoulliEncoder(steps=200, max_prob=0.2, generator=torch.Generator().manual_seed(13))
    x = torch.full((50, 20), 0.5)
    binomial_total(enc(x), 0.5 * 0.2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_shape_dtype_and_input_untouched(dtype: torch.dtype) -> None:
    p = torch.rand(2, 3, 4).to(dtype)
    before = p.clone()
    train = bernoulli(p, 5)
    assert train.shape == (5, 2, 3, 4) and train.dtype == torch.bool and train.device == p.device
    assert torch.equal(p, before)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"p must be finite and in \[0.0, 1.0\]"):
        bernoulli(torch.tensor([[1.2]]), 5)
    with pytest.raises(ValueError, match="p must be finite"):
        bernoulli(torch.tensor([[-0.1]]), 5)
    with pytest.raises(ValueError, match="p must be finite"):
        bernoulli(torch.tensor([[float("nan")]]), 5)
    with pytest.raises(TypeError, match="floating-point"):
        bernoulli(torch.tensor([[1]]), 5)
    with pytest.raises(ValueError, match="steps"):
        bernoulli(torch.tensor([[0.5]]), 0)
    with pytest.raises(TypeError, match="steps"):
        BernoulliEncoder(3.0)
    with pytest.raises(ValueError, match="max_prob"):
        BernoulliEncoder(3, max_prob=1.5)
    with pytest.raises(ValueError, match=r"x must be finite and in \[0.0, 1.0\]"):
        BernoulliEncoder(3)(torch.tensor([[2.0]]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_device_and_rejects_cpu_generator() -> None:
    p = torch.full((4, 10), 0.5, device="cuda")
    assert bernoulli(p, 5).device == p.device
    with pytest.raises(ValueError, match="generator is on cpu"):
        bernoulli(p, 5, generator=torch.Generator())
