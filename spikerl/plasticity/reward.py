"""What reward-modulated rules (MSTDP, MSTDPET) share: the reward check, the baseline and the STDP term.

Both rules modulate Florian's (2007) STDP term with a reward. With spikes ``s`` in {0, 1} and the rule's
traces ``x`` (which include the spikes of the current step, see :mod:`spikerl.plasticity.base`)::

    zeta_b,t = a_plus * pair(x_pre_b,t, s_post_b,t) - a_minus * pair(s_pre_b,t, x_post_b,t)

so a presynaptic spike ``n`` steps before a postsynaptic one gives ``zeta = a_plus * exp(-n dt / tau_plus)``
and the reverse order ``zeta = -a_minus * exp(-n dt / tau_minus)``, where ``tau_plus`` is the presynaptic
trace's ``tau_ms`` and ``tau_minus`` the postsynaptic one's (same step: ``a_plus - a_minus``).

Reward: ``[B]`` per step (one number per sample), or ``None`` when the step carries no reward. With ``None``
the rule makes no reward-driven change (only weight decay applies, when set) but still updates its traces.
With ``baseline_window`` set the rules learn from the reward prediction error ``r - b`` (see
:mod:`spikerl.plasticity.baseline`). NaN or infinite rewards raise ``ValueError``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from spikerl import sync
from spikerl.connections.base import Connection
from spikerl.plasticity.base import LearningRule, TraceState
from spikerl.plasticity.baseline import RewardBaseline
from spikerl.traces import TraceParams


def check_reward(reward: float | torch.Tensor, batch_size: int, like: torch.Tensor,
                 check_finite: bool = True) -> torch.Tensor:
    """A reward as a ``[B]`` tensor with ``like``'s dtype and device, or a ``ValueError``.

    ``reward``: a number, a 0-d tensor (the same for every sample) or ``[B]``. ``check_finite`` rejects NaN and
    infinities; it reads the values, which synchronises with an accelerator, so a caller in the time loop on
    such a device may skip it when the reward was checked before the loop (as ``Network.run`` does).
    """
    if isinstance(reward, bool) or not isinstance(reward, (int, float, torch.Tensor)):
        raise TypeError(f"reward must be a number or a tensor of shape [B]={[batch_size]}, "
                        f"got {type(reward).__name__}")
    r = torch.as_tensor(reward, dtype=like.dtype, device=like.device)
    if r.dim() == 0:
        r = r.expand(batch_size)
    if tuple(r.shape) != (batch_size,):
        raise ValueError(f"reward must be a number or of shape [B]={[batch_size]}, got {list(r.shape)}")
    if check_finite and not bool(torch.isfinite(r).all()):
        raise ValueError(f"reward must be finite, got {r.tolist() if r.numel() <= 8 else 'NaN or inf values'}")
    return r


class RewardModulatedRule(LearningRule):
    """Base of rules whose update is scaled by a reward (see the module docstring).

    Args:
        a_plus: amplitude of the pre-before-post (potentiating) term.
        a_minus: amplitude of the post-before-pre (depressing) term (a positive number; it is subtracted).
        pre_trace, post_trace: trace settings; their ``tau_ms`` are Florian's ``tau_plus`` and ``tau_minus``.
        reduction, weight_decay: see :class:`~spikerl.plasticity.base.LearningRule`.
        baseline_window: if given, learn from ``r - b`` with a moving-average baseline over about this many
            rewards (see :class:`~spikerl.plasticity.baseline.RewardBaseline`).
    """

    needs_reward = True

    def __init__(self, a_plus: float = 1.0, a_minus: float = 1.0, pre_trace: TraceParams = TraceParams(),
                 post_trace: TraceParams = TraceParams(), reduction: Literal["sum", "mean"] = "sum",
                 weight_decay: float = 0.0, baseline_window: int | None = None) -> None:
        super().__init__(pre_trace, post_trace, reduction, weight_decay)
        for name, value in (("a_plus", a_plus), ("a_minus", a_minus)):
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        self.a_plus, self.a_minus = float(a_plus), float(a_minus)
        self.baseline_window = baseline_window
        self.register_module("baseline", RewardBaseline(baseline_window) if baseline_window is not None else None)

    def effective_reward(self, reward: float | torch.Tensor, batch_size: int, like: torch.Tensor,
                         check_finite: bool = True) -> torch.Tensor:
        """Checked reward ``[B]`` minus the baseline (which is then updated), or the reward itself."""
        r = check_reward(reward, batch_size, like, check_finite)
        return r if self.baseline is None else self.baseline(r)

    def step_reward(self, reward: float | torch.Tensor, batch_size: int, like: torch.Tensor) -> torch.Tensor:
        """:meth:`effective_reward` inside the time loop: checks finiteness only where that is free (CPU)."""
        return self.effective_reward(reward, batch_size, like, check_finite=sync.reads_are_free(like.device))

    def without_reward(self, connection: Connection) -> torch.Tensor | None:
        """The update of a step without reward: only weight decay (``None`` when there is none)."""
        return -self.weight_decay * connection.weight if self.weight_decay else None

    def stdp_term(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor, traces: TraceState,
                  post_scale: torch.Tensor | None = None) -> torch.Tensor:
        """``sum_b c_b * zeta_b`` (weight-shaped), with ``c_b = post_scale[b]`` or 1.

        ``pair`` is linear in its postsynaptic argument, so scaling the postsynaptic side of sample ``b`` by
        ``c_b`` weighs that sample's term without keeping a ``[B, *weight.shape]`` tensor.
        """
        dtype = connection.weight.dtype
        s_post, x_post = post.to(dtype), traces.post
        if post_scale is not None:
            c = post_scale.reshape(-1, *[1] * (post.dim() - 1))
            s_post, x_post = s_post * c, x_post * c
        dw = self.a_plus * connection.pair(traces.pre, s_post)
        return dw - self.a_minus * connection.pair(pre.to(dtype), x_post)

    def stdp_term_per_sample(self, connection: Connection, pre: torch.Tensor, post: torch.Tensor,
                             traces: TraceState) -> torch.Tensor:
        """``zeta_b`` for every sample: ``[B, *weight.shape]``."""
        dtype = connection.weight.dtype
        z = self.a_plus * connection.pair_per_sample(traces.pre, post.to(dtype))
        return z - self.a_minus * connection.pair_per_sample(pre.to(dtype), traces.post)
