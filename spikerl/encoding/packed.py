"""Packed spike trains: Poisson trains stored and sampled only for the inputs that can spike.

An MNIST digit has about 150 non-blank pixels of 784; a train ``[T, B, 784]`` stores mostly zeros that no
random number can change. :class:`PackedSpikes` keeps, per sample, the pixel index of each non-blank input and
the train of those inputs only (``[T, B, A]`` with ``A`` the most non-blank pixels in the batch), and
:func:`bernoulli_trains` draws such trains from their inter-spike gaps (about one random number per spike
instead of one per input and step). :func:`poisson_packed` combines both: intensities in [0, 1] times a rate in
Hz -> a packed train with the distribution of :func:`spikerl.encoding.poisson`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from spikerl import sync


class PackedSpikes(NamedTuple):
    """Input spike trains stored only for each sample's non-blank inputs.

    Attributes:
        index: long ``[B, A]``: input index of each slot (``A`` = most non-blank inputs of a sample in the
            batch; spare slots of a sample point at inputs whose rate is 0, so they never spike).
        spikes: bool ``[T, B, A]``: the spike train of each slot.
    """

    index: torch.Tensor
    spikes: torch.Tensor

    def to_dense(self, n_inputs: int) -> torch.Tensor:
        """The full train ``[T, B, n_inputs]`` (bool)."""
        steps, batch, _ = self.spikes.shape
        out = torch.zeros(steps, batch, n_inputs, dtype=torch.bool, device=self.spikes.device)
        return out.scatter_(2, self.index.unsqueeze(0).expand_as(self.spikes), self.spikes)

    @staticmethod
    def from_dense(train: torch.Tensor) -> PackedSpikes:
        """Pack a dense train ``[T, B, n]`` (keeps every input that spikes at least once)."""
        active = train.any(0)
        width = max(1, int(active.sum(1).max()))
        index = torch.argsort((~active).to(torch.int8), dim=1, stable=True)[:, :width]
        return PackedSpikes(index, train.gather(2, index.unsqueeze(0).expand(train.shape[0], -1, -1)))

    def batch_slice(self, start: int, stop: int) -> PackedSpikes:
        """Samples ``start:stop`` of the batch: ``index [stop - start, A]``, ``spikes [T, stop - start, A]``."""
        return PackedSpikes(self.index[start:stop], self.spikes[:, start:stop])


def bernoulli_trains(p: torch.Tensor, steps: int, generator: torch.Generator | None = None,
                     draws: int = 8) -> torch.Tensor:
    """Spike trains ``[steps, *p.shape]`` (bool) that spike independently with probability ``p`` in each step.

    The same distribution as :func:`spikerl.encoding.bernoulli` (a Bernoulli process per element), sampled
    through its inter-spike gaps: the number of steps from one spike to the next is geometric,
    ``P(gap = k) = (1 - p)^(k - 1) p``, drawn by inversion, ``gap = floor(log(1 - u) / log(1 - p)) + 1``. This
    takes about one random number per spike (``draws`` per element and round, rounds until every element has
    passed the last step) instead of one per element and step: for MNIST rates, 20 to 30 times fewer.
    Elements with ``p = 0`` draw nothing. Each round reads back which elements are done, so on an accelerator
    (:func:`spikerl.sync.reads_are_free`) one uniform per element and step is drawn instead, on the device
    (the same distribution, other random numbers, no read back).
    """
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not sync.reads_are_free(p.device):
        return torch.rand((steps, *p.shape), generator=generator, device=p.device, dtype=p.dtype) < p
    flat = p.reshape(-1)
    out = torch.zeros(steps, flat.numel(), dtype=torch.bool, device=p.device)
    slots = torch.nonzero(flat > 0).squeeze(1)
    log_q = torch.log1p(-flat[slots].clamp(max=1.0))          # log(1 - p); -inf where p = 1 (gap 1)
    last = torch.full((slots.numel(),), -1, dtype=torch.long, device=p.device)
    while slots.numel():
        u = torch.rand(draws, slots.numel(), generator=generator, device=p.device, dtype=flat.dtype)
        gaps = torch.floor(torch.log1p(-u) / log_q) + 1       # 1 - u in (0, 1]: gaps >= 1
        times = last + gaps.clamp(max=steps + 1).long().cumsum(0)
        k, j = (times < steps).nonzero().unbind(1)
        out[times[k, j], slots[j]] = True
        last = times[-1]
        more = last < steps - 1
        slots, log_q, last = slots[more], log_q[more], last[more]
    return out.reshape(steps, *p.shape)


def poisson_packed(x: torch.Tensor, rate_hz: torch.Tensor | float, steps: int, dt_ms: float = 1.0,
                   generator: torch.Generator | None = None) -> PackedSpikes:
    """Poisson trains for intensities ``x [B, n]`` in [0, 1] at ``x * rate_hz`` Hz (``rate_hz``: number or ``[B]``).

    In each step of ``dt_ms`` ms an input spikes with probability ``min(rate * dt / 1000, 1)``, as in
    :func:`spikerl.encoding.poisson`. Only inputs with a non-zero rate are stored and sampled
    (:func:`bernoulli_trains`). Returns packed trains ``[steps, B, A]``.
    """
    rates = x * torch.as_tensor(rate_hz, dtype=x.dtype, device=x.device).reshape(-1, 1)
    if bool((rates < 0).any()) or not bool(torch.isfinite(rates).all()):
        raise ValueError("rates must be finite and >= 0")
    active = rates > 0
    width = max(1, int(active.sum(1).max()))
    index = torch.argsort((~active).to(torch.int8), dim=1, stable=True)[:, :width]
    p = (rates.gather(1, index) * (dt_ms / 1000.0)).clamp(max=1.0)
    return PackedSpikes(index, bernoulli_trains(p, steps, generator))
