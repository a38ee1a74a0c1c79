"""The ``"compiled"`` backend: LIF's Network-path step loop fused by ``torch.compile``.

It compiles the reference loop itself (:func:`spikerl.neurons.lif.lif_scan_loop`), so it must give the
``"torch"`` backend's results: the same spikes, and membranes within float32 rounding (Inductor may contract
``a * b + c`` into one fused multiply-add, which rounds once instead of twice). Compiling takes tens of seconds
on a busy 2-core CPU, so that comparison is marked slow; the refusals are checked in the default run.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from spikerl import Network
from spikerl.kernels import BackendUnavailable
from spikerl.kernels.compiled import chunk_lengths, scan_in_chunks, unavailable_reason
from spikerl.neurons import IF, LIF
from spikerl.neurons.lif import LIFState, lif_scan_loop

B, N, T = 3, 20, 12


def run(layer: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    net = Network()
    net.add_layer("Y", layer)
    net.reset(B)
    return net.run({"Y": x}, record=["Y.spikes", "Y.v"])


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason(torch.device("cpu")) is not None,
                    reason=f"torch.compile unavailable: {unavailable_reason(torch.device('cpu'))}")
@pytest.mark.parametrize("make", [lambda backend: LIF(N, tau_mem_ms=20.0, backend=backend),
                                  lambda backend: IF(N, refractory_ms=2.0, backend=backend)])
@pytest.mark.parametrize("steps", [T, 45])  # one compiled chunk of 8 and a tail of 4; chunks of 32 and 8, tail 5
def test_compiled_scan_equals_the_step_loop(make, steps: int, float_bounds) -> None:
    x = 6.0 * torch.rand(steps, B, N, generator=torch.Generator().manual_seed(0))
    ref, got = run(make("torch"), x), run(make("compiled"), x)
    layer = make("torch")
    assert 0 < ref["Y.spikes"].float().mean() < 1
    decay = float(torch.exp(torch.tensor(-1.0 / layer.params.tau_mem_ms)))
    # per step: v - v_rest, * d, + v_rest, + I: results of at most |v_rest| + |v_thresh| + max I (mV)
    bound = abs(layer.params.v_rest_mv) + abs(layer.params.v_thresh_mv) + 6.0
    tol = float_bounds.leaky_state_tolerance(torch.zeros(steps, B, N), ref["Y.spikes"], decay, (bound,) * 4,
                                             torch.float32)
    same = float_bounds.same_spikes_until_rounding_flip(ref["Y.spikes"], got["Y.spikes"], got["Y.v"],
                                                        torch.tensor(layer.params.v_thresh_mv), tol)
    assert ((ref["Y.v"] - got["Y.v"]).abs().double() <= tol)[same].all()


def test_compiled_backend_says_why_it_cannot_serve(monkeypatch) -> None:
    x = torch.ones(4, B, N)
    monkeypatch.setenv("SPIKERL_NO_COMPILE", "1")
    with pytest.raises(BackendUnavailable, match=r"the 'compiled' backend cannot serve this call: "
                                                 r"SPIKERL_NO_COMPILE=1 turns torch.compile off"):
        run(LIF(N, backend="compiled"), x)
    monkeypatch.delenv("SPIKERL_NO_COMPILE")
    assert unavailable_reason(torch.device("meta")) == "the compiled backend serves CPU and CUDA tensors, got meta"
    monkeypatch.setattr("sys.platform", "win32")
    assert "Windows" in unavailable_reason(torch.device("cpu"))


def test_compiled_backend_refuses_gradients_and_foreign_steps() -> None:
    with pytest.raises(BackendUnavailable, match="it compiles the Network path"):
        LIF.trainable(N, backend="compiled")(torch.ones(4, B, N))

    class Doubled(LIF):
        def step(self, current, state, spike_fn=None, detach_reset=False):
            return super().step(2 * current, state, spike_fn, detach_reset)

    with pytest.raises(BackendUnavailable, match="Doubled overrides step"):
        Doubled(N, backend="compiled")


def test_compiled_backend_with_no_steps_returns_empty_trains() -> None:
    layer = LIF(N, backend="compiled")
    spikes, state, _ = layer.scan(torch.zeros(0, B, N), layer.initial_state(B))
    assert spikes.shape == (0, B, N) and isinstance(state, LIFState)


@pytest.mark.parametrize("steps, lengths, tail", [(0, [], 0), (7, [], 7), (8, [8], 0), (31, [16, 8], 7),
                                                  (32, [32], 0), (250, [32] * 7 + [16, 8], 2),
                                                  (1000, [32] * 31 + [8], 0)])
def test_chunk_lengths_use_three_compiled_lengths_and_a_short_tail(steps: int, lengths: list[int],
                                                                    tail: int) -> None:
    assert chunk_lengths(steps) == (lengths, tail)


def test_chunk_lengths_cover_every_length_with_at_most_three_compiled_sizes() -> None:
    for steps in range(300):
        lengths, tail = chunk_lengths(steps)
        assert sum(lengths) + tail == steps and 0 <= tail < 8 and set(lengths) <= {32, 16, 8}
        assert lengths.count(16) <= 1 and lengths.count(8) <= 1


@pytest.mark.parametrize("steps", [5, 8, 45, 77])
def test_scan_in_chunks_carries_the_state_and_equals_one_loop(monkeypatch, steps: int) -> None:
    """With the compiler replaced by the loop itself the chunking must be exact: the same spikes, recorded
    membranes and final state as one loop over all steps; compiled chunks get lengths of 8 or more only."""
    seen = []

    def counting(loop, device):
        def run(currents, *args):
            seen.append(currents.shape[0])
            return loop(currents, *args)
        return run

    # the module, not the function of the same name that spikerl.kernels re-exports
    monkeypatch.setattr(importlib.import_module("spikerl.kernels.compiled"), "compiled", counting)
    layer = LIF(N, tau_mem_ms=20.0, refractory_ms=2.0)
    x = 6.0 * torch.rand(steps, B, N, generator=torch.Generator().manual_seed(steps))
    state = layer.initial_state(B)._replace(v=torch.full((B, N), -60.0))
    ref = lif_scan_loop(x, state, layer.params, layer.dt_ms, ("v",))
    got = scan_in_chunks(lif_scan_loop, x, state, layer.params, layer.dt_ms, record=("v",))
    assert 0 < ref[0].float().mean() < 1
    assert torch.equal(got[0], ref[0]) and torch.equal(got[2]["v"], ref[2]["v"])
    assert all(torch.equal(a, b) for a, b in zip(got[1], ref[1]))
    assert seen == chunk_lengths(steps)[0] and all(n >= 8 for n in seen)
