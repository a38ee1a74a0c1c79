"""The fused C scans equal the generic torch step loop bit for bit: spikes, final state and recorded fields,
for LIF, IF and AdaptiveLIF, float32 and float64, several batch sizes and shapes, with and without
refractoriness, clamping, one_spike and adaptation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from spikerl import kernels
from spikerl.neurons import IF, LIF, AdaptiveLIF, LIFState, NeuronLayer

pytestmark = pytest.mark.skipif(not kernels.available(), reason="no C compiler: the kernels are not built")

T = 80


def random_currents(shape: tuple[int, ...], dtype: torch.dtype, seed: int, mean: float = 2.0,
                    spread: float = 4.0) -> torch.Tensor:
    """Currents ``mean + spread * N(0, 1)`` mV per step: the neurons spike often, and also go below rest."""
    g = torch.Generator().manual_seed(seed)
    return (mean + spread * torch.randn(shape, generator=g, dtype=torch.float64)).to(dtype)


def random_state(layer: NeuronLayer, batch: int, seed: int) -> Any:
    """A state away from rest: membranes spread around threshold, some neurons refractory."""
    g = torch.Generator().manual_seed(seed)
    state = layer.initial_state(batch)
    v = state.v + 12.0 * torch.rand(state.v.shape, generator=g, dtype=torch.float64).to(state.v.dtype)
    refr = torch.randint(0, 4, state.refractory.shape, generator=g).to(state.refractory.dtype)
    return state._replace(v=v, refractory=refr)


def assert_same(fused: tuple, generic: tuple) -> None:
    spikes, state, recorded = fused
    spikes0, state0, recorded0 = generic
    assert spikes.dtype == torch.bool and torch.equal(spikes, spikes0)
    assert type(state) is type(state0)
    for name, a, b in zip(state0._fields, state, state0):
        assert a.dtype == b.dtype and torch.equal(a, b), f"final {name} differs"
    assert recorded.keys() == recorded0.keys()
    for name in recorded0:
        assert torch.equal(recorded[name], recorded0[name]), f"recorded {name} differs"


LIF_VARIANTS = {
    "LIF": lambda shape: LIF(shape),
    "LIF-no-refractory": lambda shape: LIF(shape, refractory_ms=0.0),
    "LIF-odd-constants": lambda shape: LIF(shape, v_thresh_mv=-52.7, v_reset_mv=-66.3, v_rest_mv=-64.9,
                                           tau_mem_ms=7.3, refractory_ms=2.0),
    "LIF-v_min": lambda shape: LIF(shape, v_min_mv=-67.5),
    "LIF-dt-0.5": lambda shape: LIF(shape, dt_ms=0.5, refractory_ms=2.0),
    "IF": lambda shape: IF(shape),
    "IF-no-refractory": lambda shape: IF(shape, refractory_ms=0.0),
}


@pytest.mark.parametrize("variant", list(LIF_VARIANTS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch,shape", [(1, (13,)), (3, (2, 5))])
def test_lif_scan_equals_step_loop(variant: str, dtype: torch.dtype, batch: int, shape: tuple[int, ...]) -> None:
    layer = LIF_VARIANTS[variant](shape).to(dtype)
    currents = random_currents((T, batch, *shape), dtype, seed=1)
    state = random_state(layer, batch, seed=2)
    before = [x.clone() for x in (currents, *state)]
    record = ("v", "refractory")
    generic = NeuronLayer.scan(layer, currents, state, record)
    assert kernels.lif_scan(currents, state.v, state.refractory, layer.params, layer.dt_ms, record) is not None
    assert_same(layer.scan(currents, state, record), generic)
    assert_same(layer.scan(currents, state), NeuronLayer.scan(layer, currents, state))
    assert 0 < int(generic[0].sum()) < generic[0].numel()  # the test exercises both branches
    for x, y in zip(before, (currents, *state)):
        assert torch.equal(x, y)  # the caller's tensors are untouched


def test_threshold_compares_in_the_layer_dtype() -> None:
    # -52.7 rounds *down* in float32, so v = float32(-52.7) fires in float32 (as torch compares) but would not
    # in double precision: the kernel must round the Python threshold to float32 first, as torch does.
    layer = IF(1, v_thresh_mv=-52.7)
    v32 = float(np.float32(-52.7))
    assert v32 < -52.7
    state = LIFState(torch.full((1, 1), v32), torch.zeros(1, 1))
    spikes, _, _ = layer.scan(torch.zeros(1, 1, 1), state)
    assert bool(spikes[0, 0, 0])
    assert torch.equal(spikes, NeuronLayer.scan(layer, torch.zeros(1, 1, 1), state)[0])


def test_refractory_untouched_without_refractoriness() -> None:
    # refractory_ms = 0: the step passes the refractory state through; recorded values are the initial ones.
    layer = LIF(4, refractory_ms=0.0)
    state = LIFState(torch.full((2, 4), -60.0), torch.tensor([[0.0, 1.0, 2.0, 3.0]] * 2))
    spikes, final, rec = layer.scan(random_currents((T, 2, 4), torch.float32, seed=3), state, ("refractory",))
    assert final.refractory is state.refractory
    assert torch.equal(rec["refractory"], state.refractory.expand(T, 2, 4))


def test_constant_input_follows_the_analytic_membrane() -> None:
    # Below threshold under constant I: v_t = v_inf + (v_0 - v_inf) d^t with v_inf = v_rest + I / (1 - d).
    layer = LIF(3).double()
    p, current = layer.params, 0.1
    d = math.exp(-layer.dt_ms / p.tau_mem_ms)
    _, _, rec = layer.scan(torch.full((T, 1, 3), current, dtype=torch.float64), layer.initial_state(1), ("v",))
    v_inf = p.v_rest_mv + current / (1 - d)
    t = torch.arange(1, T + 1, dtype=torch.float64)
    expected = v_inf + (p.v_rest_mv - v_inf) * d ** t
    assert float((rec["v"][:, 0, 0] - expected).abs().max()) < 1e-9


ADAPTIVE_VARIANTS = {
    "one_spike": dict(),
    "all_spikes": dict(one_spike=False),
    "no-refractory": dict(refractory_ms=0.0),
    "fast-theta-v_min": dict(tau_theta_ms=50.0, theta_plus_mv=0.7, v_min_mv=-66.0, one_spike=False),
}


@pytest.mark.parametrize("variant", list(ADAPTIVE_VARIANTS))
@pytest.mark.parametrize("adapt", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch,shape", [(1, (11,)), (4, (3, 4))])
def test_adaptive_lif_scan_equals_step_loop(variant: str, adapt: bool, dtype: torch.dtype, batch: int,
                                            shape: tuple[int, ...]) -> None:
    layer = AdaptiveLIF(shape, **ADAPTIVE_VARIANTS[variant]).to(dtype).train(adapt)
    currents = random_currents((T, batch, *shape), dtype, seed=4)
    state = random_state(layer, batch, seed=5)
    g = torch.Generator().manual_seed(6)
    state = state._replace(theta=torch.rand(shape, generator=g, dtype=torch.float64).to(dtype))
    before = [x.clone() for x in (currents, *state)]
    record = ("v", "refractory", "theta")
    generic = NeuronLayer.scan(layer, currents, state, record)
    assert kernels.adaptive_lif_scan(currents, state.v, state.refractory, state.theta, layer.params,
                                     layer.dt_ms, adapt, record) is not None
    assert_same(layer.scan(currents, state, record), generic)
    assert_same(layer.scan(currents, state, ("theta",)), NeuronLayer.scan(layer, currents, state, ("theta",)))
    assert 0 < int(generic[0].sum()) < generic[0].numel()
    assert torch.equal(generic[1].theta, state.theta) != adapt  # theta moves exactly when adapting
    if layer.params.one_spike:
        assert int(generic[0].reshape(T, batch, -1).sum(-1).max()) == 1
    for x, y in zip(before, (currents, *state)):
        assert torch.equal(x, y)


def test_one_spike_ties_go_to_the_first_neuron() -> None:
    # Equal overshoots: torch.argmax keeps the first maximal index, and so must the kernel.
    layer = AdaptiveLIF(5).eval()
    state = layer.initial_state(1)
    currents = torch.zeros(1, 1, 5)
    currents[0, 0, 1:4] = 20.0  # neurons 1, 2, 3 overshoot by the same 7 mV
    spikes, _, _ = layer.scan(currents, state)
    assert spikes[0, 0].tolist() == [False, True, False, False, False]
    assert torch.equal(spikes, NeuronLayer.scan(layer, currents, state)[0])


def test_subclass_with_its_own_step_keeps_the_step_loop() -> None:
    class HalfInput(LIF):
        def step(self, current: torch.Tensor, state: LIFState) -> tuple[torch.Tensor, LIFState]:
            return super().step(current * 0.5, state)

    layer = HalfInput(6)
    currents = random_currents((T, 2, 6), torch.float32, seed=7)
    state = layer.initial_state(2)
    assert_same(layer.scan(currents, state, ("v",)), NeuronLayer.scan(layer, currents, state, ("v",)))
    assert not torch.equal(layer.scan(currents, state)[0], LIF(6).scan(currents, state)[0])


def test_kernel_declines_what_it_does_not_handle() -> None:
    layer = LIF(4)
    state = layer.initial_state(2)
    currents = random_currents((5, 2, 4), torch.float32, seed=8)
    p, dt = layer.params, layer.dt_ms
    assert kernels.lif_scan(currents.double(), state.v, state.refractory, p, dt) is None  # mixed dtypes
    assert kernels.lif_scan(currents.half(), state.v.half(), state.refractory.half(), p, dt) is None
    assert kernels.lif_scan(currents, state.v[:1], state.refractory[:1], p, dt) is None  # broadcast state
    assert kernels.lif_scan(currents, state.v, state.refractory, p, dt, ("theta",)) is None
    assert kernels.lif_scan(currents.requires_grad_(), state.v, state.refractory, p, dt) is None
    with torch.no_grad():
        assert kernels.lif_scan(currents, state.v, state.refractory, p, dt) is not None
    # the generic loop keeps working (and keeps autograd) where the kernel declines
    spikes, final, _ = layer.scan(currents, state)
    assert final.v.requires_grad
