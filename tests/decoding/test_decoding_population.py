"""Population votes: equal contiguous groups or an assignment vector; empty groups never win."""

from __future__ import annotations

import pytest
import torch

from spikerl.decoding import argmax_action, population_vote


def test_equal_groups_sum_and_mean() -> None:
    counts = torch.tensor([[1.0, 2.0, 0.0, 0.0, 5.0, 1.0],
                           [0.0, 0.0, 3.0, 3.0, 0.0, 0.0]])
    # groups of 2: action 0 <- neurons 0, 1; action 1 <- 2, 3; action 2 <- 4, 5
    assert population_vote(counts, 3, reduce="sum").tolist() == [[3, 0, 6], [0, 6, 0]]
    assert population_vote(counts, 3).tolist() == [[1.5, 0, 3], [0, 3, 0]]
    assert population_vote(counts, 3, n_actions=3).shape == (2, 3)


def test_assignment_vector_with_unequal_groups_and_unassigned_neurons() -> None:
    counts = torch.tensor([[4.0, 2.0, 6.0, 9.0]])
    groups = torch.tensor([1, 1, 0, -1])  # neuron 3 votes for nothing; action 2 has no neuron
    mean = population_vote(counts, groups, n_actions=3)
    assert mean[0, :2].tolist() == [6.0, (4.0 + 2.0) / 2]
    assert mean[0, 2] == float("-inf")
    assert population_vote(counts, groups, n_actions=3, reduce="sum")[0, :2].tolist() == [6.0, 6.0]


def test_empty_group_is_never_chosen_even_by_a_silent_network() -> None:
    votes = population_vote(torch.zeros(500, 4), torch.tensor([0, 0, 2, 2]), n_actions=3)
    actions = argmax_action(votes, generator=torch.Generator().manual_seed(0))
    assert set(actions.tolist()) == {0, 2}


def test_dtype_follows_counts() -> None:
    assert population_vote(torch.ones(1, 4, dtype=torch.float64), 2).dtype == torch.float64


def test_errors() -> None:
    with pytest.raises(ValueError, match="cannot split 5 neurons into 2 equal groups"):
        population_vote(torch.ones(1, 5), 2)
    with pytest.raises(ValueError, match="n_groups .* is needed"):
        population_vote(torch.ones(1, 3), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"assignment values must be in \[0, 2\)"):
        population_vote(torch.ones(1, 3), torch.tensor([0, 2, 1]), n_actions=2)
    with pytest.raises(ValueError, match=r"shape \[3\]"):
        population_vote(torch.ones(1, 3), torch.tensor([0, 1]), n_actions=2)
    with pytest.raises(TypeError, match="integers"):
        population_vote(torch.ones(1, 2), torch.tensor([0.0, 1.0]), n_actions=2)
    with pytest.raises(ValueError, match=r"counts must be \[B, n\]"):
        population_vote(torch.ones(1, 2, 2), 2)
    with pytest.raises(ValueError, match="reduce"):
        population_vote(torch.ones(1, 2), 2, reduce="max")
    with pytest.raises(ValueError, match="disagrees"):
        population_vote(torch.ones(1, 4), 2, n_actions=3)
