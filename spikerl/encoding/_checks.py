"""Argument checks shared by the encoders and decoders (private).

Each check raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for a value of the right kind
that is out of range, with a message naming the argument and what was expected. Range checks on tensors read
one boolean back from the device: encoders and decoders run once per sample or per environment step, never
inside the network's time loop.
"""

from __future__ import annotations

import math
import numbers

import torch

from spikerl.validation import check_number

__all__ = ["check_steps", "check_number", "check_tensor", "check_range", "check_generator"]


def check_steps(steps: int) -> int:
    """Return ``steps`` as an ``int`` or raise: it must be a positive integer (not a bool or a float)."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be a positive int, got {type(steps).__name__} {steps!r}")
    if steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    return int(steps)


def check_tensor(name: str, x: object, floating: bool = True, min_dim: int = 1) -> torch.Tensor:
    """Return ``x`` if it is a tensor with at least ``min_dim`` dimensions (and a floating dtype when
    ``floating``), else raise."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
                        "convert it first, e.g. images.float() / 255")
    if x.dim() < min_dim:
        dims = "[B, *shape]" if min_dim == 1 else f"at least {min_dim} dimensions"
        raise ValueError(f"{name} must have {dims}, got shape {list(x.shape)}")
    return x


def check_range(name: str, x: torch.Tensor, low: float = 0.0, high: float = math.inf) -> None:
    """Raise ``ValueError`` unless every element of ``x`` is finite (``high`` may be ``inf``) and in
    ``[low, high]``."""
    bad = (x < low) | (x > high) | torch.isnan(x)
    if math.isinf(high):
        bad |= torch.isinf(x)
    if bool(bad.any()):
        hi = "inf)" if math.isinf(high) else f"{high}]"
        raise ValueError(f"{name} must be finite and in [{low}, {hi}; found "
                         f"min {x.min().item()}, max {x.max().item()}")


def check_generator(generator: torch.Generator | None, device: torch.device) -> None:
    """Raise unless ``generator`` is ``None`` or a ``torch.Generator`` on the same device type as the data."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if generator.device.type != device.type:
        raise ValueError(f"generator is on {generator.device} but the data is on {device}; "
                         f"create it with torch.Generator(device='{device.type}')")
