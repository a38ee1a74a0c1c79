"""Diehl & Cook training waits for the device only between presentations, never inside the time loop.

The per-presentation protocol reads back by design: which pixels are lit (the packed Poisson trains), and
whether an image fired enough spikes to be shown again (the boosts). Inside the ``T`` steps of a presentation
(``Network._run_group``, a layer's ``scan``) nothing is read back. On the CPU this is checked with the engine's
accelerator paths forced and the C kernels off (the torch code a GPU runs), in two ways: no read back is made
inside the time-loop functions, and the number of read backs does not change with ``T``. On CUDA the time-loop
functions run under ``torch.cuda.set_sync_debug_mode("error")``.
"""

from __future__ import annotations

import pytest
import torch

from spikerl.models.diehl_cook import DiehlAndCook2015
from spikerl.models.diehl_cook.training import train_unsupervised
from spikerl.network import Network
from spikerl.neurons.base import NeuronLayer

TIME_LOOPS = ("Network._run_group", "Network._scan_layer", "NeuronLayer.scan")


def train(mode: str, time_ms: float, device: str = "cpu") -> DiehlAndCook2015:
    images = (torch.rand(6, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    model = DiehlAndCook2015(n_neurons=10, time_ms=time_ms, max_boosts=0).to(device)
    train_unsupervised(model, images, torch.arange(6) % 3, epochs=1, batch_size=3, mode=mode, update_interval=3,
                       seed=0, generator=torch.Generator(device=device).manual_seed(1), show_progress=False)
    return model


@pytest.mark.parametrize("mode", ["online", "batched"])
def test_no_read_back_inside_the_time_loop(read_backs, monkeypatch, mode: str) -> None:
    monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")  # the torch paths, as on a GPU
    counts = []
    for time_ms in (20.0, 60.0):
        with read_backs(loops=TIME_LOOPS) as recorder:
            model = train(mode, time_ms)
        assert recorder.in_loops == []
        counts.append(len(recorder.calls))
        assert torch.isfinite(model.input_weights).all()
    assert counts[0] == counts[1] > 0  # per presentation and per block, not per step: independent of T


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; CPU-only machine")


@needs_cuda
@pytest.mark.parametrize("mode", ["online", "batched"])
def test_cuda_time_loop_never_synchronises(monkeypatch, mode: str) -> None:
    def erroring(method):
        def wrapped(*args, **kwargs):
            before = torch.cuda.get_sync_debug_mode()
            torch.cuda.set_sync_debug_mode("error")
            try:
                return method(*args, **kwargs)
            finally:
                torch.cuda.set_sync_debug_mode(before)
        return wrapped

    monkeypatch.setattr(Network, "_run_group", erroring(Network._run_group))
    monkeypatch.setattr(NeuronLayer, "scan", erroring(NeuronLayer.scan))
    model = train(mode, 30.0, device="cuda")
    assert model.input_weights.is_cuda and bool(torch.isfinite(model.input_weights).all())


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_cpu_checkpoint_loads_onto_a_device_and_back(tmp_path, device: str) -> None:
    model = train("batched", 20.0)
    model.save(tmp_path / "cpu.pt")
    moved, _, _ = DiehlAndCook2015.load(tmp_path / "cpu.pt", map_location=device)
    assert moved.input_weights.device.type == device and moved.theta.device.type == device
    moved.save(tmp_path / "moved.pt")
    back, _, _ = DiehlAndCook2015.load(tmp_path / "moved.pt", map_location="cpu")
    for key, value in model.state_dict().items():
        assert torch.equal(value, back.state_dict()[key]), key
