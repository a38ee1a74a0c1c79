"""Normalized Bernoulli encoder: p = min(1, x * k / sum x), k expected spikes per step, sparse draws, errors."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.encoding import (NormalizedBernoulliEncoder, normalized_bernoulli, normalized_probabilities,
                              sparse_bernoulli)

Z_TOL = 5.0  # as in the other encoder tests: totals within 5 standard deviations


def test_probabilities_follow_the_formula() -> None:
    x = torch.tensor([[0.5, 0.25, 0.25, 0.0],     # sum 1: p = 2 x, the first clipped at 1
                      [0.1, 0.1, 0.0, 0.0],       # sum 0.2: p = 10 x, both clipped at 1
                      [0.0, 0.0, 0.0, 0.0],       # blank: no spikes
                      [1.0, 1.0, 1.0, 1.0]])      # sum 4: p = x / 2
    p = normalized_probabilities(x, spikes_per_step=2.0)
    expected = torch.tensor([[1.0, 0.5, 0.5, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0] * 4, [0.5] * 4])
    torch.testing.assert_close(p, expected, rtol=0, atol=1e-7)


def test_expected_spikes_per_step_do_not_depend_on_how_many_inputs_are_lit() -> None:
    """Without clipping every sample emits k spikes per step in expectation: the total over T steps of a
    sample is a sum of independent Bernoullis with mean T k and variance T sum_i p_i (1 - p_i)."""
    k, steps = 4.0, 400
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(3, 100)
    x[0, :10] = 1.0            # 10 lit inputs
    x[1] = 0.5                 # all 100 lit, dimly
    x[2] = torch.rand(100, generator=g)
    train = normalized_bernoulli(x, k, steps, generator=g)
    p = normalized_probabilities(x, k)
    assert train.shape == (steps, 3, 100) and train.dtype == torch.bool
    for b in range(3):
        total = float(train[:, b].sum())
        sd = math.sqrt(steps * float((p[b] * (1 - p[b])).sum()))
        assert abs(total - steps * k) <= Z_TOL * sd, (b, total, steps * k, sd)
    assert not train[:, 0, 10:].any()  # dark inputs never spike


def test_sparse_draws_take_steps_uniforms_per_lit_input_in_step_major_order() -> None:
    """The train is ``u < p`` for ``u = rand(steps, n_lit)`` of the generator, lit inputs in flat order."""
    p = torch.tensor([[0.0, 0.3, 0.0], [0.9, 0.0, 0.5]])
    train = sparse_bernoulli(p, 5, generator=torch.Generator().manual_seed(3))
    u = torch.rand(5, 3, generator=torch.Generator().manual_seed(3))
    expected = torch.zeros(5, 6, dtype=torch.bool)
    expected[:, [1, 3, 5]] = u < torch.tensor([0.3, 0.9, 0.5])
    assert torch.equal(train, expected.reshape(5, 2, 3))


def test_encoder_equals_function_and_is_reproducible() -> None:
    x = torch.rand(4, 6, 6, generator=torch.Generator().manual_seed(1))
    enc = NormalizedBernoulliEncoder(steps=8, spikes_per_step=5.0, generator=torch.Generator().manual_seed(2))
    a = enc(x)
    b = normalized_bernoulli(x, 5.0, 8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and a.shape == (8, 4, 6, 6)
    assert not torch.equal(a, enc(x))  # the generator advanced
    torch.testing.assert_close(enc.probabilities(x), normalized_probabilities(x, 5.0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cpu_generator_gives_the_same_train_on_cuda() -> None:
    p = torch.rand(3, 50, generator=torch.Generator().manual_seed(4)) * (torch.rand(3, 50) < 0.3)
    cpu = sparse_bernoulli(p, 6, generator=torch.Generator().manual_seed(5))
    cuda = sparse_bernoulli(p.cuda(), 6, generator=torch.Generator().manual_seed(5))
    assert cuda.is_cuda and torch.equal(cpu, cuda.cpu())


@pytest.mark.parametrize("x, message", [
    (torch.tensor([[0.5, 1.5]]), r"x must hold intensities in \[0, 1\]"),
    (torch.tensor([[0.5, -0.1]]), r"x must hold intensities in \[0, 1\]"),
    (torch.tensor([[0.5, float("nan")]]), r"x must hold intensities in \[0, 1\]"),
])
def test_bad_intensities_raise(x: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalized_bernoulli(x, 2.0, 3)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="spikes_per_step"):
        NormalizedBernoulliEncoder(4, spikes_per_step=0.0)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        NormalizedBernoulliEncoder(0, spikes_per_step=1.0)
    with pytest.raises(TypeError, match="floating-point"):
        normalized_probabilities(torch.ones(2, 3, dtype=torch.uint8), 1.0)
