"""Repeat encoding: present the input as a constant current for ``T`` steps.

The result is not a spike train but a current ``[T, B, *shape]`` (mV per step, the convention of
:mod:`spikerl.neurons.base`) to inject into a layer of spiking neurons, which then does the encoding itself:
``I[t] = scale * x`` for every ``t``. An integrate-and-fire neuron with threshold ``theta`` driven this way
fires at a rate that grows with ``x``.
"""

from __future__ import annotations

import torch

from spikerl.encoding._checks import check_number, check_steps, check_tensor
from spikerl.validation import check_finite


def repeat(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Repeat ``x`` (float ``[B, *shape]``) over ``steps`` time steps: a new float tensor ``[steps, B, *shape]``
    (a copy, not a view, so writing into it never touches ``x``) with the dtype and device of ``x``. ``x`` must be
    finite: a NaN current would silently poison every membrane it reaches."""
    steps = check_steps(steps)
    x = check_tensor("x", x)
    check_finite("x", x)
    return x.unsqueeze(0).expand(steps, *x.shape).clone()


class RepeatEncoder:
    """Callable constant-current encoder: ``RepeatEncoder(steps, scale)(x)`` is ``repeat(x * scale, steps)``."""

    def __init__(self, steps: int, scale: float = 1.0) -> None:
        self.steps = check_steps(steps)
        self.scale = check_number("scale", scale)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return repeat(check_tensor("x", x) * self.scale, self.steps)

    def __repr__(self) -> str:
        return f"RepeatEncoder(steps={self.steps}, scale={self.scale})"
