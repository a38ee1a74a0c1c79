"""2-D convolution: one bank of filters shared across all positions of the input map."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikerl.connections.base import Connection, init_weights
from spikerl.connections.window2d import Window2d, as_image_shape


class Conv2d(Connection):
    """Convolutional connection from ``(C_in, H, W)`` to ``(C_out, H_out, W_out)``.

    ``I[o, y, x] = sum_{c, i, j} w[o, c, i, j] * s_pad[c, y*sy + i, x*sx + j]`` (+ bias), where ``s_pad`` is
    the spike map zero-padded by ``padding``; ``H_out = (H + 2 p_h - k_h) // s_h + 1`` (same for ``W``).
    Weights ``[C_out, C_in, kH, kW]`` (mV per spike).

    Plasticity: :meth:`pair` correlates every input patch with the output map at its position,
    ``pair(pre, post)[o, c, i, j] = sum_{b, y, x} post[b, o, y, x] * pre_pad[b, c, y*sy + i, x*sx + j]``,
    which is the gradient ``d/dw sum(post * conv(pre))``: a filter learns from all positions it is applied at.

    ``norm`` (Diehl & Cook style) rescales each filter ``w[o]`` to sum to ``norm`` (all its ``C_in kH kW``
    weights, including those that face the padding at the border).

    Args:
        source_shape: ``(C_in, H, W)``.
        out_channels: ``C_out``, the number of filters.
        kernel_size, stride, padding: an int or a ``(height, width)`` pair; zero padding.
        w: initial weights ``[C_out, C_in, kH, kW]``; default uniform in ``[wmin, wmax]`` if both are finite,
            else ``U(0, 1) / sqrt(C_in kH kW)``.
        generator: optional ``torch.Generator`` for the default initialisation.
        wmin, wmax, norm, bias: see :class:`~spikerl.connections.base.Connection`; the bias is per target
            unit ``[C_out, H_out, W_out]``.

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
        kh, kw = self.window.kernel
        shape = (out_channels, c_in, kh, kw)
        self.w = nn.Parameter(init_weights(shape, w, wmin, wmax, c_in * kh * kw, generator), requires_grad=False)
        self.enforce_constraints()

    @property
    def weight(self) -> torch.Tensor:
        return self.w

    def propagate(self, spikes: torch.Tensor) -> torch.Tensor:
        return F.conv2d(spikes, self.w, stride=self.window.stride, padding=self.window.padding)

    def _patches(self, pre: torch.Tensor) -> torch.Tensor:
        """Input patches ``[B, C_in kH kW, H_out W_out]`` (zero-padded)."""
        x = pre.to(self.w.dtype)
        return F.unfold(x, self.window.kernel, padding=self.window.padding, stride=self.window.stride)

    def _maps(self, post: torch.Tensor) -> torch.Tensor:
        """Output maps ``[B, C_out, H_out W_out]``."""
        return post.to(self.w.dtype).reshape(post.shape[0], self.target_shape[0], -1)

    def pair(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bol,bkl->ok", self._maps(post), self._patches(pre))
        return out.reshape(self.w.shape)

    def pair_per_sample(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bol,bkl->bok", self._maps(post), self._patches(pre))
        return out.reshape(pre.shape[0], *self.w.shape)

    def incoming_sums(self) -> torch.Tensor:
        return self.w.sum(dim=(1, 2, 3), keepdim=True)

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        del cfg["target_shape"]
        return {**cfg, "out_channels": self.target_shape[0], **self.window.config()}
