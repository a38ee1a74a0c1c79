"""MSTDPET with one eligibility column per action population instead of one per output neuron.

The policy's learning signal is a postsynaptic factor per action (``1[k chosen] - pi_k``) that every neuron of
action ``k``'s population shares. Paired with the same presynaptic traces, it gives every neuron of a population
the same eligibility, so storing it per neuron (``[B, n_source, n_actions * population]``) repeats each column
``population`` times. :class:`PopulationMSTDPET` stores ``[B, n_source, n_actions]`` and repeats only the weight
change of a reward: the same weights as :class:`~spikerl.plasticity.MSTDPET` given the repeated factor (tested),
with ``population`` times less eligibility to decay, accumulate and read per environment step.
"""

from __future__ import annotations

from typing import Any

import torch

from spikerl.connections.base import Connection
from spikerl.plasticity import MSTDPET
from spikerl.plasticity.mstdpet import EligibilityState


class PopulationMSTDPET(MSTDPET):
    """MSTDPET for outputs coded by populations of ``population_size`` consecutive neurons per action.

    Learns only through :meth:`accumulate` with a postsynaptic factor per action ``[T, B, n_actions]`` (driven by
    ``Network.accumulate_eligibility``) and through rewards (:meth:`reward_update`, driven by
    ``Network.apply_reward``): the weight change ``[n_source, n_actions * population_size]`` gives every neuron of
    a population its action's column. Per-step learning inside ``Network.run`` (:meth:`step`), which pairs each
    neuron's own spikes, is refused.

    Args:
        population_size: output neurons per action (the connection's target size is a multiple of it).
        **kwargs: as for :class:`~spikerl.plasticity.MSTDPET`.
    """

    def __init__(self, population_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if population_size < 1:
            raise ValueError(f"population_size must be >= 1, got {population_size}")
        self.population_size = int(population_size)

    def n_actions(self, connection: Connection) -> int:
        """Populations on ``connection``'s target side (its target size divided by ``population_size``)."""
        n_out = connection.weight.shape[-1]
        if n_out % self.population_size:
            raise ValueError(f"the connection's {n_out} targets are not a whole number of populations of "
                             f"{self.population_size}")
        return n_out // self.population_size

    def check(self, connection: Connection) -> None:
        self.n_actions(connection)

    def initial_state(self, connection: Connection, batch_size: int) -> EligibilityState:
        """Zero traces ``pre [B, *source]``, ``post [B, n_actions]`` and eligibility ``[B, n_source, n_actions]``."""
        w = connection.weight
        n_actions = self.n_actions(connection)
        zeros = dict(device=w.device, dtype=w.dtype)
        return EligibilityState(torch.zeros(batch_size, *connection.source_shape, **zeros),
                                torch.zeros(batch_size, n_actions, **zeros),
                                torch.zeros(batch_size, w.shape[0], n_actions, **zeros))

    def step(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: EligibilityState,
             reward: torch.Tensor | None, dt_ms: float) -> tuple[torch.Tensor | None, EligibilityState]:
        raise TypeError("PopulationMSTDPET learns from a postsynaptic factor per action through accumulate(); "
                        "it cannot learn step by step inside Network.run (use MSTDPET there)")

    def modulate(self, reward: torch.Tensor, eligibility: torch.Tensor) -> torch.Tensor:
        """``lr * sum_b r_b * e_b`` per action ``[n_source, n_actions]``, repeated over each population."""
        return super().modulate(reward, eligibility).repeat_interleave(self.population_size, dim=-1)
