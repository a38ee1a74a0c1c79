"""Base of the connections whose target unit ``(o, y, x)`` sees one window of the input map: construction
from the window's geometry, the zero-padded input patches and the output maps that their plasticity pairs."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikerl.connections.base import Connection, init_weights
from spikerl.connections.window2d import Window2d, as_image_shape


class WindowedConnection(Connection):
    """A connection from ``(C_in, H, W)`` to ``(C_out, H_out, W_out)`` through a sliding 2-D window.

    Subclasses give the weight layout (:meth:`weight_shape`) and the propagation; this class validates the
    arguments, sizes the target from the window (``H_out = (H + 2 p - k) // s + 1``, the same for ``W``),
    initialises the weights (uniform in ``[wmin, wmax]`` if both are finite, else ``U(0, 1) / sqrt(C_in kH kW)``)
    and stores the window in the config.
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
        shape = self.weight_shape(out_channels, h_out, w_out, c_in, kh, kw)
        self.w = nn.Parameter(init_weights(shape, w, wmin, wmax, c_in * kh * kw, generator), requires_grad=False)
        self.enforce_constraints()

    @classmethod
    def weight_shape(cls, c_out: int, h_out: int, w_out: int, c_in: int, kh: int, kw: int) -> tuple[int, ...]:
        """The weight tensor's shape for this layout (each subclass defines it)."""
        raise NotImplementedError(f"{cls.__name__} is a base class: use Conv2d or LocallyConnected2d, or define "
                                  "weight_shape in a subclass")

    @property
    def weight(self) -> torch.Tensor:
        return self.w

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """Input patches ``[N, C_in kH kW, H_out W_out]`` (zero-padded)."""
        return F.unfold(x.to(self.w.dtype), self.window.kernel, padding=self.window.padding,
                        stride=self.window.stride)

    def _maps(self, post: torch.Tensor) -> torch.Tensor:
        """Output maps ``[N, C_out, H_out W_out]``."""
        return post.to(self.w.dtype).reshape(post.shape[0], self.target_shape[0], -1)

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        del cfg["target_shape"]
        return {**cfg, "out_channels": self.target_shape[0], **self.window.config()}
