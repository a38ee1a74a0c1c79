"""Encoders: turn frames, pixels or numbers into spike trains ``[T, B, *shape]`` (or currents, for ``repeat``).

Every encoder takes a batch ``[B, *shape]`` and works on its device; the random ones take an optional
``torch.Generator`` for reproducible trains. Each comes as a function and as a small callable class.

* :func:`poisson` / :class:`PoissonEncoder`: rates in Hz, spike probability ``rate * dt / 1000`` per step.
* :func:`bernoulli` / :class:`BernoulliEncoder`: spike probability per step.
* :func:`normalized_bernoulli` / :class:`NormalizedBernoulliEncoder`: Bernoulli spikes with a fixed expected
  number of spikes per sample and step, whatever the input's total intensity.
* :func:`latency` / :class:`LatencyEncoder`: one spike, earlier for larger inputs; zeros never spike.
* :func:`repeat` / :class:`RepeatEncoder`: the input as a constant current, float ``[T, B, *shape]``.
* :func:`poisson_packed` -> :class:`PackedSpikes`: Poisson trains stored only for the inputs with a non-zero
  rate, drawn from their inter-spike gaps (:func:`bernoulli_trains`); for sparse images such as MNIST.
* :func:`images_to_unit`: uint8 or float images ``[B, ...]`` -> intensities ``[B, n]`` in [0, 1].
"""

from spikerl.encoding.bernoulli import BernoulliEncoder, bernoulli
from spikerl.encoding.images import images_to_unit
from spikerl.encoding.latency import LatencyEncoder, latency, latency_times
from spikerl.encoding.normalized import (
    NormalizedBernoulliEncoder,
    normalized_bernoulli,
    normalized_probabilities,
    sparse_bernoulli,
)
from spikerl.encoding.packed import PackedSpikes, bernoulli_trains, poisson_packed
from spikerl.encoding.poisson import PoissonEncoder, poisson
from spikerl.encoding.repeat import RepeatEncoder, repeat

__all__ = [
    "PoissonEncoder", "poisson", "BernoulliEncoder", "bernoulli", "LatencyEncoder", "latency", "latency_times",
    "RepeatEncoder", "repeat", "NormalizedBernoulliEncoder", "normalized_bernoulli", "normalized_probabilities",
    "sparse_bernoulli", "PackedSpikes", "bernoulli_trains", "poisson_packed", "images_to_unit",
]
