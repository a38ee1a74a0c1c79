"""MSTDPET with a factored eligibility: sparse presynaptic spikes touch only their own rows.

:class:`~spikerl.plasticity.MSTDPET` keeps ``e [B, n_source, n_target]`` and decays and adds to all of it at every
step. When the source is large and sparse (pixels with a few dozen spikes per step) most of that work moves
rows whose input did not spike. This rule stores the same eligibility as::

    e_b = c * A_b + x_b (x) g_b          c = d^n,  d = exp(-dt / tau_e)

with ``x`` the presynaptic trace (additive, decay ``p``, scale ``k``), ``A [B, n_source, n_target]``, ``g [B,
n_target]`` and ``n`` the steps since ``A`` last held all of ``e``. Substituting ``x_t-1 = (x_t - k s_t) / p``
into ``e_t = d e_t-1 + a_plus x_t (x) post_t - a_minus s_t (x) y_t`` (``y``: the postsynaptic trace) gives

    g_t = (d / p) g_t-1 + a_plus post_t
    A_t = A_t-1 - s_t (x) (d k / p g_t-1 + a_minus y_t) / c_t

so a step changes ``A`` only in the rows of the inputs that spiked (``s_t`` nonzero), and ``g`` is one vector per
sample. ``g`` grows by ``d / p`` per step when ``tau_e > tau_pre``, and ``x (x) g`` then cancels part of ``c A``;
once that growth reaches :data:`FOLD_GROWTH` (or ``c`` falls below ``exp(-FOLD_LOG_DECAY)``) the run ends with a
fold, ``A <- c A + x (x) g``, ``g <- 0``, ``c <- 1``: one pass over ``A``, every few dozen steps. A reward reads
``lr * sum_b r_b e_b = lr * (c * sum_b r_b A_b + sum_b r_b x_b (x) g_b)``.

The weight changes equal :class:`~spikerl.plasticity.MSTDPET`'s up to float rounding (a few bits are lost to
the cancellation, bounded by the fold; tested against it). Requirements: an additive presynaptic trace and a
connection whose weight is ``[n_source, n_target]`` (:class:`~spikerl.connections.Dense`). On the CPU sparse
spike trains take the row updates (:func:`spikerl.kernels.add_spike_rows` in C, else ``index_add_``); dense
trains and accelerators take one batched matmul (no read back of the spike count).
"""

from __future__ import annotations

import contextlib
import math
from typing import NamedTuple

import torch

from spikerl import kernels, sync
from spikerl.connections.base import Connection
from spikerl.plasticity.mstdpet import MSTDPET
from spikerl.traces import trace_train

#: fold when the vector ``g`` has grown by this factor since the last fold (bounds the cancellation to ~4 bits)
FOLD_GROWTH = 16.0
#: fold when ``c = d^n`` falls below ``exp(-FOLD_LOG_DECAY)`` (keeps ``A`` far from float32's range)
FOLD_LOG_DECAY = 40.0
#: a train with fewer spikes than this per sample and input over a run takes the row updates (else a matmul)
SPARSE_EVENTS_PER_ROW = 0.5


class FactoredEligibilityState(NamedTuple):
    """Traces ``pre [B, *source]``, ``post [B, *target]``; ``scaled`` ``A [B, n_source, n_target]`` and
    ``column`` ``g [B, n_target]`` of the factored eligibility; ``decay`` ``c``, a float64 number on the CPU
    (shared by the batch: a reset row has ``A = 0``, ``g = 0``, ``x = 0``, so ``c`` does not matter for it)."""

    pre: torch.Tensor
    post: torch.Tensor
    scaled: torch.Tensor
    column: torch.Tensor
    decay: torch.Tensor


class FactoredMSTDPET(MSTDPET):
    """:class:`~spikerl.plasticity.MSTDPET` with the factored eligibility of the module docstring.

    Same arguments and learning as MSTDPET; the state is a :class:`FactoredEligibilityState` and
    :meth:`eligibility` gives ``e [B, n_source, n_target]`` from it.
    """

    def check(self, connection: Connection) -> None:
        if self.pre_trace.mode != "additive":
            raise ValueError("FactoredMSTDPET needs an additive presynaptic trace (TraceParams(mode='additive')), "
                             f"got mode {self.pre_trace.mode!r}")
        if connection.weight.dim() != 2:
            raise ValueError("FactoredMSTDPET needs a connection with a [n_source, n_target] weight (Dense), got "
                             f"a weight of shape {list(connection.weight.shape)}")

    def initial_state(self, connection: Connection, batch_size: int) -> FactoredEligibilityState:
        """Zero traces, ``A`` and ``g``; ``c = 1``."""
        w = connection.weight
        zeros = dict(device=w.device, dtype=w.dtype)
        return FactoredEligibilityState(torch.zeros(batch_size, *connection.source_shape, **zeros),
                                        torch.zeros(batch_size, *connection.target_shape, **zeros),
                                        torch.zeros(batch_size, *w.shape, **zeros),
                                        torch.zeros(batch_size, w.shape[1], **zeros),
                                        torch.tensor(1.0, dtype=torch.float64))

    @staticmethod
    def saved_state_fields(fields: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The fields of a saved state (:func:`spikerl.checkpoint.state_from_dict`): an MSTDPET state (``pre``,
        ``post``, ``eligibility``; e.g. saved before a connection's rule became this one) becomes ``A = e``,
        ``g = 0``, ``c = 1``, the same eligibility; other fields are returned as they are."""
        if set(fields) != {"pre", "post", "eligibility"}:
            return fields
        e = fields["eligibility"]
        return {"pre": fields["pre"], "post": fields["post"], "scaled": e,
                "column": e.new_zeros(e.shape[0], e.shape[-1]), "decay": torch.tensor(1.0, dtype=torch.float64)}

    def eligibility(self, state: FactoredEligibilityState) -> torch.Tensor:
        """The eligibility ``e = c A + x (x) g`` ``[B, n_source, n_target]`` (a new tensor)."""
        batch = state.scaled.shape[0]
        x = state.pre.reshape(batch, -1, 1)
        return torch.baddbmm(state.scaled, x, state.column.unsqueeze(1), beta=sync.host_float(state.decay))

    def step(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, state: FactoredEligibilityState,
             reward: torch.Tensor | None, dt_ms: float) -> tuple[torch.Tensor | None, FactoredEligibilityState]:
        new_state = self.accumulate(connection, pre.unsqueeze(0), post.unsqueeze(0), state, dt_ms)
        if reward is None:
            return self.without_reward(connection), new_state
        r = self.step_reward(reward, pre.shape[0], connection.weight)
        return self.decayed(self._modulate_state(r, new_state), connection), new_state

    def accumulate(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor,
                   state: FactoredEligibilityState, dt_ms: float, inplace: bool = False
                   ) -> FactoredEligibilityState:
        """A whole run without reward: ``pre [T, B, *source]`` (spikes), ``post [T, B, *target]`` (the
        postsynaptic factor, as for :meth:`MSTDPET.accumulate`). ``inplace``: update ``state.scaled`` in place."""
        steps, batch = pre.shape[:2]
        if steps == 0:
            return state
        dtype = connection.weight.dtype
        d, p, k = math.exp(-dt_ms / self.tau_e_ms), self.pre_trace.decay(dt_ms), self.pre_trace.scale
        spikes = pre.reshape(steps, batch, -1)
        x = trace_train(spikes, state.pre.reshape(batch, -1), p, "additive", k)            # [T, B, N]
        factor = post.reshape(steps, batch, -1).to(dtype)
        g = trace_train(factor, state.column, d / p, "additive", self.a_plus)               # [T, B, M]
        v = torch.cat([state.column.unsqueeze(0), g[:-1]]).mul_(d * k / p)                  # g_t-1 d k / p
        post_trace = state.post
        if self.a_minus:
            q = self.post_trace
            y = trace_train(post.to(dtype), state.post, q.decay(dt_ms), q.mode, q.scale)
            v.add_(y.reshape(steps, batch, -1), alpha=self.a_minus)
            post_trace = y[-1]
        c0 = sync.host_float(state.decay)
        # 1 / c_t = d^-t / c0, made on v's device (no copy from the host)
        inverse_c = torch.arange(1, steps + 1, dtype=dtype, device=v.device).mul_(-math.log(d)).exp_().div_(c0)
        v.mul_(inverse_c.reshape(steps, 1, 1))
        scaled = state.scaled if inplace else state.scaled.clone()
        self._subtract_pairings(connection, spikes, v, scaled)
        c, column = c0 * d ** steps, g[-1]
        growth = max(d / p, 1.0)
        if math.log(c) * math.log(growth) / math.log(d) > math.log(FOLD_GROWTH) or -math.log(c) > FOLD_LOG_DECAY:
            scaled.baddbmm_(x[-1].unsqueeze(2), column.unsqueeze(1), beta=c)
            c, column = 1.0, torch.zeros_like(column)
        return FactoredEligibilityState(x[-1].reshape(state.pre.shape), post_trace, scaled, column,
                                        torch.tensor(c, dtype=torch.float64))

    @staticmethod
    def _subtract_pairings(connection: Connection, spikes: torch.Tensor, v: torch.Tensor,
                           scaled: torch.Tensor) -> None:
        """``A_b -= sum_t s_t[b] (x) v_t[b]`` in place, ``spikes [T, B, N]``, ``v [T, B, M]``, ``scaled [B, N,
        M]``: for a sparse train on the CPU one row update per spike (in C when :mod:`spikerl.kernels` is
        available, else ``index_add_``; bit-identical), otherwise one batched matmul."""
        steps, batch, n = spikes.shape
        if not sync.reads_are_free(spikes.device):
            connection.pair_over_time(spikes, v, into=scaled, alpha=-1.0, inplace=True)
            return
        negated = v.neg()
        if spikes.dtype == torch.bool and kernels.available():
            with contextlib.suppress(kernels.BackendUnavailable):
                if kernels.add_spike_rows(spikes, negated, scaled, max_density=SPARSE_EVENTS_PER_ROW / steps):
                    return
        events = spikes.nonzero()
        if len(events) >= SPARSE_EVENTS_PER_ROW * batch * n:
            connection.pair_over_time(spikes, v, into=scaled, alpha=-1.0, inplace=True)
            return
        t, b, i = events.unbind(1)
        rows = negated.view(steps * batch, -1).index_select(0, t * batch + b)
        if spikes.dtype != torch.bool:
            rows.mul_(spikes[t, b, i].to(v.dtype).unsqueeze(1))
        scaled.view(batch * n, -1).index_add_(0, b * n + i, rows)

    def reward_update(self, connection: Connection, state: FactoredEligibilityState,
                      reward: float | torch.Tensor, check_finite: bool = True) -> torch.Tensor:
        """The weight change of a reward ``[B]`` (or a number) delivered now: ``lr * sum_b r_b * e_b``, without
        forming ``e``. The baseline, if any, is applied and updated as for a step reward."""
        if not isinstance(state, FactoredEligibilityState):
            raise TypeError(f"expected the FactoredMSTDPET state (FactoredEligibilityState), got "
                            f"{type(state).__name__}")
        batch = state.scaled.shape[0]
        r = self.effective_reward(reward, batch, connection.weight, check_finite=check_finite)
        return self._modulate_state(r, state)

    def _modulate_state(self, reward: torch.Tensor, state: FactoredEligibilityState) -> torch.Tensor:
        """``lr * (c sum_b r_b A_b + sum_b r_b x_b (x) g_b)`` ``[n_source, n_target]``, reduced over the batch."""
        batch, n, m = state.scaled.shape
        r = reward.to(state.scaled.dtype) * self.lr
        dw = torch.mv(state.scaled.reshape(batch, -1).t(), r * sync.host_float(state.decay)).reshape(n, m)
        dw.addmm_(state.pre.reshape(batch, n).t() * r, state.column)
        return self.reduce(dw, batch)
