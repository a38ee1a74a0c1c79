"""The network's fast path (event-driven currents + fused scan) equals its step-by-step path exactly on the
benchmark network (Poisson -> Dense -> LIF) and with adaptive neurons."""

from __future__ import annotations

import pytest
import torch

from spikerl import AdaptiveLIF, Dense, Input, LIF, Network, kernels
from spikerl.encoding.poisson import poisson


def benchmark_network(n: int, layer: torch.nn.Module, seed: int) -> Network:
    net = Network()
    net.add_layer("X", Input(n))
    net.add_layer("Y", layer)
    weights = Dense(n, layer.n, wmin=0.0, wmax=1.0, generator=torch.Generator().manual_seed(seed))
    net.add_connection("X", "Y", weights)
    return net


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("make", [LIF, lambda n: AdaptiveLIF(n, one_spike=False), AdaptiveLIF],
                         ids=["LIF", "AdaptiveLIF", "AdaptiveLIF-one_spike"])
@pytest.mark.parametrize("kernels_off", [False, True])
def test_fast_run_equals_step_by_step(make, kernels_off: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernels_off:
        monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    elif not kernels.available():
        pytest.skip("no C compiler: the kernels are not built")
    n, steps = 150, 200
    net = benchmark_network(n, make(n), seed=0)
    x = poisson(torch.full((1, n), 40.0), steps, generator=torch.Generator().manual_seed(1))
    record = ["Y.spikes", "Y.v", "Y.refractory"]
    runs = []
    for fast in (True, False):
        net.reset(1)
        first = net.run({"X": x[:120]}, record=record, fast=fast)
        second = net.run({"X": x[120:]}, record=record, fast=fast)  # state carries over between runs
        runs.append({k: torch.cat([first[k], second[k]]) for k in record})
    fast_run, slow_run = runs
    assert 0 < int(fast_run["Y.spikes"].sum()) < fast_run["Y.spikes"].numel()
    for key in record:
        assert torch.equal(fast_run[key], slow_run[key]), key
