"""Pair-based STDP ("PostPre", as in BindsNET and Diehl & Cook 2015).

    dw_t = nu_post * pair(x_pre_t, s_post_t) - nu_pre * pair(s_pre_t, x_post_t)

A presynaptic spike at ``t1`` followed by a postsynaptic spike at ``t2 > t1`` (additive traces of scale 1)
changes the weight by ``+nu_post * exp(-(t2 - t1) / tau_pre)``; the reverse order by
``-nu_pre * exp(-(t1 - t2) / tau_post)``. Spikes in the same step give ``nu_post - nu_pre``.
"""

from __future__ import annotations

from typing import Literal

import torch

from spikerl.connections.base import Connection
from spikerl.plasticity.base import LearningRule, TraceState
from spikerl.traces import TraceParams
from spikerl.validation import check_number


class PostPre(LearningRule):
    """Pair-based STDP with potentiation rate ``nu_post`` and depression rate ``nu_pre``."""

    def __init__(self, nu_pre: float = 1e-4, nu_post: float = 1e-2,
                 pre_trace: TraceParams = TraceParams(), post_trace: TraceParams = TraceParams(),
                 reduction: Literal["sum", "mean"] = "sum", weight_decay: float = 0.0) -> None:
        super().__init__(pre_trace, post_trace, reduction, weight_decay)
        self.nu_pre, self.nu_post = check_number("nu_pre", nu_pre), check_number("nu_post", nu_post)

    def pairing(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor,
                traces: TraceState) -> torch.Tensor:
        """The batch-summed STDP term (before learning rate scaling by subclasses)."""
        dtype = connection.weight.dtype
        dw = self.nu_post * connection.pair(traces.pre, post.to(dtype))
        return dw - self.nu_pre * connection.pair(pre.to(dtype), traces.post)

    def step(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: TraceState,
             reward: torch.Tensor | None, dt_ms: float) -> tuple[torch.Tensor, TraceState]:
        traces = self.update_traces(pre, post, state, dt_ms)
        dw = self.reduce(self.pairing(connection, pre, post, traces), pre.shape[0])
        return self.decayed(dw, connection), traces
