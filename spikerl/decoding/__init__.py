"""Decoders: from spike trains ``[T, B, *shape]`` or counts to numbers, actions and labels.

* :func:`spike_counts`, :func:`firing_rates`, :func:`first_spike_times`: per-neuron summaries ``[B, *shape]``;
  :func:`sparse_spike_counts`: exact long counts of a sparse bool train ``[T, B, n]`` from its events.
* :func:`population_vote`: groups of neurons vote for actions, ``[B, n] -> [B, n_actions]``.
* :func:`argmax_action`, :func:`softmax_action`, :func:`epsilon_greedy`: scores -> one action per sample,
  ties broken at random.
* :func:`softmax_policy`, :func:`sample_action`, :func:`explore_uniformly`: the same choices in parts, for
  agents that learn from the policy's probabilities.
* :func:`assign_labels`, :func:`all_activity`, :func:`proportion_weighting`: Diehl & Cook's label assignment
  and evaluation for unsupervised networks.
"""

from spikerl.decoding.actions import argmax_action, epsilon_greedy, softmax_action
from spikerl.decoding.counts import firing_rates, sparse_spike_counts, spike_counts
from spikerl.decoding.labels import (
    all_activity,
    all_activity_scores,
    assign_labels,
    proportion_weighting,
    proportion_weighting_scores,
)
from spikerl.decoding.population import group_matrix, population_vote
from spikerl.decoding.sampling import explore_uniformly, sample_action, softmax_policy
from spikerl.decoding.timing import first_spike_times

__all__ = [
    "spike_counts", "sparse_spike_counts", "firing_rates", "first_spike_times", "population_vote", "group_matrix",
    "argmax_action", "softmax_action", "epsilon_greedy", "softmax_policy", "sample_action", "explore_uniformly",
    "assign_labels", "all_activity", "all_activity_scores", "proportion_weighting", "proportion_weighting_scores",
]
