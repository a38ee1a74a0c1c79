"""CUDA equals CPU for a whole network run, with learning (skipped on machines without a GPU)."""

import pytest
import torch

from spikerl import MSTDPET, AdaptiveLIF, Dense, Input, LIF, Network, PostPre, TraceParams

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; CPU-only machine")


def build() -> Network:
    g = torch.Generator().manual_seed(0)
    net = Network()
    net.add_layer("X", Input(50))
    net.add_layer("E", AdaptiveLIF(20, trace=TraceParams(5.0)))
    net.add_layer("O", LIF(4, tau_mem_ms=10.0))
    net.add_connection("X", "E", Dense(50, 20, wmin=0.0, wmax=5.0, norm=40.0, generator=g), rule=PostPre(0.01, 0.05))
    net.add_connection("E", "E", Dense(20, 20, w=-3.0 * (1 - torch.eye(20))))
    net.add_connection("E", "O", Dense(20, 4, wmin=0.0, wmax=8.0, generator=g), rule=MSTDPET(lr=0.05))
    return net


@needs_cuda
@pytest.mark.parametrize("fast", [True, False])
def test_cuda_run_equals_cpu_run(fast):
    x = torch.rand(80, 3, 50, generator=torch.Generator().manual_seed(1)) < 0.3
    cpu, gpu = build(), build().to("cuda")
    a = cpu.run({"X": x}, learning=True, reward=torch.tensor([1.0, 0.0, -1.0]), record=["E.v", "O.spikes"], fast=fast)
    b = gpu.run({"X": x.cuda()}, learning=True, reward=torch.tensor([1.0, 0.0, -1.0]).cuda(),
                record=["E.v", "O.spikes"], fast=fast)
    torch.testing.assert_close(a["E.v"], b["E.v"].cpu(), rtol=1e-4, atol=1e-4)
    assert torch.equal(a["O.spikes"], b["O.spikes"].cpu())
    for key in cpu.connections:
        torch.testing.assert_close(cpu.connections[key].weight, gpu.connections[key].weight.cpu(), rtol=1e-4, atol=1e-5)
    c = cpu.run({"X": x}, record=["O.v"])
    d = gpu.run({"X": x.cuda()}, record=["O.v"])
    torch.testing.assert_close(c["O.v"], d["O.v"].cpu(), rtol=1e-4, atol=1e-4)


def test_inputs_on_another_device_are_rejected():
    net = build()
    meta = torch.zeros(5, 1, 50, dtype=torch.bool, device="meta")
    with pytest.raises(ValueError, match="is on meta but the layer is on cpu"):
        net.run({"X": meta})
