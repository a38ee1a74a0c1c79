"""From action scores ``[B, n_actions]`` (votes, counts, rates) to one action per sample, ``long [B]``.

All three rules break ties uniformly at random among the maximal scores, so a silent network (all scores
equal) picks every action equally often instead of always action 0. Scores may hold ``-inf`` (actions nobody
votes for) but not NaN, and at least one score per row must be finite.
"""

from __future__ import annotations

import torch

from spikerl.encoding._checks import check_generator, check_number, check_tensor


def _check_scores(scores: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    scores = check_tensor("scores", scores, min_dim=2)
    if scores.dim() != 2 or scores.shape[1] == 0:
        raise ValueError(f"scores must be [B, n_actions] with n_actions >= 1, got shape {list(scores.shape)}")
    if bool((torch.isnan(scores).any(dim=1) | (scores == float("-inf")).all(dim=1)).any()):
        raise ValueError("scores must not contain NaN, and every row needs at least one score above -inf")
    check_generator(generator, scores.device)
    return scores


def _random_argmax(scores: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Index of a maximum of each row, chosen uniformly among tied maxima."""
    is_max = scores == scores.max(dim=1, keepdim=True).values
    u = torch.rand(scores.shape, generator=generator, device=scores.device)
    return torch.where(is_max, u, torch.full_like(u, -1.0)).argmax(dim=1)


def argmax_action(scores: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The highest-scoring action of each row of ``scores [B, n_actions]``, ties broken uniformly at random.

    Returns ``long [B]``.
    """
    return _random_argmax(_check_scores(scores, generator), generator)


def softmax_action(scores: torch.Tensor, temperature: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample an action from ``P(a) = exp(s_a / temperature) / sum_b exp(s_b / temperature)``.

    ``temperature`` (> 0) is in the units of the scores (spikes, for counts): small values approach
    :func:`argmax_action`, large ones a uniform choice. Returns ``long [B]``.
    """
    scores = _check_scores(scores, generator)
    temperature = check_number("temperature", temperature, low=0.0, low_open=True)
    probs = torch.softmax(scores / temperature, dim=1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def epsilon_greedy(scores: torch.Tensor, epsilon: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """With probability ``epsilon`` a uniformly random action (any of the ``n_actions``), otherwise
    :func:`argmax_action`; independently per row. ``P(greedy action) = 1 - epsilon + epsilon / n_actions``
    when the maximum is unique. Returns ``long [B]``."""
    scores = _check_scores(scores, generator)
    epsilon = check_number("epsilon", epsilon, 0.0, 1.0)
    batch, n_actions = scores.shape
    greedy = _random_argmax(scores, generator)
    explore = torch.rand(batch, generator=generator, device=scores.device) < epsilon
    random = torch.randint(n_actions, (batch,), generator=generator, device=scores.device)
    return torch.where(explore, random, greedy)
