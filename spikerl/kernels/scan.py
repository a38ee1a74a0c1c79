"""Fused neuron scans: ``T`` steps of a neuron model in one C call.

Each function takes the same arguments as the layer's ``scan`` (plus the model's parameters) and returns
``(spikes [T, B, *shape] bool, final state tensors, recorded fields)``, bit-identical to looping the torch
step function, or ``None`` when the kernel does not apply: kernels unavailable or disabled, a CUDA tensor,
a dtype other than float32/float64, mixed dtypes or shapes, autograd in use, or an unknown field in
``record``. The caller then runs its torch loop.
"""

from __future__ import annotations

import ctypes
from typing import Any

import torch

from spikerl.kernels.build import AdaptiveParams as _AdaptiveParams
from spikerl.kernels.build import LIFParams as _LIFParams
from spikerl.kernels.build import library

_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_ptr = ctypes.c_void_p


def kernel(name: str, dtype: torch.dtype) -> Any:
    """The C function ``name`` for ``dtype`` (e.g. ``lif_scan_f32``), or ``None`` if kernels are off."""
    lib = library()
    if lib is None or dtype not in _SUFFIX:
        return None
    return getattr(lib, f"{name}_{_SUFFIX[dtype]}")


def _pointer(x: torch.Tensor | None) -> ctypes.c_void_p:
    return _ptr(None if x is None else x.data_ptr())


def _fits(currents: torch.Tensor, full: tuple[torch.Tensor, ...], shared: tuple[torch.Tensor, ...] = ()) -> bool:
    """Whether the kernel handles these tensors: CPU, one float dtype, state shaped ``[B, *shape]`` (``full``)
    or ``[*shape]`` (``shared``), and no autograd."""
    tensors = (currents, *full, *shared)
    if not all(isinstance(x, torch.Tensor) for x in tensors):
        return False
    if currents.dim() < 2 or currents.numel() == 0 or currents.dtype not in _SUFFIX:
        return False
    if any(x.device.type != "cpu" or x.dtype != currents.dtype for x in tensors):
        return False
    if any(x.shape != currents.shape[1:] for x in full) or any(x.shape != currents.shape[2:] for x in shared):
        return False
    return not (torch.is_grad_enabled() and any(x.requires_grad for x in tensors))


def _lif_params(params: Any, dt_ms: float) -> _LIFParams:
    from spikerl.neurons import phases  # imported here: spikerl.neurons imports this package

    decay = phases.decay_factor(params.tau_mem_ms, dt_ms)
    v_min = params.v_min_mv
    return _LIFParams(v_rest=params.v_rest_mv, v_reset=params.v_reset_mv, v_thresh=params.v_thresh_mv,
                      v_min=0.0 if v_min is None else v_min, decay=decay,
                      refractory_steps=phases.refractory_steps(params.refractory_ms, dt_ms),
                      leaky=int(decay != 1.0), has_v_min=int(v_min is not None))


def _copy(x: torch.Tensor) -> torch.Tensor:
    return x.clone(memory_format=torch.contiguous_format)


def lif_scan(currents: torch.Tensor, v: torch.Tensor, refractory: torch.Tensor, params: Any, dt_ms: float,
             record: tuple[str, ...] = ()
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]] | None:
    """``T`` steps of :func:`spikerl.neurons.lif.lif_step` on ``currents [T, B, *shape]``.

    Args:
        v, refractory: the state ``[B, *shape]`` (not modified).
        params: a :class:`~spikerl.neurons.lif.LIFParams`; ``dt_ms``: the step.
        record: any of ``"v"``, ``"refractory"``: the state after every step, ``[T, B, *shape]``.

    Returns:
        ``(spikes, (v, refractory), recorded)``, or ``None`` when the kernel does not apply.
    """
    if not set(record) <= {"v", "refractory"} or not _fits(currents, (v, refractory)):
        return None
    fn = kernel("lif_scan", currents.dtype)
    if fn is None:
        return None
    p = _lif_params(params, dt_ms)
    currents = currents.contiguous()
    v = _copy(v)
    refr = _copy(refractory) if p.refractory_steps > 0 else refractory.contiguous()
    spikes = torch.empty(currents.shape, dtype=torch.bool)
    recorded = {f: torch.empty(currents.shape, dtype=currents.dtype) for f in record}
    steps = currents.shape[0]
    fn(ctypes.c_int64(steps), ctypes.c_int64(currents[0].numel()), _pointer(currents), _pointer(v), _pointer(refr),
       _pointer(spikes), _pointer(recorded.get("v")), _pointer(recorded.get("refractory")), ctypes.byref(p))
    return spikes, (v, refr if p.refractory_steps > 0 else refractory), recorded


def adaptive_lif_scan(currents: torch.Tensor, v: torch.Tensor, refractory: torch.Tensor, theta: torch.Tensor,
                      params: Any, dt_ms: float, adapt: bool, record: tuple[str, ...] = ()
                      ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], dict[str, torch.Tensor]] | None:
    """``T`` steps of :func:`spikerl.neurons.adaptive_lif.adaptive_lif_step` on ``currents [T, B, *shape]``.

    Args:
        v, refractory: ``[B, *shape]``; theta: ``[*shape]`` (none modified).
        params: an :class:`~spikerl.neurons.adaptive_lif.AdaptiveLIFParams`; ``dt_ms``: the step.
        adapt: threshold adaptation on.
        record: any of ``"v"``, ``"refractory"``, ``"theta"`` (theta repeated over the batch).

    Returns:
        ``(spikes, (v, refractory, theta), recorded)``, or ``None`` when the kernel does not apply.
    """
    if not set(record) <= {"v", "refractory", "theta"} or not _fits(currents, (v, refractory), (theta,)):
        return None
    fn = kernel("adaptive_lif_scan", currents.dtype)
    if fn is None:
        return None
    from spikerl.neurons import phases

    p = _lif_params(params, dt_ms)
    a = _AdaptiveParams(theta_plus=params.theta_plus_mv, theta_decay=phases.decay_factor(params.tau_theta_ms, dt_ms),
                        one_spike=int(params.one_spike), adapt=int(adapt))
    currents = currents.contiguous()
    v = _copy(v)
    refr = _copy(refractory) if p.refractory_steps > 0 else refractory.contiguous()
    th = _copy(theta) if adapt else theta.contiguous()
    spikes = torch.empty(currents.shape, dtype=torch.bool)
    recorded = {f: torch.empty(currents.shape, dtype=currents.dtype) for f in record}
    steps, batch = currents.shape[0], currents.shape[1]
    fn(ctypes.c_int64(steps), ctypes.c_int64(batch), ctypes.c_int64(theta.numel()), _pointer(currents), _pointer(v),
       _pointer(refr), _pointer(th), _pointer(spikes), _pointer(recorded.get("v")),
       _pointer(recorded.get("refractory")), _pointer(recorded.get("theta")), ctypes.byref(p), ctypes.byref(a))
    return spikes, (v, refr if p.refractory_steps > 0 else refractory, th if adapt else theta), recorded
