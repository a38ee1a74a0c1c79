"""Spike traces: a whole train at once (``trace_train``) against the step-by-step recursion and closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.traces import trace_step, trace_summary, trace_train


def stepped(spikes, initial, decay, mode, scale):
    out, x = [], initial
    for s in spikes:
        x = trace_step(s, x, decay, mode, scale)
        out.append(x)
    return torch.stack(out)


@pytest.mark.parametrize("steps", [1, 8, 64, 100])          # 100 > 64: the step-by-step path
@pytest.mark.parametrize("mode", ["additive", "nearest"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_trace_train_equals_the_recursion(steps, mode, dtype):
    g = torch.Generator().manual_seed(steps)
    spikes = torch.rand(steps, 3, 2, 5, generator=g) < 0.3
    initial = torch.rand(3, 2, 5, generator=g, dtype=dtype)
    got = trace_train(spikes, initial, math.exp(-1 / 7), mode, 1.5)
    assert got.shape == (steps, 3, 2, 5) and got.dtype == dtype
    torch.testing.assert_close(got, stepped(spikes, initial, math.exp(-1 / 7), mode, 1.5))


def test_additive_trace_of_one_spike_decays_exponentially():
    """A spike at step 2 from a zero trace: x_t = scale * d^(t-2) from t = 2 on, 0 before."""
    spikes = torch.zeros(10, 1, 1, dtype=torch.bool)
    spikes[2] = True
    d = math.exp(-1 / 5)
    got = trace_train(spikes, torch.zeros(1, 1, dtype=torch.float64), d, "additive", 2.0)[:, 0, 0]
    expected = torch.tensor([0.0, 0.0] + [2.0 * d ** k for k in range(8)], dtype=torch.float64)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("steps", [1, 5, 12])
def test_trace_summary_equals_reducing_the_train(steps):
    """``trace_summary`` = (the train weighted by g^(T-1-t) and summed over time, its last step)."""
    g = torch.Generator().manual_seed(steps)
    spikes = torch.rand(steps, 3, 2, 4, generator=g) < 0.3
    initial = torch.rand(3, 2, 4, generator=g, dtype=torch.float64)
    d, e = math.exp(-1 / 7), math.exp(-1 / 30)
    train = trace_train(spikes, initial, d, "additive", 1.5)
    weights = e ** torch.arange(steps - 1, -1, -1, dtype=torch.float64).reshape(steps, 1, 1, 1)
    summed, last = trace_summary(spikes, initial, d, e, 1.5)
    torch.testing.assert_close(summed, (weights * train).sum(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(last, train[-1], rtol=1e-12, atol=1e-12)
