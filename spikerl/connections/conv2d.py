"""2-D convolution: one bank of filters shared across all positions of the input map."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spikerl.connections.windowed import WindowedConnection


class Conv2d(WindowedConnection):
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

    @staticmethod
    def weight_shape(c_out: int, h_out: int, w_out: int, c_in: int, kh: int, kw: int) -> tuple[int, ...]:
        return (c_out, c_in, kh, kw)

    def propagate(self, spikes: torch.Tensor) -> torch.Tensor:
        return F.conv2d(spikes, self.w, stride=self.window.stride, padding=self.window.padding)

    def pair(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bol,bkl->ok", self._maps(post), self._patches(pre))
        return out.reshape(self.w.shape)

    def pair_per_sample(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bol,bkl->bok", self._maps(post), self._patches(pre))
        return out.reshape(pre.shape[0], *self.w.shape)

    def incoming_sums(self) -> torch.Tensor:
        return self.w.sum(dim=(1, 2, 3), keepdim=True)
