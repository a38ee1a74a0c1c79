"""The C restatement of each neuron model (``spikerl/neurons/*_scan.h``, the ``"c"`` backend) equals its Python
reference step loop (the ``"torch"`` backend) bit for bit: spikes, final state and recorded fields, for LIF, IF
and AdaptiveLIF, float32 and float64, several batch sizes and shapes, with and without refractoriness,
clamping, one_spike and adaptation. Asked for by name, the ``"c"`` backend serves a call or says why not;
``"auto"`` then falls back to the step loop silently."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch

from spikerl import kernels
from spikerl.kernels import BackendUnavailable
from spikerl.neurons import IF, LIF, AdaptiveLIF, CurrentLIF, LIFState, NeuronLayer, phases

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
    generic = layer.scan(currents, state, record, backend="torch")
    assert_same(generic, NeuronLayer.scan(layer, currents, state, record))  # "torch" is the base class's loop
    assert_same(layer.scan(currents, state, record, backend="c"), generic)
    assert_same(layer.scan(currents, state, record), generic)  # "auto" takes the C kernel here
    assert_same(layer.scan(currents, state, backend="c"), layer.scan(currents, state, backend="torch"))
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
    generic = layer.scan(currents, state, record, backend="torch")
    assert_same(generic, NeuronLayer.scan(layer, currents, state, record))
    assert_same(layer.scan(currents, state, record, backend="c"), generic)
    assert_same(layer.scan(currents, state, record), generic)
    assert_same(layer.scan(currents, state, ("theta",), backend="c"),
                layer.scan(currents, state, ("theta",), backend="torch"))
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


def lif_numbers(layer: LIF) -> dict[str, Any]:
    """The plain numbers :func:`spikerl.kernels.lif_scan` takes, from a layer's parameters."""
    p = layer.params
    return dict(v_rest=p.v_rest_mv, v_reset=p.v_reset_mv, v_thresh=p.v_thresh_mv, v_min=p.v_min_mv,
                decay=phases.decay_factor(p.tau_mem_ms, layer.dt_ms),
                refractory_steps=phases.refractory_steps(p.refractory_ms, layer.dt_ms))


def test_kernel_takes_plain_numbers_and_equals_the_reference_step() -> None:
    layer = LIF(7, v_min_mv=-66.0)
    currents = random_currents((T, 3, 7), torch.float64, seed=9)
    state = random_state(layer.double(), 3, seed=10)
    spikes, (v, refr), rec = kernels.lif_scan(currents, state.v, state.refractory, record=("v",),
                                              **lif_numbers(layer))
    assert_same((spikes, LIFState(v, refr), rec), layer.scan(currents, state, ("v",), backend="torch"))


def test_kernel_says_why_it_cannot_serve_a_call() -> None:
    layer = LIF(4)
    state = layer.initial_state(2)
    currents = random_currents((5, 2, 4), torch.float32, seed=8)
    numbers = lif_numbers(layer)
    cases = [
        ((currents.double(), state.v, state.refractory), {}, "v is torch.float32 but currents are torch.float64"),
        ((currents.half(), state.v.half(), state.refractory.half()), {},
         "the C kernels take float32 or float64 tensors, got torch.float16"),
        ((currents, state.v[:1], state.refractory[:1]), {}, r"v must be \[B, \*shape\] = \[2, 4\], got \[1, 4\]"),
        ((currents, state.v, state.refractory), {"record": ("theta",)}, r"cannot record \['theta'\]"),
        ((currents.clone().requires_grad_(), state.v, state.refractory), {}, "autograd is recording"),
        ((currents, state.v.tolist(), state.refractory), {}, "v must be a torch.Tensor, got list"),
        ((currents[0, 0], state.v, state.refractory), {}, r"currents must be \[T, B, \*shape\], got shape \[4\]"),
    ]
    for args, extra, reason in cases:
        with pytest.raises(BackendUnavailable, match=f"the 'c' backend cannot serve this call: {reason}"):
            kernels.lif_scan(*args, **numbers, **extra)
    with torch.no_grad():  # no autograd recorded: served
        assert kernels.lif_scan(currents.clone().requires_grad_(), state.v, state.refractory, **numbers)[0].shape \
            == currents.shape
    with pytest.raises(ValueError, match="v_thresh must be a finite number, got nan"):
        kernels.lif_scan(currents, state.v, state.refractory, **{**numbers, "v_thresh": math.nan})


@pytest.mark.parametrize("make, currents, reason", [
    (lambda: LIF(4).half(), lambda: torch.full((5, 2, 4), 3.0, dtype=torch.float16),
     "the C kernels take float32 or float64 tensors, got torch.float16"),
    (lambda: LIF(4), lambda: torch.full((5, 2, 4), 3.0, requires_grad=True), "autograd is recording"),
    (lambda: LIF(4), lambda: torch.full((5, 2, 4), 3.0, dtype=torch.float64),
     "currents are torch.float64 but the layer is torch.float32"),
    (lambda: LIF(4, reset="subtract"), lambda: torch.full((5, 2, 4), 3.0),
     "the C kernel has the value reset only, got reset='subtract'"),
    (lambda: AdaptiveLIF(4).half(), lambda: torch.full((5, 2, 4), 9.0, dtype=torch.float16),
     "the C kernels take float32 or float64 tensors, got torch.float16"),
])
def test_c_asked_for_says_why_and_auto_falls_back_silently(make, currents, reason: str) -> None:
    layer, x = make(), currents()
    state = layer.initial_state(2)
    with pytest.raises(BackendUnavailable, match=f"the 'c' backend cannot serve this call: {reason}") as err:
        layer.scan(x, state, backend="c")
    assert err.value.backend == "c" and err.value.reason.startswith(reason[:20])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = layer.scan(x, state)  # "auto": the step loop, without a word
    assert_same(auto, layer.scan(x, state, backend="torch"))
    assert auto[0].any()  # the drive makes the neurons fire, so the comparison means something


def test_c_layer_rejects_what_it_can_never_serve() -> None:
    class HalfInput(LIF):
        def step(self, current: torch.Tensor, state: LIFState, *args: Any) -> tuple[torch.Tensor, LIFState]:
            return super().step(current * 0.5, state, *args)

    with pytest.raises(BackendUnavailable, match="'c' backend cannot serve this layer: the C kernel has the value "
                                                 "reset only, got reset='subtract'"):
        LIF(4, reset="subtract", backend="c")
    with pytest.raises(BackendUnavailable, match="'c' backend cannot serve this layer: HalfInput overrides step"):
        HalfInput(4, backend="c")
    layer = LIF(4, surrogate="arctan", backend="c")  # the Network path is served; the module mode needs gradients
    x = torch.full((3, 2, 4), 7.0)
    assert_same(layer.scan(x, layer.initial_state(2)), layer.scan(x, layer.initial_state(2), backend="torch"))
    with pytest.raises(BackendUnavailable, match="'c' backend cannot serve this call: a surrogate asks for "
                                                 "gradients"):
        layer(x)
    with pytest.raises(BackendUnavailable, match="'fused' backend cannot serve this call: it serves the multi-step"):
        LIF.trainable(4, backend="fused").scan(x, layer.initial_state(2))
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'torch'\), got 'c'"):
        CurrentLIF(4).scan(x, CurrentLIF(4).initial_state(2), backend="c")  # a model without C has no "c"
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'torch', 'c', 'fused', 'compiled'\), got 'gpu'"):
        layer.scan(x, layer.initial_state(2), backend="gpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_c_refuses_cuda_tensors_and_auto_runs_them_on_torch() -> None:
    layer = LIF(4).cuda()
    x = torch.full((5, 2, 4), 3.0, device="cuda")
    with pytest.raises(BackendUnavailable, match="currents is on cuda:0; the C kernels run on the CPU"):
        layer.scan(x, layer.initial_state(2), backend="c")
    spikes, _, _ = layer.scan(x, layer.initial_state(2))
    assert torch.equal(spikes.cpu(), LIF(4).scan(x.cpu(), LIF(4).initial_state(2))[0])


def test_generic_loop_keeps_autograd_where_the_kernel_cannot_serve() -> None:
    layer = LIF(4)
    state = layer.initial_state(2)
    currents = random_currents((5, 2, 4), torch.float32, seed=8).requires_grad_()
    spikes, final, _ = layer.scan(currents, state)
    assert final.v.requires_grad
