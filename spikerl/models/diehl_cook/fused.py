"""Fused presentations of the Diehl & Cook (2015) network, in C.

The functions here take tensors and a :class:`FusedParams` struct, never the model: the model
(:class:`~spikerl.models.diehl_cook.DiehlAndCook2015`) decides when they apply (its structure is the one the C
code restates) and builds the struct from its layers, connection and rule
(:meth:`~spikerl.models.diehl_cook.DiehlAndCook2015.fused_params`).

:func:`online_presentation` runs the same computation as ``model.run({"X": train}, learning=True)`` (the
network's step-by-step path with STDP at every step) in one C call, touching only the weights of the
active inputs and of the spiking neurons at each step. :func:`batch_presentation` runs a batch with frozen
weights (inference, and the batched learning mode): each sample's input trains (drawn in C, or given), its input
current, the recurrent pair and its summed STDP update, one sample after the other without materialising trains
or currents, the batch split between threads. :func:`stdp_update` computes the summed STDP update of given
trains. Each returns ``None`` when it cannot serve the call (C kernels disabled or no compiler, tensors not on
the CPU, a dtype other than float32/float64), and the caller then uses the torch path.

The neuron phases, traces and weight updates use the same IEEE operations as the torch code; the synaptic
sums add weight rows in ascending order, which may differ in the last bit from torch's dense products. The
tests check that spike trains, weights and thresholds agree with the torch path.

The C source (``diehl_cook.c`` and ``diehl_cook_impl.h`` beside this module) is compiled at first use with the
flags of :mod:`spikerl.kernels.build` into its cache folder; ``SPIKERL_NO_KERNELS=1`` turns it off.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import NamedTuple

import torch

from spikerl.encoding.packed import PackedSpikes
from spikerl.kernels.build import LazyLibrary, compiled_library, declare

SOURCES = ("diehl_cook.c", "diehl_cook_impl.h")
ABI_VERSION = 2
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}


class FusedParams(ctypes.Structure):
    """``struct dc_params`` of diehl_cook.c: the network's constants, per step of ``dt``.

    Fields (all ``double`` unless said): excitatory rest, reset and base threshold (mV), membrane decay
    ``exp(-dt / tau)``, refractory steps; ``theta_plus`` (mV per spike) and ``theta_decay`` (per step); the same
    for the inhibitory layer (without theta); the PostPre rates ``nu_pre``, ``nu_post``, the trace decays per
    step and scales, the weight bounds ``wmin``, ``wmax``; ``int32`` flags: ``one_spike``, ``pre_nearest``,
    ``post_nearest`` (nearest-spike traces) and ``adapt`` (thresholds rise while learning online).
    """

    _fields_ = [(name, ctypes.c_double) for name in (
        "exc_v_rest", "exc_v_reset", "exc_v_thresh", "exc_decay", "exc_refractory", "theta_plus", "theta_decay",
        "inh_v_rest", "inh_v_reset", "inh_v_thresh", "inh_decay", "inh_refractory",
        "nu_pre", "nu_post", "pre_decay", "post_decay", "pre_scale", "post_scale", "wmin", "wmax")] + [
        (name, ctypes.c_int32) for name in ("one_spike", "pre_nearest", "post_nearest", "adapt")]


_i64, _ptr, _params_ptr = ctypes.c_int64, ctypes.c_void_p, ctypes.POINTER(FusedParams)
#: Every function that diehl_cook.c exports: ``name: (restype, argtypes)``, as its C prototypes.
SIGNATURES = {
    "spikerl_diehl_cook_abi": (_i64, []),
    **{f"dc_online_{s}": (_i64, [_i64] * 3 + [_ptr] * 9 + [_params_ptr]) for s in _SUFFIX.values()},
    **{f"dc_stdp_{s}": (_i64, [_i64] * 5 + [_ptr] * 3 + [_i64] + [_ptr] * 7 + [_params_ptr]) for s in _SUFFIX.values()},
    **{f"dc_batch_{s}": (_i64, [_i64] * 4 + [_ptr] * 12 + [_i64, _ptr, _ptr, _i64, _i64, _params_ptr])
       for s in _SUFFIX.values()},
}


def _load() -> ctypes.CDLL:
    target = compiled_library(Path(__file__).parent, SOURCES, "spikerl_diehl_cook", libs=("-lm",))
    lib = ctypes.CDLL(str(target))
    declare(lib, SIGNATURES)
    if lib.spikerl_diehl_cook_abi() != ABI_VERSION:
        raise RuntimeError(f"{target} has interface version {lib.spikerl_diehl_cook_abi()}, expected {ABI_VERSION}")
    return lib


#: The compiled library (built on first use), or ``None`` when disabled or unavailable.
library = LazyLibrary(_load, "fused Diehl & Cook kernel unavailable, using the torch path")


class Weights(NamedTuple):
    """The network's tensors that the kernels read (and, online, change), all of one float dtype on the CPU.

    Attributes:
        w: ``[n_inputs, n]`` plastic input weights X -> Ae.
        w_ei: ``[n, n]`` weights Ae -> Ai.
        w_ie: ``[n, n]`` weights Ai -> Ae.
        theta: ``[n]`` adaptive thresholds of Ae (mV).
    """

    w: torch.Tensor
    w_ei: torch.Tensor
    w_ie: torch.Tensor
    theta: torch.Tensor


def _library(weights: Weights) -> ctypes.CDLL | None:
    """The compiled library when it can serve tensors like ``weights`` (CPU, float32/float64, one dtype)."""
    w = weights.w
    if w.device.type != "cpu" or w.dtype not in _SUFFIX or any(
            t.dtype != w.dtype or t.device.type != "cpu" for t in weights[1:]):
        return None
    return library()


@torch.no_grad()
def online_presentation(spikes: PackedSpikes, weights: Weights, params: FusedParams) -> torch.Tensor | None:
    """Learn from one sample's packed input trains ``[T, 1, A]``; returns the excitatory spikes ``[T, 1, n]``.

    Updates ``weights.w`` (clamped to ``[wmin, wmax]``, not normalised) and ``weights.theta`` in place, as
    ``model.run(..., learning=True)`` does step by step. Returns ``None`` (and changes nothing) when the
    kernel cannot serve the call.
    """
    lib = _library(weights) if spikes.spikes.shape[1] == 1 else None
    if lib is None:
        return None
    w, theta = weights.w, weights.theta
    dtype = w.dtype
    steps = spikes.spikes.shape[0]
    n_in, n = w.shape
    t, a = spikes.spikes[:, 0].nonzero().unbind(1)
    inputs = spikes.index[0, a].contiguous()
    row_start = torch.zeros(steps + 1, dtype=torch.int64)
    row_start[1:] = torch.bincount(t, minlength=steps).cumsum(0)
    w_data = w.data if w.is_contiguous() else w.data.contiguous()
    theta_data = theta if theta.is_contiguous() else theta.contiguous()
    w_ei = weights.w_ei.detach().contiguous()
    w_ie = weights.w_ie.detach().contiguous()
    out = torch.empty(steps, n, dtype=torch.bool)  # one byte per element, 0 or 1, as C writes it
    work = torch.empty(2 * n_in + 7 * n, dtype=dtype)
    iwork = torch.empty(2 * n, dtype=torch.int64)
    ptr = ctypes.c_void_p
    getattr(lib, f"dc_online_{_SUFFIX[dtype]}")(
        ctypes.c_int64(steps), ctypes.c_int64(n_in), ctypes.c_int64(n), ptr(row_start.data_ptr()),
        ptr(inputs.data_ptr()), ptr(w_data.data_ptr()), ptr(w_ei.data_ptr()), ptr(w_ie.data_ptr()),
        ptr(theta_data.data_ptr()), ptr(out.data_ptr()), ptr(work.data_ptr()), ptr(iwork.data_ptr()),
        ctypes.byref(params))
    if w_data.data_ptr() != w.data_ptr():
        w.data.copy_(w_data)
    if theta_data.data_ptr() != theta.data_ptr():
        theta.copy_(theta_data)
    return out.unsqueeze(1)


@torch.no_grad()
def stdp_update(pre: PackedSpikes, post: torch.Tensor, weights: Weights, params: FusedParams,
                pre_events: torch.Tensor | None = None) -> torch.Tensor | None:
    """The same sum as :func:`spikerl.plasticity.presentation_stdp_update` (``reduction="sum"``), in C.

    ``pre``: packed input trains ``[T, B, A]``; ``post``: bool ``[T, B, n]``; ``weights`` only give the shapes
    and the dtype. Works from the spike events: each presynaptic spike pairs with the postsynaptic traces of the
    neurons of its sample that have spiked so far, each postsynaptic spike with the presynaptic traces of its
    sample (traces evaluated lazily as ``x(t0) d^(t - t0)``). ``pre_events``: ``pre.spikes.nonzero()`` if already
    computed. Returns ``dw [n_inputs, n]``, or ``None`` when the kernel cannot serve the call.
    """
    lib = _library(weights) if post.device.type == "cpu" else None
    if lib is None:
        return None
    w = weights.w
    steps, batch, slots = pre.spikes.shape
    n = post.shape[2]
    events = pre.spikes.nonzero() if pre_events is None else pre_events
    pre_t, pre_b, pre_a = (x.contiguous() for x in events.unbind(1))
    post_t, post_b, post_j = (x.contiguous() for x in post.nonzero().unbind(1))
    index = pre.index.contiguous()
    dw = torch.zeros(w.shape[0], n, dtype=w.dtype)
    work = torch.empty(2 * batch * slots + 2 * batch * n + 2 * (steps + 1), dtype=w.dtype)
    iwork = torch.empty(batch * n + batch, dtype=torch.int64)
    ptr = ctypes.c_void_p
    getattr(lib, f"dc_stdp_{_SUFFIX[w.dtype]}")(
        ctypes.c_int64(steps), ctypes.c_int64(batch), ctypes.c_int64(slots), ctypes.c_int64(n),
        ctypes.c_int64(pre_t.numel()),
        ptr(pre_t.data_ptr()), ptr(pre_b.data_ptr()), ptr(pre_a.data_ptr()), ctypes.c_int64(post_t.numel()),
        ptr(post_t.data_ptr()), ptr(post_b.data_ptr()), ptr(post_j.data_ptr()), ptr(index.data_ptr()),
        ptr(dw.data_ptr()), ptr(work.data_ptr()), ptr(iwork.data_ptr()), ctypes.byref(params))
    return dw


class BatchPresentation(NamedTuple):
    """What :func:`batch_presentation` returns.

    Attributes:
        counts: long ``[B, n]``: excitatory spikes per sample and neuron.
        dw: ``[C, n_inputs, n]``: the summed PostPre update of each chunk of ``chunk`` samples (``None``
            without learning).
        spikes: bool ``[T, B, n]``: the excitatory spikes (``None`` unless recorded).
        input_counts: long ``[B, n_inputs]``: input spikes per sample and input (``None`` unless asked for).
    """

    counts: torch.Tensor
    dw: torch.Tensor | None
    spikes: torch.Tensor | None
    input_counts: torch.Tensor | None


def _events_by_sample(pre: PackedSpikes, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed trains ``[T, B, A]`` -> (``start [B * T + 1]``, ``inputs``): per (sample, step), ascending inputs."""
    steps, batch, _ = pre.spikes.shape
    t, b, a = pre.spikes.nonzero().unbind(1)
    inputs = pre.index[b, a]
    order = torch.argsort((b * steps + t) * n_in + inputs)
    start = torch.zeros(batch * steps + 1, dtype=torch.int64)
    start[1:] = torch.bincount(b * steps + t, minlength=batch * steps).cumsum(0)
    return start, inputs[order].contiguous()


@torch.no_grad()
def batch_presentation(weights: Weights, params: FusedParams, steps: int, *, prob: torch.Tensor | None = None,
                       generator: torch.Generator | None = None, spikes: PackedSpikes | None = None,
                       learning: bool = False, chunk: int = 32, record: bool = False,
                       count_inputs: bool = False) -> BatchPresentation | None:
    """One presentation of a batch with frozen weights and thresholds, fused into one C call per thread.

    Computes what :meth:`~spikerl.models.DiehlAndCook2015.simulate_frozen` and, with ``learning``, the
    chunked :func:`spikerl.plasticity.presentation_stdp_update` compute, without materialising the
    input trains or the currents: each sample is encoded, simulated and paired on its own (the batch is split
    between ``torch.get_num_threads()`` threads). Changes no weight or threshold.

    Args:
        weights: the network's tensors (:class:`Weights`); ``params``: its constants (:class:`FusedParams`).
        steps: steps per presentation ``T``.
        prob: ``[B, n_inputs]`` spike probability of each input per step, in [0, 1]: the trains are drawn in
            C from one 64-bit seed per sample taken from ``generator`` (a sample's trains depend only on its
            seed). Or
        spikes: given packed input trains ``[T, B, A]`` (exactly one of ``prob`` and ``spikes``).
        learning: also return the summed STDP updates (``reduction="sum"``), per chunk of ``chunk`` samples.
        record: also return the excitatory spikes ``[T, B, n]``.
        count_inputs: also return the input spike counts ``[B, n_inputs]``.

    Returns ``None`` when the kernel cannot serve the call (see :func:`online_presentation`).
    """
    if (prob is None) == (spikes is None):
        raise ValueError("give exactly one of prob (drawn trains) and spikes (given trains)")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be an int >= 1, got {chunk!r}")
    lib = _library(weights)
    if lib is None:
        return None
    w, dtype = weights.w.detach().contiguous(), weights.w.dtype
    n_in, n = w.shape
    if prob is not None:
        if prob.dim() != 2 or prob.shape[1] != n_in:
            raise ValueError(f"prob must have shape [B, {n_in}], got {list(prob.shape)}")
        if not bool(((prob >= 0) & (prob <= 1)).all()):
            raise ValueError("prob must lie in [0, 1] (and not be NaN)")
        batch = prob.shape[0]
        prob = prob.to(dtype).contiguous()
        seeds = torch.randint(-2 ** 63, 2 ** 63 - 1, (batch,), generator=generator, dtype=torch.int64)
        ev_start = ev_input = None
    else:
        if spikes.spikes.shape[0] != steps:
            raise ValueError(f"spikes must have {steps} steps, got {spikes.spikes.shape[0]}")
        batch = spikes.spikes.shape[1]
        ev_start, ev_input = _events_by_sample(spikes, n_in)
        seeds = None
    n_chunks = -(-batch // chunk)
    counts = torch.empty(batch, n, dtype=torch.int64)
    out = torch.empty(steps, batch, n, dtype=torch.bool) if record else None
    in_counts = torch.empty(batch, n_in, dtype=torch.int64) if count_inputs else None
    w_ei = weights.w_ei.detach().contiguous()
    w_ie = weights.w_ie.detach().contiguous()
    theta = weights.theta.detach().contiguous()
    fn = getattr(lib, f"dc_batch_{_SUFFIX[dtype]}")
    threads = max(1, min(torch.get_num_threads(), batch))
    bounds = [round(k * batch / threads) for k in range(threads + 1)]
    dws = [torch.zeros(n_chunks, n_in, n, dtype=dtype) if learning else None for _ in range(threads)]
    ptr = ctypes.c_void_p

    def address(x: torch.Tensor | None) -> ctypes.c_void_p:
        return ptr(x.data_ptr() if x is not None else None)

    def run(k: int) -> None:
        work = torch.empty(6 * n + 2 * n_in + 2 * (steps + 1), dtype=dtype)
        iwork = torch.empty(steps * n_in + 2 * steps + 1 + 3 * n_in + 4 * n, dtype=torch.int64)
        fn(ctypes.c_int64(steps), ctypes.c_int64(batch), ctypes.c_int64(n_in), ctypes.c_int64(n), address(prob),
           address(seeds), address(ev_start), address(ev_input), address(w), address(w_ei), address(w_ie),
           address(theta), address(counts), address(out), address(in_counts), address(dws[k]),
           ctypes.c_int64(chunk), address(work), address(iwork), ctypes.c_int64(bounds[k]),
           ctypes.c_int64(bounds[k + 1]), ctypes.byref(params))

    if threads == 1:
        run(0)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, range(threads)))
    dw = None
    if learning:
        dw = dws[0]
        for extra in dws[1:]:
            dw += extra
    return BatchPresentation(counts, dw, out, in_counts)
