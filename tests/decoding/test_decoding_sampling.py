"""softmax_policy, sample_action (inverse CDF), explore_uniformly; population_vote's reshape path."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.decoding import explore_uniformly, population_vote, sample_action, softmax_policy

Z_TOL = 5.0


def assert_frequency(hits: int, n: int, p: float) -> None:
    sd = math.sqrt(n * p * (1 - p))
    assert abs(hits - n * p) <= Z_TOL * sd, (hits, n * p, sd)


def test_softmax_policy_follows_the_formula() -> None:
    scores = torch.tensor([[0.0, 4.0, 8.0], [3.0, 3.0, 3.0]])
    pi = softmax_policy(scores, temperature=4.0)
    z = 1 + math.e + math.e ** 2
    expected = torch.tensor([[1 / z, math.e / z, math.e ** 2 / z], [1 / 3] * 3])
    torch.testing.assert_close(pi, expected)
    with pytest.raises(ValueError, match="temperature"):
        softmax_policy(scores, temperature=0.0)


def test_sample_action_is_the_inverse_cdf_of_one_uniform_per_row() -> None:
    probs = torch.tensor([[0.2, 0.5, 0.3]]).repeat(6, 1)
    actions = sample_action(probs, torch.Generator().manual_seed(7))
    u = torch.rand(6, 1, generator=torch.Generator().manual_seed(7)).squeeze(1)
    expected = (u >= 0.2).long() + (u >= 0.7).long()
    assert actions.dtype == torch.long and torch.equal(actions, expected)


def test_sample_action_frequencies_match_the_probabilities() -> None:
    probs = torch.tensor([[0.2, 0.5, 0.3]]).repeat(20000, 1)
    actions = sample_action(probs, torch.Generator().manual_seed(8))
    for a, p in enumerate((0.2, 0.5, 0.3)):
        assert_frequency(int((actions == a).sum()), 20000, p)


def test_sample_action_never_returns_n_actions_when_the_cdf_rounds_below_one() -> None:
    probs = torch.zeros(50, 4)  # cumulative sums 0 < u: the count would be 4
    assert torch.equal(sample_action(probs, torch.Generator().manual_seed(0)), torch.full((50,), 3))


def test_explore_uniformly_mixes_in_uniform_actions() -> None:
    """P(keep action 2) = 1 - eps + eps / n; P(another given action) = eps / n."""
    n, eps, batch = 4, 0.3, 20000
    actions = torch.full((batch,), 2)
    out = explore_uniformly(actions, n, eps, torch.Generator().manual_seed(9))
    assert_frequency(int((out == 2).sum()), batch, 1 - eps + eps / n)
    assert_frequency(int((out == 0).sum()), batch, eps / n)
    assert torch.equal(explore_uniformly(actions, n, 1.0, torch.Generator().manual_seed(9)),
                       torch.randint(n, (batch,), generator=_after_uniforms(9, batch)))


def _after_uniforms(seed: int, count: int) -> torch.Generator:
    """A generator seeded ``seed`` that has drawn ``count`` uniforms (explore_uniformly's first draw)."""
    g = torch.Generator().manual_seed(seed)
    torch.rand(count, generator=g)
    return g


def test_explore_uniformly_with_zero_epsilon_draws_nothing() -> None:
    g = torch.Generator().manual_seed(1)
    actions = torch.tensor([0, 1, 2])
    assert explore_uniformly(actions, 3, 0.0, g) is actions
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(1).get_state())
    with pytest.raises(ValueError, match="n_actions"):
        explore_uniformly(actions, 0, 0.5, g)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_population_vote_with_equal_groups_equals_the_assignment_vector(reduce: str) -> None:
    counts = torch.randint(0, 9, (5, 12), generator=torch.Generator().manual_seed(2)).float()
    by_int = population_vote(counts, 3, reduce=reduce)
    by_vector = population_vote(counts, torch.arange(12) // 4, n_actions=3, reduce=reduce)
    expected = counts.reshape(5, 3, 4).sum(-1) / (4 if reduce == "mean" else 1)
    assert torch.equal(by_int, by_vector) and torch.equal(by_int, expected)


@pytest.mark.parametrize("row", [[0.0, float("nan")], [float("-inf"), float("-inf")], [float("inf"), 1.0]])
def test_softmax_policy_refuses_scores_without_a_distribution(row: list[float]) -> None:
    with pytest.raises(ValueError, match="scores must not contain NaN"):
        softmax_policy(torch.tensor([[1.0, 2.0], row]))
    pi = softmax_policy(torch.tensor([[float("-inf"), 0.0]]))  # -inf alone is fine: probability 0
    assert torch.equal(pi, torch.tensor([[0.0, 1.0]]))
