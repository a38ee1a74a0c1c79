"""Closed-form weight changes of one pre/post spike pair, for every rule, through ``Network.run``.

One presynaptic spike at step ``t1`` and one postsynaptic spike at step ``t2`` on a 1x1 Dense connection. With
additive traces of scale 1, the presynaptic trace at a post spike ``n`` steps later is ``exp(-n dt / tau_pre)``
and the postsynaptic trace at a pre spike ``n`` steps later is ``exp(-n dt / tau_post)``. Each rule is then
described by two numbers: ``P``, its change per unit pre-before-post pairing, and ``D``, its change per unit
post-before-pre pairing, so that

    pre before post:  dw = P * exp(-n dt / tau_pre)
    post before pre:  dw = D * exp(-n dt / tau_post)
    same step:        dw = P + D

Reward-modulated rules get the reward ``R`` at the step of the later spike (and 0 elsewhere).
"""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.plasticity import MSTDP, MSTDPET, Hebbian, PostPre, WeightDependentPostPre
from spikerl.traces import TraceParams

DT, TAU_PRE, TAU_POST = 0.5, 10.0, 15.0
NU_PRE, NU_POST, LR, A_PLUS, A_MINUS, R = 0.03, 0.05, 0.02, 1.5, 0.7, 2.5
W0, WMIN, WMAX = 0.3, -0.5, 1.0


def traces(mode: str = "additive", scale: float = 1.0) -> dict[str, TraceParams]:
    return {"pre_trace": TraceParams(TAU_PRE, mode, scale), "post_trace": TraceParams(TAU_POST, mode, scale)}


# name -> (rule factory taking trace kwargs, P, D)
RULES = {
    "PostPre": (lambda **kw: PostPre(nu_pre=NU_PRE, nu_post=NU_POST, **kw), NU_POST, -NU_PRE),
    "WeightDependentPostPre": (lambda **kw: WeightDependentPostPre(nu_pre=NU_PRE, nu_post=NU_POST, **kw),
                               NU_POST * (WMAX - W0), -NU_PRE * (W0 - WMIN)),
    "Hebbian": (lambda **kw: Hebbian(nu_pre=NU_PRE, nu_post=NU_POST, **kw), NU_POST, NU_PRE),
    "MSTDP": (lambda **kw: MSTDP(lr=LR, a_plus=A_PLUS, a_minus=A_MINUS, **kw), LR * R * A_PLUS, -LR * R * A_MINUS),
    "MSTDPET": (lambda **kw: MSTDPET(lr=LR, a_plus=A_PLUS, a_minus=A_MINUS, **kw),
                LR * R * A_PLUS, -LR * R * A_MINUS),
}


def pair_change(make_net, train, learn, name, pre_steps, post_steps, mode="additive", scale=1.0) -> float:
    factory = RULES[name][0]
    net = make_net(factory(**traces(mode, scale)), w0=W0, wmin=WMIN, wmax=WMAX, dt_ms=DT)
    T = max(pre_steps + post_steps) + 3
    reward = torch.zeros(T, 1, dtype=torch.float64)
    reward[max(pre_steps + post_steps)] = R
    dw = learn(net, train(T, 1, 1, pre_steps), train(T, 1, 1, post_steps), reward)
    return dw.item()


@pytest.mark.parametrize("name", list(RULES))
@pytest.mark.parametrize("t1, t2", [(2, 3), (1, 7), (4, 12)])
def test_pre_before_post(make_net, train, learn, name, t1, t2):
    P = RULES[name][1]
    expected = P * math.exp(-(t2 - t1) * DT / TAU_PRE)
    assert pair_change(make_net, train, learn, name, [t1], [t2]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(RULES))
@pytest.mark.parametrize("t2, t1", [(2, 3), (1, 7), (4, 12)])
def test_post_before_pre(make_net, train, learn, name, t1, t2):
    D = RULES[name][2]
    expected = D * math.exp(-(t1 - t2) * DT / TAU_POST)
    assert pair_change(make_net, train, learn, name, [t1], [t2]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(RULES))
def test_same_step(make_net, train, learn, name):
    _, P, D = RULES[name]
    assert pair_change(make_net, train, learn, name, [4], [4]) == pytest.approx(P + D, rel=1e-12)


@pytest.mark.parametrize("name", list(RULES))
def test_signs(make_net, train, learn, name):
    """Hebbian potentiates in both orders; the STDP rules (with R > 0) potentiate pre->post, depress post->pre."""
    forward = pair_change(make_net, train, learn, name, [2], [5])
    backward = pair_change(make_net, train, learn, name, [5], [2])
    assert forward > 0
    assert (backward > 0) if name == "Hebbian" else (backward < 0)


@pytest.mark.parametrize("name", list(RULES))
@pytest.mark.parametrize("mode", ["additive", "nearest"])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_trace_modes_with_two_pre_spikes(make_net, train, learn, name, mode, scale):
    """Pre spikes at t0 < t1, post at t2: additive traces sum both spikes, nearest keeps the last one only."""
    t0, t1, t2 = 1, 4, 9
    P = RULES[name][1]
    near = math.exp(-(t2 - t1) * DT / TAU_PRE)
    x = scale * (near + math.exp(-(t2 - t0) * DT / TAU_PRE) if mode == "additive" else near)
    dw = pair_change(make_net, train, learn, name, [t0, t1], [t2], mode, scale)
    assert dw == pytest.approx(P * x, rel=1e-12)


@pytest.mark.parametrize("name", list(RULES))
@pytest.mark.parametrize("mode", ["additive", "nearest"])
def test_trace_modes_with_two_post_spikes(make_net, train, learn, name, mode):
    t0, t1, t2 = 2, 3, 8  # post at t0 and t1, pre at t2
    D = RULES[name][2]
    near = math.exp(-(t2 - t1) * DT / TAU_POST)
    x = near + math.exp(-(t2 - t0) * DT / TAU_POST) if mode == "additive" else near
    assert pair_change(make_net, train, learn, name, [t2], [t0, t1], mode) == pytest.approx(D * x, rel=1e-12)


@pytest.mark.parametrize("w0", [WMIN, -0.2, 0.6, WMAX])
def test_weight_dependence_scales_by_distance_to_bounds(make_net, train, learn, w0):
    """Soft bounds: potentiation is proportional to wmax - w, depression to w - wmin (zero at the bound)."""
    n = 3
    rule = lambda: WeightDependentPostPre(nu_pre=NU_PRE, nu_post=NU_POST, **traces())  # noqa: E731
    up = learn(make_net(rule(), w0=w0, wmin=WMIN, wmax=WMAX, dt_ms=DT),
               train(8, 1, 1, [1]), train(8, 1, 1, [1 + n])).item()
    down = learn(make_net(rule(), w0=w0, wmin=WMIN, wmax=WMAX, dt_ms=DT),
                 train(8, 1, 1, [1 + n]), train(8, 1, 1, [1])).item()
    assert up == pytest.approx(NU_POST * math.exp(-n * DT / TAU_PRE) * (WMAX - w0), rel=1e-12, abs=1e-15)
    assert down == pytest.approx(-NU_PRE * math.exp(-n * DT / TAU_POST) * (w0 - WMIN), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", ["MSTDP", "MSTDPET"])
def test_reward_modulated_rules_scale_with_reward(make_net, train, learn, name):
    """Reward r at the post spike gives lr * r * a_plus * exp(-n dt / tau_plus): linear in r, zero for r = 0
    or no reward."""
    factory = RULES[name][0]
    n, T = 4, 10
    pre, post = train(T, 1, 1, [2]), train(T, 1, 1, [2 + n])
    zeta = A_PLUS * math.exp(-n * DT / TAU_PRE)
    for r in (1.0, -0.5, 3.0):
        reward = torch.zeros(T, 1, dtype=torch.float64)
        reward[2 + n] = r
        dw = learn(make_net(factory(**traces()), dt_ms=DT), pre, post, reward)
        assert dw.item() == pytest.approx(LR * r * zeta, rel=1e-12)
    for reward in (0.0, None):
        assert learn(make_net(factory(**traces()), dt_ms=DT), pre, post, reward).item() == 0.0


def test_mstdp_ignores_rewards_away_from_the_pairing(make_net, train, learn):
    """Without eligibility, only the reward of the pairing step counts: a constant reward gives the same
    change as a reward at the post spike only, and a reward one step late gives nothing."""
    n, T, r = 3, 9, 1.75  # a float32-exact reward: the network passes rewards in the default dtype
    pre, post = train(T, 1, 1, [1]), train(T, 1, 1, [1 + n])
    rule = lambda: MSTDP(lr=LR, a_plus=A_PLUS, a_minus=A_MINUS, **traces())  # noqa: E731
    constant = learn(make_net(rule(), dt_ms=DT), pre, post, r).item()
    assert constant == pytest.approx(LR * r * A_PLUS * math.exp(-n * DT / TAU_PRE), rel=1e-12)
    late = torch.zeros(T, 1, dtype=torch.float64)
    late[2 + n] = r
    assert learn(make_net(rule(), dt_ms=DT), pre, post, late).item() == 0.0


@pytest.mark.parametrize("name", ["PostPre", "WeightDependentPostPre", "Hebbian"])
def test_unmodulated_rules_ignore_the_reward(make_net, train, learn, name):
    factory = RULES[name][0]
    pre, post = train(8, 1, 1, [1, 5]), train(8, 1, 1, [3])
    with_reward = learn(make_net(factory(), w0=W0, wmin=WMIN, wmax=WMAX), pre, post, -4.0)
    without = learn(make_net(factory(), w0=W0, wmin=WMIN, wmax=WMAX), pre, post, None)
    assert torch.equal(with_reward, without) and with_reward.abs().item() > 0
