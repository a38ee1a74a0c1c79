"""Reward-modulated STDP without eligibility trace (MSTDP, Florian 2007).

At every step ``t`` with a reward ``r_t [B]`` (effective reward ``r - b`` with a baseline)::

    zeta_b,t = a_plus * pair(x_pre_b,t, s_post_b,t) - a_minus * pair(s_pre_b,t, x_post_b,t)
    dw_t     = lr * sum_b r_b,t * zeta_b,t            (divided by B with reduction="mean")
               - weight_decay * w

Traces decay as ``exp(-dt / tau_plus)`` (presynaptic, ``pre_trace.tau_ms``) and ``exp(-dt / tau_minus)``
(postsynaptic, ``post_trace.tau_ms``). A presynaptic spike ``n`` steps before a postsynaptic spike that
receives reward ``r`` changes the weight by ``lr * r * a_plus * exp(-n dt / tau_plus)``. Only the reward of
the very step of the pairing counts: a later reward does not reach it (use :class:`~spikerl.plasticity.mstdpet.MSTDPET`
for delayed rewards). A step without reward (``None``) changes nothing but the traces (and applies weight decay).

Units: ``lr`` is in weight units (mV) per unit reward per unit ``zeta``; ``a_plus``, ``a_minus`` are unitless.
"""

from __future__ import annotations

from typing import Literal

import torch

from spikerl.connections.base import Connection
from spikerl.plasticity.base import TraceState
from spikerl.plasticity.reward import RewardModulatedRule
from spikerl.traces import TraceParams
from spikerl.validation import check_number


class MSTDP(RewardModulatedRule):
    """Reward-modulated STDP, ``dw = lr * sum_b r_b * zeta_b`` (see the module docstring).

    Args:
        lr: learning rate (weight units per unit reward).
        a_plus, a_minus: amplitudes of the potentiating and (subtracted) depressing pairings.
        pre_trace, post_trace: trace settings (``tau_ms`` = Florian's ``tau_plus`` / ``tau_minus``, in ms).
        reduction: ``"sum"`` or ``"mean"`` over the batch.
        weight_decay: fraction of each weight removed per step.
        baseline_window: learn from ``r - b`` with a moving-average baseline over about this many rewards.
    """

    def __init__(self, lr: float = 0.01, a_plus: float = 1.0, a_minus: float = 1.0,
                 pre_trace: TraceParams = TraceParams(), post_trace: TraceParams = TraceParams(),
                 reduction: Literal["sum", "mean"] = "sum", weight_decay: float = 0.0,
                 baseline_window: int | None = None) -> None:
        super().__init__(a_plus, a_minus, pre_trace, post_trace, reduction, weight_decay, baseline_window)
        self.lr = check_number("lr", lr)

    def step(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: TraceState,
             reward: torch.Tensor | None, dt_ms: float) -> tuple[torch.Tensor | None, TraceState]:
        traces = self.update_traces(pre, post, state, dt_ms)
        if reward is None:
            return self.without_reward(connection), traces
        batch = pre.shape[0]
        r = self.step_reward(reward, batch, connection.weight)
        dw = self.reduce(self.lr * self.stdp_term(connection, pre, post, traces, post_scale=r), batch)
        return self.decayed(dw, connection), traces
