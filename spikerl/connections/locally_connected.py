"""Locally connected 2-D layer: a convolution's receptive fields, but every position has its own weights."""

from __future__ import annotations

import torch

from spikerl.connections.windowed import WindowedConnection


class LocallyConnected2d(WindowedConnection):
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

    @staticmethod
    def weight_shape(c_out: int, h_out: int, w_out: int, c_in: int, kh: int, kw: int) -> tuple[int, ...]:
        return (c_out, h_out, w_out, c_in, kh, kw)

    def _flat_w(self) -> torch.Tensor:
        """Weights as ``[C_out, H_out W_out, C_in kH kW]`` (a view)."""
        c_out, h_out, w_out = self.target_shape
        return self.w.reshape(c_out, h_out * w_out, -1)

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
