"""The contract every learning rule follows.

A rule is written once against :meth:`Connection.pair <spikerl.connections.base.Connection.pair>`, so it
works on dense, sparse, convolutional and locally connected connections alike. It keeps its own spike
traces (with its own time constants) as state, like any other state in the simulator::

    x_pre_t  = d_pre  * x_pre_{t-1}  + s_pre_t        (or nearest-spike, see spikerl.traces)
    x_post_t = d_post * x_post_{t-1} + s_post_t

The network calls, once per simulation step and after the neurons of that step have fired,
``dw, state = rule.step(connection, s_pre_t, s_post_t, state, reward_t)`` and adds ``dw`` to the weights
(then clamps to ``[wmin, wmax]``). Traces at step ``t`` include the spikes of step ``t``.

Batch reduction: ``reduction="sum"`` adds the updates of all samples of the batch, ``"mean"`` averages
them (the same learning rate then means the same step size at any batch size).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, NamedTuple

import torch
from torch import nn

from spikerl.connections.base import Connection
from spikerl.traces import TraceParams, trace_step, trace_train
from spikerl.validation import check_number


class TraceState(NamedTuple):
    """Presynaptic trace ``[B, *source_shape]`` and postsynaptic trace ``[B, *target_shape]``."""

    pre: torch.Tensor
    post: torch.Tensor


class LearningRule(nn.Module):
    """Base class of learning rules.

    Args:
        pre_trace, post_trace: trace settings of the presynaptic and postsynaptic side.
        reduction: ``"sum"`` or ``"mean"`` over the batch.
        weight_decay: fraction of each weight removed per step (``dw -= weight_decay * w``).
    """

    def __init__(self, pre_trace: TraceParams = TraceParams(), post_trace: TraceParams = TraceParams(),
                 reduction: Literal["sum", "mean"] = "sum", weight_decay: float = 0.0) -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.pre_trace, self.post_trace = pre_trace, post_trace
        self.reduction, self.weight_decay = reduction, check_number("weight_decay", weight_decay, low=0.0)

    needs_reward: bool = False

    def check(self, connection: Connection) -> None:
        """Raise a clear error if this rule cannot learn on ``connection`` (called by ``add_connection``)."""

    def initial_state(self, connection: Connection, batch_size: int) -> NamedTuple:
        """Zero traces for ``batch_size`` samples on the connection's device."""
        w = connection.weight
        return TraceState(torch.zeros(batch_size, *connection.source_shape, device=w.device, dtype=w.dtype),
                          torch.zeros(batch_size, *connection.target_shape, device=w.device, dtype=w.dtype))

    def update_traces(self, pre: torch.Tensor, post: torch.Tensor, traces: TraceState,
                      dt_ms: float) -> TraceState:
        """Decay both traces one step and add this step's spikes."""
        p, q = self.pre_trace, self.post_trace
        return TraceState(trace_step(pre, traces.pre, p.decay(dt_ms), p.mode, p.scale),
                          trace_step(post, traces.post, q.decay(dt_ms), q.mode, q.scale))

    def trace_trains(self, pre: torch.Tensor, post: torch.Tensor, traces: TraceState,
                     dt_ms: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Both traces at every step of spike trains ``[T, B, ...]`` (each step includes its spikes)."""
        p, q = self.pre_trace, self.post_trace
        return (trace_train(pre, traces.pre, p.decay(dt_ms), p.mode, p.scale),
                trace_train(post, traces.post, q.decay(dt_ms), q.mode, q.scale))

    def step(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: NamedTuple,
             reward: torch.Tensor | None, dt_ms: float) -> tuple[torch.Tensor | None, NamedTuple]:
        """One step: spikes ``pre [B, *source]``, ``post [B, *target]`` -> ``(dw or None, new state)``."""
        raise NotImplementedError

    def reduce(self, dw: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Turn a batch-summed update into the configured reduction."""
        return dw / batch_size if self.reduction == "mean" else dw

    def decayed(self, dw: torch.Tensor, connection: Connection) -> torch.Tensor:
        """Add weight decay to an update."""
        return dw - self.weight_decay * connection.weight if self.weight_decay else dw

    def config(self) -> dict[str, Any]:
        """JSON-able constructor arguments."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for key, value in vars(self).items():
            if key.startswith("_") or key == "training":
                continue
            out[key] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        return out


class PairRateRule(LearningRule):
    """A trace-pairing rule with two rates: ``nu_post`` scales the pairing of a postsynaptic spike with the
    presynaptic trace, ``nu_pre`` that of a presynaptic spike with the postsynaptic trace. Subclasses decide
    the signs and any weight dependence.

    Args:
        nu_pre: rate of the pairings at presynaptic spikes (per pairing, in weight units).
        nu_post: rate of the pairings at postsynaptic spikes.
        pre_trace, post_trace: trace settings (time constants in ms, additive or nearest-spike).
        reduction: ``"sum"`` or ``"mean"`` over the batch.
        weight_decay: fraction of each weight removed per step.
    """

    def __init__(self, nu_pre: float = 1e-4, nu_post: float = 1e-2,
                 pre_trace: TraceParams = TraceParams(), post_trace: TraceParams = TraceParams(),
                 reduction: Literal["sum", "mean"] = "sum", weight_decay: float = 0.0) -> None:
        super().__init__(pre_trace, post_trace, reduction, weight_decay)
        self.nu_pre, self.nu_post = check_number("nu_pre", nu_pre), check_number("nu_post", nu_post)
