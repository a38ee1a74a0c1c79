"""Fused neuron scans: ``T`` steps of a neuron model in one C call (the ``"c"`` backend of its layer).

The C restates the model's step function (``spikerl/neurons/lif_scan.h`` beside ``lif.py``,
``adaptive_lif_scan.h`` beside ``adaptive_lif.py``) with the same IEEE operations, so a scan is bit-identical to
looping the torch step (``tests/kernels/test_kernels_scan.py``). The functions here take plain numbers and
tensors, never engine types: the neuron layer translates its parameters.

Each returns ``(spikes [T, B, *shape] bool, final state tensors, recorded fields)`` and raises
:class:`~spikerl.kernels.backend.BackendUnavailable` with the reason when it cannot serve the call: kernels
disabled or not built, a tensor off the CPU, a dtype other than float32/float64, mixed dtypes or shapes,
autograd in use, or a field in ``record`` the model does not have.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import torch

from spikerl.kernels.backend import BackendUnavailable
from spikerl.kernels.build import AdaptiveParams as _AdaptiveParams
from spikerl.kernels.build import LIFParams as _LIFParams
from spikerl.kernels.build import library

_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_ptr = ctypes.c_void_p


def kernel(name: str, dtype: torch.dtype) -> Any:
    """The C function ``name`` for ``dtype`` (e.g. ``lif_scan_f32``), or :class:`BackendUnavailable`."""
    if dtype not in _SUFFIX:
        raise BackendUnavailable("c", f"the C kernels take float32 or float64 tensors, got {dtype}")
    return getattr(library.require("c"), f"{name}_{_SUFFIX[dtype]}")


def _pointer(x: torch.Tensor | None) -> ctypes.c_void_p:
    return _ptr(None if x is None else x.data_ptr())


def unfit(currents: torch.Tensor, full: tuple[torch.Tensor, ...], shared: tuple[torch.Tensor, ...] = (),
          record: tuple[str, ...] = (), fields: tuple[str, ...] = ()) -> str | None:
    """Why a scan kernel cannot take these tensors, or ``None`` when it can.

    It takes CPU tensors of one float dtype (float32 or float64), ``currents [T, B, *shape]``, the state
    tensors ``full`` shaped ``[B, *shape]`` and ``shared`` shaped ``[*shape]``, no autograd, and records only
    ``fields``. The common case is checked first, cheaply (a scan may be called once per environment step).
    """
    try:
        dtype, shape = currents.dtype, currents.shape
        fits = dtype in _SUFFIX and len(shape) >= 2 and currents.is_cpu
        grad = torch.is_grad_enabled() and currents.requires_grad
        for group, want in ((full, shape[1:]), (shared, shape[2:])):
            for x in group:
                fits = fits and x.dtype == dtype and x.is_cpu and x.shape == want
                grad = grad or (x.requires_grad and torch.is_grad_enabled())
        fits = fits and not grad and all(f in fields for f in record)
    except AttributeError:  # not a tensor
        fits = False
    return None if fits else _why_unfit(currents, full, shared, record, fields)


def _why_unfit(currents: torch.Tensor, full: tuple[torch.Tensor, ...], shared: tuple[torch.Tensor, ...],
               record: tuple[str, ...], fields: tuple[str, ...]) -> str:
    """The reason :func:`unfit` gives; state tensors are named by ``fields`` (``full`` first, then ``shared``)."""
    named = {"currents": currents, **dict(zip(fields, (*full, *shared)))}
    for name, x in named.items():
        if not isinstance(x, torch.Tensor):
            return f"{name} must be a torch.Tensor, got {type(x).__name__}"
    if currents.dim() < 2:
        return f"currents must be [T, B, *shape], got shape {list(currents.shape)}"
    if currents.dtype not in _SUFFIX:
        return f"the C kernels take float32 or float64 tensors, got {currents.dtype}"
    for name, x in named.items():
        if x.device.type != "cpu":
            return f"{name} is on {x.device}; the C kernels run on the CPU"
        if x.dtype != currents.dtype:
            return f"{name} is {x.dtype} but currents are {currents.dtype}; the C kernels take one dtype"
    for name, x in zip(fields, full):
        if x.shape != currents.shape[1:]:
            return f"{name} must be [B, *shape] = {list(currents.shape[1:])}, got {list(x.shape)}"
    for name, x in zip(fields[len(full):], shared):
        if x.shape != currents.shape[2:]:
            return f"{name} must be [*shape] = {list(currents.shape[2:])}, got {list(x.shape)}"
    if torch.is_grad_enabled() and any(x.requires_grad for x in named.values()):
        return "autograd is recording (a tensor requires grad); the C kernels compute no gradients"
    return f"cannot record {[f for f in record if f not in fields]}; it records {list(fields)}"


def _lif_params(v_rest: float, v_reset: float, v_thresh: float, decay: float, refractory_steps: int,
                v_min: float | None) -> _LIFParams:
    return _LIFParams(v_rest=v_rest, v_reset=v_reset, v_thresh=v_thresh, v_min=0.0 if v_min is None else v_min,
                      decay=decay, refractory_steps=refractory_steps, leaky=int(decay != 1.0),
                      has_v_min=int(v_min is not None))


def _check_numbers(**numbers: float) -> None:
    for name, x in numbers.items():
        if not (isinstance(x, (int, float)) and math.isfinite(x)):
            raise ValueError(f"{name} must be a finite number, got {x!r}")


def _copy(x: torch.Tensor) -> torch.Tensor:
    return x.clone(memory_format=torch.contiguous_format)


def lif_scan(currents: torch.Tensor, v: torch.Tensor, refractory: torch.Tensor, *, v_rest: float, v_reset: float,
             v_thresh: float, decay: float, refractory_steps: int, v_min: float | None = None,
             record: tuple[str, ...] = ()
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]:
    """``T`` steps of the LIF model with the value reset (``spikerl/neurons/lif_scan.h``)::

        h = v_rest + (v - v_rest) * decay + I * (refractory <= 0);  h = max(h, v_min)
        s = h >= v_thresh;  v = v_reset where s else h;  refractory = refractory_steps where s else max(r - 1, 0)

    Args:
        currents: ``[T, B, *shape]`` input per step (mV).
        v, refractory: the state ``[B, *shape]`` (not modified).
        v_rest, v_reset, v_thresh, v_min: potentials (mV; ``v_min=None``: no lower bound).
        decay: membrane decay per step, ``exp(-dt / tau_mem)`` (1: no leak).
        refractory_steps: steps of refractoriness after a spike (0: the refractory state passes through).
        record: any of ``"v"``, ``"refractory"``: the state after every step, ``[T, B, *shape]``.

    Returns:
        ``(spikes, (v, refractory), recorded)``. Raises :class:`BackendUnavailable` when it cannot serve.
    """
    _check_numbers(v_rest=v_rest, v_reset=v_reset, v_thresh=v_thresh, decay=decay,
                   v_min=0.0 if v_min is None else v_min)
    reason = unfit(currents, (v, refractory), (), record, ("v", "refractory"))
    if reason is not None:
        raise BackendUnavailable("c", reason)
    fn = kernel("lif_scan", currents.dtype)
    p = _lif_params(v_rest, v_reset, v_thresh, decay, int(refractory_steps), v_min)
    currents = currents.contiguous()
    v = _copy(v)
    refr = _copy(refractory) if p.refractory_steps > 0 else refractory.contiguous()
    spikes = torch.empty(currents.shape, dtype=torch.bool)
    recorded = {f: torch.empty(currents.shape, dtype=currents.dtype) for f in record}
    if currents.numel() > 0:
        fn(ctypes.c_int64(currents.shape[0]), ctypes.c_int64(currents[0].numel()), _pointer(currents), _pointer(v),
           _pointer(refr), _pointer(spikes), _pointer(recorded.get("v")), _pointer(recorded.get("refractory")),
           ctypes.byref(p))
    return spikes, (v, refr if p.refractory_steps > 0 else refractory), recorded


def adaptive_lif_scan(currents: torch.Tensor, v: torch.Tensor, refractory: torch.Tensor, theta: torch.Tensor, *,
                      v_rest: float, v_reset: float, v_thresh: float, decay: float, refractory_steps: int,
                      v_min: float | None, theta_plus: float, theta_decay: float, one_spike: bool, adapt: bool,
                      record: tuple[str, ...] = ()
                      ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], dict[str, torch.Tensor]]:
    """``T`` steps of the adaptive-threshold LIF (``spikerl/neurons/adaptive_lif_scan.h``).

    The membrane as in :func:`lif_scan`, with threshold ``v_thresh + theta``; ``one_spike`` keeps per sample only
    the spike with the largest overshoot (first index on ties); while ``adapt``,
    ``theta = theta * theta_decay + theta_plus * (spikes summed over the batch)``.

    Args:
        v, refractory: ``[B, *shape]``; theta: ``[*shape]`` (none modified).
        record: any of ``"v"``, ``"refractory"``, ``"theta"`` (theta repeated over the batch).

    Returns:
        ``(spikes, (v, refractory, theta), recorded)``. Raises :class:`BackendUnavailable` when it cannot serve.
    """
    _check_numbers(v_rest=v_rest, v_reset=v_reset, v_thresh=v_thresh, decay=decay,
                   v_min=0.0 if v_min is None else v_min, theta_plus=theta_plus, theta_decay=theta_decay)
    reason = unfit(currents, (v, refractory), (theta,), record, ("v", "refractory", "theta"))
    if reason is not None:
        raise BackendUnavailable("c", reason)
    fn = kernel("adaptive_lif_scan", currents.dtype)
    p = _lif_params(v_rest, v_reset, v_thresh, decay, int(refractory_steps), v_min)
    a = _AdaptiveParams(theta_plus=theta_plus, theta_decay=theta_decay, one_spike=int(one_spike), adapt=int(adapt))
    currents = currents.contiguous()
    v = _copy(v)
    refr = _copy(refractory) if p.refractory_steps > 0 else refractory.contiguous()
    th = _copy(theta) if adapt else theta.contiguous()
    spikes = torch.empty(currents.shape, dtype=torch.bool)
    recorded = {f: torch.empty(currents.shape, dtype=currents.dtype) for f in record}
    if currents.numel() > 0:
        fn(ctypes.c_int64(currents.shape[0]), ctypes.c_int64(currents.shape[1]), ctypes.c_int64(theta.numel()),
           _pointer(currents), _pointer(v), _pointer(refr), _pointer(th), _pointer(spikes),
           _pointer(recorded.get("v")), _pointer(recorded.get("refractory")), _pointer(recorded.get("theta")),
           ctypes.byref(p), ctypes.byref(a))
    return spikes, (v, refr if p.refractory_steps > 0 else refractory, th if adapt else theta), recorded
