"""Hebbian learning: every pre/post pairing potentiates, whatever the order.

    dw_t = nu_post * pair(x_pre_t, s_post_t) + nu_pre * pair(s_pre_t, x_post_t) - weight_decay * w

(summed over the batch, divided by ``B`` with ``reduction="mean"``). A presynaptic spike ``n`` steps before a
postsynaptic one (additive traces of scale 1) changes ``w`` by ``+nu_post * exp(-n dt / tau_pre)``; the reverse
order by ``+nu_pre * exp(-n dt / tau_post)``; spikes in the same step by ``nu_post + nu_pre``. Weights grow
without limit unless the connection has a finite ``wmax`` (or ``norm``, or weight decay).

Units: ``nu_pre``, ``nu_post`` are weight units (mV) per unit pairing.
"""

from __future__ import annotations

import torch

from spikerl.connections.base import Connection
from spikerl.plasticity.base import PairRateRule, TraceState


class Hebbian(PairRateRule):
    """Order-independent Hebbian potentiation with rates ``nu_post`` (pre before post), ``nu_pre`` (post before pre).

    Args:
        nu_pre: rate of the pairing of a presynaptic spike with the postsynaptic trace.
        nu_post: rate of the pairing of a postsynaptic spike with the presynaptic trace.
        pre_trace, post_trace: trace settings (time constants in ms, additive or nearest-spike).
        reduction: ``"sum"`` or ``"mean"`` over the batch.
        weight_decay: fraction of each weight removed per step.
    """

    def step(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: TraceState,
             reward: torch.Tensor | None, dt_ms: float) -> tuple[torch.Tensor, TraceState]:
        traces = self.update_traces(pre, post, state, dt_ms)
        dtype = connection.weight.dtype
        dw = self.nu_post * connection.pair(traces.pre, post.to(dtype))
        dw = dw + self.nu_pre * connection.pair(pre.to(dtype), traces.post)
        return self.decayed(self.reduce(dw, pre.shape[0]), connection), traces
