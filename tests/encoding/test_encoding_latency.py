"""Latency encoder: t(x) = floor((1 - x / x_max) (T - 1) + 1/2), one spike per positive input, none for 0."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.decoding import first_spike_times
from spikerl.encoding import LatencyEncoder, latency, latency_times


def spike_steps(train: torch.Tensor) -> list[list[int]]:
    """For a [T, 1, n] train: per neuron, the list of steps with a spike."""
    return [torch.nonzero(train[:, 0, i]).flatten().tolist() for i in range(train.shape[2])]


def test_exact_times_on_a_grid() -> None:
    # T = 5: (1 - x) * 4 is an exact integer for these x.
    x = torch.tensor([[1.0, 0.75, 0.5, 0.25, 0.0]])
    train = latency(x, steps=5)
    assert spike_steps(train) == [[0], [1], [2], [3], []]
    assert latency_times(x, 5).tolist() == [[0.0, 1.0, 2.0, 3.0, math.inf]]


def test_rounding_to_nearest_step() -> None:
    T = 11  # (1 - x) * 10
    x = torch.tensor([[0.96, 0.94, 0.33, 1e-6]])
    expected = [math.floor((1 - v) * (T - 1) + 0.5) for v in x[0].tolist()]  # 0, 1, 7, 10
    assert expected == [0, 1, 7, 10]
    assert spike_steps(latency(x, T)) == [[t] for t in expected]


def test_x_max_rescales_the_mapping() -> None:
    x = torch.tensor([[255.0, 127.5, 0.0]])
    assert spike_steps(latency(x, steps=3, x_max=255.0)) == [[0], [1], []]
    assert torch.equal(LatencyEncoder(3, x_max=255.0)(x), latency(x / 255.0, 3))


def test_larger_inputs_spike_no_later_and_once() -> None:
    x = torch.rand(4, 200, generator=torch.Generator().manual_seed(0))
    x[:, :20] = 0.0
    train = latency(x, steps=50)
    counts = train.sum(0)
    assert torch.equal(counts, (x > 0).long())  # exactly one spike per positive input, none for zeros
    t = first_spike_times(train)
    order = torch.argsort(x, dim=1, descending=True)
    t_sorted = torch.gather(t, 1, order)
    assert (t_sorted[:, 1:] >= t_sorted[:, :-1]).all()  # monotone: larger x, earlier (or equal) spike


def test_first_spike_times_inverts_latency_times() -> None:
    x = torch.rand(3, 2, 7, generator=torch.Generator().manual_seed(1))
    x[0, 0, :3] = 0.0
    assert torch.equal(first_spike_times(latency(x, 20)), latency_times(x, 20))


def test_single_step_window() -> None:
    assert spike_steps(latency(torch.tensor([[0.1, 1.0, 0.0]]), 1)) == [[0], [0], []]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_and_input_untouched(dtype: torch.dtype) -> None:
    x = torch.rand(2, 1, 4, 4, dtype=dtype)
    before = x.clone()
    train = latency(x, 9)
    assert train.shape == (9, 2, 1, 4, 4) and train.dtype == torch.bool and train.device == x.device
    assert torch.equal(x, before)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"x must be finite and in \[0.0, 1.0\]"):
        latency(torch.tensor([[1.5]]), 5)
    with pytest.raises(ValueError, match="x must be finite"):
        latency(torch.tensor([[-0.5]]), 5)
    with pytest.raises(TypeError, match="floating-point"):
        latency(torch.tensor([[200]], dtype=torch.uint8), 5)
    with pytest.raises(ValueError, match="x_max"):
        latency(torch.tensor([[0.5]]), 5, x_max=0.0)
    with pytest.raises(ValueError, match="steps"):
        LatencyEncoder(-1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    x = torch.rand(3, 50, generator=torch.Generator().manual_seed(2))
    on_gpu = latency(x.cuda(), 16)
    assert on_gpu.device.type == "cuda"
    assert torch.equal(on_gpu.cpu(), latency(x, 16))
    assert torch.equal(first_spike_times(on_gpu).cpu(), first_spike_times(latency(x, 16)))
