"""Diehl & Cook label assignment and the all-activity / proportion-weighting predictions, computed by hand."""

from __future__ import annotations

import pytest
import torch

from spikerl.decoding import (
    all_activity,
    all_activity_scores,
    assign_labels,
    proportion_weighting,
    proportion_weighting_scores,
)

INF = float("inf")


def training_set() -> tuple[torch.Tensor, torch.Tensor]:
    """4 samples x 5 neurons, 3 classes (class 2 has no sample).

    neuron 0 answers class 0, neuron 1 mostly class 1, neuron 2 both, neuron 3 never spikes,
    neuron 4 only class 1.
    """
    counts = torch.tensor([[4.0, 1.0, 2.0, 0.0, 0.0],    # label 0
                           [2.0, 0.0, 2.0, 0.0, 0.0],    # label 0
                           [0.0, 5.0, 1.0, 0.0, 3.0],    # label 1
                           [0.0, 0.0, 0.0, 0.0, 0.0]])   # label 0 (a silent sample)
    labels = torch.tensor([0, 0, 1, 0])
    return counts, labels


def test_assign_labels_by_hand() -> None:
    counts, labels = training_set()
    assignments, proportions, rates = assign_labels(counts, labels, 3)
    # class 0 means over 3 samples, class 1 over 1 sample, class 2 has none -> 0
    expected_rates = torch.tensor([[6 / 3, 0, 0], [1 / 3, 5, 0], [4 / 3, 1, 0], [0, 0, 0], [0, 3, 0]])
    assert torch.allclose(rates, expected_rates)
    assert assignments.tolist() == [0, 1, 0, -1, 1]  # the silent neuron 3 is unassigned
    expected_prop = torch.tensor([[1, 0, 0], [(1 / 3) / (16 / 3), 5 / (16 / 3), 0],
                                  [(4 / 3) / (7 / 3), 1 / (7 / 3), 0], [0, 0, 0], [0, 1, 0]])
    assert torch.allclose(proportions, expected_prop)
    assert not torch.isnan(proportions).any()
    assert assignments.dtype == torch.long


def test_all_activity_by_hand() -> None:
    counts, labels = training_set()
    assignments, _, _ = assign_labels(counts, labels, 3)   # class 0: neurons 0, 2; class 1: neurons 1, 4
    test = torch.tensor([[3.0, 0.0, 1.0, 9.0, 0.0],          # class 0: 2, class 1: 0 (neuron 3 ignored)
                         [1.0, 2.0, 0.0, 0.0, 2.0],          # class 0: 0.5, class 1: 2
                         [0.0, 0.0, 0.0, 7.0, 0.0]])         # only the unassigned neuron fires
    scores = all_activity_scores(test, assignments, 3)
    assert scores.tolist() == [[2.0, 0.0, -INF], [0.5, 2.0, -INF], [0.0, 0.0, -INF]]
    assert all_activity(test, assignments, 3).tolist() == [0, 1, -1]


def test_proportion_weighting_by_hand() -> None:
    counts, labels = training_set()
    assignments, proportions, _ = assign_labels(counts, labels, 3)
    test = torch.tensor([[0.0, 4.0, 5.0, 0.0, 0.0]])
    # proportions: p[2, 0] = (4/3) / (7/3) = 4/7, p[1, 1] = 5 / (16/3) = 15/16.
    # class 0 <- neurons 0, 2: (1 * 0 + 4/7 * 5) / 2 = 10/7; class 1 <- neurons 1, 4: (15/16 * 4 + 1 * 0) / 2 = 15/8
    scores = proportion_weighting_scores(test, assignments, proportions, 3)
    assert torch.allclose(scores[0, :2], torch.tensor([10 / 7, 15 / 8]))
    assert scores[0, 2] == -INF
    assert proportion_weighting(test, assignments, proportions, 3).tolist() == [1]
    # all activity decides differently: class 0 mean (0 + 5) / 2 = 2.5 > class 1 mean (4 + 0) / 2 = 2
    assert all_activity_scores(test, assignments, 3)[0, :2].tolist() == [2.5, 2.0]
    assert all_activity(test, assignments, 3).tolist() == [0]


def test_silent_samples_never_count_as_class_zero() -> None:
    counts, labels = training_set()
    assignments, proportions, _ = assign_labels(counts, labels, 3)
    silent = torch.zeros(10, 5)
    assert (all_activity(silent, assignments, 3) == -1).all()
    assert (proportion_weighting(silent, assignments, proportions, 3) == -1).all()


def test_class_without_neurons_is_never_predicted() -> None:
    # every neuron assigned to class 0 or 1: class 2 must never win, even against zero scores
    assignments = torch.tensor([0, 1])
    test = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    assert all_activity(test, assignments, 3).tolist() == [1, 0]


def test_ties_go_to_the_lowest_class() -> None:
    assignments = torch.tensor([0, 1, 2])
    assert all_activity(torch.tensor([[0.0, 2.0, 2.0]]), assignments, 3).tolist() == [1]


def test_perfectly_selective_neurons_classify_perfectly() -> None:
    # 3 classes, 2 neurons per class that fire only for their class: assignment and both schemes are exact.
    n_classes, per = 3, 2
    labels = torch.arange(30) % n_classes
    owner = torch.arange(n_classes * per) // per                          # neuron -> class
    counts = (labels[:, None] == owner[None, :]).float() * 5.0           # [30, 6]
    assignments, proportions, _ = assign_labels(counts, labels, n_classes)
    assert torch.equal(assignments, owner)
    assert torch.equal(proportions, torch.nn.functional.one_hot(owner, n_classes).float())
    assert torch.equal(all_activity(counts, assignments, n_classes), labels)
    assert torch.equal(proportion_weighting(counts, assignments, proportions, n_classes), labels)


def test_inputs_untouched() -> None:
    counts, labels = training_set()
    c0, l0 = counts.clone(), labels.clone()
    assignments, proportions, _ = assign_labels(counts, labels, 3)
    a0 = assignments.clone()
    all_activity(counts, assignments, 3), proportion_weighting(counts, assignments, proportions, 3)
    assert torch.equal(counts, c0) and torch.equal(labels, l0) and torch.equal(assignments, a0)


def test_errors() -> None:
    counts, labels = training_set()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        assign_labels(counts, labels + 1, 2)
    with pytest.raises(ValueError, match=r"labels must have shape \[4\]"):
        assign_labels(counts, labels[:3], 3)
    with pytest.raises(TypeError, match="integer"):
        assign_labels(counts, labels.float(), 3)
    with pytest.raises(ValueError, match="n_classes"):
        assign_labels(counts, labels, 0)
    with pytest.raises(ValueError, match=r"counts must be \[N, n\]"):
        assign_labels(counts[None], labels, 3)
    with pytest.raises(ValueError, match=r"proportions must have shape \[5, 3\]"):
        proportion_weighting(counts, torch.zeros(5, dtype=torch.long), torch.zeros(5, 2), 3)
    with pytest.raises(ValueError, match=r"assignment values"):
        all_activity(counts, torch.tensor([0, 0, 0, 0, 3]), 3)
