"""One backend vocabulary per layer: ``backend="auto" | "torch" | "c" | "fused"`` chooses the implementation of
every path the layer runs (see ``spikerl/neurons/base.py``). The named backends give the step loop's results
on the Network, a layer keeps its backend through ``config``, and a backend that cannot serve a path says so.
The C kernel's own equality with the step loop is tested in ``tests/kernels/test_kernels_scan.py``."""

from __future__ import annotations

import json

import pytest
import torch

from spikerl import Network, kernels
from spikerl.kernels import BackendUnavailable
from spikerl.neurons import IF, LIF, AdaptiveLIF, CurrentLIF, Izhikevich

B, N, T = 3, 6, 60


def run(layer: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    net = Network()
    net.add_layer("Y", layer)
    net.reset(B)
    return net.run({"Y": x}, record=["Y.spikes", "Y.v"])


def test_each_model_lists_its_backends() -> None:
    assert LIF.BACKENDS == IF.BACKENDS == ("auto", "torch", "c", "fused", "compiled")
    assert AdaptiveLIF.BACKENDS == ("auto", "torch", "c")
    assert CurrentLIF.BACKENDS == Izhikevich.BACKENDS == ("auto", "torch")  # the step loop only
    assert LIF(N).backend == AdaptiveLIF(N).backend == CurrentLIF(N).backend == "auto"


@pytest.mark.skipif(not kernels.available(), reason="no C compiler: the kernels are not built")
@pytest.mark.parametrize("make", [lambda backend: LIF(N, backend=backend),
                                  lambda backend: IF(N, refractory_ms=2.0, backend=backend),
                                  lambda backend: AdaptiveLIF(N, theta_plus_mv=0.5, backend=backend)])
def test_network_runs_every_named_backend_alike(make) -> None:
    """The Network takes the layer's backend: "torch" (the step loop), "c" and "auto" give identical spikes
    and membranes (the C kernel restates the step with the same float operations)."""
    x = 4.0 * torch.rand(T, B, N, generator=torch.Generator().manual_seed(0))
    out = {backend: run(make(backend), x) for backend in ("torch", "c", "auto")}
    assert 0 < out["torch"]["Y.spikes"].float().mean() < 1
    for backend in ("c", "auto"):
        assert torch.equal(out[backend]["Y.spikes"], out["torch"]["Y.spikes"]), backend
        assert torch.equal(out[backend]["Y.v"], out["torch"]["Y.v"]), backend


def test_a_named_backend_survives_the_config_round_trip() -> None:
    layer = AdaptiveLIF(N, backend="torch")
    config = json.loads(json.dumps(layer.config()))
    assert config["backend"] == "torch" and AdaptiveLIF.from_config(config).backend == "torch"
    assert LIF.from_config(LIF.trainable(N, backend="fused").config()).backend == "fused"
    assert "backend" not in LIF(N).config()  # "auto" layers keep their old config
    assert "backend='torch'" in repr(layer) and "backend" not in repr(LIF(N))


def test_c_backend_serves_no_gradients_and_fused_no_network_path() -> None:
    x = torch.full((4, B, N), 8.0)
    for layer in (AdaptiveLIF(N, surrogate="arctan", backend="c"), LIF(N, surrogate="arctan", backend="c")):
        with pytest.raises(BackendUnavailable, match=r"the 'c' backend cannot serve this call: a surrogate asks for "
                                                     r"gradients, which the C kernels do not compute"):
            layer(x)
    spikes = AdaptiveLIF(N, surrogate="arctan", backend="torch")(x.requires_grad_())
    assert spikes.requires_grad  # the step loop serves the same call, with gradients
    with pytest.raises(BackendUnavailable, match="the 'fused' backend cannot serve this call: it serves the "
                                                 "multi-step mode with a surrogate"):
        run(LIF.trainable(N, backend="fused"), x.detach())
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'torch', 'c'\), got 'fused'"):
        AdaptiveLIF(N, backend="fused")
