"""Population coding: groups of output neurons vote for actions."""

from __future__ import annotations

import numbers

import torch

from spikerl.encoding._checks import check_tensor


def group_matrix(groups: int | torch.Tensor, n: int, n_groups: int | None = None,
                 device: torch.device | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """One-hot membership matrix ``M [n, n_groups]``: ``M[i, k] = 1`` when neuron ``i`` belongs to group ``k``.

    ``groups`` is either an int ``G`` (``n`` neurons split into ``G`` equal contiguous groups: neuron ``i`` is in
    group ``i // (n // G)``; ``n`` must be divisible by ``G``) or an integer assignment vector ``[n]`` with values
    in ``[0, n_groups)``, or ``-1`` for a neuron in no group (it gets an all-zero row).
    """
    if isinstance(groups, numbers.Integral) and not isinstance(groups, bool):
        g = int(groups)
        if g <= 0 or n % g != 0:
            raise ValueError(f"cannot split {n} neurons into {groups} equal groups; "
                             "pass a divisor of the neuron count or an assignment vector")
        if n_groups is not None and n_groups != g:
            raise ValueError(f"n_groups={n_groups} disagrees with groups={g}")
        assignment = torch.arange(n, device=device) // (n // g)
        n_groups = g
    else:
        assignment = check_tensor("groups", groups, floating=False)
        if assignment.is_floating_point() or assignment.dtype == torch.bool or assignment.is_complex():
            raise TypeError(f"an assignment vector must hold integers, got dtype {assignment.dtype}")
        if assignment.shape != (n,):
            raise ValueError(f"assignment vector must have shape [{n}] (one entry per neuron), "
                             f"got {list(assignment.shape)}")
        if n_groups is None:
            raise ValueError("n_groups (the number of actions or classes) is needed with an assignment vector")
        if bool(((assignment < -1) | (assignment >= n_groups)).any()):
            raise ValueError(f"assignment values must be in [0, {n_groups}) or -1 (unassigned)")
        assignment = assignment.to(device) if device is not None else assignment
    # Column n_groups collects the unassigned (-1) neurons and is dropped.
    index = torch.where(assignment < 0, torch.full_like(assignment, n_groups), assignment)
    onehot = torch.nn.functional.one_hot(index.long(), n_groups + 1)[:, :n_groups]
    return onehot.to(dtype or torch.get_default_dtype())


def population_vote(counts: torch.Tensor, groups: int | torch.Tensor, n_actions: int | None = None,
                    reduce: str = "mean") -> torch.Tensor:
    """Score every action by the activity of the neurons that vote for it.

    ``score[b, a] = sum_{i in group a} counts[b, i]`` (``reduce="sum"``), divided by the group's size for
    ``reduce="mean"`` (fair when groups differ in size; with equal groups both give the same ranking).
    An action that no neuron votes for scores ``-inf``, so it is never the maximum and gets probability 0 in
    :func:`spikerl.decoding.softmax_action`.

    Args:
        counts: float ``[B, n]`` spike counts or rates (e.g. :func:`spike_counts` of the output layer).
        groups: int ``G``: ``n`` neurons in ``G`` equal contiguous groups (action ``a`` gets neurons
            ``a * n / G`` to ``(a + 1) * n / G - 1``); or an integer vector ``[n]`` giving each neuron's action
            (``-1``: no action).
        n_actions: number of actions; required with an assignment vector, optional (must equal ``G``) with an int.
        reduce: ``"mean"`` or ``"sum"``.

    Returns:
        ``[B, n_actions]`` scores, in the dtype of ``counts``.
    """
    counts = check_tensor("counts", counts, min_dim=2)
    if counts.dim() != 2:
        raise ValueError(f"counts must be [B, n], got shape {list(counts.shape)}; flatten the layer first")
    if reduce not in ("mean", "sum"):
        raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
    batch, n = counts.shape
    equal = (isinstance(groups, numbers.Integral) and not isinstance(groups, bool) and groups > 0 and n > 0
             and n % groups == 0 and n_actions in (None, groups))
    if equal:  # equal contiguous groups: a sum over a reshape, no matrix
        scores = counts.reshape(batch, int(groups), n // int(groups)).sum(-1)
        return scores / (n // int(groups)) if reduce == "mean" else scores
    members = group_matrix(groups, n, n_actions, counts.device, counts.dtype)
    return group_scores(counts, members, reduce == "mean")


def group_scores(values: torch.Tensor, members: torch.Tensor, mean: bool) -> torch.Tensor:
    """``values [B, n] @ members [n, G]``, divided by the group sizes when ``mean``; empty groups get ``-inf``."""
    sizes = members.sum(dim=0)
    scores = values @ members
    if mean:
        scores = scores / sizes.clamp(min=1)
    return scores.masked_fill(sizes == 0, float("-inf"))
