"""All-to-all connection with a dense weight matrix ``w[i, j]`` from source unit ``i`` to target ``j``."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn

from spikerl import kernels, sync
from spikerl.connections.base import Connection, init_weights

# Below this fraction of active inputs, a spike train is propagated event-driven (sparse matmul).
EVENT_DRIVEN_DENSITY = 0.05


class Dense(Connection):
    """Dense connection: ``I_j = sum_i s_i w[i, j]`` (+ bias). Weights ``[n_source, n_target]``.

    Args:
        source_shape, target_shape: layer shapes (flattened internally).
        w: initial weights ``[n_source, n_target]``; default uniform in ``[wmin, wmax]`` if both are
            finite, else ``U(0, 1) / sqrt(n_source)``.
        generator: optional ``torch.Generator`` for the default initialisation.
        wmin, wmax, norm, bias: see :class:`~spikerl.connections.base.Connection`.
    """

    def __init__(self, source_shape: int | tuple[int, ...], target_shape: int | tuple[int, ...],
                 w: torch.Tensor | None = None, *, wmin: float = -math.inf, wmax: float = math.inf,
                 norm: float | None = None, bias: bool = False, generator: torch.Generator | None = None) -> None:
        super().__init__(source_shape, target_shape, wmin=wmin, wmax=wmax, norm=norm, bias=bias)
        n_in, n_out = math.prod(self.source_shape), math.prod(self.target_shape)
        self.w = nn.Parameter(init_weights((n_in, n_out), w, wmin, wmax, n_in, generator), requires_grad=False)
        self.enforce_constraints()

    @property
    def weight(self) -> torch.Tensor:
        return self.w

    def propagate(self, spikes: torch.Tensor) -> torch.Tensor:
        flat = spikes.reshape(spikes.shape[0], self.w.shape[0])
        return (flat @ self.w).reshape(spikes.shape[0], *self.target_shape)

    def forward_many(self, spikes: torch.Tensor) -> torch.Tensor:
        """Event-driven when the train is sparse: only the rows of active inputs are summed (in C when
        :mod:`spikerl.kernels` is available, else as a sparse CSR product)."""
        self.check_source(spikes, "presynaptic spike train", leading=2)
        t, b = spikes.shape[:2]
        flat = spikes.reshape(t * b, self.w.shape[0])  # not -1: ambiguous for an empty train
        if sync.reads_are_free(spikes.device) and flat.numel() > 0:  # event-driven: reads the train back
            out = None
            if kernels.available():  # in C; None when the train is too dense for it
                with contextlib.suppress(kernels.BackendUnavailable):
                    out = kernels.propagate(flat, self.w, EVENT_DRIVEN_DENSITY)
            if out is None and torch.count_nonzero(flat) < EVENT_DRIVEN_DENSITY * flat.numel():
                out = flat.to(self.w.dtype).to_sparse_csr() @ self.w
            if out is not None:
                out = out.reshape(t, b, *self.target_shape)
                return out if self.bias is None else out + self.bias
        return super().forward_many(spikes)

    def pair(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        return pre.reshape(pre.shape[0], -1).to(self.w.dtype).T @ post.reshape(post.shape[0], -1).to(self.w.dtype)

    def pair_per_sample(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        a = pre.reshape(pre.shape[0], -1, 1).to(self.w.dtype)
        return a * post.reshape(post.shape[0], 1, -1).to(self.w.dtype)

    def pair_over_time(self, pre: torch.Tensor, post: torch.Tensor, into: torch.Tensor | None = None,
                       beta: float = 1.0, alpha: float = 1.0, inplace: bool = False) -> torch.Tensor:
        """One fused batched matmul: ``beta * into + alpha * [B, n_in, T] @ [B, T, n_out]``.

        A ``post`` that is the same at every step, as an expanded tensor (stride 0 in time), takes the cheaper
        outer product ``(sum_t pre[t]) (x) post[0]``.
        """
        t, b = pre.shape[:2]
        if t > 1 and post.stride(0) == 0:
            pre, post, t = pre.sum(0, keepdim=True, dtype=self.w.dtype), post[:1], 1
        a = pre.reshape(t, b, -1).to(self.w.dtype).permute(1, 2, 0)
        c = post.reshape(t, b, -1).to(self.w.dtype).permute(1, 0, 2)
        if into is None:
            return torch.bmm(a, c) if alpha == 1.0 else alpha * torch.bmm(a, c)
        if inplace:
            return into.view(b, a.shape[1], c.shape[2]).baddbmm_(a, c, beta=beta, alpha=alpha).view(into.shape)
        return torch.baddbmm(into, a, c, beta=beta, alpha=alpha)

    def incoming_sums(self) -> torch.Tensor:
        return self.w.sum(0, keepdim=True)

    def config(self) -> dict[str, Any]:
        return super().config()
