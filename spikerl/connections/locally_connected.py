"""Locally connected 2-D layer: a convolution's receptive fields, but every position has its own weights."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikerl.connections.base import Connection, init_weights
from spikerl.connections.window2d import Window2d, as_image_shape


class LocallyConnected2d(Connection):
    """Locally connected connection from ``(C_in, H, W)`` to ``(C_out, H_out, W_out)``, unshared weights.

    ``I[o, y, x] = sum_{c, i, j} w[o, y, x, c, i, j] * s_pad[c, y*sy + i, x*sx + j]`` (+ bias): target unit
    ``(o, y, x)`` sees the same window as in :class:`~spikerl.connections.conv2d.Conv2d`, through weights of
    its own. Weights ``[C_out, H_out, W_out, C_in, kH, kW]`` hold only the existing synapses (no dense matrix
    with a mask); propagation is ``unfold`` + one contraction.

    Plasticity: ``pair(pre, post)[o, y, x, c, i, j] = sum_b post[b, o, y, x] * pre_pad[b, c, y*sy + i, x*sx + j]``,
    the gradient ``d/dw sum(post * propagate(pre))``. ``norm`` rescales the ``C_in kH kW`` incoming weights of
    each target unit to sum to ``norm`` (weights that face the zero padding included).

    Args:
        source_shape: ``(C_in, H, W)``.
        out_channels: ``C_out``, the number of feature maps.
        kernel_size, stride, padding: an int or a ``(height, width)`` pair; zero padding.
        w: initial weights ``[C_out, H_out, W_out, C_in, kH, kW]``; default uniform in ``[wmin, wmax]`` if both
            are finite, else ``U(0, 1) / sqrt(C_in kH kW)``.
        generator: optional ``torch.Generator`` for the default initialisation.
        wmin, wmax, norm, bias: see :class:`~spikerl.connections.base.Connection`.

    The target shape is computed: read it from ``conn.target_shape`` to size the target layer.
    """

    def __init__(self, source_shape: tuple[int, int, int], out_channels: int,
                 kernel_size: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, w: torch.Tensor | None = None, *,
                 wmin: float = -math.inf, wmax: float = math.inf, norm: float | None = None,
                 bias: bool = False, generator: torch.Generator | None = None) -> None:
        c_in, h, wd = as_image_shape(source_shape, f"{type(self).__name__} source_shape")
        if isinstance(out_channels, bool) or not isinstance(out_channels, int) or out_channels <= 0:
            raise ValueError(f"out_channels must be a positive int, got {out_channels!r}")
        window = Window2d.create(kernel_size, stride, padding)
        h_out, w_out = window.output_size(h, wd, type(self).__name__)
        super().__init__((c_in, h, wd), (out_channels, h_out, w_out), wmin=wmin, wmax=wmax, norm=norm, bias=bias)
        self.window = window
        kh, kw = window.kernel
        shape = (out_channels, h_out, w_out, c_in, kh, kw)
        self.w = nn.Parameter(init_weights(shape, w, wmin, wmax, c_in * kh * kw, generator), requires_grad=False)
        self.enforce_constraints()

    @property
    def weight(self) -> torch.Tensor:
        return self.w

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """Input patches ``[N, C_in kH kW, H_out W_out]`` (zero-padded)."""
        return F.unfold(x.to(self.w.dtype), self.window.kernel, padding=self.window.padding,
                        stride=self.window.stride)

    def _flat_w(self) -> torch.Tensor:
        """Weights as ``[C_out, H_out W_out, C_in kH kW]`` (a view)."""
        c_out, h_out, w_out = self.target_shape
        return self.w.reshape(c_out, h_out * w_out, -1)

    def _maps(self, post: torch.Tensor) -> torch.Tensor:
        return post.to(self.w.dtype).reshape(post.shape[0], self.target_shape[0], -1)

    def propagate(self, spikes: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("nkl,olk->nol", self._patches(spikes), self._flat_w())
        return out.reshape(spikes.shape[0], *self.target_shape)

    def pair(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nkl,nol->olk", self._patches(pre), self._maps(post)).reshape(self.w.shape)

    def pair_per_sample(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("nkl,nol->nolk", self._patches(pre), self._maps(post))
        return out.reshape(pre.shape[0], *self.w.shape)

    def incoming_sums(self) -> torch.Tensor:
        return self.w.sum(dim=(3, 4, 5), keepdim=True)

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        del cfg["target_shape"]
        return {**cfg, "out_channels": self.target_shape[0], **self.window.config()}
