"""Encoders say when they cannot do what they were asked: saturated Poisson rates warn, NaN currents raise."""

from __future__ import annotations

import warnings

import pytest
import torch

from spikerl.encoding import PoissonEncoder, RepeatEncoder, poisson, repeat

NAN, INF = float("nan"), float("inf")


def test_poisson_warns_when_a_rate_exceeds_1000_over_dt():
    rates = torch.tensor([[10.0, 600.0], [0.0, 300.0]])
    # dt = 2 ms: 1000 / dt = 500 Hz, and 600 Hz asks for a spike probability 1.2 per step
    with pytest.warns(RuntimeWarning, match=r"the largest of rates_hz = 600 Hz exceeds 1000 / dt = 500 Hz "
                                            r"\(dt = 2 ms\).*saturates at 1"):
        train = poisson(rates, steps=40, dt_ms=2.0)
    assert train[:, 0, 1].all()  # what saturation means: a spike every step


def test_poisson_at_exactly_1000_over_dt_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train = poisson(torch.tensor([[500.0, 0.0]]), steps=20, dt_ms=2.0)  # p = 500 * 2 / 1000 = 1 exactly
    assert train[:, 0, 0].all() and not train[:, 0, 1].any()


def test_poisson_encoder_warns_once_at_construction_not_per_call():
    with pytest.warns(RuntimeWarning, match="max_rate_hz = 2000 Hz exceeds 1000 / dt = 1000 Hz"):
        encoder = PoissonEncoder(steps=10, max_rate_hz=2000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train = encoder(torch.tensor([[1.0, 0.25]]))  # 2000 Hz saturates; 500 Hz does not
    assert train[:, 0, 0].all()


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_repeat_refuses_non_finite_currents(bad):
    x = torch.tensor([[0.5, bad, 1.0]])
    with pytest.raises(ValueError, match=r"x must be finite, found 1 NaN or infinite value\(s\) among 3 "
                                         r"\(first: .* at index \[0, 1\]\)"):
        repeat(x, steps=4)
    with pytest.raises(ValueError, match="x must be finite"):
        RepeatEncoder(steps=4, scale=2.0)(x)
