"""The contract every connection follows.

A connection owns its weights and knows two things:

* how presynaptic spikes ``[B, *source_shape]`` become postsynaptic current ``[B, *target_shape]``
  (:meth:`Connection.forward`, and :meth:`Connection.forward_many` for a whole train ``[T, B, ...]``);
* how to *pair* a presynaptic quantity with a postsynaptic one into a weight-shaped tensor
  (:meth:`Connection.pair`): for a dense matrix the outer product, for a convolution the correlation of
  input patches with output maps, for sparse weights only the existing synapses. Learning rules are
  written once against ``pair`` and so work on every topology.

Weights are kept within ``[wmin, wmax]`` after every update; ``norm`` rescales the incoming weights of
each target neuron so they sum to ``norm`` (Diehl & Cook's normalisation, applied by the network after
each learning run); ``mask`` (bool, weight-shaped, True where a synapse exists) keeps absent synapses at 0.

Weights must be finite wherever they enter: initial weights, :meth:`Connection.set_weights` and
``load_state_dict`` raise ``ValueError`` on NaN or infinite values (a single NaN weight would silently turn
every current it touches into NaN).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from spikerl.neurons.base import Shape, as_shape
from spikerl.validation import check_finite


class Connection(nn.Module):
    """Base class: weights from a source layer of ``source_shape`` to a target of ``target_shape``.

    Args:
        source_shape, target_shape: layer shapes without the batch dimension.
        wmin, wmax: weight bounds (mV), applied after every plastic update.
        norm: if given, the sum of each target neuron's incoming weights after :meth:`normalize`.
        bias: if True, a learnable per-target bias current (mV per step) added at every step.
    """

    def __init__(self, source_shape: int | tuple[int, ...], target_shape: int | tuple[int, ...], *,
                 wmin: float = -math.inf, wmax: float = math.inf, norm: float | None = None,
                 bias: bool = False) -> None:
        super().__init__()
        if math.isnan(wmin) or math.isnan(wmax):
            raise ValueError(f"wmin and wmax must be numbers or +-inf (no bound), got wmin={wmin}, wmax={wmax}")
        if wmin > wmax:
            raise ValueError(f"wmin ({wmin}) must not exceed wmax ({wmax})")
        if norm is not None and not (math.isfinite(norm) and norm > 0):
            raise ValueError(f"norm must be a positive number or None, got {norm!r}")
        self.source_shape: Shape = as_shape(source_shape)
        self.target_shape: Shape = as_shape(target_shape)
        self.wmin, self.wmax, self.norm = float(wmin), float(wmax), norm
        self.bias = nn.Parameter(torch.zeros(self.target_shape), requires_grad=False) if bias else None
        self.register_buffer("mask", None)  # bool, weight-shaped, True where a synapse exists

    # --- to implement -------------------------------------------------------------------------------
    def propagate(self, spikes: torch.Tensor) -> torch.Tensor:
        """``[N, *source_shape]`` float -> ``[N, *target_shape]`` current, without bias."""
        raise NotImplementedError

    def pair(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        """Pair ``pre [B, *source_shape]`` with ``post [B, *target_shape]``, summed over the batch.

        Returns a tensor shaped like the weights. For a dense connection this is ``pre^T @ post``.
        """
        raise NotImplementedError

    def pair_per_sample(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        """Like :meth:`pair` but keeps the batch: ``[B, *weight.shape]`` (for eligibility traces)."""
        return torch.stack([self.pair(pre[b:b + 1], post[b:b + 1]) for b in range(pre.shape[0])])

    def pair_over_time(self, pre: torch.Tensor, post: torch.Tensor, into: torch.Tensor | None = None,
                       beta: float = 1.0, alpha: float = 1.0, inplace: bool = False) -> torch.Tensor:
        """``beta * into + alpha * sum_t pair_per_sample(pre[t], post[t])`` for trains ``[T, B, ...]``.

        Returns ``[B, *weight.shape]`` (``into`` omitted: just the scaled sum). Used to accumulate
        eligibility over a whole run at once; subclasses may use one batched matmul. ``inplace``: write the
        result into ``into`` (saves allocating an eligibility-sized tensor per call) and return it.
        """
        total = self.pair_per_sample(pre[0], post[0])
        for t in range(1, pre.shape[0]):
            total = total + self.pair_per_sample(pre[t], post[t])
        if into is None:
            return alpha * total
        return into.mul_(beta).add_(total, alpha=alpha) if inplace else beta * into + alpha * total

    @property
    def weight(self) -> torch.Tensor:
        raise NotImplementedError

    def incoming_sums(self) -> torch.Tensor:
        """Sum of incoming weights per target unit, broadcastable against ``weight`` (for ``norm``)."""
        raise NotImplementedError

    # --- shared behaviour ---------------------------------------------------------------------------
    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """Presynaptic spikes ``[B, *source_shape]`` (bool or float) -> current ``[B, *target_shape]``."""
        self.check_source(spikes, "presynaptic spikes", leading=1)
        out = self.propagate(spikes.to(self.weight.dtype))
        return out if self.bias is None else out + self.bias

    def forward_many(self, spikes: torch.Tensor) -> torch.Tensor:
        """A whole train ``[T, B, *source_shape]`` -> currents ``[T, B, *target_shape]`` in one call.

        Equal to calling :meth:`forward` on each step (tested); subclasses may do it event-driven.
        """
        self.check_source(spikes, "presynaptic spike train", leading=2)
        t, b = spikes.shape[:2]
        out = self.propagate(spikes.reshape(t * b, *self.source_shape).to(self.weight.dtype))
        out = out.reshape(t, b, *self.target_shape)
        return out if self.bias is None else out + self.bias

    def check_source(self, x: torch.Tensor, what: str, leading: int) -> None:
        if tuple(x.shape[leading:]) != self.source_shape or x.dim() != leading + len(self.source_shape):
            dims = ", ".join(["T", "B"][2 - leading:] + [str(d) for d in self.source_shape])
            raise ValueError(f"{type(self).__name__}: expected {what} of shape [{dims}], got {list(x.shape)}")
        if x.device != self.weight.device:
            raise ValueError(f"{type(self).__name__}: {what} on {x.device} but weights on {self.weight.device}")

    @torch.no_grad()
    def apply_update(self, dw: torch.Tensor) -> None:
        """Add ``dw`` to the weights, then enforce the mask and the bounds ``[wmin, wmax]``."""
        w = self.weight
        w.add_(dw.to(w.dtype))
        self.enforce_constraints()

    @torch.no_grad()
    def set_weights(self, w: torch.Tensor) -> None:
        """Replace the weights by ``w`` (shaped like :attr:`weight`, finite), then enforce the mask and the
        bounds ``[wmin, wmax]``. Raises ``ValueError`` on a wrong shape or a NaN/infinite value, before any
        weight changes."""
        w = torch.as_tensor(w)
        if tuple(w.shape) != tuple(self.weight.shape):
            raise ValueError(f"{type(self).__name__}.set_weights: expected weights of shape "
                             f"{list(self.weight.shape)}, got {list(w.shape)}")
        check_finite(f"{type(self).__name__} weights", w)
        self.weight.copy_(w)
        self.enforce_constraints()

    @torch.no_grad()
    def enforce_constraints(self) -> None:
        """Clamp weights to ``[wmin, wmax]`` and zero masked-out synapses."""
        w = self.weight
        if math.isfinite(self.wmin) or math.isfinite(self.wmax):
            w.clamp_(min=self.wmin if math.isfinite(self.wmin) else None,
                     max=self.wmax if math.isfinite(self.wmax) else None)
        if self.mask is not None:
            w.mul_(self.mask)

    @torch.no_grad()
    def normalize(self) -> None:
        """Rescale each target's incoming weights to sum to ``norm`` (no-op when ``norm`` is None)."""
        if self.norm is None:
            return
        sums = self.incoming_sums()
        self.weight.mul_(self.norm / torch.where(sums == 0, torch.ones_like(sums), sums))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        for name in self._parameters:  # weights and bias: refuse NaN/inf before anything is copied
            if prefix + name in state_dict:
                check_finite(f"{type(self).__name__} {name!r} in the loaded state dict ({prefix + name})",
                             state_dict[prefix + name])
        # A saved mask is loaded into a connection built without one (e.g. rebuilt from its config).
        key = prefix + "mask"
        if key in state_dict and self.mask is None:
            self.mask = torch.zeros(state_dict[key].shape, dtype=torch.bool, device=self.weight.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def set_mask(self, mask: torch.Tensor | None) -> None:
        """Restrict the connection to the synapses where ``mask`` (weight-shaped bool) is True."""
        if mask is None:
            self.mask = None
            return
        if tuple(mask.shape) != tuple(self.weight.shape):
            raise ValueError(f"mask must have the weight's shape {list(self.weight.shape)}, got {list(mask.shape)}")
        self.mask = mask.to(device=self.weight.device, dtype=torch.bool)
        self.enforce_constraints()

    def config(self) -> dict[str, Any]:
        """JSON-able constructor arguments (used by checkpoints)."""
        return {"type": type(self).__name__, "source_shape": list(self.source_shape),
                "target_shape": list(self.target_shape), "wmin": self.wmin, "wmax": self.wmax,
                "norm": self.norm, "bias": self.bias is not None}


def init_weights(shape: tuple[int, ...], w: torch.Tensor | None, wmin: float, wmax: float,
                 fan_in: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Given weights (checked for shape) or a default initialisation.

    Default: uniform in ``[wmin, wmax]`` when both bounds are finite, else ``U(0, 1) / sqrt(fan_in)``.
    """
    if w is not None:
        w = torch.as_tensor(w, dtype=torch.get_default_dtype() if not torch.is_tensor(w) else w.dtype)
        if tuple(w.shape) != tuple(shape):
            raise ValueError(f"expected weights of shape {list(shape)}, got {list(w.shape)}")
        check_finite("initial weights w", w)
        return w.clone()
    u = torch.rand(shape, generator=generator)
    if math.isfinite(wmin) and math.isfinite(wmax):
        return wmin + (wmax - wmin) * u
    return u / math.sqrt(fan_in)
