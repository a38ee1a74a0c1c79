"""Weight-dependent ("soft-bound") pair-based STDP.

    dw_t = nu_post * pair(x_pre_t, s_post_t) * (wmax - w) - nu_pre * pair(s_pre_t, x_post_t) * (w - wmin)
           - weight_decay * w

(the pairings summed over the batch, divided by ``B`` with ``reduction="mean"``; ``w`` is the weight before
the step). Potentiation shrinks as a weight nears ``wmax`` and depression as it nears ``wmin``, so weights
approach the bounds smoothly instead of piling up on them. A presynaptic spike ``n`` steps before a
postsynaptic one (additive traces of scale 1) changes ``w`` by ``nu_post * exp(-n dt / tau_pre) * (wmax - w)``;
the reverse order by ``-nu_pre * exp(-n dt / tau_post) * (w - wmin)``.

The rule needs finite bounds: it raises ``ValueError`` on a connection with ``wmin`` or ``wmax`` infinite
(checked by :meth:`WeightDependentPostPre.check`, called when the network creates the rule's state and at
every step).

Units: ``nu_pre``, ``nu_post`` are fractions of the distance to the bound per unit pairing.
"""

from __future__ import annotations

import math

import torch

from spikerl.connections.base import Connection
from spikerl.plasticity.base import PairRateRule, TraceState


class WeightDependentPostPre(PairRateRule):
    """Soft-bound STDP with potentiation rate ``nu_post`` and depression rate ``nu_pre``.

    Args:
        nu_pre: depression rate (scales ``w - wmin``) per post-before-pre pairing.
        nu_post: potentiation rate (scales ``wmax - w``) per pre-before-post pairing.
        pre_trace, post_trace: trace settings (time constants in ms, additive or nearest-spike).
        reduction: ``"sum"`` or ``"mean"`` over the batch.
        weight_decay: fraction of each weight removed per step.
    """

    def check(self, connection: Connection) -> None:
        """Raise ``ValueError`` unless the connection has finite ``wmin`` and ``wmax``."""
        if not (math.isfinite(connection.wmin) and math.isfinite(connection.wmax)):
            raise ValueError(
                f"{type(self).__name__} needs finite weight bounds (it scales updates by wmax - w and w - wmin), "
                f"but the {type(connection).__name__} connection has wmin={connection.wmin}, "
                f"wmax={connection.wmax}; pass finite wmin= and wmax= to the connection")

    def initial_state(self, connection: Connection, batch_size: int) -> TraceState:
        self.check(connection)
        return super().initial_state(connection, batch_size)

    def step(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: TraceState,
             reward: torch.Tensor | None, dt_ms: float) -> tuple[torch.Tensor, TraceState]:
        self.check(connection)
        traces = self.update_traces(pre, post, state, dt_ms)
        w, dtype = connection.weight, connection.weight.dtype
        up = connection.pair(traces.pre, post.to(dtype)) * (connection.wmax - w)
        down = connection.pair(pre.to(dtype), traces.post) * (w - connection.wmin)
        dw = self.reduce(self.nu_post * up - self.nu_pre * down, pre.shape[0])
        return self.decayed(dw, connection), traces
