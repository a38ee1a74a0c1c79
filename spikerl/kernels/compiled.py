"""The ``"compiled"`` backend: a layer's own step loop over ``T`` fused by ``torch.compile``.

Unlike the C kernels, nothing is restated: the function compiled is the reference loop over the model's pure
step function, so the backend cannot drift from it. Dynamo unrolls the loop over ``T`` and Inductor turns the
unrolled steps into a few fused kernels (C++ on the CPU, Triton on CUDA), so on a GPU a run costs a handful of
launches instead of several per step. Compile time grows with the number of unrolled steps (on an H200 machine
100 steps took 54 s, 1000 steps did not finish in 150 s), so :func:`scan_in_chunks` runs long trains as
chunks of :data:`CHUNK_STEPS` steps, the remainder as chunks of 16 and 8 and its last 0-7 steps uncompiled:
at most three compiled lengths per layer setting, shape and dtype (``dynamic=False``), whatever ``T``. Compiling
still takes seconds to a minute, so the backend is opt-in (``backend="compiled"``).

Where ``torch.compile`` cannot work the backend raises :class:`BackendUnavailable` with the reason
(:func:`unavailable_reason`): Windows, a Python that Dynamo does not support, no C++ compiler for Inductor's
CPU code, no Triton for CUDA, or ``SPIKERL_NO_COMPILE`` set.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from spikerl.kernels.backend import BackendUnavailable

F = TypeVar("F", bound=Callable)

CHUNK_STEPS = 32
"""Steps per compiled chunk of a long scan (a power of two; the remainder uses 16 and 8)."""


def unavailable_reason(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot compile for ``device`` here, or ``None`` when it can."""
    if os.environ.get("SPIKERL_NO_COMPILE", "0") not in ("", "0"):
        return f"SPIKERL_NO_COMPILE={os.environ['SPIKERL_NO_COMPILE']} turns torch.compile off"
    if sys.platform == "win32":
        return "torch.compile's Inductor backend is not supported on Windows here"
    try:
        import torch._dynamo  # noqa: F401  (part of torch; absent only in stripped builds)
        if not torch._dynamo.is_dynamo_supported():
            return f"torch.compile does not support Python {sys.version.split()[0]} in torch {torch.__version__}"
    except ImportError as err:
        return f"torch.compile is unavailable ({err})"
    if device.type == "cpu":
        compiler = os.environ.get("CXX", "c++")
        if shutil.which(compiler) is None and shutil.which("g++") is None:
            return f"no C++ compiler ({compiler!r} or 'g++') for Inductor's CPU code"
    elif device.type == "cuda":
        if importlib.util.find_spec("triton") is None:
            return "Inductor's CUDA code needs the triton package, which is not installed"
    else:
        return f"the compiled backend serves CPU and CUDA tensors, got {device.type}"
    return None


@functools.cache
def _compiled(fn: Callable) -> Callable:
    return torch.compile(fn, dynamic=False, fullgraph=True)


def compiled(fn: F, device: torch.device) -> F:
    """``torch.compile(fn)`` (made once per function) for tensors on ``device``, or :class:`BackendUnavailable`
    saying why it cannot be compiled there."""
    reason = unavailable_reason(device)
    if reason is not None:
        raise BackendUnavailable("compiled", reason)
    return _compiled(fn)


def chunk_lengths(steps: int, chunk: int = CHUNK_STEPS) -> tuple[list[int], int]:
    """How :func:`scan_in_chunks` splits ``steps``: the compiled chunk lengths (``chunk`` as often as it fits,
    then at most one each of ``chunk / 2``, ``chunk / 4``, ... down to 8) and the uncompiled tail (0-7 steps).

    >>> chunk_lengths(250)
    ([32, 32, 32, 32, 32, 32, 32, 16, 8], 2)
    """
    lengths, rest = [chunk] * (steps // chunk), steps % chunk
    size = chunk // 2
    while size >= 8:
        if rest >= size:
            lengths.append(size)
            rest -= size
        size //= 2
    return lengths, rest


def chunk_slices(steps: int) -> list[tuple[slice, bool]]:
    """The parts of ``steps`` that :func:`chunk_lengths` gives, as ``(slice, compiled)`` in order: ``compiled``
    is False for the uncompiled tail of fewer than 8 steps."""
    lengths, tail = chunk_lengths(steps)
    parts, start = [], 0
    for length, is_compiled in [(n, True) for n in lengths] + [(tail, False)]:
        if length:
            parts.append((slice(start, start + length), is_compiled))
            start += length
    return parts


def scan_in_chunks(loop: Callable[..., tuple[torch.Tensor, Any, dict[str, torch.Tensor]]], currents: torch.Tensor,
                   state: Any, *args: Any, record: tuple[str, ...] = ()
                   ) -> tuple[torch.Tensor, Any, dict[str, torch.Tensor]]:
    """``loop(currents, state, *args, record)`` over ``T = currents.shape[0]`` steps, run as compiled chunks
    (:func:`chunk_lengths`; the tail of fewer than 8 steps by ``loop`` itself) with the state carried between
    them; spikes ``[T, ...]`` and the recorded fields concatenated. ``loop`` is a scan of a pure step function
    (e.g. :func:`spikerl.neurons.lif.lif_scan_loop`) returning ``(spikes, state, recorded)``; ``state`` is
    passed through untouched."""
    fn, parts = compiled(loop, currents.device), []
    for part, is_compiled in chunk_slices(currents.shape[0]):
        parts.append((fn if is_compiled else loop)(currents[part], state, *args, record))
        state = parts[-1][1]
    if len(parts) == 1:
        return parts[0]
    spikes = torch.cat([p[0] for p in parts])
    return spikes, state, {f: torch.cat([p[2][f] for p in parts]) for f in record}
