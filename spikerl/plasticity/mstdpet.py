"""Reward-modulated STDP with eligibility trace (MSTDPET, Florian 2007).

Every STDP pairing is stored, per sample, in an eligibility trace that decays with ``tau_e``; a reward turns
what is left of it into a weight change. At every step ``t``::

    zeta_b,t = a_plus * pair(x_pre_b,t, s_post_b,t) - a_minus * pair(s_pre_b,t, x_post_b,t)
    e_b,t    = e_b,t-1 * exp(-dt / tau_e) + zeta_b,t                       ([B, *weight.shape])
    dw_t     = lr * sum_b r_b,t * e_b,t  - weight_decay * w                 (when the step has a reward)

(divided by ``B`` with ``reduction="mean"``; ``r`` is ``r - b`` with a baseline). A reward ``r`` that arrives
``k`` steps after a pairing ``zeta`` (and no other pairing) changes the weight by
``lr * r * zeta * exp(-k dt / tau_e)``.

Rewards reach the rule in two ways:

* per step, through ``Network.run(..., learning=True, reward=...)`` (``[T, B]``, ``[B]`` or a number);
* between runs, through ``Network.apply_reward(r)``, which calls :meth:`MSTDPET.reward_update`:
  ``dw = lr * sum_b r_b * e_b`` with the eligibility left by the last step, without simulating (e.g. the reward
  of an environment step, delivered after the network has acted). No weight decay is applied there: decay is
  per simulated step.

The eligibility is part of the network state: it persists across runs, so a delayed reward reaches the
synapses that caused it, and only ``Network.reset()`` clears it. It costs ``B`` times the weights' memory.

Units: ``lr`` in weight units (mV) per unit reward per unit eligibility; ``tau_e_ms`` in ms.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch

from spikerl.connections.base import Connection
from spikerl.neurons.base import check_positive
from spikerl.plasticity.base import TraceState
from spikerl.plasticity.reward import RewardModulatedRule
from spikerl.traces import TraceParams, decay_powers, trace_summary
from spikerl.validation import check_number


class EligibilityState(NamedTuple):
    """Traces ``pre [B, *source_shape]``, ``post [B, *target_shape]``; ``eligibility [B, *weight.shape]``."""

    pre: torch.Tensor
    post: torch.Tensor
    eligibility: torch.Tensor


class MSTDPET(RewardModulatedRule):
    """Reward-modulated STDP with per-sample eligibility traces (see the module docstring).

    Args:
        lr: learning rate (weight units per unit reward).
        a_plus, a_minus: amplitudes of the potentiating and (subtracted) depressing pairings.
        tau_e_ms: time constant of the eligibility trace, in ms (Florian's ``tau_z``, 25 ms).
        pre_trace, post_trace: trace settings (``tau_ms`` = Florian's ``tau_plus`` / ``tau_minus``, in ms).
        reduction: ``"sum"`` or ``"mean"`` over the batch.
        weight_decay: fraction of each weight removed per simulated step.
        baseline_window: learn from ``r - b`` with a moving-average baseline over about this many rewards.
    """

    def __init__(self, lr: float = 0.01, a_plus: float = 1.0, a_minus: float = 1.0, tau_e_ms: float = 25.0,
                 pre_trace: TraceParams = TraceParams(), post_trace: TraceParams = TraceParams(),
                 reduction: Literal["sum", "mean"] = "sum", weight_decay: float = 0.0,
                 baseline_window: int | None = None) -> None:
        super().__init__(a_plus, a_minus, pre_trace, post_trace, reduction, weight_decay, baseline_window)
        check_positive("tau_e_ms", tau_e_ms)
        self.lr, self.tau_e_ms = check_number("lr", lr), float(tau_e_ms)

    def initial_state(self, connection: Connection, batch_size: int) -> EligibilityState:
        """Zero traces and zero eligibility ``[B, *weight.shape]``."""
        traces = super().initial_state(connection, batch_size)
        w = connection.weight
        return EligibilityState(traces.pre, traces.post,
                                torch.zeros(batch_size, *w.shape, device=w.device, dtype=w.dtype))

    def step(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: EligibilityState,
             reward: torch.Tensor | None, dt_ms: float) -> tuple[torch.Tensor | None, EligibilityState]:
        traces = self.update_traces(pre, post, TraceState(state.pre, state.post), dt_ms)
        zeta = self.stdp_term_per_sample(connection, pre, post, traces)
        eligibility = state.eligibility * math.exp(-dt_ms / self.tau_e_ms) + zeta
        new_state = EligibilityState(traces.pre, traces.post, eligibility)
        if reward is None:
            return self.without_reward(connection), new_state
        r = self.step_reward(reward, pre.shape[0], connection.weight)
        return self.decayed(self.modulate(r, eligibility), connection), new_state

    def accumulate(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: EligibilityState,
                   dt_ms: float, inplace: bool = False) -> EligibilityState:
        """A whole run without reward at once: trains ``pre [T, B, *source]``, ``post [T, B, *target]``.

        Equal to ``T`` calls of :meth:`step` with ``reward=None`` (and no weight decay), using
        ``e_T = d^T e_0 + sum_t d^(T-1-t) zeta_t`` with ``d = exp(-dt / tau_e)``, whose sum is one
        :meth:`Connection.pair_over_time` per STDP term. ``inplace``: update ``state.eligibility`` in place
        (for a caller that owns the state; saves allocating an eligibility-sized tensor per call).
        """
        steps = pre.shape[0]
        d = math.exp(-dt_ms / self.tau_e_ms)
        dtype = connection.weight.dtype
        if (steps > 1 and post.stride(0) == 0 and self.a_plus and not self.a_minus
                and self.pre_trace.mode == self.post_trace.mode == "additive"):
            return self._accumulate_constant_post(connection, pre, post[0].to(dtype), state, dt_ms, d, inplace)
        x_pre, x_post = self.trace_trains(pre, post, TraceState(state.pre, state.post), dt_ms)
        weights = decay_powers(steps, d, dtype, pre.device).reshape(steps, *[1] * (pre.dim() - 1))
        eligibility, decay = state.eligibility, d ** steps
        if self.a_plus:
            if steps > 1 and post.stride(0) == 0:
                # a postsynaptic factor that is the same at every step (an expanded tensor): pair the
                # time-weighted sum of the presynaptic trace once
                summed = torch.tensordot(weights.flatten(), x_pre, dims=1).unsqueeze(0)
                eligibility = connection.pair_over_time(summed, post[:1].to(dtype), into=eligibility,
                                                        beta=decay, alpha=self.a_plus, inplace=inplace)
            else:
                eligibility = connection.pair_over_time(x_pre * weights, post.to(dtype), into=eligibility,
                                                        beta=decay, alpha=self.a_plus, inplace=inplace)
            decay = 1.0
        if self.a_minus:
            eligibility = connection.pair_over_time(pre.to(dtype) * weights, x_post, into=eligibility,
                                                    beta=decay, alpha=-self.a_minus, inplace=inplace)
            decay = 1.0
        if decay != 1.0:
            eligibility = eligibility.mul_(decay) if inplace else eligibility * decay
        return EligibilityState(x_pre[-1], x_post[-1], eligibility)

    def _accumulate_constant_post(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor,
                                  state: EligibilityState, dt_ms: float, d: float, inplace: bool
                                  ) -> EligibilityState:
        """:meth:`accumulate` for a postsynaptic factor ``post [B, *target]`` held for all ``T`` steps, additive
        traces and ``a_minus = 0``: ``e_T = d^T e_0 + a_plus * (sum_t d^(T-1-t) x_pre_t) (x) post``, with the
        decayed trace sum from :func:`~spikerl.traces.trace_summary` and the final postsynaptic trace in closed
        form (a geometric sum)."""
        steps, p, q = pre.shape[0], self.pre_trace, self.post_trace
        summed, last_pre = trace_summary(pre, state.pre, p.decay(dt_ms), d, p.scale)
        eligibility = connection.pair_over_time(summed.unsqueeze(0), post.unsqueeze(0), into=state.eligibility,
                                                beta=d ** steps, alpha=self.a_plus, inplace=inplace)
        d_post = q.decay(dt_ms)
        held = q.scale * (1.0 - d_post ** steps) / (1.0 - d_post)       # sum_(k < T) d_post^k
        last_post = state.post * d_post ** steps + held * post
        return EligibilityState(last_pre, last_post, eligibility)

    def reward_update(self, connection: Connection, state: EligibilityState,
                      reward: float | torch.Tensor, check_finite: bool = True) -> torch.Tensor:
        """The weight change of a reward ``[B]`` (or a number) delivered now: ``lr * sum_b r_b * e_b``.

        Used by ``Network.apply_reward`` (which checks the reward first, hence ``check_finite=False`` there).
        The baseline, if any, is applied and updated as for a step reward.
        """
        if not isinstance(state, EligibilityState):
            raise TypeError(f"expected the MSTDPET state (EligibilityState), got {type(state).__name__}")
        batch = state.eligibility.shape[0]
        r = self.effective_reward(reward, batch, connection.weight, check_finite=check_finite)
        return self.modulate(r, state.eligibility)

    def modulate(self, reward: torch.Tensor, eligibility: torch.Tensor) -> torch.Tensor:
        """``lr * sum_b r_b * e_b``, reduced over the batch: ``[B]``, ``[B, *W]`` -> ``[*W]``."""
        batch = eligibility.shape[0]
        flat = torch.mv(eligibility.reshape(batch, -1).t(), reward.to(eligibility.dtype) * self.lr)
        return self.reduce(flat.reshape(eligibility.shape[1:]), batch)
