"""Action selection: random tie-break among maxima, softmax probabilities, epsilon-greedy frequencies.

Frequencies are checked within 5 binomial standard deviations (sqrt(n p (1 - p))) of their expectation.
"""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.decoding import argmax_action, epsilon_greedy, softmax_action

Z_TOL = 5.0


def assert_frequency(hits: int, n: int, p: float) -> None:
    sd = math.sqrt(n * p * (1 - p))
    assert abs(hits - n * p) <= Z_TOL * sd, f"{hits} of {n}, expected {n * p} +- {Z_TOL} * {sd}"


def test_unique_maximum_is_chosen() -> None:
    scores = torch.tensor([[0.0, 3.0, 1.0], [5.0, -1.0, 4.9], [float("-inf"), 0.0, -2.0]])
    assert argmax_action(scores).tolist() == [1, 0, 1]
    assert argmax_action(scores).dtype == torch.long


def test_ties_are_broken_uniformly_among_maxima_only() -> None:
    n = 6000
    scores = torch.tensor([[2.0, 0.0, 2.0, 2.0, 1.0]]).repeat(n, 1)
    actions = argmax_action(scores, generator=torch.Generator().manual_seed(0))
    assert set(actions.tolist()) == {0, 2, 3}
    for a in (0, 2, 3):
        assert_frequency(int((actions == a).sum()), n, 1 / 3)


def test_silent_network_picks_every_action() -> None:
    n, n_actions = 4000, 4
    actions = argmax_action(torch.zeros(n, n_actions), generator=torch.Generator().manual_seed(1))
    for a in range(n_actions):
        assert_frequency(int((actions == a).sum()), n, 1 / n_actions)


def test_seeded_generator_reproduces() -> None:
    scores = torch.zeros(100, 5)
    a = argmax_action(scores, torch.Generator().manual_seed(3))
    b = argmax_action(scores, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    s1 = softmax_action(scores, 1.0, torch.Generator().manual_seed(3))
    s2 = softmax_action(scores, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(s1, s2)


def test_softmax_frequencies_match_probabilities() -> None:
    n, temperature = 8000, 2.0
    s = [0.0, 2.0, 4.0]
    actions = softmax_action(torch.tensor([s]).repeat(n, 1), temperature, torch.Generator().manual_seed(4))
    z = sum(math.exp(v / temperature) for v in s)
    for a, v in enumerate(s):
        assert_frequency(int((actions == a).sum()), n, math.exp(v / temperature) / z)


def test_softmax_never_picks_minus_inf_and_low_temperature_is_greedy() -> None:
    scores = torch.tensor([[float("-inf"), 1.0, 0.0]]).repeat(500, 1)
    actions = softmax_action(scores, 1.0, torch.Generator().manual_seed(5))
    assert (actions != 0).all()
    assert (softmax_action(scores, 1e-3, torch.Generator().manual_seed(5)) == 1).all()


def test_epsilon_greedy_frequencies() -> None:
    # P(greedy) = 1 - eps + eps / n_actions; each other action eps / n_actions.
    n, eps, n_actions = 10000, 0.2, 4
    scores = torch.tensor([[0.0, 0.0, 5.0, 1.0]]).repeat(n, 1)
    actions = epsilon_greedy(scores, eps, torch.Generator().manual_seed(6))
    assert_frequency(int((actions == 2).sum()), n, 1 - eps + eps / n_actions)
    for a in (0, 1, 3):
        assert_frequency(int((actions == a).sum()), n, eps / n_actions)


def test_epsilon_zero_and_one() -> None:
    scores = torch.tensor([[0.0, 1.0, 0.0]]).repeat(3000, 1)
    assert (epsilon_greedy(scores, 0.0) == 1).all()
    uniform = epsilon_greedy(scores, 1.0, torch.Generator().manual_seed(7))
    for a in range(3):
        assert_frequency(int((uniform == a).sum()), 3000, 1 / 3)


def test_errors() -> None:
    with pytest.raises(ValueError, match="NaN"):
        argmax_action(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="above -inf"):
        softmax_action(torch.full((1, 2), float("-inf")))
    with pytest.raises(ValueError, match=r"\[B, n_actions\]"):
        argmax_action(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        argmax_action(torch.zeros(3))
    with pytest.raises(ValueError, match="temperature"):
        softmax_action(torch.zeros(1, 2), temperature=0.0)
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_greedy(torch.zeros(1, 2), 1.5)
    with pytest.raises(TypeError, match="floating-point"):
        argmax_action(torch.zeros(1, 2, dtype=torch.long))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_actions_stay_on_device_and_reject_cpu_generator() -> None:
    scores = torch.zeros(8, 3, device="cuda")
    g = torch.Generator(device="cuda").manual_seed(0)
    for action in (argmax_action(scores, g), softmax_action(scores, 1.0, g), epsilon_greedy(scores, 0.5, g)):
        assert action.device == scores.device and action.dtype == torch.long
    with pytest.raises(ValueError, match="generator is on cpu"):
        argmax_action(scores, torch.Generator())
