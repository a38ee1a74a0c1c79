"""Float rounding bounds for tests that compare two computations of the same quantity.

Two computations that perform the same IEEE operations in the same order give the same bits, and tests
compare them with ``torch.equal``. Two that sum in a different order or blocking (one ``[T*B, n]`` matrix
product versus ``T`` products of ``[B, n]``, an event-driven sum versus a dense product, several threads)
may differ in the last bits, and by how much depends on the BLAS kernel the CPU picks. Such tests compare
spikes exactly and float states within the bounds below, which hold on every machine.

Notation: ``u = eps / 2`` is the unit roundoff of the dtype (``2**-24`` for float32) and
``gamma(n) = n u / (1 - n u)`` (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., 3.1).
"""

from __future__ import annotations

import types

import pytest
import torch


def unit_roundoff(dtype: torch.dtype) -> float:
    """``u = eps / 2``: a correctly rounded operation has relative error at most ``u``."""
    return torch.finfo(dtype).eps / 2


def gamma(n: int, dtype: torch.dtype) -> float:
    """``gamma(n) = n u / (1 - n u)``: the relative error bound of a sum of ``n + 1`` terms in any order."""
    nu = n * unit_roundoff(dtype)
    assert nu < 1, f"gamma({n}) is undefined in {dtype}"
    return nu / (1 - nu)


def matmul_tolerance(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Elementwise bound on ``|C1 - C2|`` for two evaluations of ``C = a @ b`` in ``dtype``.

    A computed dot product of ``k`` nonzero products (in any order of summation: blocked, vectorised, split
    between threads, with or without fused multiply-adds) lies within ``gamma(k) sum_i |a_i b_i|`` of the
    exact value (Higham 3.1, eq. 3.5); products that are exactly zero (silent inputs) add nothing and round
    nothing, so ``k`` counts the nonzero ones. Two evaluations differ by at most twice that. ``a``: ``[..., K]``
    (bool spikes allowed), ``b``: ``[K, N]``; the bound is computed in float64 and has the shape of ``a @ b``.
    """
    k = (a != 0).double() @ (b != 0).double()
    nu = k * unit_roundoff(dtype)
    assert bool((nu < 1).all()), f"sums too long for a bound in {dtype}"
    return 2 * nu / (1 - nu) * (a.double().abs() @ b.double().abs())


def leaky_state_tolerance(current_tol: torch.Tensor, spikes: torch.Tensor, decay: float,
                          op_magnitudes: tuple[float, ...], dtype: torch.dtype) -> torch.Tensor:
    """Bound on ``|v1[t] - v2[t]|`` for two runs of a leaky integrator whose currents differ by ``current_tol``.

    Two runs of ``v_t = reset_if_spiked(v_rest + (v_{t-1} - v_rest) d + I_t)`` with the same spike trains
    and currents ``I1, I2``, ``|I1_t - I2_t| <= current_tol[t]``, from the same state. Per step the difference
    is multiplied by ``d <= 1`` and grows by ``current_tol[t]``, and each rounded operation of the step can
    round the two runs' results to floats further apart: ``|fl(x) - fl(y)| <= |x - y| + u |x| + u |y|``, at most
    ``2 u M`` more for results of size at most ``M`` (``op_magnitudes``: one ``M`` per operation). So before firing

        ``e_t = d e_{t-1} + current_tol[t] + 2 u sum(op_magnitudes)``,

    and a spike resets both runs to ``v_reset`` exactly (``e_t = 0`` after it). Returns ``e_t`` before that
    reset, ``[T, B, ...]`` like ``current_tol``: it bounds the pre-threshold membranes of the two runs and
    their recorded membranes at every step.
    """
    rounding = 2 * unit_roundoff(dtype) * sum(op_magnitudes)
    bound = torch.empty(current_tol.shape, dtype=torch.float64)
    e = torch.zeros(current_tol.shape[1:], dtype=torch.float64)
    for t in range(current_tol.shape[0]):
        bound[t] = decay * e + current_tol[t].double() + rounding
        e = torch.where(spikes[t], torch.zeros_like(e), bound[t])
    return bound


def same_spikes_until_rounding_flip(spikes_a: torch.Tensor, spikes_b: torch.Tensor, v_pre: torch.Tensor,
                                    threshold: torch.Tensor, tol: torch.Tensor, one_spike: bool = False
                                    ) -> torch.Tensor:
    """Compare two runs' spikes ``[T, B, n]`` exactly, excusing only flips that rounding can cause.

    ``v_pre``: run b's membranes before firing; ``threshold`` broadcasts against it; ``tol``: a bound on the
    difference to run a's (e.g. :func:`leaky_state_tolerance`), valid while the two runs' spikes agree. A
    neuron's spikes must agree until its first difference, and there its membrane must lie within ``tol``
    of the threshold, so that the two runs may legitimately decide differently (after that their
    membranes differ by a reset and are no longer compared). With ``one_spike`` (per sample and step, only the
    largest overshoot ``v - threshold`` fires) the neurons of a sample are coupled: the whole sample stops
    at its first difference, which must have a membrane within ``tol`` of the threshold or two overshoots
    within the sum of their ``tol``. On most machines the runs agree everywhere.

    Returns the bool mask ``[T, B, n]`` of the entries before the first difference (where states can be
    compared).
    """
    differ = spikes_a != spikes_b
    if one_spike:
        differ = differ.flatten(2).any(2, keepdim=True).expand(spikes_a.shape[:2] + (spikes_a[0, 0].numel(),))
        differ = differ.reshape(spikes_a.shape)
    seen = differ.cumsum(0)
    first = differ & (seen == 1)
    near = (v_pre.double() - threshold.double()).abs() <= tol
    if one_spike:
        overshoot = torch.where(v_pre >= threshold, v_pre.double() - threshold.double(), -torch.inf).flatten(2)
        top, where = overshoot.topk(2, dim=2)  # the winner and the runner-up of each step
        close = top[..., 0] - top[..., 1] <= tol.expand(v_pre.shape).flatten(2).gather(2, where).sum(2)
        near = (near.flatten(2).any(2) | close).unsqueeze(2).expand(near.flatten(2).shape).reshape(near.shape)
    unexplained = first & ~near
    assert not bool(unexplained.any()), (
        f"spikes differ where no membrane is within rounding of its threshold: first at (t, b, neuron) = "
        f"{unexplained.flatten(2).nonzero()[0].tolist()}")
    return seen == 0


@pytest.fixture
def float_bounds() -> types.SimpleNamespace:
    """The bound helpers of this module, for tests in subfolders (``float_bounds.matmul_tolerance`` ...)."""
    return types.SimpleNamespace(unit_roundoff=unit_roundoff, gamma=gamma, matmul_tolerance=matmul_tolerance,
                                 leaky_state_tolerance=leaky_state_tolerance,
                                 same_spikes_until_rounding_flip=same_spikes_until_rounding_flip)
