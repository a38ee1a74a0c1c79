"""The summed PostPre update of a whole presentation with frozen weights, computed from the spike events.

Where the weights stay fixed during a presentation (batched learning: ``B`` samples shown at once, the update
applied afterwards), the per-step updates of :class:`~spikerl.plasticity.PostPre` can be summed in closed form
instead of stepping the rule ``T`` times over ``[B, n_inputs, n]`` pairs. Postsynaptic spikes are rare (a few
per sample), so the sum is built per postsynaptic spike; see :func:`presentation_stdp_update`. The same role
for the reward-modulated rules is played by ``MSTDPET.accumulate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from spikerl.plasticity.post_pre import PostPre
from spikerl.traces import trace_step

if TYPE_CHECKING:  # pragma: no cover
    from spikerl.encoding.packed import PackedSpikes


def traces_at(spikes: torch.Tensor, decay: float, mode: str, scale: float, times: list[int],
              rows: torch.Tensor, dtype: torch.dtype, reverse: bool = False) -> torch.Tensor:
    """A trace of ``spikes [T, B, A]`` read at given steps: ``out[k] = trace[t_k, rows[k]]`` (``[K, A]``).

    ``times[t]`` is the number of queries at step ``t`` (queries ordered by step), ``rows [K]`` the batch row
    of each query; ``reverse`` runs the filter backwards in time (``x_t = d x_{t+1} + s_t`` for an additive
    trace). ``decay``, ``mode``, ``scale`` as in :func:`spikerl.traces.trace_step`.
    """
    out = torch.empty(rows.shape[0], spikes.shape[2], dtype=dtype, device=spikes.device)
    offsets = [0]
    for c in times:
        offsets.append(offsets[-1] + c)
    trace = torch.zeros(spikes.shape[1:], dtype=out.dtype, device=spikes.device)
    steps = range(spikes.shape[0] - 1, -1, -1) if reverse else range(spikes.shape[0])
    for t in steps:
        trace = trace_step(spikes[t], trace, decay, mode, scale)
        if times[t]:
            out[offsets[t]:offsets[t + 1]] = trace.index_select(0, rows[offsets[t]:offsets[t + 1]])
    return out


def presentation_stdp_update(pre: PackedSpikes, post: torch.Tensor, rule: PostPre, n_inputs: int,
                             dt_ms: float = 1.0, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Sum over a presentation (and the batch) of the per-step PostPre updates, with frozen weights.

    The rule changes the weights at step ``t`` by ``nu_post x_pre_t (x) s_post_t - nu_pre s_pre_t (x) x_post_t``
    (traces start at 0 and include the spikes of step ``t``). Summed over ``t``, postsynaptic spikes being
    rare, it is computed per postsynaptic spike ``k`` (neuron ``j_k`` of sample ``b_k`` at step ``t_k``):

    * potentiation ``nu_post x_pre[t_k, b_k]``: the forward presynaptic trace read at ``t_k``;
    * depression: with the backward presynaptic sum ``R_t = s_pre_t + d R_{t+1}`` (``d`` the postsynaptic
      trace's decay), ``sum_t s_pre_t x_post_t[j]`` is ``c sum_k R[t_k]`` for an additive postsynaptic
      trace of scale ``c``, and ``c sum_k (R[t_k] - d^(t'_k - t_k) R[t'_k])`` for a nearest-spike one, where
      ``t'_k`` is the next spike of the same neuron in the same sample (``R = 0`` past the end).

    Args:
        pre: packed presynaptic trains ``[T, B, A]`` (:class:`~spikerl.encoding.PackedSpikes`).
        post: postsynaptic spikes bool ``[T, B, n]``.
        rule: the :class:`~spikerl.plasticity.PostPre` rule (rates, traces, reduction).
        n_inputs: number of presynaptic neurons.
        dt_ms: time step in ms (sets the traces' decays).
        dtype: float type of the result (default: torch's default dtype).

    Returns:
        ``dw [n_inputs, n]`` (batch-summed, or averaged for ``reduction="mean"``), without weight decay.
    """
    p, q = rule.pre_trace, rule.post_trace
    steps, batch, n = post.shape
    events = post.nonzero()                                              # [K, 3] (t, b, j), sorted by t
    dtype = dtype or torch.get_default_dtype()
    dw = torch.zeros(n_inputs, n, dtype=dtype, device=post.device)
    if events.shape[0] == 0:
        return dw
    t, b, j = events.unbind(1)
    times = torch.bincount(t, minlength=steps).tolist()
    x_pre = traces_at(pre.spikes, p.decay(dt_ms), p.mode, p.scale, times, b, dtype)
    back = traces_at(pre.spikes, q.decay(dt_ms), "additive", 1.0, times, b, dtype, reverse=True)
    if q.mode == "nearest":
        # next spike of the same (sample, neuron): order the events by (b, j, t)
        key = (b * n + j) * steps + t
        order = torch.argsort(key)
        same = key[order][1:] // steps == key[order][:-1] // steps
        nxt = torch.full_like(t, -1)
        nxt[order[:-1][same]] = order[1:][same]
        gap = (t[nxt.clamp(min=0)] - t).to(dw.dtype)
        later = torch.where((nxt >= 0).unsqueeze(1), back[nxt.clamp(min=0)] * q.decay(dt_ms) ** gap.unsqueeze(1),
                            torch.zeros_like(back))
        back = back - later
    change = rule.nu_post * x_pre - (rule.nu_pre * q.scale) * back       # [K, A]
    dw.index_put_((pre.index[b], j.unsqueeze(1).expand_as(change)), change, accumulate=True)
    return rule.reduce(dw, batch)
