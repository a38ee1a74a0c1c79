"""Spike-based 2-D max pooling: a target unit receives current when any input in its window spiked."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from spikerl.connections.base import Connection
from spikerl.connections.window2d import Window2d, as_image_shape


class MaxPool2d(Connection):
    """Max pooling from ``(C, H, W)`` to ``(C, H_out, W_out)``, per channel; no weights, no plasticity.

    ``I[c, y, x] = current_mv * max_{i, j} s_pad[c, y*sy + i, x*sx + j]`` (+ bias). For spikes in {0, 1} the
    max is a logical OR: the target unit gets ``current_mv`` when at least one input in its window spiked
    at the previous step, whatever the number of spikes. Padding never wins the max (it is ``-inf``), so it
    must be at most half the kernel. With a target threshold reached by one ``current_mv`` (e.g. an ``IF``
    layer with ``v_thresh_mv - v_rest_mv <= current_mv`` and no refractory period), the target layer relays
    the pooled spike map one step later.

    Args:
        source_shape: ``(C, H, W)``.
        kernel_size: window, an int or a ``(height, width)`` pair.
        stride: default ``kernel_size`` (non-overlapping windows).
        padding: at most half the kernel.
        current_mv: current (mV per step) delivered per pooled spike.
        bias: see :class:`~spikerl.connections.base.Connection`.

    ``weight`` is an empty tensor (it carries the device and dtype); :meth:`pair` and :meth:`apply_update`
    raise, as a pooling connection has nothing to learn.
    """

    def __init__(self, source_shape: tuple[int, int, int], kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0, *,
                 current_mv: float = 1.0, bias: bool = False) -> None:
        c, h, wd = as_image_shape(source_shape, f"{type(self).__name__} source_shape")
        window = Window2d.create(kernel_size, kernel_size if stride is None else stride, padding)
        if any(2 * p > k for p, k in zip(window.padding, window.kernel)):
            raise ValueError(f"{type(self).__name__}: padding {window.padding} must be at most half the "
                             f"kernel {window.kernel}")
        h_out, w_out = window.output_size(h, wd, type(self).__name__)
        super().__init__((c, h, wd), (c, h_out, w_out), bias=bias)
        self.window = window
        self.current_mv = float(current_mv)
        # A zero-size buffer that follows .to(device/dtype): the connection's device and float dtype.
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)

    @property
    def weight(self) -> torch.Tensor:
        return self._anchor

    def propagate(self, spikes: torch.Tensor) -> torch.Tensor:
        pooled = F.max_pool2d(spikes, self.window.kernel, stride=self.window.stride, padding=self.window.padding)
        return pooled * self.current_mv if self.current_mv != 1.0 else pooled

    def _no_weights(self) -> TypeError:
        return TypeError(f"{type(self).__name__} has no weights and cannot learn; attach learning rules to "
                         f"weighted connections (Dense, Sparse, Conv2d, LocallyConnected2d, OneToOne)")

    def pair(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        raise self._no_weights()

    def pair_per_sample(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        raise self._no_weights()

    def apply_update(self, dw: torch.Tensor) -> None:
        raise self._no_weights()

    def incoming_sums(self) -> torch.Tensor:
        raise self._no_weights()

    def set_mask(self, mask: torch.Tensor | None) -> None:
        if mask is not None:
            raise self._no_weights()

    def config(self) -> dict[str, Any]:
        window = self.window.config()
        return {"type": type(self).__name__, "source_shape": list(self.source_shape), **window,
                "current_mv": self.current_mv, "bias": self.bias is not None}
