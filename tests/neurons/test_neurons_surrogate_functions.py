"""Surrogate spike functions: exact Heaviside forward, analytic surrogate derivative backward."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.neurons.surrogate import (
    DEFAULT_SLOPES,
    SurrogateSpike,
    arctan_spike,
    fast_sigmoid_spike,
    heaviside,
    resolve_surrogate,
)

X = torch.tensor([-3.0, -1.0, -0.2, -1e-6, 0.0, 1e-6, 0.2, 1.0, 3.0], dtype=torch.float64)


def fast_sigmoid_primitive(x: torch.Tensor, k: float) -> torch.Tensor:
    """An antiderivative of the SuperSpike surrogate: d/dx [x / (1 + k|x|)] = 1 / (1 + k|x|)^2."""
    return x / (1.0 + k * x.abs())


def arctan_primitive(x: torch.Tensor, k: float) -> torch.Tensor:
    """The arctan sigmoid 1/2 + arctan(pi/2 k x) / pi, whose derivative is the arctan surrogate."""
    return 0.5 + torch.atan(math.pi / 2 * k * x) / math.pi


@pytest.mark.parametrize("fn", [fast_sigmoid_spike, arctan_spike])
def test_forward_is_exact_heaviside_with_h0_equal_1(fn):
    out = fn(X, 3.0)
    assert out.dtype == X.dtype
    assert torch.equal(out, (X >= 0).double())
    assert out[X == 0].item() == 1.0  # same convention as phases.fire: v >= threshold spikes
    assert torch.equal(heaviside(X), out)


@pytest.mark.parametrize("k", [1.0, 5.0, 25.0])
def test_fast_sigmoid_backward_is_superspike_derivative(k):
    x = X.clone().requires_grad_()
    (grad,) = torch.autograd.grad(fast_sigmoid_spike(x, k).sum(), x)
    torch.testing.assert_close(grad, 1.0 / (k * X.abs() + 1.0) ** 2, rtol=0, atol=1e-15)
    assert grad[X == 0].item() == 1.0  # peak value 1 at threshold


@pytest.mark.parametrize("k", [0.5, 2.0, 10.0])
def test_arctan_backward_is_arctan_derivative(k):
    x = X.clone().requires_grad_()
    (grad,) = torch.autograd.grad(arctan_spike(x, k).sum(), x)
    torch.testing.assert_close(grad, (k / 2) / (1 + (math.pi / 2 * k * X) ** 2), rtol=0, atol=1e-15)


@pytest.mark.parametrize("fn, primitive", [(fast_sigmoid_spike, fast_sigmoid_primitive),
                                           (arctan_spike, arctan_primitive)])
def test_backward_matches_finite_difference_of_the_smooth_surrogate(fn, primitive):
    """The gradient is the derivative of a smooth sigmoid: check against central differences of it."""
    k, eps = 4.0, 1e-6
    x = torch.linspace(-2, 2, 41, dtype=torch.float64).requires_grad_()
    (grad,) = torch.autograd.grad(fn(x, k).sum(), x)
    numeric = (primitive(x.detach() + eps, k) - primitive(x.detach() - eps, k)) / (2 * eps)
    torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-8)  # kink at 0: O(k eps)


def test_arctan_surrogate_integrates_to_one():
    """Its sigmoid goes from 0 to 1, like the step it replaces: the area under the derivative is 1."""
    k = 2.0
    x = torch.linspace(-2000, 2000, 400_001, dtype=torch.float64).requires_grad_()
    (grad,) = torch.autograd.grad(arctan_spike(x, k).sum(), x)
    area = torch.trapezoid(grad, x.detach()).item()
    expected = (arctan_primitive(x[-1:], k) - arctan_primitive(x[:1], k)).item()  # 1 - O(1/(k x_max))
    assert area == pytest.approx(expected, rel=1e-6)
    assert area == pytest.approx(1.0, abs=1e-3)


def test_upstream_gradient_is_multiplied_elementwise():
    x = X.clone().requires_grad_()
    upstream = torch.arange(len(X), dtype=torch.float64)
    (grad,) = torch.autograd.grad(fast_sigmoid_spike(x, 2.0), x, grad_outputs=upstream)
    torch.testing.assert_close(grad, upstream / (2.0 * X.abs() + 1.0) ** 2)


def test_by_name_uses_default_and_given_slopes():
    x = torch.tensor([0.3], requires_grad=True)
    k = DEFAULT_SLOPES["fast_sigmoid"]
    assert SurrogateSpike("fast_sigmoid").slope == k and resolve_surrogate("fast_sigmoid") == SurrogateSpike()
    (g_default,) = torch.autograd.grad(resolve_surrogate("fast_sigmoid")(x).sum(), x)
    assert g_default.item() == pytest.approx(1 / (k * 0.3 + 1) ** 2)
    (g_given,) = torch.autograd.grad(SurrogateSpike("arctan", 1.0)(x).sum(), x)
    assert g_given.item() == pytest.approx(0.5 / (1 + (math.pi / 2 * 0.3) ** 2))


@pytest.mark.parametrize("name", ["fast_sigmoid", "arctan"])
def test_derivative_method_equals_the_autograd_backward(name):
    """Fused backends use SurrogateSpike.derivative directly: it must be the spike function's backward."""
    surrogate = SurrogateSpike(name, 3.0)
    x = X.clone().requires_grad_()
    (grad,) = torch.autograd.grad(surrogate(x).sum(), x)
    assert torch.equal(grad, surrogate.derivative(X))


def test_resolve_surrogate_passes_callables_and_none_through():
    def fn(x: torch.Tensor) -> torch.Tensor:
        return heaviside(x)

    assert resolve_surrogate(None) is None
    assert resolve_surrogate(fn) is fn
    given = SurrogateSpike("arctan", 0.5)
    assert resolve_surrogate(given) is given


def test_errors_are_clear():
    with pytest.raises(ValueError, match="unknown surrogate 'relu'"):
        SurrogateSpike("relu")
    with pytest.raises(ValueError, match="unknown surrogate 'relu'"):
        resolve_surrogate("relu")
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="slope must be a positive number"):
            SurrogateSpike("arctan", bad)
    with pytest.raises(TypeError, match="surrogate must be None, a name"):
        resolve_surrogate(3)
    with pytest.raises(TypeError, match="floating-point"):
        fast_sigmoid_spike(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        arctan_spike([0.1, 0.2])
