"""One-to-one connection: neuron ``k`` of the source drives neuron ``k`` of the target through one weight."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from spikerl.connections.base import Connection, init_weights
from spikerl.neurons.base import as_shape


class OneToOne(Connection):
    """``I_k = w_k s_k`` (+ bias): one synapse per target neuron. Weights ``[*target_shape]``.

    Source and target must have the same number of neurons; source unit ``k`` in row-major (flattened) order
    drives target unit ``k``, so a ``(1, 28, 28)`` source may feed a ``784`` target.

    Plasticity: ``pair(pre, post) = sum_b pre_b * post_b`` (elementwise). ``norm`` sets every (nonzero) weight
    to ``norm``, since each target has exactly one incoming weight.

    Args:
        source_shape: shape of the source layer.
        target_shape: shape of the target layer; default ``source_shape``.
        w: initial weights ``[*target_shape]``; default uniform in ``[wmin, wmax]`` if both are finite, else
            ``U(0, 1)``.
        generator: optional ``torch.Generator`` for the default initialisation.
        wmin, wmax, norm, bias: see :class:`~spikerl.connections.base.Connection`.
    """

    def __init__(self, source_shape: int | tuple[int, ...], target_shape: int | tuple[int, ...] | None = None,
                 w: torch.Tensor | None = None, *, wmin: float = -math.inf, wmax: float = math.inf,
                 norm: float | None = None, bias: bool = False, generator: torch.Generator | None = None) -> None:
        src = as_shape(source_shape)
        tgt = src if target_shape is None else as_shape(target_shape)
        if math.prod(src) != math.prod(tgt):
            raise ValueError(f"OneToOne needs source and target of the same size, got {src} "
                             f"({math.prod(src)} neurons) and {tgt} ({math.prod(tgt)} neurons)")
        super().__init__(src, tgt, wmin=wmin, wmax=wmax, norm=norm, bias=bias)
        self.w = nn.Parameter(init_weights(tgt, w, wmin, wmax, 1, generator), requires_grad=False)
        self.enforce_constraints()

    @property
    def weight(self) -> torch.Tensor:
        return self.w

    def _as_target(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.w.dtype).reshape(x.shape[0], *self.target_shape)

    def propagate(self, spikes: torch.Tensor) -> torch.Tensor:
        return self._as_target(spikes) * self.w

    def pair(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        return (self._as_target(pre) * post.to(self.w.dtype)).sum(0)

    def pair_per_sample(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        return self._as_target(pre) * post.to(self.w.dtype)

    def incoming_sums(self) -> torch.Tensor:
        return self.w.detach().clone()

    def config(self) -> dict[str, Any]:
        return super().config()
