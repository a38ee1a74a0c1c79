"""Checks at the boundaries of the engine: no NaN, no infinity and no silently ignored value gets in.

Every check raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for a value of the right kind
that is out of range, with a message that names the parameter, the bad value and what was expected.

Checks run where values *enter* (constructors, ``set_weights``, ``load_state_dict``, once per
``Network.run``), never inside a time loop. A check of a tensor reads one boolean back from its device: on
CUDA that is one host synchronisation per call of the checking function, which is why none of them is
called per simulation step.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
import warnings
from typing import Any, Callable, Iterable

import torch


def check_finite(name: str, value: float | torch.Tensor) -> None:
    """Raise ``ValueError`` if the number ``value``, or any element of the tensor ``value``, is NaN or infinite.

    The message names ``name``, the number of bad elements of a tensor and the first of them.
    """
    if isinstance(value, torch.Tensor):
        if not (value.is_floating_point() or value.is_complex()):
            return  # integer and bool tensors hold no NaN or infinity
        if bool(torch.isfinite(value.sum())):
            return  # a sum is finite only if every term is: one fast reduction (about 25x faster than isfinite)
        finite = torch.isfinite(value)  # the sum overflowed, or there is a bad value: find it
        if not bool(finite.all()):
            bad = (~finite).nonzero()
            first = tuple(int(i) for i in bad[0])
            raise ValueError(f"{name} must be finite, found {bad.shape[0]} NaN or infinite value(s) among "
                             f"{value.numel()} (first: {value[first].item()} at index {list(first)})")
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def check_number(name: str, value: float, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number in ``[low, high]`` (``(low, high]`` when
    ``low_open``), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if not math.isfinite(value) or too_low or value > high:
        raise ValueError(f"{name} must be a finite number{_describe_range(low, high, low_open)}, got {value!r}")
    return value


def _describe_range(low: float, high: float, low_open: bool) -> str:
    """`` in [0, 1]``, `` > 0``, `` <= 5`` or nothing, for error messages."""
    if math.isinf(low) and math.isinf(high):
        return ""
    if math.isinf(high):
        return f" {'>' if low_open else '>='} {low:g}"
    if math.isinf(low):
        return f" <= {high:g}"
    return f" in {'(' if low_open else '['}{low:g}, {high:g}]"


def check_fields_finite(params: Any, allow_inf: Iterable[str] = ()) -> None:
    """Raise ``ValueError`` unless every numeric field of the dataclass ``params`` is finite.

    NaN is always refused; ``+-inf`` only in the fields named in ``allow_inf`` (e.g. ``tau_mem_ms = inf``, a
    neuron without leak). ``None`` fields (optional bounds) and non-numeric fields are left to the caller.
    """
    allowed = set(allow_inf)
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        if math.isnan(value) or (math.isinf(value) and f.name not in allowed):
            raise ValueError(f"{type(params).__name__}.{f.name} must be a finite number, got {value!r}")


def warn_if_saturated(name: str, rate_hz: float, dt_ms: float) -> bool:
    """Warn (``RuntimeWarning``) when a Poisson rate cannot be reached in steps of ``dt_ms``.

    A rate ``r`` (Hz) gives a spike probability ``r * dt / 1000`` per step, at most 1: above ``1000 / dt`` Hz
    every step spikes and the rest of the rate is lost. Returns True when it warned.
    """
    if rate_hz * dt_ms / 1000.0 <= 1.0:
        return False
    warnings.warn(f"{name} = {rate_hz:g} Hz exceeds 1000 / dt = {1000.0 / dt_ms:g} Hz (dt = {dt_ms:g} ms): the "
                  f"spike probability per step saturates at 1 (one spike every step), so the encoded rate is "
                  f"{1000.0 / dt_ms:g} Hz, not {rate_hz:g} Hz", RuntimeWarning, stacklevel=3)
    return True


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``, or ``ValueError`` if it is malformed or not available on this machine.

    ``torch.device("cuda")`` alone succeeds without CUDA; tensors then fail later, deep in the code (or, in
    libraries that fall back, run silently on the CPU). This check fails first, with the reason.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"invalid device {device!r}: {error}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} requested but torch.cuda.is_available() is False (no CUDA "
                             f"GPU or driver, or a CPU-only torch {torch.__version__}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} requested but only {torch.cuda.device_count()} CUDA "
                             "device(s) are visible")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {str(device)!r} requested but torch.backends.mps.is_available() is False")
    return dev


def number_flag(low: float = -math.inf, high: float = math.inf, low_open: bool = False,
                integer: bool = False) -> Callable[[str], float]:
    """An ``argparse`` ``type=`` that accepts a finite number in ``[low, high]`` (``(low, high]`` when
    ``low_open``; an ``int`` when ``integer``) and turns anything else into a usage error that says why.

    ``parser.add_argument("--epsilon", type=number_flag(0, 1))`` makes ``--epsilon 2`` exit with
    ``argument --epsilon: must be a finite number in [0, 1], got 2``, and ``--temperature -1`` (with
    ``number_flag(0, low_open=True)``) with ``must be a finite number > 0, got -1``.
    """
    def parse(text: str) -> float:
        kind = "an integer" if integer else "a finite number"
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            raise argparse.ArgumentTypeError(f"must be {kind}{_describe_range(low, high, low_open)}, got {text}")
        return value

    parse.__name__ = "int" if integer else "float"
    return parse
