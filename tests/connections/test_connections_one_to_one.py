"""OneToOne: one weight per neuron, hand-computed."""

from __future__ import annotations

import pytest
import torch

from spikerl.connections import OneToOne


def test_elementwise_current_and_pair():
    conn = OneToOne(3, w=torch.tensor([1.0, 2.0, 3.0]))
    s = torch.tensor([[True, False, True], [False, True, True]])
    assert torch.equal(conn(s), torch.tensor([[1.0, 0.0, 3.0], [0.0, 2.0, 3.0]]))
    pre = torch.tensor([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0]])
    post = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    assert torch.equal(conn.pair(pre, post), torch.tensor([0.5 + 1.0, 1.0, 2.0]))


def test_source_flattened_onto_target_in_row_major_order():
    conn = OneToOne((2, 3), 6, w=torch.arange(1.0, 7.0))
    x = torch.zeros(1, 2, 3)
    x[0, 1, 0] = 1.0  # flat index 3
    assert torch.equal(conn(x), torch.tensor([[0.0, 0.0, 0.0, 4.0, 0.0, 0.0]]))


def test_mismatched_sizes_are_rejected():
    with pytest.raises(ValueError, match=r"same size, got \(2, 3\) \(6 neurons\) and \(5,\) \(5 neurons\)"):
        OneToOne((2, 3), 5)


def test_norm_sets_each_single_incoming_weight():
    conn = OneToOne(4, w=torch.tensor([0.5, 2.0, 0.0, 3.0]), norm=1.5)
    conn.normalize()
    assert torch.equal(conn.w, torch.tensor([1.5, 1.5, 0.0, 1.5]))  # a zero weight has nothing to scale
