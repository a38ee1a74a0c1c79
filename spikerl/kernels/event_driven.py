"""Event-driven work on spike trains in C: propagation through dense weights and pairing into eligibility.

* :func:`propagate`: ``out[r, j] = sum_i s[r, i] w[i, j]`` computed from the active inputs only: the spikes are
  listed per row (compressed rows), then for each row ``r`` the weight rows ``w[i, :]`` of its active inputs are
  added in ascending ``i`` to a zeroed output row (the order of a sequential dense product, so the sums are the
  same).
* :func:`add_spike_rows`: ``into[b, i, :] += rows[t, b, :]`` for every spike ``s[t, b, i]``, the outer products
  of a sparse train with one row per step and sample, touching only the rows of inputs that spiked.

Single-threaded: splitting the output columns between threads was measured slower on the shared 2-core
development machine (the work is bound by memory bandwidth).
"""

from __future__ import annotations

import ctypes

import torch

from spikerl.kernels.backend import BackendUnavailable
from spikerl.kernels.build import library
from spikerl.kernels.scan import _pointer, kernel


def propagate(spikes: torch.Tensor, w: torch.Tensor, max_density: float | None = None) -> torch.Tensor | None:
    """``spikes [R, n_in]`` (bool) times ``w [n_in, n_out]`` -> ``[R, n_out]`` in ``w``'s dtype.

    Returns ``None`` when ``max_density`` is given and the fraction of active spikes is not below it (a dense
    product is then faster: a choice, not a failure). Raises :class:`BackendUnavailable` with the reason when
    it cannot serve the call: kernels off or not built, spikes not a bool ``[R, n_in]`` matrix, a tensor off
    the CPU, ``w`` not float32/float64, autograd on ``w``. The spikes are counted in C, without waking
    torch's thread pool.
    """
    if spikes.dtype != torch.bool or spikes.dim() != 2 or w.dim() != 2 or spikes.shape[1] != w.shape[0]:
        raise BackendUnavailable("c", f"expected bool spikes [R, n_in] and weights [n_in, n_out], got "
                                      f"{spikes.dtype} {list(spikes.shape)} and {list(w.shape)}")
    if spikes.device.type != "cpu" or w.device.type != "cpu":
        raise BackendUnavailable("c", f"the tensors are on {spikes.device} and {w.device}; the C kernels run on "
                                      "the CPU")
    if torch.is_grad_enabled() and w.requires_grad:
        raise BackendUnavailable("c", "autograd is recording (w requires grad); the C kernels compute no gradients")
    fn = kernel("propagate", w.dtype)
    lib = library.require("c")
    spikes = spikes.contiguous()
    rows, n_in, n_out = spikes.shape[0], w.shape[0], w.shape[1]
    active = lib.count_spikes(ctypes.c_int64(spikes.numel()), _pointer(spikes))
    if max_density is not None and active >= max_density * spikes.numel():
        return None
    w = w.contiguous()
    row_start = torch.empty(rows + 1, dtype=torch.int64)
    inputs = torch.empty(active, dtype=torch.int64)
    lib.spike_events(ctypes.c_int64(rows), ctypes.c_int64(n_in), _pointer(spikes), _pointer(row_start),
                     _pointer(inputs))
    out = torch.empty(rows, n_out, dtype=w.dtype)
    fn(ctypes.c_int64(rows), ctypes.c_int64(n_out), _pointer(row_start), _pointer(inputs), _pointer(w), _pointer(out))
    return out


def add_spike_rows(spikes: torch.Tensor, rows: torch.Tensor, into: torch.Tensor,
                   max_density: float | None = None) -> bool:
    """``into[b, i, :] += rows[t, b, :]`` for every spike ``spikes[t, b, i]``, in place: ``spikes [T, B, n_in]``
    (bool), ``rows [T, B, n_out]``, ``into [B, n_in, n_out]`` (contiguous, ``rows``' dtype).

    The same additions in the same order (ascending ``t``, ``b``, ``i``) as ``index_add_`` over the spike events,
    so the results are bit-identical. Returns ``False`` (and changes nothing) when ``max_density`` is given and
    the fraction of spikes is not below it; raises :class:`BackendUnavailable` with the reason when it cannot
    serve the call (kernels off or not built, other shapes or dtypes, a tensor off the CPU, autograd).
    """
    if (spikes.dtype != torch.bool or spikes.dim() != 3 or rows.shape != (*spikes.shape[:2], into.shape[-1])
            or into.shape != (spikes.shape[1], spikes.shape[2], rows.shape[-1])):
        raise BackendUnavailable("c", f"expected bool spikes [T, B, n_in], rows [T, B, n_out] and into [B, n_in, "
                                      f"n_out], got {spikes.dtype} {list(spikes.shape)}, {list(rows.shape)} and "
                                      f"{list(into.shape)}")
    if not (spikes.device.type == rows.device.type == into.device.type == "cpu"):
        raise BackendUnavailable("c", f"the tensors are on {spikes.device}, {rows.device} and {into.device}; the C "
                                      "kernels run on the CPU")
    if rows.dtype != into.dtype or not into.is_contiguous():
        raise BackendUnavailable("c", f"into must be contiguous and of rows' dtype ({rows.dtype}), got "
                                      f"{into.dtype}{'' if into.is_contiguous() else ', not contiguous'}")
    if torch.is_grad_enabled() and (rows.requires_grad or into.requires_grad):
        raise BackendUnavailable("c", "autograd is recording; the C kernels compute no gradients")
    fn = kernel("add_spike_rows", into.dtype)
    lib = library.require("c")
    spikes, rows = spikes.contiguous(), rows.contiguous()
    steps, batch, n_in = spikes.shape
    active = lib.count_spikes(ctypes.c_int64(spikes.numel()), _pointer(spikes))
    if max_density is not None and active >= max_density * spikes.numel():
        return False
    row_start = torch.empty(steps * batch + 1, dtype=torch.int64)
    inputs = torch.empty(active, dtype=torch.int64)
    lib.spike_events(ctypes.c_int64(steps * batch), ctypes.c_int64(n_in), _pointer(spikes), _pointer(row_start),
                     _pointer(inputs))
    fn(ctypes.c_int64(steps), ctypes.c_int64(batch), ctypes.c_int64(n_in), ctypes.c_int64(rows.shape[-1]),
       _pointer(row_start), _pointer(inputs), _pointer(rows), _pointer(into))
    return True
