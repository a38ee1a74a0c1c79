"""The contract every neuron model follows.

A neuron model is three things (see DESIGN.md, section 2):

* a frozen parameter dataclass whose field names carry their units (``tau_mem_ms``, ``v_thresh_mv``);
* a state ``NamedTuple`` of tensors shaped ``[B, *shape]``;
* a pure step function ``step(current, state, params, dt) -> (spikes, new_state)`` built from the small
  phases in :mod:`spikerl.neurons.phases`.

:class:`NeuronLayer` is the thin ``nn.Module`` shell around them: it knows the layer's shape and ``dt``,
creates the initial state, calls the step, and holds optional spike-trace settings
(:class:`spikerl.traces.TraceParams`). Inputs are *currents* in the BindsNET convention: the voltage
increment (mV) added to the membrane in one step. Spikes are returned as ``bool`` tensors.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, NamedTuple

import torch
from torch import nn

from spikerl.traces import TraceParams

Shape = tuple[int, ...]


def as_shape(shape: int | tuple[int, ...] | list[int]) -> Shape:
    """Normalise ``100`` or ``(1, 28, 28)`` to a tuple of positive ints, or raise ``ValueError``."""
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not dims or any(not isinstance(d, int) or d <= 0 for d in dims):
        raise ValueError(f"layer shape must be a positive int or a tuple of positive ints, got {shape!r}")
    return dims


def check_positive(name: str, value: float, allow_inf: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a number > 0 (finite unless ``allow_inf``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value) and value > 0
    if not ok or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


class NeuronLayer(nn.Module):
    """Base class of all neuron layers.

    Args:
        shape: shape of the layer without the batch dimension, e.g. ``100`` or ``(1, 28, 28)``.
        params: the model's frozen parameter dataclass.
        dt_ms: simulation time step in milliseconds.
        trace: optional spike-trace settings; the network keeps a trace ``[B, *shape]`` for this layer.

    Subclasses set ``State`` and implement :meth:`initial_state` and :meth:`step`.
    """

    State: type[NamedTuple]

    def __init__(self, shape: int | tuple[int, ...], params: Any, dt_ms: float = 1.0,
                 trace: TraceParams | None = None) -> None:
        super().__init__()
        check_positive("dt_ms", dt_ms)
        self.shape: Shape = as_shape(shape)
        self.params = params
        self.dt_ms = float(dt_ms)
        self.trace = trace
        # A zero-size buffer that follows .to(device/dtype): the layer's device and float dtype.
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)

    @property
    def n(self) -> int:
        """Number of neurons in the layer."""
        return math.prod(self.shape)

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def dtype(self) -> torch.dtype:
        return self._anchor.dtype

    def _zeros(self, batch_size: int, fill: float = 0.0) -> torch.Tensor:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        return torch.full((batch_size, *self.shape), fill, device=self.device, dtype=self.dtype)

    def initial_state(self, batch_size: int) -> NamedTuple:
        """The state of a freshly reset layer for ``batch_size`` samples, on the layer's device."""
        raise NotImplementedError

    def step(self, current: torch.Tensor, state: NamedTuple) -> tuple[torch.Tensor, NamedTuple]:
        """Advance one step: ``current [B, *shape]`` (mV per step) -> ``(spikes bool [B, *shape], state)``."""
        raise NotImplementedError

    def scan(self, currents: torch.Tensor, state: NamedTuple, record: tuple[str, ...] = ()
             ) -> tuple[torch.Tensor, NamedTuple, dict[str, torch.Tensor]]:
        """Run ``T`` steps on known currents ``[T, B, *shape]``.

        Returns the spike train (bool ``[T, B, *shape]``), the final state, and the state fields named in
        ``record`` at every step (``[T, B, *shape]``). Subclasses may override it with a fused kernel that
        gives the same result (and must test that it does).
        """
        steps, batch = currents.shape[0], currents.shape[1]
        spikes = torch.empty(currents.shape, dtype=torch.bool, device=currents.device)
        recorded = {f: torch.empty(currents.shape, dtype=self.dtype, device=currents.device) for f in record}
        for t in range(steps):
            spikes[t], state = self.step(currents[t], state)
            for f in record:
                recorded[f][t] = getattr(state, f).expand(batch, *self.shape)
        return spikes, state, recorded

    def forward(self, current: torch.Tensor, state: NamedTuple) -> tuple[torch.Tensor, NamedTuple]:
        self.check_input(current, "current")
        return self.step(current, state)

    def check_input(self, x: torch.Tensor, what: str) -> None:
        """Raise a clear ``ValueError`` when ``x`` is not ``[B, *shape]`` on the layer's device."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"expected {what} of shape [B, {', '.join(map(str, self.shape))}], got {list(x.shape)}")
        if x.device != self.device:
            raise ValueError(f"{what} is on {x.device} but the layer is on {self.device}; move one with .to()")

    def end_run(self, state: NamedTuple, learning: bool) -> None:
        """Called by the network after each run; layers with learned state (theta) commit it here."""

    def config(self) -> dict[str, Any]:
        """JSON-able description of the layer (used by checkpoints; see :meth:`from_config`)."""
        has_params = dataclasses.is_dataclass(self.params)
        return {
            "type": type(self).__name__,
            "shape": list(self.shape),
            "params_type": type(self.params).__name__ if has_params else None,
            "params": dataclasses.asdict(self.params) if has_params else None,
            "dt_ms": self.dt_ms,
            "trace": dataclasses.asdict(self.trace) if self.trace is not None else None,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "NeuronLayer":
        """Rebuild a layer from :meth:`config` (the params class is looked up in the layer's module)."""
        kwargs: dict[str, Any] = {"dt_ms": config["dt_ms"]}
        if config.get("trace") is not None:
            kwargs["trace"] = TraceParams(**config["trace"])
        if config.get("params_type"):
            params_cls = getattr(sys.modules[cls.__module__], config["params_type"])
            kwargs["params"] = params_cls(**config["params"])
        return cls(tuple(config["shape"]), **kwargs)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, params={self.params}, dt_ms={self.dt_ms}, trace={self.trace}"
