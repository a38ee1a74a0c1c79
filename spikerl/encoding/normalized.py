"""Bernoulli encoding with a fixed expected number of spikes per step, whatever the input's total intensity.

An input ``x`` (intensities in ``[0, 1]``, ``[B, *shape]``) spikes in every step with probability

    p_i = min(1, x_i * k / sum_j x_j)

(the sum over one sample), so each sample emits ``k`` spikes per step in expectation (fewer only where the
``min`` clips), independently of how many of its elements are lit: a network driven by it gets the same drive
from a sparse frame as from a busy one. A blank sample (``sum_j x_j = 0``) never spikes. The spikes of one step
are independent Bernoulli draws as in :mod:`spikerl.encoding.bernoulli`; random numbers are drawn only for
the elements with ``p_i > 0`` (frames are mostly dark), so the train depends only on those elements'
probabilities and the generator. That needs the lit elements' positions, a read back that would stall an
accelerator: with the data and the generator both off the host (:func:`spikerl.sync.reads_are_free`), one
uniform number is drawn per element instead (the same distribution, other random numbers).
"""

from __future__ import annotations

import torch

from spikerl import sync
from spikerl.encoding._checks import check_generator, check_number, check_steps, check_tensor


def normalized_probabilities(x: torch.Tensor, spikes_per_step: float, validate: bool = True) -> torch.Tensor:
    """Per-step spike probabilities ``p_i = min(1, x_i * k / sum_j x_j)``, ``[B, *shape]``, for intensities ``x``
    (float ``[B, *shape]`` in ``[0, 1]``) and ``k = spikes_per_step`` (> 0). The sum is floored at ``1e-6``, so
    a blank sample gets ``p = 0``. ``validate`` checks that ``x`` lies in ``[0, 1]`` (one reduction read back);
    ``False`` skips that read for a caller whose ``x`` is in range by construction (e.g. clamped)."""
    x = check_tensor("x", x)
    k = check_number("spikes_per_step", spikes_per_step, low=0.0, low_open=True)
    if validate and x.numel():
        low, high = (float(v) for v in torch.aminmax(x))  # one reduction; a NaN makes both NaN: both tests fail
        if not (low >= 0.0 and high <= 1.0):
            raise ValueError(f"x must hold intensities in [0, 1]; found min {low}, max {high}; "
                             "scale observations first")
    total = x.flatten(1).sum(1).clamp_min(1e-6).reshape(-1, *[1] * (x.dim() - 1))
    return (x * (k / total)).clamp_(max=1.0)


def sparse_bernoulli(p: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bool spike train ``[steps, B, *shape]``: element ``i`` spikes in each step with probability ``p_i``.

    The same distribution as :func:`spikerl.encoding.bernoulli`, but uniform numbers are drawn only for the
    elements with ``p_i > 0`` (``steps`` per such element, step-major), on the generator's device, and moved
    to the device of ``p``: a CPU generator thus gives the same train whether ``p`` is on the CPU or an
    accelerator (reading the lit elements back from it). With ``p`` and the generator (``None``: the default
    one of ``p``'s device) both on an accelerator, ``[steps, *p.shape]`` uniforms are drawn instead, on the
    device and without reading anything back. ``p`` must lie in ``[0, 1]`` (not checked here:
    :func:`normalized_probabilities` makes it so).
    """
    steps = check_steps(steps)
    p = check_tensor("p", p)
    if generator is not None and generator.device.type != "cpu":
        check_generator(generator, p.device)
    draw_device = generator.device if generator is not None else p.device
    if not (sync.reads_are_free(p.device) or sync.reads_are_free(draw_device)):
        return torch.rand((steps, *p.shape), generator=generator, device=draw_device) < p
    flat = p.flatten()
    lit = flat.nonzero().squeeze(1)
    u = torch.rand((steps, lit.numel()), generator=generator, device=draw_device).to(p.device)
    spikes = torch.zeros((steps, p.numel()), dtype=torch.bool, device=p.device)
    spikes.index_copy_(1, lit, u < flat.index_select(0, lit))
    return spikes.reshape(steps, *p.shape)


def normalized_bernoulli(x: torch.Tensor, spikes_per_step: float, steps: int,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Encode intensities ``x`` (float ``[B, *shape]`` in ``[0, 1]``) as a bool spike train ``[steps, B, *shape]``
    with ``spikes_per_step`` expected spikes per sample and step (see the module docstring)."""
    return sparse_bernoulli(normalized_probabilities(x, spikes_per_step), steps, generator)


class NormalizedBernoulliEncoder:
    """Callable :func:`normalized_bernoulli` encoder.

    ``NormalizedBernoulliEncoder(steps=8, spikes_per_step=16.0)(x)`` maps intensities ``[B, *shape]`` in
    ``[0, 1]`` to bool ``[8, B, *shape]`` with 16 expected spikes per sample and step.
    """

    def __init__(self, steps: int, spikes_per_step: float, generator: torch.Generator | None = None,
                 validate: bool = True) -> None:
        self.steps = check_steps(steps)
        self.spikes_per_step = check_number("spikes_per_step", spikes_per_step, low=0.0, low_open=True)
        self.generator = generator
        self.validate = validate

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """The per-step spike probabilities ``[B, *shape]`` the encoder uses for ``x`` (range-checked unless the
        encoder was made with ``validate=False``, see :func:`normalized_probabilities`)."""
        return normalized_probabilities(x, self.spikes_per_step, self.validate)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return sparse_bernoulli(self.probabilities(x), self.steps, self.generator)

    def __repr__(self) -> str:
        return f"NormalizedBernoulliEncoder(steps={self.steps}, spikes_per_step={self.spikes_per_step})"
