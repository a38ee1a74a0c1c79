"""Precision: float32 by default, float64 throughout, and float16 / bfloat16 weights."""

import pytest
import torch

from spikerl import Dense, Input, LIF, Network, PostPre


def build(weight_dtype: torch.dtype) -> Network:
    net = Network()
    net.add_layer("X", Input(40))
    net.add_layer("Y", LIF(10, tau_mem_ms=20.0))
    w = torch.rand(40, 10, generator=torch.Generator().manual_seed(0)) * 4.0
    net.add_connection("X", "Y", Dense(40, 10, w=w.to(weight_dtype), wmin=0.0, wmax=4.0), rule=PostPre(0.01, 0.02))
    return net


def test_float32_is_the_default():
    net = build(torch.float32)
    state = net.reset(2)
    assert state.neurons["Y"].v.dtype == torch.float32
    assert net.connections["X->Y"].w.dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_weights_run_learn_and_stay_close_to_float32(dtype):
    x = torch.rand(100, 2, 40, generator=torch.Generator().manual_seed(1)) < 0.2
    low = build(dtype)
    exact = Dense(40, 10, w=low.connections["X->Y"].w.float())  # the same (rounded) weights in float32
    currents = low.connections["X->Y"](x[0])
    # Summing k weights <= 4 mV in low precision: error <= k * eps * (sum of |w|) (standard summation bound)
    k = int(x[0].sum(1).max())
    bound = k * torch.finfo(dtype).eps * 4.0 * k
    assert (currents.float() - exact(x[0])).abs().max() <= bound
    v = low.run({"X": x}, record=["Y.v"])["Y.v"]
    assert v.dtype == torch.float32  # membranes stay float32; only the weights are low precision
    low.run({"X": x}, learning=True)
    w = low.connections["X->Y"].w
    assert w.dtype == dtype and w.min() >= 0 and w.max() <= 4.0


def test_float64_network_keeps_float64():
    net = build(torch.float64).to(torch.float64)
    out = net.run({"X": torch.rand(20, 1, 40) < 0.3}, learning=True, reward=1.0, record=["Y.v"])
    assert out["Y.v"].dtype == torch.float64
    assert net.connections["X->Y"].w.dtype == torch.float64
