"""Event-driven kernels in C. Propagation adds the weight rows of a row's active inputs in ascending order (checked
exactly against that sum), and agrees with the dense product step by step and the sparse CSR product it
replaces within the float rounding bound of ``tests/conftest.py`` (their order of summation is the BLAS
library's choice, which differs between CPUs). Pairing (``add_spike_rows``) adds one row per spike, bit-identical
to ``index_add_`` over the spike events."""

from __future__ import annotations

import pytest
import torch

from spikerl import Dense, kernels
from spikerl.kernels import BackendUnavailable

pytestmark = [pytest.mark.skipif(not kernels.available(), reason="no C compiler: the kernels are not built"),
              pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")]


def spike_train(steps: int, batch: int, n: int, p: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(steps, batch, n, generator=g) < p


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_in,n_out", [(37, 53), (300, 200)])
def test_propagate_equals_ascending_sum_and_agrees_with_dense_and_csr(dtype: torch.dtype, n_in: int, n_out: int,
                                                                      float_bounds) -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.rand(n_in, n_out, generator=g, dtype=dtype)
    x = spike_train(40, 1, n_in, 0.03, seed=1)[:, 0]
    out = kernels.propagate(x, w)
    assert out.dtype == dtype and out.shape == (40, n_out)
    # each row's current is the sum of the weight rows of its active inputs, added in ascending order
    for row in range(40):
        expected = torch.zeros(n_out, dtype=dtype)
        for i in torch.nonzero(x[row])[:, 0].tolist():
            expected = expected + w[i]
        assert torch.equal(out[row], expected), row
    tol = float_bounds.matmul_tolerance(x, w, dtype)
    dense = torch.stack([x[t:t + 1].to(dtype) @ w for t in range(40)])[:, 0]
    assert bool(((out - dense).abs() <= tol).all())
    assert bool(((out - x.to(dtype).to_sparse_csr() @ w).abs() <= tol).all())


def test_silent_train_gives_zero_current() -> None:
    out = kernels.propagate(torch.zeros(5, 9, dtype=torch.bool), torch.rand(9, 4))
    assert torch.equal(out, torch.zeros(5, 4))


def test_leaves_dense_trains_to_the_dense_product_and_says_why_it_cannot_serve() -> None:
    w = torch.rand(6, 3)
    x = torch.zeros(4, 6, dtype=torch.bool)
    x[0, :3] = True  # 3 of 24 spikes active: 1/8
    assert kernels.propagate(x, w, max_density=0.125) is None  # too dense: a choice, not a failure
    assert torch.equal(kernels.propagate(x, w, max_density=0.126), kernels.propagate(x, w))
    with pytest.raises(BackendUnavailable, match=r"cannot serve this call: expected bool spikes \[R, n_in\] and "
                                                 r"weights \[n_in, n_out\], got torch.float32 \[4, 6\]"):
        kernels.propagate(x.float(), w)
    with pytest.raises(BackendUnavailable, match="cannot serve this call: autograd is recording"):
        kernels.propagate(x, w.requires_grad_())
    with torch.no_grad():
        expected = torch.zeros(4, 3)
        expected[0] = w[0] + w[1] + w[2]  # row 0's active inputs, in ascending order
        assert torch.equal(kernels.propagate(x, w), expected)
    with pytest.raises(BackendUnavailable, match="float32 or float64 tensors, got torch.float16"):
        kernels.propagate(x, w.detach().half())


@pytest.mark.parametrize("bias", [False, True])
def test_dense_forward_many_agrees_with_forward_per_step(bias: bool, float_bounds) -> None:
    conn = Dense((4, 25), 60, wmin=0.0, wmax=1.0, bias=bias, generator=torch.Generator().manual_seed(4))
    if bias:
        conn.bias.data.uniform_(-1, 1)
    x = spike_train(30, 1, 100, 0.02, seed=5).reshape(30, 1, 4, 25)
    many = conn.forward_many(x)
    assert many.shape == (30, 1, 60)
    # the weight sums may differ in rounding (event-driven vs dense order); the bias is added the same way
    tol = float_bounds.matmul_tolerance(x.flatten(2), conn.w, conn.w.dtype)
    tol = tol + (2 * float_bounds.unit_roundoff(conn.w.dtype) * (tol + many.abs()) if bias else 0)
    assert bool(((many - torch.stack([conn(x[t]) for t in range(30)])).abs() <= tol).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_add_spike_rows_adds_one_row_per_spike_as_index_add(dtype: torch.dtype) -> None:
    """into[b, i] += rows[t, b] for each spike s[t, b, i]: bit-identical to index_add_ over the spike events, and
    to a hand loop; rows of silent inputs stay exactly as they were (n_in = 21: a tail after the 8-byte skips)."""
    g = torch.Generator().manual_seed(3)
    spikes = spike_train(6, 3, 21, 0.1, seed=2)
    rows = torch.randn(6, 3, 5, generator=g, dtype=dtype)
    start = torch.randn(3, 21, 5, generator=g, dtype=dtype)
    into = start.clone()
    assert kernels.add_spike_rows(spikes, rows, into) is True
    t, b, i = spikes.nonzero().unbind(1)
    reference = start.clone()
    reference.view(-1, 5).index_add_(0, b * 21 + i, rows.view(-1, 5).index_select(0, t * 3 + b))
    assert torch.equal(into, reference)
    by_hand = start.clone()
    for step, sample, source in spikes.nonzero().tolist():
        by_hand[sample, source] = by_hand[sample, source] + rows[step, sample]
    assert torch.equal(into, by_hand)
    silent = ~spikes.any(0)                                  # [B, n_in]
    assert torch.equal(into[silent], start[silent])


def test_add_spike_rows_leaves_dense_trains_and_says_why_it_cannot_serve() -> None:
    spikes = torch.zeros(2, 1, 8, dtype=torch.bool)
    spikes[0, 0, :4] = True  # 4 of 16: a quarter
    rows, into = torch.ones(2, 1, 3), torch.zeros(1, 8, 3)
    assert kernels.add_spike_rows(spikes, rows, into, max_density=0.25) is False  # too dense: a choice
    assert torch.equal(into, torch.zeros(1, 8, 3))
    assert kernels.add_spike_rows(spikes, rows, into, max_density=0.26) is True
    assert torch.equal(into[0, :4], torch.ones(4, 3)) and torch.equal(into[0, 4:], torch.zeros(4, 3))
    with pytest.raises(BackendUnavailable, match=r"expected bool spikes \[T, B, n_in\], rows \[T, B, n_out\] and "
                                                 r"into \[B, n_in, n_out\], got torch.float32 \[2, 1, 8\]"):
        kernels.add_spike_rows(spikes.float(), rows, into)
    with pytest.raises(BackendUnavailable, match=r"got torch.bool \[2, 1, 8\], \[2, 1, 3\] and \[1, 7, 3\]"):
        kernels.add_spike_rows(spikes, rows, torch.zeros(1, 7, 3))
    with pytest.raises(BackendUnavailable, match="into must be contiguous and of rows' dtype"):
        kernels.add_spike_rows(spikes, rows, torch.zeros(1, 8, 3, dtype=torch.float64))
    with pytest.raises(BackendUnavailable, match="float32 or float64 tensors, got torch.float16"):
        kernels.add_spike_rows(spikes, rows.half(), into.half())
    with pytest.raises(BackendUnavailable, match="autograd is recording"):
        kernels.add_spike_rows(spikes, rows.requires_grad_(), into)
