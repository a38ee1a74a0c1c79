"""The differentiable LIF used for BPTT: analytic trajectories, reset rules, and fused == step-by-step."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.surrogate import (
    SurrogateLIF,
    SurrogateLIFParams,
    SurrogateLIFState,
    surrogate_lif_scan,
    surrogate_lif_step,
)


def constant(value: float, steps: int, shape: tuple[int, ...] = (2, 3)) -> torch.Tensor:
    return torch.full((steps, *shape), value, dtype=torch.float64)


def test_membrane_under_constant_input_follows_the_exponential_law():
    """Below threshold: v_t = v_inf + (v_0 - v_inf) beta^t, v_inf = I / (1 - beta), beta = exp(-dt/tau)."""
    tau, dt, current, steps = 4.0, 0.5, 0.05, 30
    layer = SurrogateLIF(tau_mem_ms=tau, dt_ms=dt, v_thresh=1.0)
    beta = math.exp(-dt / tau)
    assert layer.beta == pytest.approx(beta)
    v0 = torch.full((2, 3), 0.2, dtype=torch.float64)
    spikes, final, v = layer.scan(constant(current, steps), SurrogateLIFState(v0), record_v=True)
    t = torch.arange(1, steps + 1, dtype=torch.float64).view(-1, 1, 1)
    v_inf = current / (1 - beta)
    assert v_inf + 0.2 < 1.0  # never reaches threshold
    torch.testing.assert_close(v, (v_inf + (0.2 - v_inf) * beta**t).expand(steps, 2, 3))
    assert spikes.sum() == 0
    torch.testing.assert_close(final.v, v[-1])


def test_without_leak_soft_reset_counts_floor_of_total_input():
    """tau = inf: v_t = t I - n_t theta, so n_T = floor(T I / theta) spikes and v_T = T I - n_T theta."""
    current, theta, steps = 0.375, 1.0, 20  # binary fractions: exact arithmetic
    layer = SurrogateLIF(tau_mem_ms=math.inf, v_thresh=theta)
    spikes, final, _ = layer.scan(constant(current, steps))
    n = math.floor(steps * current / theta)
    assert spikes.sum(0).eq(n).all()
    torch.testing.assert_close(final.v, torch.full((2, 3), steps * current - n * theta, dtype=torch.float64))


def test_zero_reset_without_leak_fires_every_ceil_theta_over_i_steps():
    current, theta, steps = 0.3, 1.0, 24
    layer = SurrogateLIF(tau_mem_ms=math.inf, v_thresh=theta, reset="zero")
    spikes, _, _ = layer.scan(constant(current, steps))
    period = math.ceil(theta / current)  # 4 steps: 0.3, 0.6, 0.9, 1.2 -> spike, then from 0 again
    fired_at = torch.nonzero(spikes[:, 0, 0]).flatten() + 1  # 1-based step numbers
    assert fired_at.tolist() == list(range(period, steps + 1, period))


def test_spikes_are_float_zeros_and_ones():
    spikes = SurrogateLIF()(torch.randn(5, 4, 3) * 2)
    assert spikes.dtype == torch.float32
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


def test_first_step_gradient_is_the_surrogate_derivative():
    """From rest, s_1 = H(I - theta): ds_1/dI = 1 / (k |I - theta| + 1)^2 (fast sigmoid)."""
    params = SurrogateLIFParams(v_thresh=1.0, slope=3.0)
    current = torch.tensor([[0.2, 0.9, 1.0, 1.7]], dtype=torch.float64, requires_grad=True)
    spikes, _ = surrogate_lif_step(current, SurrogateLIFState(torch.zeros_like(current)), params)
    (grad,) = torch.autograd.grad(spikes.sum(), current)
    torch.testing.assert_close(grad, 1 / (3.0 * (current.detach() - 1.0).abs() + 1) ** 2)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("reset, detach", [("subtract", False), ("subtract", True), ("zero", False),
                                           ("zero", True)])
def test_two_step_bptt_gradient_matches_hand_derivation(fused, reset, detach):
    """ds_2/dI_1 through the membrane: h_1 = I_1, v_1 = reset(h_1), h_2 = beta v_1 + I_2, s_2 = H(h_2 - theta).

    ds_2/dI_1 = sg(h_2 - theta) * beta * dv_1/dh_1 with
    subtract: dv_1/dh_1 = 1 - theta sg(h_1 - theta)   (1 if the reset is detached)
    zero:     dv_1/dh_1 = (1 - s_1) - h_1 sg(h_1 - theta)   ((1 - s_1) if detached).
    """
    k, theta, tau = 2.0, 1.0, 3.0
    beta = math.exp(-1 / tau)
    params = SurrogateLIFParams(tau_mem_ms=tau, v_thresh=theta, slope=k, reset=reset, detach_reset=detach)
    h1 = torch.tensor([0.4, 1.3, 0.95, 2.5], dtype=torch.float64)
    i2 = torch.tensor([0.7, 0.6, 0.1, 0.3], dtype=torch.float64)
    currents = torch.stack([h1, i2]).unsqueeze(1).requires_grad_()  # [T=2, B=1, 4]
    spikes = SurrogateLIF(params, fused=fused)(currents)
    (grad,) = torch.autograd.grad(spikes[1].sum(), currents)

    def sg(x: torch.Tensor) -> torch.Tensor:
        return 1 / (k * x.abs() + 1) ** 2

    s1 = (h1 >= theta).double()
    v1 = h1 - theta * s1 if reset == "subtract" else h1 * (1 - s1)
    h2 = beta * v1 + i2
    if reset == "subtract":
        dv1 = torch.ones_like(h1) if detach else 1 - theta * sg(h1 - theta)
    else:
        dv1 = (1 - s1) if detach else (1 - s1) - h1 * sg(h1 - theta)
    torch.testing.assert_close(grad[0, 0], sg(h2 - theta) * beta * dv1)
    torch.testing.assert_close(grad[1, 0], sg(h2 - theta))
    torch.testing.assert_close(spikes[1, 0], (h2 >= theta).double())


@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan"])
@pytest.mark.parametrize("reset, detach", [("subtract", False), ("subtract", True), ("zero", False),
                                           ("zero", True)])
@pytest.mark.parametrize("tau", [2.0, math.inf])
def test_fused_scan_equals_step_by_step_in_values_and_gradients(surrogate, reset, detach, tau):
    torch.manual_seed(0)
    params = SurrogateLIFParams(tau_mem_ms=tau, surrogate=surrogate, reset=reset, detach_reset=detach)
    currents = (torch.randn(9, 4, 3, 5, dtype=torch.float64) * 0.7 + 0.3).requires_grad_()
    weights = torch.randn(9, 4, 3, 5, dtype=torch.float64)
    fused = SurrogateLIF(params, fused=True)(currents)
    (g_fused,) = torch.autograd.grad((fused * weights).sum(), currents)
    step = SurrogateLIF(params, fused=False)(currents)
    (g_step,) = torch.autograd.grad((step * weights).sum(), currents)
    assert 0 < fused.mean() < 1
    assert torch.equal(fused, step)
    torch.testing.assert_close(g_fused, g_step, rtol=1e-12, atol=1e-12)


def test_fused_scan_accepts_a_broadcast_constant_current():
    """Direct encoding repeats one current over T steps; its gradient is the sum over steps."""
    torch.manual_seed(1)
    base = (torch.randn(3, 4, dtype=torch.float64) + 0.5).requires_grad_()
    params = SurrogateLIFParams()
    out = surrogate_lif_scan(base.unsqueeze(0).expand(6, 3, 4), params)
    (g,) = torch.autograd.grad(out.sum(), base)
    repeated = base.detach().unsqueeze(0).repeat(6, 1, 1).requires_grad_()
    ref = SurrogateLIF(params, fused=False)(repeated)
    (g_ref,) = torch.autograd.grad(ref.sum(), repeated)
    assert torch.equal(out, ref)
    torch.testing.assert_close(g, g_ref.sum(0))


def test_run_in_two_parts_equals_one_run():
    torch.manual_seed(2)
    layer = SurrogateLIF(fused=False)
    currents = torch.rand(10, 2, 7) * 1.5
    whole, final, _ = layer.scan(currents)
    first, mid, _ = layer.scan(currents[:4])
    second, end, _ = layer.scan(currents[4:], mid)
    assert torch.equal(whole, torch.cat([first, second]))
    torch.testing.assert_close(final.v, end.v)


def test_batch_rows_are_independent():
    torch.manual_seed(3)
    currents = torch.rand(8, 5, 6) * 1.5
    together = SurrogateLIF()(currents)
    alone = torch.cat([SurrogateLIF()(currents[:, i:i + 1]) for i in range(5)], dim=1)
    assert torch.equal(together, alone)


def test_caller_tensors_are_not_modified():
    currents = torch.rand(5, 2, 3) * 2
    v0 = torch.rand(2, 3)
    copies = currents.clone(), v0.clone()
    SurrogateLIF()(currents)
    SurrogateLIF().scan(currents, SurrogateLIFState(v0))
    assert torch.equal(currents, copies[0]) and torch.equal(v0, copies[1])


def test_module_has_no_parameters_and_reports_its_settings():
    layer = SurrogateLIF(tau_mem_ms=10.0, surrogate="arctan")
    assert list(layer.parameters()) == []
    assert "arctan" in repr(layer) and "tau_mem_ms=10.0" in repr(layer)


def test_parameter_errors_are_clear():
    with pytest.raises(ValueError, match="tau_mem_ms must be a positive number or inf"):
        SurrogateLIFParams(tau_mem_ms=0.0)
    with pytest.raises(ValueError, match="v_thresh must be a positive number"):
        SurrogateLIFParams(v_thresh=-1.0)
    with pytest.raises(ValueError, match="reset must be one of"):
        SurrogateLIFParams(reset="hard")
    with pytest.raises(ValueError, match="unknown surrogate"):
        SurrogateLIFParams(surrogate="sigmoid")
    with pytest.raises(ValueError, match=r"expected currents of shape \[T, B, \*shape\]"):
        SurrogateLIF()(torch.zeros(3))
    with pytest.raises(TypeError, match="floating-point"):
        SurrogateLIF()(torch.zeros(3, 2, dtype=torch.long))
