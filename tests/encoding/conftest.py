"""Shared statistics for the encoder tests (a fixture, so no test imports this module by name)."""

from __future__ import annotations

import math
from typing import Callable

import pytest
import torch

# Tolerance of every statistical check: an observed total is accepted within Z_TOL standard deviations of its
# expectation. For a normal approximation the chance of a false failure is about 6e-7 per check, and every
# test draws from a seeded generator, so the outcome is deterministic anyway.
Z_TOL = 5.0


def _assert_binomial_total(train: torch.Tensor, p: float, what: str = "spikes") -> None:
    n = train.numel()
    total = float(train.sum())
    sd = math.sqrt(n * p * (1.0 - p))
    assert abs(total - n * p) <= Z_TOL * sd, f"{what}: {total} spikes, expected {n * p} +- {Z_TOL} * {sd}"


@pytest.fixture
def binomial_total() -> Callable[..., None]:
    """``check(train, p)``: ``train.sum()`` of ``n`` independent Bernoulli(p) draws must lie within ``Z_TOL``
    binomial standard deviations, ``sqrt(n p (1 - p))``, of ``n p``."""
    return _assert_binomial_total
