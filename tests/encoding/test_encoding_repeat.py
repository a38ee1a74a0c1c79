"""Repeat encoder: a constant current I[t] = scale * x, a copy of the input, usable as injected current."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl import LIF, Network
from spikerl.encoding import RepeatEncoder, repeat


def test_every_step_equals_the_input() -> None:
    x = torch.randn(3, 2, 5, dtype=torch.float64)
    current = repeat(x, 4)
    assert current.shape == (4, 3, 2, 5) and current.dtype == x.dtype and current.device == x.device
    for t in range(4):
        assert torch.equal(current[t], x)


def test_output_is_a_copy_not_a_view() -> None:
    x = torch.ones(2, 3)
    current = repeat(x, 5)
    current[0, 0, 0] = 42.0
    assert torch.equal(x, torch.ones(2, 3))
    assert current[1, 0, 0] == 1.0


def test_encoder_scales() -> None:
    x = torch.tensor([[0.5, 2.0]])
    assert torch.equal(RepeatEncoder(3, scale=4.0)(x), repeat(x * 4.0, 3))


def test_injected_into_lif_gives_the_analytic_firing_count() -> None:
    # LIF with v_rest = v_reset = -65 mV, threshold -52 mV (gap 13 mV), decay d = exp(-dt / tau) and no
    # refractory period, driven by a constant current I (mV per step) from rest: after k steps
    # v_k - v_rest = I (1 - d^k) / (1 - d), so it first reaches the gap at k = ceil(ln(1 - 13 (1 - d) / I) / ln d)
    # (never when I <= 13 (1 - d)), and with reset to rest it fires every k steps: floor(T / k) spikes in T.
    T, tau = 60, 20.0
    d = math.exp(-1.0 / tau)
    x = torch.tensor([[0.5, 2.0, 4.0, 14.0]])  # 0.5 < 13 (1 - d) = 0.634: never fires
    intervals = []
    for i in x[0].tolist():
        k = math.log(1 - 13 * (1 - d) / i) / math.log(d) if i > 13 * (1 - d) else math.inf
        assert math.isinf(k) or abs(k - round(k)) > 1e-3  # well away from a rounding boundary
        intervals.append(math.ceil(k) if math.isfinite(k) else math.inf)
    expected = [0 if math.isinf(k) else T // k for k in intervals]
    assert expected[0] == 0 and expected[1] < expected[2] < expected[3] == T  # rate grows with x
    net = Network()
    net.add_layer("Y", LIF(4, tau_mem_ms=tau, refractory_ms=0.0))
    out = net.run({"Y": repeat(x, T)}, record=["Y.spikes"])
    assert out["Y.spikes"].sum(0)[0].tolist() == expected


def test_errors() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        repeat(torch.ones(1, 2, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="steps"):
        repeat(torch.ones(1, 2), 0)
    with pytest.raises(TypeError, match="scale"):
        RepeatEncoder(3, scale="big")
    with pytest.raises(ValueError, match=r"\[B, \*shape\]"):
        repeat(torch.tensor(1.0), 3)
