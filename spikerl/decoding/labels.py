"""Label assignment and evaluation for unsupervised networks (Diehl & Cook 2015; BindsNET's schemes).

After a labelled presentation phase, every excitatory neuron is assigned the class to which it responded most
on average (:func:`assign_labels`). A new sample is then classified from its spike counts by

* :func:`all_activity`: the class whose assigned neurons have the highest mean count;
* :func:`proportion_weighting`: the same, with each neuron's count weighted by the share of its response
  that falls on that class.

Edge cases (chosen so that nothing is NaN and nothing wins by accident):

* a class with no labelled samples has rate 0 for every neuron;
* a neuron that never spiked during assignment is left unassigned (assignment ``-1``, proportions all 0) and is
  ignored by both schemes, instead of being given class 0 by an argmax over zeros;
* a class with no assigned neuron scores ``-inf`` and is never predicted;
* a sample in which no assigned neuron spiked is predicted as ``-1`` ("no answer"), which never equals a label,
  so it counts as an error rather than as a free guess of class 0;
* other ties between classes go to the lowest class index.
"""

from __future__ import annotations

import numbers

import torch

from spikerl.decoding.population import group_matrix, group_scores
from spikerl.encoding._checks import check_tensor


def _check_counts(counts: torch.Tensor) -> torch.Tensor:
    counts = check_tensor("counts", counts, min_dim=2)
    if counts.dim() != 2:
        raise ValueError(f"counts must be [N, n] (samples x neurons), got shape {list(counts.shape)}; "
                         "flatten the layer first")
    return counts


def _check_n_classes(n_classes: int) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes <= 0:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    return int(n_classes)


def assign_labels(counts: torch.Tensor, labels: torch.Tensor, n_classes: int
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Assign every neuron to the class it responds to most (Diehl & Cook 2015).

    With ``S_c`` the samples of class ``c``:

        rates[i, c]       = mean_{s in S_c} counts[s, i]                  (0 when S_c is empty)
        proportions[i, c] = rates[i, c] / sum_k rates[i, k]               (0 for a neuron that never spiked)
        assignments[i]    = argmax_c rates[i, c]                           (-1 for a neuron that never spiked)

    Args:
        counts: float ``[N, n]`` spike counts of ``n`` neurons for ``N`` samples.
        labels: integer ``[N]`` in ``[0, n_classes)``.
        n_classes: number of classes.

    Returns:
        ``(assignments long [n], proportions [n, n_classes], rates [n, n_classes])``.
    """
    counts = _check_counts(counts)
    n_classes = _check_n_classes(n_classes)
    labels = check_tensor("labels", labels, floating=False)
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    if labels.shape != (counts.shape[0],):
        raise ValueError(f"labels must have shape [{counts.shape[0]}] (one per row of counts), "
                         f"got {list(labels.shape)}")
    if bool(((labels < 0) | (labels >= n_classes)).any()):
        raise ValueError(f"labels must be in [0, {n_classes})")
    onehot = torch.nn.functional.one_hot(labels.to(counts.device).long(), n_classes).to(counts.dtype)  # [N, C]
    sums = counts.T @ onehot                                       # [n, C]
    rates = sums / onehot.sum(dim=0).clamp(min=1)
    total = rates.sum(dim=1, keepdim=True)                        # [n, 1]
    proportions = rates / total.clamp(min=torch.finfo(rates.dtype).tiny)
    assignments = rates.argmax(dim=1)
    assignments = torch.where(total.squeeze(1) > 0, assignments, torch.full_like(assignments, -1))
    return assignments, proportions, rates


def _predict(scores: torch.Tensor) -> torch.Tensor:
    """Argmax over classes (lowest index on ties); ``-1`` where no assigned neuron spiked (all scores <= 0)."""
    best = scores.max(dim=1)
    return torch.where(best.values > 0, best.indices, torch.full_like(best.indices, -1))


def all_activity_scores(counts: torch.Tensor, assignments: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``score[b, c] = mean_{i: assignments[i] = c} counts[b, i]``, ``-inf`` for classes with no neuron.

    ``counts`` float ``[B, n]``, ``assignments`` long ``[n]`` (``-1``: ignored). Returns ``[B, n_classes]``.
    """
    counts = _check_counts(counts)
    members = group_matrix(assignments, counts.shape[1], _check_n_classes(n_classes), counts.device, counts.dtype)
    return group_scores(counts, members, mean=True)


def all_activity(counts: torch.Tensor, assignments: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Predict each sample's class as the one whose assigned neurons fire most on average.

    ``counts`` float ``[B, n]``, ``assignments`` long ``[n]`` from :func:`assign_labels`. Returns long ``[B]``:
    the argmax of :func:`all_activity_scores`, or ``-1`` when no assigned neuron spiked (see module docstring).
    """
    return _predict(all_activity_scores(counts, assignments, n_classes))


def proportion_weighting_scores(counts: torch.Tensor, assignments: torch.Tensor, proportions: torch.Tensor,
                                n_classes: int) -> torch.Tensor:
    """``score[b, c] = mean_{i: assignments[i] = c} proportions[i, c] * counts[b, i]``, ``-inf`` for classes with
    no neuron.

    ``counts`` float ``[B, n]``, ``assignments`` long ``[n]``, ``proportions [n, n_classes]``. Returns
    ``[B, n_classes]``.
    """
    counts = _check_counts(counts)
    n_classes = _check_n_classes(n_classes)
    proportions = check_tensor("proportions", proportions, min_dim=2)
    if proportions.shape != (counts.shape[1], n_classes):
        raise ValueError(f"proportions must have shape [{counts.shape[1]}, {n_classes}], "
                         f"got {list(proportions.shape)}")
    members = group_matrix(assignments, counts.shape[1], n_classes, counts.device, counts.dtype)
    sizes = members.sum(dim=0)
    scores = counts @ (members * proportions.to(counts)) / sizes.clamp(min=1)
    return scores.masked_fill(sizes == 0, float("-inf"))


def proportion_weighting(counts: torch.Tensor, assignments: torch.Tensor, proportions: torch.Tensor,
                         n_classes: int) -> torch.Tensor:
    """Predict each sample's class from proportion-weighted counts (argmax of
    :func:`proportion_weighting_scores`; ``-1`` when no assigned neuron spiked). Returns long ``[B]``."""
    return _predict(proportion_weighting_scores(counts, assignments, proportions, n_classes))
