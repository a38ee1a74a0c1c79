"""Poisson encoder: per-step probability rate * dt / 1000, saturation, reproducibility, device, errors."""

from __future__ import annotations

from typing import Callable

import pytest
import torch

from spikerl.encoding import PoissonEncoder, poisson


@pytest.mark.parametrize("rate_hz, dt_ms", [(20.0, 1.0), (63.75, 1.0), (100.0, 0.5), (250.0, 2.0)])
def test_empirical_rate_matches_rate_times_dt(rate_hz: float, dt_ms: float,
                                              binomial_total: Callable[..., None]) -> None:
    g = torch.Generator().manual_seed(1)
    train = poisson(torch.full((64, 50), rate_hz), steps=200, dt_ms=dt_ms, generator=g)
    binomial_total(train, rate_hz * dt_ms / 1000.0)


def test_each_element_follows_its_own_rate(binomial_total: Callable[..., None]) -> None:
    rates = torch.tensor([0.0, 10.0, 100.0, 400.0])
    g = torch.Generator().manual_seed(2)
    train = poisson(rates.repeat(500, 1), steps=100, generator=g)  # [T, 500, 4]
    for i, r in enumerate(rates.tolist()):
        binomial_total(train[..., i], r / 1000.0, what=f"rate {r} Hz")
    assert not train[..., 0].any()  # 0 Hz never spikes


def test_counts_have_binomial_variance() -> None:
    # Independence across steps: Var(count) = T p (1 - p). With 20000 elements the relative standard error of
    # the sample variance is about sqrt(2 / 20000) = 0.01; we accept 5 of those.
    T, p = 50, 0.1
    g = torch.Generator().manual_seed(3)
    counts = poisson(torch.full((20000,), p * 1000.0), steps=T, generator=g).sum(0).double()
    expected = T * p * (1 - p)
    assert abs(counts.var().item() / expected - 1.0) < 5 * (2 / 20000) ** 0.5


def test_rates_at_or_above_1000_over_dt_spike_every_step() -> None:
    with pytest.warns(RuntimeWarning, match="5000 Hz exceeds 1000 / dt = 500 Hz"):  # above 1000 / dt: saturated
        train = poisson(torch.tensor([[1000.0, 5000.0], [500.0, 2000.0]]), steps=30, dt_ms=2.0)
    assert train.all()


def test_seeded_generator_reproduces_and_different_seeds_differ() -> None:
    rates = torch.full((8, 100), 50.0)
    a = poisson(rates, 100, generator=torch.Generator().manual_seed(7))
    b = poisson(rates, 100, generator=torch.Generator().manual_seed(7))
    c = poisson(rates, 100, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_shape_dtype_and_input_untouched() -> None:
    rates = torch.rand(3, 2, 5, dtype=torch.float64) * 100
    before = rates.clone()
    train = poisson(rates, steps=7)
    assert train.shape == (7, 3, 2, 5) and train.dtype == torch.bool
    assert torch.equal(rates, before)


def test_integer_rates_are_taken_as_hz() -> None:
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    ints = poisson(torch.tensor([[100, 300]]), 50, generator=g1)
    floats = poisson(torch.tensor([[100.0, 300.0]]), 50, generator=g2)
    assert torch.equal(ints, floats)


def test_encoder_scales_intensity_to_max_rate(binomial_total: Callable[..., None]) -> None:
    enc = PoissonEncoder(steps=250, dt_ms=1.0, max_rate_hz=80.0, generator=torch.Generator().manual_seed(5))
    x = torch.full((40, 40), 0.5)
    binomial_total(enc(x), 0.5 * 80.0 / 1000.0)
    direct = poisson(x * 80.0, 250, generator=torch.Generator().manual_seed(5))
    again = PoissonEncoder(250, 1.0, 80.0, torch.Generator().manual_seed(5))(x)
    assert torch.equal(direct, again)


@pytest.mark.parametrize("rates", [torch.tensor([[-1.0]]), torch.tensor([[float("nan")]]),
                                   torch.tensor([[float("inf")]])])
def test_invalid_rates_raise(rates: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="rates_hz must be finite"):
        poisson(rates, 10)


@pytest.mark.parametrize("steps, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_steps_raise(steps: object, error: type) -> None:
    with pytest.raises(error, match="steps must be a positive int"):
        poisson(torch.ones(1, 1), steps)


def test_other_errors() -> None:
    with pytest.raises(ValueError, match="dt_ms"):
        poisson(torch.ones(1, 1), 10, dt_ms=0.0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        poisson([[10.0]], 10)
    with pytest.raises(TypeError, match="bool"):
        poisson(torch.ones(1, 1, dtype=torch.bool), 10)
    with pytest.raises(TypeError, match="generator"):
        poisson(torch.ones(1, 1), 10, generator=7)
    with pytest.raises(ValueError, match=r"in \[0.0, 1.0\]"):
        PoissonEncoder(10)(torch.full((1, 1), 1.5))
    with pytest.raises(TypeError, match="floating-point"):
        PoissonEncoder(10)(torch.ones(1, 1, dtype=torch.uint8))
    with pytest.raises(ValueError, match="max_rate_hz"):
        PoissonEncoder(10, max_rate_hz=-1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_train_stays_on_device_and_rejects_cpu_generator() -> None:
    rates = torch.full((4, 10), 100.0, device="cuda")
    train = poisson(rates, 20, generator=torch.Generator(device="cuda").manual_seed(0))
    assert train.device == rates.device and train.dtype == torch.bool
    with pytest.raises(ValueError, match="generator is on cpu"):
        poisson(rates, 20, generator=torch.Generator().manual_seed(0))
