"""Bernoulli encoding: a spike probability per time step -> independent spikes.

Each element of the input is a probability ``p`` in ``[0, 1]``; in every step it spikes with probability ``p``,
independently of other steps and elements, so its spike count over ``T`` steps is Binomial(T, p):
mean ``T * p``, variance ``T * p * (1 - p)``. Unlike :mod:`spikerl.encoding.poisson` the probability does not
depend on ``dt``.
"""

from __future__ import annotations

import torch

from spikerl.encoding._checks import check_generator, check_number, check_range, check_steps, check_tensor


def bernoulli(p: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Encode per-step spike probabilities ``p`` (float ``[B, *shape]``, in ``[0, 1]``) as a bool spike train
    ``[steps, B, *shape]`` on the device of ``p``; ``generator`` (on that device) makes it reproducible."""
    steps = check_steps(steps)
    p = check_tensor("p", p)
    check_range("p", p, 0.0, 1.0)
    check_generator(generator, p.device)
    u = torch.rand((steps, *p.shape), generator=generator, device=p.device, dtype=p.dtype)
    return u < p


class BernoulliEncoder:
    """Callable Bernoulli encoder for intensities ``x`` in ``[0, 1]``: spike probability ``x * max_prob``.

    ``BernoulliEncoder(steps=100, max_prob=0.2)(x)`` maps ``[B, *shape]`` to bool ``[steps, B, *shape]``.
    """

    def __init__(self, steps: int, max_prob: float = 1.0, generator: torch.Generator | None = None) -> None:
        self.steps = check_steps(steps)
        self.max_prob = check_number("max_prob", max_prob, 0.0, 1.0)
        self.generator = generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = check_tensor("x", x)
        check_range("x", x, 0.0, 1.0)
        return bernoulli(x * self.max_prob, self.steps, self.generator)

    def __repr__(self) -> str:
        return f"BernoulliEncoder(steps={self.steps}, max_prob={self.max_prob})"
