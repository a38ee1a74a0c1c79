"""The ``"compiled"`` backend: a layer's own step loop over ``T`` fused by ``torch.compile``.

Unlike the C kernels, nothing is restated: the function compiled is the reference loop over the model's pure
step function, so the backend cannot drift from it. Inductor turns the ``T`` unrolled steps into a few fused
kernels (C++ on the CPU, Triton on CUDA), so on a GPU a presentation costs a handful of launches instead of
several per step. Compilation happens once per function, shape and dtype (``dynamic=False``; a new ``T`` or
batch size compiles again) and takes seconds to a minute, so the backend is opt-in (``backend="compiled"``).

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
from typing import TypeVar

import torch

from spikerl.kernels.backend import BackendUnavailable

F = TypeVar("F", bound=Callable)


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
