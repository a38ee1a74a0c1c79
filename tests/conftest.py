"""Float rounding bounds for tests that compare two computations of the same quantity, and a recorder of read
backs (host-device synchronisations) for the no-stall tests (:class:`ReadBackRecorder`, fixture ``read_backs``).

Two computations that perform the same IEEE operations in the same order give the same bits, and tests
compare them with ``torch.equal``. Two that sum in a different order or blocking (one ``[T*B, n]`` matrix
product versus ``T`` products of ``[B, n]``, an event-driven sum versus a dense product, several threads)
may differ in the last bits, and by how much depends on the BLAS kernel the CPU picks. Such tests compare
spikes exactly and float states within the bounds below, which hold on every machine.

Notation: ``u = eps / 2`` is the unit roundoff of the dtype (``2**-24`` for float32) and
``gamma(n) = n u / (1 - n u)`` (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., 3.1).
"""

from __future__ import annotations

import os
import sys
import types
import weakref
from collections.abc import Callable
from typing import Any

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


# --- read backs (host-device synchronisations) ------------------------------------------------------------

READ_BACKS = frozenset({"item", "__bool__", "__int__", "__float__", "__index__", "__array__", "__format__",
                        "__repr__", "nonzero", "argwhere", "cpu", "tolist", "numpy", "unique", "unique_consecutive",
                        "masked_select", "equal"})
"""Tensor calls that read values back to Python (on CUDA each waits for the device): conversions to Python
objects and operations whose output shape depends on the data."""


class ReadBackRecorder(torch.overrides.TorchFunctionMode):
    """Records every read back (:data:`READ_BACKS`, and indexing with a bool tensor) made while active.

    ``allowed``: names (``co_qualname``, e.g. ``"RSTDP.dump_logs"``) of functions whose read backs are expected;
    a call counts as theirs when one of them is on the stack. The result of an allowed ``cpu()`` is host
    data: later reads of that tensor are not read backs. ``calls``: ``(call, site, allowed_by)`` for every read
    back, ``site`` the innermost project function making it. ``loops``: names of time-loop functions;
    ``in_loops`` lists the ``(call, site)`` of the read backs made while one of them was on the stack.
    """

    def __init__(self, allowed: tuple[str, ...] = (), loops: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.allowed, self.loops = frozenset(allowed), frozenset(loops)
        self.calls: list[tuple[str, str, str | None]] = []
        self.in_loops: list[tuple[str, str]] = []
        self._host: dict[int, Any] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        read = name in READ_BACKS or (name == "__getitem__" and _bool_index(args[1]))
        if read and not self._is_host(args[0] if args else None):
            site, allowed_by, in_loop = self._sites()
            self.calls.append((name, site, allowed_by))
            if in_loop:
                self.in_loops.append((name, site))
            if name == "cpu" and allowed_by is not None and isinstance(out, torch.Tensor):
                self._host[id(out)] = weakref.ref(out)
        return out

    def _is_host(self, tensor: object) -> bool:
        ref = self._host.get(id(tensor))
        return ref is not None and ref() is tensor

    def _sites(self) -> tuple[str, str | None, bool]:
        frame, site, allowed_by, in_loop = sys._getframe(2), None, None, False
        while frame is not None:
            code = frame.f_code
            if site is None and not code.co_filename.startswith(_TORCH_DIR) and code.co_filename != __file__:
                site = f"{frame.f_globals.get('__name__')}.{code.co_qualname}:{frame.f_lineno}"
            if code.co_qualname in self.allowed and allowed_by is None:
                allowed_by = code.co_qualname
            in_loop = in_loop or code.co_qualname in self.loops
            frame = frame.f_back
        return site or "?", allowed_by, in_loop

    @property
    def unexpected(self) -> list[tuple[str, str]]:
        """``(call, site)`` of the read backs made outside the allowed functions."""
        return [(name, site) for name, site, allowed_by in self.calls if allowed_by is None]

    def count(self, allowed_by: str) -> int:
        """Read backs made inside the allowed function ``allowed_by``."""
        return sum(1 for *_, by in self.calls if by == allowed_by)


def _bool_index(index: object) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


_TORCH_DIR = os.path.dirname(torch.__file__)


@pytest.fixture
def read_backs(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ReadBackRecorder]:
    """Factory ``read_backs(allowed=(...), loops=(...))`` -> a :class:`ReadBackRecorder` to use as a context manager, with the
    engine's accelerator paths forced on the CPU (``spikerl.sync.reads_are_free`` answers False): what the
    recorder sees is what a CUDA run would wait for."""
    from spikerl import sync

    monkeypatch.setattr(sync, "reads_are_free", lambda device: False)
    return lambda allowed=(), loops=(): ReadBackRecorder(tuple(allowed), tuple(loops))


@pytest.fixture(autouse=True)
def _sync_debug_mode_restored():
    """A test that sets ``torch.cuda.set_sync_debug_mode("error")`` and fails before resetting it would make every
    later CUDA call in the process raise; each test starts in and leaves the mode it found."""
    if not torch.cuda.is_available():
        yield
        return
    before = torch.cuda.get_sync_debug_mode()
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(before)
