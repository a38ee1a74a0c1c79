"""The multi-step module mode of the neuron layers: ``layer(x [T, B, *shape])`` with float spikes and a surrogate
derivative. It equals the Network path, its gradient equals a hand derivation, LIF's fused backend equals the
step loop, the layers train between ``nn.Conv2d`` layers, and misuse gives clear errors."""

from __future__ import annotations

import json
import math
from typing import Any, Callable

import pytest
import torch
from torch import nn

from spikerl import Network
from spikerl.kernels import BackendUnavailable
from spikerl.neurons import (
    IF, LIF, SRM0, AdaptiveLIF, CurrentLIF, Input, Izhikevich, LIFParams, LIFState, McCullochPitts, NeuronLayer,
    SurrogateSpike, heaviside,
)

SHAPE, B, T = (2, 3), 4, 40


def drive(scale: float, steps: int = T, batch: int = B, shape: tuple[int, ...] = SHAPE, seed: int = 0,
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.rand(steps, batch, *shape, generator=g, dtype=torch.float64)).to(dtype)


# ---------------------------------------------------------------------------------------------------------
# (1) module path == Network path
# ---------------------------------------------------------------------------------------------------------

# (factory taking surrogate=..., drive scale): every model whose step goes through phases.fire with a spike_fn
SUPPORTED: dict[str, tuple[Callable[..., NeuronLayer], float]] = {
    "LIF-bindsnet": (lambda **kw: LIF(SHAPE, **kw), 3.0),
    "LIF-subtract": (lambda **kw: LIF(SHAPE, reset="subtract", v_reset_mv=-60.0, **kw), 3.0),
    "LIF-trainable": (lambda **kw: LIF.trainable(SHAPE, **kw), 0.8),
    "IF": (lambda **kw: IF(SHAPE, **kw), 3.0),
    "AdaptiveLIF": (lambda **kw: AdaptiveLIF(SHAPE, one_spike=False, theta_plus_mv=0.5, **kw), 3.0),
    "AdaptiveLIF-one_spike": (lambda **kw: AdaptiveLIF(SHAPE, theta_plus_mv=0.5, **kw), 3.0),
    "CurrentLIF": (lambda **kw: CurrentLIF(SHAPE, **kw), 2.0),
    "Izhikevich": (lambda **kw: Izhikevich.fast_spiking(SHAPE, **kw), 25.0),
    "McCullochPitts": (lambda **kw: McCullochPitts(SHAPE, refractory_ms=2.0, **kw), 2.0),
}


def assert_states_equal(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    for name, x, y in zip(a._fields, a, b):
        assert torch.equal(x.detach(), y), f"state field {name} differs"


@pytest.mark.parametrize("name", list(SUPPORTED))
def test_module_path_equals_network_path_exactly(name: str) -> None:
    """The same step function on float spikes (surrogate) and on bool spikes (Network.run): the phases perform
    the same arithmetic on the same values, so spikes and every state field agree exactly, at every step."""
    make, scale = SUPPORTED[name]
    x = drive(scale).requires_grad_()
    module = make(surrogate="fast_sigmoid").eval()
    spikes, final = module(x, module.initial_state(B))
    assert spikes.dtype == torch.float32 and spikes.requires_grad
    net = Network()
    net.add_layer("Y", make())
    net.reset(B)
    fields = list(module.State._fields)
    out = net.run({"Y": x.detach()}, record=["Y.spikes", *[f"Y.{f}" for f in fields]])
    assert out["Y.spikes"].dtype == torch.bool
    assert 0 < out["Y.spikes"].float().mean() < 1
    assert torch.equal(spikes.detach(), out["Y.spikes"].float())
    assert_states_equal(final, net.state.neurons["Y"])
    # every step's state: the module run one step at a time (T = 1 chunks carry the state)
    state = module.initial_state(B)
    for t in range(T):
        _, state = module(x[t:t + 1], state)
        for f in fields:
            assert torch.equal(getattr(state, f).detach().expand(B, *SHAPE), out[f"Y.{f}"][t]), (t, f)


@pytest.mark.parametrize("name", ["AdaptiveLIF", "AdaptiveLIF-one_spike"])
def test_adaptive_threshold_module_equals_scan_while_adapting(name: str) -> None:
    make, scale = SUPPORTED[name]
    module, reference = make(surrogate="arctan").train(), make().train()
    x = drive(scale)
    spikes, final = module(x, module.initial_state(B))
    ref_spikes, ref_final, _ = reference.scan(x, reference.initial_state(B))
    assert torch.equal(spikes.detach(), ref_spikes.float())
    assert_states_equal(final, ref_final)
    assert (final.theta > 0).any()
    assert torch.equal(module.theta, torch.zeros(SHAPE))  # the module mode does not write the buffer back


def test_fused_backend_from_rest_equals_network_run() -> None:
    """ConvSNN's neuron: LIF.trainable from rest runs the fused backend; Network.run the bool step loop."""
    x = drive(0.8, shape=(3, 4, 4))
    module = LIF.trainable((3, 4, 4), tau_mem_ms=5.0, backend="fused")
    net = Network()
    net.add_layer("Y", LIF.trainable((3, 4, 4), tau_mem_ms=5.0))
    net.reset(B)
    expected = net.run({"Y": x}, record=["Y.spikes"])["Y.spikes"]
    assert 0 < expected.float().mean() < 1
    assert torch.equal(module(x), expected.float())


def test_without_surrogate_the_module_mode_is_the_network_path_in_float() -> None:
    layer = LIF(SHAPE)
    x = drive(3.0).requires_grad_()
    spikes = layer(x)
    ref, _, _ = layer.scan(x.detach(), layer.initial_state(B))
    assert spikes.dtype == torch.float32 and not spikes.requires_grad  # a step function has no gradient
    assert torch.equal(spikes, ref.float())


def test_srm0_and_input_run_in_module_mode_without_surrogate() -> None:
    srm = SRM0(SHAPE, generator=torch.Generator().manual_seed(3))
    twin = SRM0(SHAPE, generator=torch.Generator().manual_seed(3))
    x = drive(6.0)
    ref, _, _ = twin.scan(x, twin.initial_state(B))
    assert torch.equal(srm(x), ref.float())
    pattern = (drive(1.0) < 0.3).float()
    assert torch.equal(Input(SHAPE)(pattern), pattern)


# ---------------------------------------------------------------------------------------------------------
# analytic behaviour of the float path (from the retired SurrogateLIF tests)
# ---------------------------------------------------------------------------------------------------------

def test_membrane_under_constant_input_follows_the_exponential_law() -> None:
    """Below threshold: v_t = v_inf + (v_0 - v_inf) d^t, v_inf = I / (1 - d), d = exp(-dt/tau)."""
    tau, dt, current, steps = 4.0, 0.5, 0.05, 30
    layer = LIF.trainable(SHAPE, tau_mem_ms=tau, dt_ms=dt).double()
    d = math.exp(-dt / tau)
    v_inf = current / (1 - d)
    assert v_inf + 0.2 < 1.0  # never reaches threshold
    state = LIFState(torch.full((2, *SHAPE), 0.2, dtype=torch.float64), torch.zeros(2, *SHAPE, dtype=torch.float64))
    for t in range(1, steps + 1):
        spikes, state = layer(torch.full((1, 2, *SHAPE), current, dtype=torch.float64), state)
        assert spikes.sum() == 0
        torch.testing.assert_close(state.v, torch.full((2, *SHAPE), v_inf + (0.2 - v_inf) * d**t,
                                                       dtype=torch.float64))


def test_without_leak_soft_reset_counts_floor_of_total_input() -> None:
    """tau = inf: v_t = t I - n_t theta, so n_T = floor(T I / theta) spikes and v_T = T I - n_T theta."""
    current, theta, steps = 0.375, 1.0, 20  # binary fractions: exact arithmetic
    layer = LIF.trainable(SHAPE, tau_mem_ms=math.inf, v_thresh_mv=theta).double()
    x = torch.full((steps, 2, *SHAPE), current, dtype=torch.float64)
    spikes, final = layer(x, layer.initial_state(2))
    n = math.floor(steps * current / theta)
    assert spikes.sum(0).eq(n).all()
    assert torch.equal(layer(x), spikes)  # the fused backend (from rest) gives the same spikes
    torch.testing.assert_close(final.v, torch.full((2, *SHAPE), steps * current - n * theta, dtype=torch.float64))


def test_value_reset_without_leak_fires_every_ceil_theta_over_i_steps() -> None:
    current, theta, steps = 0.3, 1.0, 24
    layer = LIF(SHAPE, v_rest_mv=0.0, v_reset_mv=0.0, v_thresh_mv=theta, tau_mem_ms=math.inf, refractory_ms=0.0,
                surrogate="fast_sigmoid")
    spikes = layer(torch.full((steps, 1, *SHAPE), current))
    period = math.ceil(theta / current)  # 4 steps: 0.3, 0.6, 0.9, 1.2 -> spike, then from 0 again
    fired_at = torch.nonzero(spikes[:, 0, 0, 0]).flatten() + 1  # 1-based step numbers
    assert fired_at.tolist() == list(range(period, steps + 1, period))


def test_spikes_are_float_zeros_and_ones() -> None:
    spikes = LIF.trainable(SHAPE)(torch.randn(5, 4, *SHAPE) * 2)
    assert spikes.dtype == torch.float32 and spikes.shape == (5, 4, *SHAPE)
    assert set(spikes.unique().tolist()) == {0.0, 1.0}


def test_run_in_two_parts_equals_one_run() -> None:
    layer = LIF.trainable(SHAPE)
    x = drive(1.5, steps=10)
    whole, final = layer(x, layer.initial_state(B))
    first, mid = layer(x[:4], layer.initial_state(B))
    second, end = layer(x[4:], mid)
    assert torch.equal(whole, torch.cat([first, second]))
    assert torch.equal(final.v, end.v)


def test_batch_rows_are_independent() -> None:
    x = drive(1.5, steps=8, batch=5)
    layer = LIF.trainable(SHAPE)
    together = layer(x)
    alone = torch.cat([layer(x[:, i:i + 1]) for i in range(5)], dim=1)
    assert torch.equal(together, alone)


def test_caller_tensors_are_not_modified() -> None:
    x = drive(2.0, steps=5)
    layer = LIF.trainable(SHAPE)
    state = LIFState(torch.rand(B, *SHAPE), torch.zeros(B, *SHAPE))
    copies = x.clone(), state.v.clone()
    layer(x)
    layer(x, state)
    assert torch.equal(x, copies[0]) and torch.equal(state.v, copies[1])


def test_zero_steps_give_an_empty_train_and_the_state_back() -> None:
    layer = LIF.trainable(SHAPE)
    state = layer.initial_state(B)
    spikes, final = layer(torch.zeros(0, B, *SHAPE), state)
    assert spikes.shape == (0, B, *SHAPE)
    assert final is state
    assert layer(torch.zeros(0, B, *SHAPE)).shape == (0, B, *SHAPE)


# ---------------------------------------------------------------------------------------------------------
# (2) surrogate backward == hand derivation, (4) fused == step
# ---------------------------------------------------------------------------------------------------------

def fast_sigmoid_sg(x: torch.Tensor, k: float) -> torch.Tensor:
    return 1 / (k * x.abs() + 1) ** 2


def arctan_sg(x: torch.Tensor, k: float) -> torch.Tensor:
    return (k / 2) / (1 + (math.pi / 2 * k * x) ** 2)


@pytest.mark.parametrize("backend", ["fused", "torch"])
@pytest.mark.parametrize("surrogate, sg", [("fast_sigmoid", fast_sigmoid_sg), ("arctan", arctan_sg)])
@pytest.mark.parametrize("reset, detach", [("subtract", False), ("subtract", True), ("value", False),
                                           ("value", True)])
def test_two_step_bptt_gradient_matches_hand_derivation(backend, surrogate, sg, reset, detach) -> None:
    """L = w_1 s_1 + w_2 s_2 through two steps from rest (v_rest = 0; reset potential r; threshold th):

    h_1 = I_1,  s_1 = H(h_1 - th),  v_1 = reset(h_1, s_1),  h_2 = d v_1 + I_2,  s_2 = H(h_2 - th)
    subtract (v_1 = h_1 - s_1 (th - r)):   dv_1/dh_1 = 1 - (th - r) sg(h_1 - th)        (detached: 1)
    value    (v_1 = r if s_1 else h_1):    dv_1/dh_1 = (1 - s_1) + (r - h_1) sg(h_1 - th) (detached: 1 - s_1)
    dL/dI_1 = w_1 sg(h_1 - th) + w_2 sg(h_2 - th) d dv_1/dh_1,    dL/dI_2 = w_2 sg(h_2 - th)
    """
    k, th, r, tau = 2.0, 1.0, 0.25, 3.0
    d = math.exp(-1 / tau)
    layer = LIF((4,), v_rest_mv=0.0, v_reset_mv=r, v_thresh_mv=th, tau_mem_ms=tau, refractory_ms=0.0, reset=reset,
                surrogate=SurrogateSpike(surrogate, k), detach_reset=detach, backend=backend).double()
    h1 = torch.tensor([0.4, 1.3, 0.95, 2.5], dtype=torch.float64)
    i2 = torch.tensor([0.7, 0.6, 0.1, 0.3], dtype=torch.float64)
    w1, w2 = 0.5, -1.5
    currents = torch.stack([h1, i2]).unsqueeze(1).requires_grad_()  # [T=2, B=1, 4]
    spikes = layer(currents)
    (grad,) = torch.autograd.grad(w1 * spikes[0].sum() + w2 * spikes[1].sum(), currents)

    s1 = (h1 >= th).double()
    v1 = h1 - (th - r) * s1 if reset == "subtract" else torch.where(s1 > 0, torch.full_like(h1, r), h1)
    h2 = d * v1 + i2
    sg1, sg2 = sg(h1 - th, k), sg(h2 - th, k)
    if reset == "subtract":
        dv1 = torch.ones_like(h1) if detach else 1 - (th - r) * sg1
    else:
        dv1 = (1 - s1) if detach else (1 - s1) + (r - h1) * sg1
    torch.testing.assert_close(spikes[:, 0], torch.stack([s1, (h2 >= th).double()]))
    torch.testing.assert_close(grad[0, 0], w1 * sg1 + w2 * sg2 * d * dv1)
    torch.testing.assert_close(grad[1, 0], w2 * sg2)


def test_first_step_gradient_is_the_surrogate_derivative() -> None:
    """From rest, s_1 = H(I - theta): ds_1/dI = 1 / (k |I - theta| + 1)^2 (fast sigmoid)."""
    layer = LIF.trainable((4,), surrogate=SurrogateSpike("fast_sigmoid", 3.0)).double()
    current = torch.tensor([[[0.2, 0.9, 1.0, 1.7]]], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(layer(current).sum(), current)
    torch.testing.assert_close(grad, fast_sigmoid_sg(current.detach() - 1.0, 3.0))


@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan"])
@pytest.mark.parametrize("reset, detach", [("subtract", False), ("subtract", True), ("value", False),
                                           ("value", True)])
@pytest.mark.parametrize("tau", [2.0, math.inf])
@pytest.mark.parametrize("v_rest", [0.0, -0.3])
def test_fused_backend_equals_step_loop_in_values_and_gradients(surrogate, reset, detach, tau, v_rest) -> None:
    """float64: spikes equal, gradients equal up to float rounding (the forward's multiply-add at v_rest = 0, the
    backward's summation order)."""
    params = LIFParams(v_rest_mv=v_rest, v_reset_mv=v_rest + 0.2, v_thresh_mv=1.0, tau_mem_ms=tau,
                       refractory_ms=0.0, reset=reset)
    currents = (drive(1.4, steps=9, shape=(3, 5), dtype=torch.float64) - 0.4).requires_grad_()
    weights = drive(1.0, steps=9, shape=(3, 5), seed=1, dtype=torch.float64) - 0.5
    out = {}
    for backend in ("fused", "torch"):
        layer = LIF((3, 5), params, surrogate=surrogate, detach_reset=detach, backend=backend).double()
        spikes = layer(currents)
        out[backend] = spikes, torch.autograd.grad((spikes * weights).sum(), currents)[0]
    assert 0 < out["fused"][0].mean() < 1
    assert torch.equal(out["fused"][0], out["torch"][0])
    torch.testing.assert_close(out["fused"][1], out["torch"][1], rtol=1e-12, atol=1e-12)


def test_fused_backend_float32_matches_step_loop() -> None:
    """In float32 (ConvSNN's dtype) the spikes are still equal; gradients agree to float32 rounding."""
    currents = (drive(1.4, steps=6, shape=(4, 6, 6)) - 0.3).requires_grad_()
    out = {}
    for backend in ("fused", "torch"):
        spikes = LIF.trainable((4, 6, 6), backend=backend)(currents)
        out[backend] = spikes, torch.autograd.grad(spikes.sum(), currents)[0]
    assert torch.equal(out["fused"][0], out["torch"][0])
    torch.testing.assert_close(out["fused"][1], out["torch"][1], rtol=1e-5, atol=1e-6)


def test_fused_backend_accepts_a_broadcast_constant_current() -> None:
    """Direct encoding repeats one current over T steps; its gradient is the sum over steps."""
    base = (drive(1.0, steps=1, batch=3, shape=(4,), dtype=torch.float64)[0] + 0.5).requires_grad_()
    layer = LIF.trainable((4,), backend="fused").double()
    out = layer(base.unsqueeze(0).expand(6, 3, 4))
    (g,) = torch.autograd.grad(out.sum(), base)
    repeated = base.detach().unsqueeze(0).repeat(6, 1, 1).requires_grad_()
    ref = LIF.trainable((4,), backend="torch").double()(repeated)
    (g_ref,) = torch.autograd.grad(ref.sum(), repeated)
    assert torch.equal(out, ref)
    torch.testing.assert_close(g, g_ref.sum(0))


@pytest.mark.parametrize("name", [n for n in SUPPORTED if not n.startswith("LIF")])
def test_other_models_pass_finite_surrogate_gradients_to_their_input(name: str) -> None:
    make, scale = SUPPORTED[name]
    layer = make(surrogate="arctan").double()
    x = drive(scale, steps=12, dtype=torch.float64).requires_grad_()
    spikes = layer(x)
    (grad,) = torch.autograd.grad(spikes.sum(), x)
    assert spikes.sum() > 0
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------------------
# (3) callable surrogate
# ---------------------------------------------------------------------------------------------------------

class BoxcarSpike(torch.autograd.Function):
    """Heaviside forward; backward 1 inside |x| < 1/2, else 0 (a straight-through estimator)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() < 0.5).to(grad.dtype)


def test_callable_surrogate_supplies_the_derivative() -> None:
    """Two steps, subtract reset by theta = 1, decay d, detached reset: dL/dI_1 = box(h_1 - 1) + d box(h_2 - 1)."""
    layer = LIF.trainable((4,), tau_mem_ms=2.0, surrogate=BoxcarSpike.apply, detach_reset=True).double()
    d = math.exp(-1 / 2.0)
    h1 = torch.tensor([0.2, 0.8, 1.3, 2.0], dtype=torch.float64)
    i2 = torch.tensor([0.9, 0.5, 0.6, 0.2], dtype=torch.float64)
    x = torch.stack([h1, i2]).unsqueeze(1).requires_grad_()
    spikes = layer(x)  # "auto" takes the step loop: the fused backend needs a named surrogate
    (grad,) = torch.autograd.grad(spikes.sum(), x)
    h2 = d * (h1 - (h1 >= 1).double()) + i2

    def box(v: torch.Tensor) -> torch.Tensor:
        return ((v - 1).abs() < 0.5).double()

    assert torch.equal(spikes[:, 0], torch.stack([(h1 >= 1).double(), (h2 >= 1).double()]))
    torch.testing.assert_close(grad[0, 0], box(h1) + d * box(h2))
    torch.testing.assert_close(grad[1, 0], box(h2))
    with pytest.raises(BackendUnavailable, match="'fused' backend cannot serve this layer: it needs a named surrogate"):
        LIF.trainable((4,), surrogate=BoxcarSpike.apply, backend="fused")


def test_a_callable_must_return_spikes_shaped_like_the_membrane() -> None:
    layer = LIF.trainable((4,), surrogate=lambda x: (x >= 0))
    with pytest.raises(ValueError, match=r"spike function must return float 0/1 spikes of the membrane's dtype "
                                         r"and shape \(torch.float32 \[2, 4\]\), got torch.bool \[2, 4\]"):
        layer(torch.rand(3, 2, 4))


# ---------------------------------------------------------------------------------------------------------
# (5) between nn.Conv2d layers
# ---------------------------------------------------------------------------------------------------------

def test_layers_sit_between_conv_layers_and_train() -> None:
    """conv -> LIF -> conv -> LIF -> readout in an nn.Sequential (time folded into the batch for the convs):
    a few Adam steps on a fixed batch lower the loss, and every parameter receives a gradient."""
    torch.manual_seed(0)
    steps, batch = 4, 8
    net = nn.Sequential(
        nn.Flatten(0, 1), nn.Conv2d(1, 4, 3), nn.Unflatten(0, (steps, batch)),
        LIF.trainable((4, 6, 6), surrogate="arctan"),
        nn.Flatten(0, 1), nn.Conv2d(4, 6, 3), nn.Unflatten(0, (steps, batch)),
        CurrentLIF((6, 4, 4), v_rest_mv=0.0, v_reset_mv=0.0, v_thresh_mv=0.5, refractory_ms=0.0,
                   surrogate="fast_sigmoid", detach_reset=True),
        nn.Flatten(2), nn.Linear(6 * 4 * 4, 3),
    )
    images = torch.rand(batch, 1, 8, 8) * 2
    x = images.unsqueeze(0).expand(steps, *images.shape)
    labels = torch.arange(batch) % 3
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x).mean(0), labels)
        loss.backward()
        if not losses:
            for name, p in net.named_parameters():
                assert p.grad is not None and p.grad.abs().sum() > 0, name
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------------------------------------------------
# (6) settings, config and errors
# ---------------------------------------------------------------------------------------------------------

def test_trainable_is_the_dimensionless_soft_reset_lif() -> None:
    layer = LIF.trainable(SHAPE, tau_mem_ms=7.0, v_thresh_mv=0.5, surrogate="arctan", detach_reset=True)
    assert layer.params == LIFParams(v_rest_mv=0.0, v_reset_mv=0.0, v_thresh_mv=0.5, tau_mem_ms=7.0,
                                     refractory_ms=0.0, reset="subtract")
    assert layer.surrogate == SurrogateSpike("arctan", 2.0) and layer.detach_reset and layer.backend == "auto"
    assert list(layer.parameters()) == [] and list(layer.state_dict()) == []
    assert "arctan" in repr(layer) and "detach_reset=True" in repr(layer)


def test_config_round_trip_keeps_the_surrogate() -> None:
    layer = LIF.trainable(SHAPE, surrogate=SurrogateSpike("arctan", 1.5), detach_reset=True)
    config = json.loads(json.dumps(layer.config()))
    assert config["surrogate"] == {"name": "arctan", "slope": 1.5} and config["params"]["reset"] == "subtract"
    twin = LIF.from_config(config)
    assert twin.params == layer.params and twin.surrogate == layer.surrogate and twin.detach_reset
    assert "surrogate" not in LIF(SHAPE).config()  # layers without one keep their old config
    with pytest.raises(ValueError, match="callable surrogate, which has no JSON config"):
        LIF(SHAPE, surrogate=BoxcarSpike.apply).config()


def test_models_without_surrogate_support_say_why() -> None:
    with pytest.raises(ValueError, match=r"SRM0 cannot take a surrogate: its spikes are random draws"):
        SRM0(SHAPE, surrogate="fast_sigmoid")
    with pytest.raises(ValueError, match="Input cannot take a surrogate: its spikes are given from outside"):
        Input(SHAPE, surrogate="arctan")


def test_bad_settings_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"reset must be one of \('value', 'subtract'\), got 'zero'"):
        LIF(SHAPE, reset="zero")
    with pytest.raises(ValueError, match="unknown surrogate 'sigmoid'"):
        LIF(SHAPE, surrogate="sigmoid")
    with pytest.raises(TypeError, match="surrogate must be None, a name"):
        CurrentLIF(SHAPE, surrogate=2.0)
    with pytest.raises(TypeError, match="detach_reset must be a bool, got str"):
        AdaptiveLIF(SHAPE, surrogate="arctan", detach_reset="yes")
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'torch', 'c', 'fused', 'compiled'\), got 'step'"):
        LIF(SHAPE, backend="step")
    with pytest.raises(BackendUnavailable, match=r"'fused' backend cannot serve this layer: it has no refractory"):
        LIF(SHAPE, surrogate="arctan", backend="fused")  # BindsNET defaults: 5 ms refractory
    with pytest.raises(BackendUnavailable, match="'fused' backend cannot serve this layer: it needs a named surr"):
        LIF.trainable(SHAPE, surrogate=None, backend="fused")
    layer = LIF.trainable(SHAPE, backend="fused")
    with pytest.raises(BackendUnavailable, match="'fused' backend cannot serve this call: it starts from rest"):
        layer(torch.rand(3, 2, *SHAPE), layer.initial_state(2))


def test_bad_inputs_raise_clear_errors() -> None:
    layer = LIF.trainable(SHAPE)
    with pytest.raises(ValueError, match=r"expected input of shape \[T, B, 2, 3\] \(multi-step mode; one Network "
                                         r"step takes a current \[B, 2, 3\] and a state\), got \[5, 4, 3, 2\]"):
        layer(torch.rand(5, 4, 3, 2))
    with pytest.raises(ValueError, match=r"expected input of shape \[T, B, 2, 3\].*got \[4, 2, 3\]"):
        layer(torch.rand(4, *SHAPE))  # one step's current without a state
    with pytest.raises(TypeError, match=r"expected a floating-point input \[T, B, 2, 3\], got dtype torch.int64"):
        layer(torch.ones(5, 4, *SHAPE, dtype=torch.long))
    with pytest.raises(TypeError, match="input is torch.float64 but the layer is torch.float32"):
        layer(torch.rand(5, 4, *SHAPE, dtype=torch.float64))
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got list"):
        layer([[0.0]])
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        layer(torch.rand(5, 0, *SHAPE))
