"""Pair-based STDP ("PostPre", as in BindsNET and Diehl & Cook 2015).

    dw_t = nu_post * pair(x_pre_t, s_post_t) - nu_pre * pair(s_pre_t, x_post_t)

A presynaptic spike at ``t1`` followed by a postsynaptic spike at ``t2 > t1`` (additive traces of scale 1)
changes the weight by ``+nu_post * exp(-(t2 - t1) / tau_pre)``; the reverse order by
``-nu_pre * exp(-(t1 - t2) / tau_post)``. Spikes in the same step give ``nu_post - nu_pre``.

:meth:`PostPre.run_update` sums the updates of a whole run of ``T`` steps with the weights frozen (the update
applied after the run, as in batched learning): one pairing of the ``T * B`` steps and samples per term.
"""

from __future__ import annotations

import torch

from spikerl.connections.base import Connection
from spikerl.plasticity.base import PairRateRule, TraceState


class PostPre(PairRateRule):
    """Pair-based STDP with potentiation rate ``nu_post`` and depression rate ``nu_pre``."""

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

    def run_update(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: TraceState,
                   dt_ms: float) -> tuple[torch.Tensor, TraceState]:
        """The sum of the updates :meth:`step` would return over trains ``pre [T, B, *source]``, ``post [T, B,
        *target]`` from ``state`` if the weights stayed as they are, and the traces after the run.

        ``sum_t dw_t = nu_post * pair(x_pre, s_post) - nu_pre * pair(s_pre, x_post)`` with the ``T`` steps
        paired as ``T * B`` samples of one batch (``pair`` sums over them), reduced over the ``B`` samples,
        minus ``T * weight_decay * w``. Equal to stepping the rule ``T`` times without applying its updates
        (tested, within float32 tolerance: another order of summation).
        """
        if pre.shape[:2] != post.shape[:2] or pre.dim() < 2:
            raise ValueError(f"expected trains [T, B, ...] with the same T and B, got {list(pre.shape)} and "
                             f"{list(post.shape)}")
        steps, batch = pre.shape[:2]
        x_pre, x_post = self.trace_trains(pre, post, state, dt_ms)
        flat = TraceState(x_pre.flatten(0, 1), x_post.flatten(0, 1))
        dw = self.reduce(self.pairing(connection, pre.flatten(0, 1), post.flatten(0, 1), flat), batch)
        if self.weight_decay:
            dw = dw - steps * self.weight_decay * connection.weight
        return dw, TraceState(x_pre[-1], x_post[-1])
