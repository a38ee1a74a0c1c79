"""Fused backend of the LIF multi-step module mode: a whole ``T``-step scan as one autograd node.

Autograd through ``T`` calls of :func:`spikerl.neurons.lif.lif_step` builds a graph of many small tensor ops,
which dominates the cost of small conv SNNs on CPU. :func:`fused_lif_scan` runs the same forward keeping
only the pre-reset membranes ``h_t = v_rest + (v_{t-1} - v_rest) d + I_t``, and walks time backwards in a
hand-written BPTT with ``g_t = dL/ds_t``, ``e_t = dL/dv_t`` (the post-reset membrane; ``e_{T-1} = 0``) and
``sg_t = S'(h_t - v_thresh)``::

    subtract reset (by a = v_thresh - v_reset):  dL/dh_t = e_t + (g_t - a e_t) sg_t
    value reset (to v_reset):                    dL/dh_t = e_t (1 - s_t) + (g_t + (v_reset - h_t) e_t) sg_t
    detached reset: the reset's term in sg_t is dropped, i.e. g_t sg_t instead of (g_t - ...) sg_t
    dL/dI_t = dL/dh_t,   e_{t-1} = d * dL/dh_t

With ``v_rest != 0`` the forward performs the step loop's operations (the same membranes and spikes). With
``v_rest = 0`` (the usual deep-SNN neuron, ConvSNN's) it computes ``h_t = I_t + d v_{t-1}`` in one
multiply-add, as spikerl's fused BPTT scan always has (ConvSNN's published accuracy was trained with it): the
CPU may round that once instead of twice, so membranes agree with the step loop to float rounding and spikes
agree unless a membrane lies within a rounding error of the threshold.

The backend restates the dynamics of ``lif_step`` for the case it serves (start from rest, no refractory
period, no lower bound, a surrogate with a known derivative), so tests compare it with the step loop in values
and gradients (``tests/neurons/test_neurons_multistep.py``). It takes plain numbers and tensors only.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch

from spikerl.neurons import phases


class _Settings(NamedTuple):
    decay: float
    v_rest: float
    v_thresh: float
    v_reset: float
    subtract: bool
    derivative: Callable[[torch.Tensor], torch.Tensor]
    detach_reset: bool


class _FusedLIFScan(torch.autograd.Function):
    """``apply(currents [T, B, *shape], settings) -> spikes [T, B, *shape]`` (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, currents: torch.Tensor, k: _Settings) -> torch.Tensor:
        h = torch.empty(currents.shape, dtype=currents.dtype, device=currents.device)
        amount = k.v_thresh - k.v_reset
        v: torch.Tensor | None = None
        for t in range(currents.shape[0]):
            if v is None:  # from rest: leak(v_rest) = v_rest exactly
                torch.add(currents[t], k.v_rest, out=h[t])
            elif k.v_rest == 0.0:  # I + d v in one multiply-add (see the module docstring)
                torch.add(currents[t], v, alpha=k.decay, out=h[t])
            else:
                torch.add(phases.leak(v, k.v_rest, k.decay), currents[t], out=h[t])
            fired = phases.fire(h[t], k.v_thresh)
            v = phases.reset_subtract(h[t], fired, amount) if k.subtract else phases.reset(h[t], fired, k.v_reset)
        ctx.save_for_backward(h)
        ctx.settings = k
        return (h >= k.v_thresh).to(currents.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_spikes: torch.Tensor) -> tuple[torch.Tensor, None]:
        (h,) = ctx.saved_tensors
        k: _Settings = ctx.settings
        sg = k.derivative(h - k.v_thresh)
        amount = k.v_thresh - k.v_reset
        grad_currents = torch.empty_like(h)
        e: torch.Tensor | None = None  # dL/dv_t flowing back from step t+1
        for t in reversed(range(h.shape[0])):
            g = grad_spikes[t]
            if e is None:
                dh = g * sg[t]
            elif k.subtract:
                coef = g if k.detach_reset else torch.add(g, e, alpha=-amount)
                dh = torch.addcmul(e, coef, sg[t])
            else:
                keep = (h[t] < k.v_thresh).to(h.dtype)
                coef = g if k.detach_reset else torch.addcmul(g, k.v_reset - h[t], e)
                dh = torch.addcmul(e * keep, coef, sg[t])
            grad_currents[t] = dh
            e = dh * k.decay if k.decay != 1.0 else dh
        return grad_currents, None


def fused_lif_scan(currents: torch.Tensor, *, decay: float, v_rest: float, v_thresh: float, v_reset: float,
                   subtract: bool, derivative: Callable[[torch.Tensor], torch.Tensor],
                   detach_reset: bool = False) -> torch.Tensor:
    """Float 0/1 spikes ``[T, B, *shape]`` of LIF neurons starting at rest, driven by ``currents [T, B, *shape]``.

    Args:
        currents: input per step (float; may be a broadcast view, e.g. one current expanded over ``T``).
        decay: membrane decay per step ``exp(-dt / tau_mem)``.
        v_rest, v_thresh, v_reset: resting, threshold and reset potentials.
        subtract: soft reset by ``v_thresh - v_reset`` instead of setting ``v_reset``.
        derivative: the surrogate derivative ``S'(x)`` at ``x = v - v_thresh``.
        detach_reset: drop the reset's dependence on the spike from the gradient.

    The same spikes and gradients, up to float rounding (see the module docstring), as ``T`` steps of
    :func:`spikerl.neurons.lif.lif_step` with refractory period 0 and no lower bound.
    """
    settings = _Settings(float(decay), float(v_rest), float(v_thresh), float(v_reset), bool(subtract), derivative,
                         bool(detach_reset))
    return _FusedLIFScan.apply(currents, settings)
