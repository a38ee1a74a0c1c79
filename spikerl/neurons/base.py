"""The contract every neuron model follows.

A neuron model is three things (see DESIGN.md, section 2):

* a frozen parameter dataclass whose field names carry their units (``tau_mem_ms``, ``v_thresh_mv``);
* a state ``NamedTuple`` of tensors shaped ``[B, *shape]``;
* a pure step function ``step(current, state, params, dt, spike_fn=None, detach_reset=False) ->
  (spikes, new_state)`` built from the small phases in :mod:`spikerl.neurons.phases`.

:class:`NeuronLayer` is the thin ``nn.Module`` shell around them: it knows the layer's shape and ``dt``,
creates the initial state, calls the step, and holds optional spike-trace settings
(:class:`spikerl.traces.TraceParams`). Inputs are *currents* in the BindsNET convention: the voltage
increment (mV) added to the membrane in one step.

The same step function serves two paths:

* **Network path** -- ``step(current, state)``, ``scan(currents, state)`` and ``layer(current [B, *shape],
  state)``: ``bool`` spikes, no gradient, fused C kernels where they apply (what :class:`~spikerl.Network`
  calls).
* **Multi-step module mode** -- ``layer(x)`` with ``x [T, B, *shape]`` float: float 0/1 spikes
  ``[T, B, *shape]``, starting from rest (or from a given state, then returning the final one too). With
  ``surrogate=`` set, the spikes carry a surrogate derivative and the layer trains by backpropagation through
  time between, e.g., ``nn.Conv2d`` layers; without one this is the Network path with float spikes.

Backends. A layer runs these paths with one of the implementations named in its ``BACKENDS``, chosen with
``backend=`` (on the layer, or per call on :meth:`NeuronLayer.scan`):

* ``"torch"``: the reference step loop over :meth:`NeuronLayer.step` (every model; CPU and GPU; autograd);
* ``"c"``: the Network path as one fused C call per scan (:mod:`spikerl.kernels`; LIF, IF, AdaptiveLIF on CPU);
* ``"fused"``: the multi-step module mode with a surrogate as one autograd node (LIF,
  :mod:`spikerl.neurons.fused_lif`);
* ``"compiled"``: the Network path's step loop fused by ``torch.compile`` (LIF, IF; CPU and CUDA; opt-in, never
  chosen by ``"auto"``; :mod:`spikerl.kernels.compiled`);
* ``"auto"`` (the default): for each call the fastest of these that can serve it, falling back silently.

A backend named explicitly serves every call of those paths or raises
:class:`~spikerl.kernels.BackendUnavailable` saying why (no C compiler, a CUDA tensor, autograd, a path the
backend does not implement, ...). A single :meth:`NeuronLayer.step` (which the Network takes for layers in
recurrent or plastic groups) is the torch step function under every backend.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, Callable, NamedTuple, TypeVar

import torch
from torch import nn

from spikerl import kernels
from spikerl.kernels.backend import BackendUnavailable
from spikerl.neurons.surrogate import SpikeFn, SurrogateArg, SurrogateSpike, resolve_surrogate
from spikerl.traces import TraceParams

Shape = tuple[int, ...]
Result = TypeVar("Result")


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
        surrogate: spike function of the multi-step module mode: ``None`` (no gradient through spikes), a
            name (``"fast_sigmoid"``, ``"arctan"``), a :class:`~spikerl.neurons.surrogate.SurrogateSpike` or a
            callable ``x -> H(x)`` (see :func:`~spikerl.neurons.surrogate.resolve_surrogate`). The Network path
            ignores it.
        detach_reset: in the multi-step module mode, stop the gradient through the reset's dependence on the
            spike (the spike output itself keeps its gradient).
        backend: one of the class's ``BACKENDS`` (see the module docstring); ``"auto"`` by default.

    Subclasses set ``State`` and implement :meth:`initial_state` and :meth:`step`. A model whose spikes no
    threshold surrogate can describe sets ``surrogate_unsupported`` to the reason. A model with fused
    backends lists them in ``BACKENDS`` and overrides :meth:`scan` (``"c"``) or :meth:`fused_multistep`
    (``"fused"``).
    """

    State: type[NamedTuple]
    surrogate_unsupported: str | None = None
    BACKENDS: tuple[str, ...] = ("auto", "torch")

    def __init__(self, shape: int | tuple[int, ...], params: Any, dt_ms: float = 1.0,
                 trace: TraceParams | None = None, surrogate: SurrogateArg = None,
                 detach_reset: bool = False, backend: str = "auto") -> None:
        super().__init__()
        check_positive("dt_ms", dt_ms)
        self.shape: Shape = as_shape(shape)
        self.params = params
        self.dt_ms = float(dt_ms)
        self.trace = trace
        if surrogate is not None and self.surrogate_unsupported:
            raise ValueError(f"{type(self).__name__} cannot take a surrogate: {self.surrogate_unsupported}")
        if not isinstance(detach_reset, bool):
            raise TypeError(f"detach_reset must be a bool, got {type(detach_reset).__name__}")
        self.surrogate: SpikeFn | None = resolve_surrogate(surrogate)
        self.detach_reset = detach_reset
        self.backend = self.choose_backend(backend)
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

    def step(self, current: torch.Tensor, state: NamedTuple, spike_fn: SpikeFn | None = None,
             detach_reset: bool = False) -> tuple[torch.Tensor, NamedTuple]:
        """Advance one step: ``current [B, *shape]`` (mV per step) -> ``(spikes [B, *shape], state)``.

        Without ``spike_fn`` the spikes are ``bool`` (the Network path); with it they are float 0/1 with the
        spike function's surrogate derivative, and ``detach_reset`` detaches the reset's gradient.
        """
        raise NotImplementedError

    def choose_backend(self, backend: str | None) -> str:
        """``backend``, or the layer's own when ``None``; ``ValueError`` unless it is one of ``BACKENDS``."""
        chosen = getattr(self, "backend", "auto") if backend is None else backend
        if chosen not in self.BACKENDS:
            raise ValueError(f"backend must be one of {self.BACKENDS}, got {chosen!r}")
        return chosen

    @staticmethod
    def try_c(backend: str, reason: str | None, kernel: Callable[[], Result]) -> Result | None:
        """The ``"c"`` / ``"auto"`` choice of a scan: ``kernel()`` (a call into :mod:`spikerl.kernels`) when it can
        serve, else ``None`` for ``"auto"`` (the caller runs the step loop) and :class:`BackendUnavailable` for
        ``"c"``. ``reason``: why the layer cannot use the kernel (``None`` if it can); a kernel that cannot serve
        the call raises :class:`BackendUnavailable` itself. ``"auto"`` tries the kernel only when the kernels
        are built (warning once when they cannot be)."""
        if reason is None and (backend == "c" or kernels.available()):
            try:
                return kernel()
            except BackendUnavailable:
                if backend == "c":
                    raise
        elif backend == "c":
            raise BackendUnavailable("c", reason)
        return None

    def scan(self, currents: torch.Tensor, state: NamedTuple, record: tuple[str, ...] = (),
             backend: str | None = None) -> tuple[torch.Tensor, NamedTuple, dict[str, torch.Tensor]]:
        """Run ``T`` steps on known currents ``[T, B, *shape]`` (the Network path).

        Returns the spike train (bool ``[T, B, *shape]``), the final state, and the state fields named in
        ``record`` at every step (``[T, B, *shape]``). ``backend`` overrides the layer's for this call. This
        is the reference step loop (``"torch"``); a subclass with a fused backend overrides it, gives the same
        result (and must test that it does), and calls this method for ``"torch"``.
        """
        self.choose_backend(backend)
        steps, batch = currents.shape[0], currents.shape[1]
        spikes = torch.empty(currents.shape, dtype=torch.bool, device=currents.device)
        recorded = {f: torch.empty(currents.shape, dtype=self.dtype, device=currents.device) for f in record}
        for t in range(steps):
            spikes[t], state = self.step(currents[t], state)
            for f in record:
                recorded[f][t] = getattr(state, f).expand(batch, *self.shape)
        return spikes, state, recorded

    def forward(self, x: torch.Tensor, state: NamedTuple | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, NamedTuple]:
        """Two conventions, told apart by the rank of ``x`` (the layer's shape is fixed):

        * multi-step module mode, ``x [T, B, *shape]`` float (input currents, or any float drive):
          returns float 0/1 spikes ``[T, B, *shape]`` starting from rest; given a ``state`` it starts there
          and returns ``(spikes, final_state)``. With a surrogate, gradients flow back to ``x`` (and to the
          given state) through :meth:`step`; without one the spikes carry no gradient.
        * one Network step, ``x [B, *shape]`` and ``state``: ``(bool spikes [B, *shape], new_state)``, as
          :meth:`step`.
        """
        if isinstance(x, torch.Tensor) and x.dim() == len(self.shape) + 2:
            spikes, final = self.multistep(x, state, keep_state=state is not None)
            return spikes if state is None else (spikes, final)
        if state is None:
            self.check_multistep_input(x)  # raises: wrong rank for the multi-step mode
        self.check_input(x, "current")
        return self.step(x, state)

    def multistep(self, x: torch.Tensor, state: NamedTuple | None = None, keep_state: bool = True
                  ) -> tuple[torch.Tensor, NamedTuple | None]:
        """The multi-step module mode: ``x [T, B, *shape]`` float -> ``(spikes [T, B, *shape], final state)``.

        Float 0/1 spikes in the dtype of ``x``, from ``state`` (default: rest). With a surrogate, the spikes
        come from :meth:`step` with ``spike_fn=self.surrogate`` and carry its gradient; when the caller does not
        keep the final state (``keep_state=False``), a layer may serve the call with a fused backend instead
        (see :meth:`fused_multistep`) and the final state is then ``None``. Without a surrogate this is
        :meth:`scan` (the Network path, no gradient) with the spikes converted to float.
        """
        self.check_multistep_input(x)
        start = state if state is not None else self.initial_state(x.shape[1])
        if self.surrogate is None:
            with torch.no_grad():
                spikes, final, _ = self.scan(x, start)
            return spikes.to(x.dtype), final
        if self.backend == "c":
            raise BackendUnavailable("c", "a surrogate asks for gradients, which the C kernels do not compute "
                                          f"(the {type(self).__name__} layer has backends {self.BACKENDS})")
        if self.backend == "compiled":
            raise BackendUnavailable("compiled", "it compiles the Network path (scan, no gradients); a surrogate "
                                                 f"asks for gradients (the {type(self).__name__} layer has backends "
                                                 f"{self.BACKENDS})")
        fused = self.fused_multistep(x, state, keep_state)
        if fused is not None:
            return fused, None
        state, trains = start, []
        for t in range(x.shape[0]):
            spikes, state = self.step(x[t], state, self.surrogate, self.detach_reset)
            trains.append(spikes)
        return (torch.stack(trains) if trains else x.new_zeros(x.shape)), state

    def fused_multistep(self, x: torch.Tensor, state: NamedTuple | None, keep_state: bool) -> torch.Tensor | None:
        """Spikes of the multi-step mode from a fused backend, or ``None`` to take the step loop (the default).

        Called only with a surrogate and a backend other than ``"c"``; ``state`` is ``None`` when the run starts
        from rest. A backend restates the step's dynamics, so a test must compare it (values and gradients) with
        the step loop.
        """
        return None

    def check_multistep_input(self, x: torch.Tensor) -> None:
        """Raise a clear error unless ``x`` is a float ``[T, B, *shape]`` tensor of the layer's dtype and device."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        dims = ", ".join(map(str, self.shape))
        if x.dim() != len(self.shape) + 2 or tuple(x.shape[2:]) != self.shape:
            raise ValueError(f"expected input of shape [T, B, {dims}] (multi-step mode; one Network step takes "
                             f"a current [B, {dims}] and a state), got {list(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"expected a floating-point input [T, B, {dims}], got dtype {x.dtype}")
        if x.dtype != self.dtype:
            raise TypeError(f"input is {x.dtype} but the layer is {self.dtype}; convert one with .to()")
        if x.device != self.device:
            raise ValueError(f"input is on {x.device} but the layer is on {self.device}; move one with .to()")

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
        """JSON-able description of the layer (used by checkpoints; see :meth:`from_config`).

        A surrogate adds ``"surrogate": {"name", "slope"}`` and ``"detach_reset"``; a callable surrogate has
        no JSON form (``ValueError``). A backend other than ``"auto"`` adds ``"backend"``.
        """
        has_params = dataclasses.is_dataclass(self.params)
        config: dict[str, Any] = {
            "type": type(self).__name__,
            "shape": list(self.shape),
            "params_type": type(self.params).__name__ if has_params else None,
            "params": dataclasses.asdict(self.params) if has_params else None,
            "dt_ms": self.dt_ms,
            "trace": dataclasses.asdict(self.trace) if self.trace is not None else None,
        }
        if self.surrogate is not None:
            if not isinstance(self.surrogate, SurrogateSpike):
                raise ValueError(f"{type(self).__name__} has a callable surrogate, which has no JSON config; "
                                 "use a named one (SurrogateSpike) to save it")
            config["surrogate"] = dataclasses.asdict(self.surrogate)
            config["detach_reset"] = self.detach_reset
        if self.backend != "auto":
            config["backend"] = self.backend
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "NeuronLayer":
        """Rebuild a layer from :meth:`config` (the params class is looked up in the layer's module)."""
        kwargs: dict[str, Any] = {"dt_ms": config["dt_ms"]}
        if config.get("trace") is not None:
            kwargs["trace"] = TraceParams(**config["trace"])
        if config.get("params_type"):
            params_cls = getattr(sys.modules[cls.__module__], config["params_type"])
            kwargs["params"] = params_cls(**config["params"])
        if config.get("surrogate") is not None:
            kwargs["surrogate"] = SurrogateSpike(**config["surrogate"])
            kwargs["detach_reset"] = config.get("detach_reset", False)
        if config.get("backend") is not None:
            kwargs["backend"] = config["backend"]
        return cls(tuple(config["shape"]), **kwargs)

    def extra_repr(self) -> str:
        text = f"shape={self.shape}, params={self.params}, dt_ms={self.dt_ms}, trace={self.trace}"
        if self.surrogate is not None:
            text += f", surrogate={self.surrogate}, detach_reset={self.detach_reset}"
        return text + (f", backend={self.backend!r}" if self.backend != "auto" else "")
