"""Sparse connection: equal to Dense on the same matrix, random structure statistics, index validation."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.connections import Dense, Sparse
from spikerl.connections import sparse as sparse_module


def sparse_matrix(n_src: int, n_tgt: int, p: float, seed: int) -> torch.Tensor:
    """A dense matrix with about ``p`` nonzeros, values multiples of 1/16 in (0, 2] (exact float sums)."""
    g = torch.Generator().manual_seed(seed)
    exists = torch.rand(n_src, n_tgt, generator=g) < p
    return exists * torch.randint(1, 33, (n_src, n_tgt), generator=g) / 16.0


def test_from_dense_equals_dense_on_existing_synapses():
    w = sparse_matrix(40, 30, 0.1, seed=0)
    dense, sp = Dense(40, 30, w), Sparse.from_dense(40, 30, w)
    assert sp.nnz == int((w != 0).sum())
    assert torch.equal(sp.to_dense(), w)
    g = torch.Generator().manual_seed(1)
    for p in (0.01, 0.5):  # event-driven and dense propagation
        train = torch.rand(6, 4, 40, generator=g) < p
        assert torch.equal(sp.forward_many(train), dense.forward_many(train))
    pre, post = torch.rand(4, 40, generator=g), (torch.rand(4, 30, generator=g) < 0.3).float()
    src, tgt = sp.indices
    torch.testing.assert_close(sp.pair(pre, post), dense.pair(pre, post)[src, tgt])


def test_learning_update_touches_only_existing_synapses():
    w = sparse_matrix(10, 8, 0.3, seed=2)
    sp = Sparse.from_dense(10, 8, w, wmin=0.0, wmax=4.0)
    sp.apply_update(sp.pair(torch.ones(2, 10), torch.ones(2, 8)))  # +2 on every existing synapse
    assert torch.equal(sp.to_dense(), torch.where(w != 0, w + 2.0, torch.zeros_like(w)))


def test_stored_order_is_sorted_and_values_follow_their_indices():
    idx = torch.tensor([[2, 0, 1, 0], [1, 2, 0, 0]])
    values = torch.tensor([20.0, 2.0, 10.0, 0.5])  # value = 10 * source + target, 0.5 for (0, 0)
    sp = Sparse(3, 3, idx, values)
    assert sp.indices.tolist() == [[0, 0, 1, 2], [0, 2, 0, 1]]
    assert sp.values.tolist() == [0.5, 2.0, 10.0, 20.0]
    assert sp.weight is sp.values


def test_normalize_scales_each_target_column():
    w = torch.tensor([[1.0, 0.0, 3.0], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    sp = Sparse.from_dense(3, 3, w, norm=2.0)
    sp.normalize()
    # column 0: 1, 3 -> 0.5, 1.5; column 1 has no synapse; column 2: 3, 1 -> 1.5, 0.5
    expected = torch.tensor([[0.5, 0.0, 1.5], [1.5, 0.0, 0.0], [0.0, 0.0, 0.5]])
    torch.testing.assert_close(sp.to_dense(), expected)


def test_random_connectivity_statistics():
    n_src, n_tgt, p = 300, 200, 0.05
    sp = Sparse.random(n_src, n_tgt, p, generator=torch.Generator().manual_seed(3))
    n = n_src * n_tgt
    assert abs(sp.nnz - n * p) < 5 * math.sqrt(n * p * (1 - p))  # binomial count, 5 sigma
    src, tgt = sp.indices
    assert ((src >= 0) & (src < n_src) & (tgt >= 0) & (tgt < n_tgt)).all()
    key = src * n_tgt + tgt
    assert (key[1:] > key[:-1]).all()  # sorted, no duplicates
    # fan-out per source ~ Binomial(n_tgt, p): its mean over sources matches n_tgt * p
    fan_out = torch.bincount(src, minlength=n_src).double()
    assert abs(fan_out.mean() - n_tgt * p) < 5 * math.sqrt(n_tgt * p / n_src)
    assert Sparse.random(10, 10, 0.0).nnz == 0 and Sparse.random(10, 10, 1.0).nnz == 100


def test_random_without_self_connections():
    sp = Sparse.random(50, 50, 0.5, self_connections=False, generator=torch.Generator().manual_seed(4))
    assert (sp.indices[0] != sp.indices[1]).all()
    with pytest.raises(ValueError, match="same size"):
        Sparse.random(5, 6, 0.5, self_connections=False)
    with pytest.raises(ValueError, match="probability"):
        Sparse.random(5, 6, 1.5)


def test_large_event_driven_propagation_is_exact():
    """10k x 10k at 1 % (1M synapses) with a sparse spike train: checked against per-source row sums."""
    g = torch.Generator().manual_seed(5)
    sp = Sparse.random(10_000, 10_000, 0.01, generator=g)
    assert sp.nnz > 900_000
    train = torch.zeros(2, 3, 10_000, dtype=torch.bool)
    train[0, 0, [7, 4242]] = True
    train[1, 2, 9999] = True
    out = sp.forward_many(train)
    src, tgt = sp.indices

    def row(i: int) -> torch.Tensor:  # the current one spike of source i sends to every target
        keep = src == i
        return torch.zeros(10_000).index_add_(0, tgt[keep], sp.values[keep])

    torch.testing.assert_close(out[0, 0], row(7) + row(4242))
    torch.testing.assert_close(out[1, 2], row(9999))
    assert (out[0, 1:] == 0).all() and (out[1, :2] == 0).all()


def test_event_driven_and_dense_paths_agree(monkeypatch):
    sp = Sparse.from_dense(30, 20, sparse_matrix(30, 20, 0.2, seed=6))
    train = torch.rand(5, 2, 30, generator=torch.Generator().manual_seed(7)) < 0.3
    monkeypatch.setattr(sparse_module, "EVENT_DRIVEN_DENSITY", 1.1)
    event = sp.forward_many(train)
    monkeypatch.setattr(sparse_module, "EVENT_DRIVEN_DENSITY", 0.0)
    assert torch.equal(event, sp.forward_many(train))


@pytest.mark.parametrize("indices, error, message", [
    (torch.tensor([[0, 1, 2]]), ValueError, r"shape \[2, nnz\]"),
    (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), TypeError, "integer"),
    (torch.tensor([[0, 4], [1, 0]]), ValueError, "source index 4 of synapse 1 is out of range"),
    (torch.tensor([[0, 1], [-1, 0]]), ValueError, "target index -1 of synapse 0 is out of range"),
    (torch.tensor([[0, 1, 0], [2, 0, 2]]), ValueError, "duplicate synapse 0 -> 2"),
])
def test_bad_indices_are_rejected(indices, error, message):
    with pytest.raises(error, match=message):
        Sparse(4, 3, indices)


def test_bad_values_and_arguments_are_rejected():
    idx = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"values of shape \[2\]"):
        Sparse(4, 3, idx, torch.ones(3))
    with pytest.raises(ValueError, match="either indices"):
        Sparse(4, 3)
    with pytest.raises(ValueError, match="either indices"):
        Sparse(4, 3, idx, nnz=2)
    with pytest.raises(ValueError, match=r"matrix of shape \[4, 3\]"):
        Sparse.from_dense(4, 3, torch.ones(3, 4))


def test_placeholder_from_config_needs_a_state_dict():
    sp = Sparse.random(20, 10, 0.3, generator=torch.Generator().manual_seed(8))
    empty = Sparse(20, 10, nnz=sp.nnz)
    with pytest.raises(RuntimeError, match="load_state_dict"):
        empty(torch.zeros(1, 20))
    empty.load_state_dict(sp.state_dict())
    x = torch.rand(3, 20) < 0.5
    assert torch.equal(empty(x), sp(x))
    with pytest.raises(RuntimeError, match="size mismatch"):
        Sparse(20, 10, nnz=sp.nnz + 1).load_state_dict(sp.state_dict())


def test_empty_connection_gives_zero_current():
    sp = Sparse(5, 4, torch.zeros(2, 0, dtype=torch.long))
    assert sp.nnz == 0
    assert torch.equal(sp(torch.ones(2, 5)), torch.zeros(2, 4))
    assert sp.pair(torch.ones(2, 5), torch.ones(2, 4)).shape == (0,)
