"""Properties every rule shares: the direct step equals its written equation, batch reduction, weight decay,
batch additivity, weight bounds, the soft-bound rule's checks, JSON configs."""

from __future__ import annotations

import json
import math

import pytest
import torch

from spikerl.connections import Dense
from spikerl.plasticity import (MSTDP, MSTDPET, Hebbian, LearningRule, PairRateRule, PostPre,
                                WeightDependentPostPre)
from spikerl.traces import TraceParams

PRE, POST = TraceParams(8.0), TraceParams(12.0, "nearest", 0.8)
WMIN, WMAX = -1.0, 2.0
RULES = {
    "PostPre": lambda **kw: PostPre(nu_pre=0.02, nu_post=0.03, pre_trace=PRE, post_trace=POST, **kw),
    "WeightDependentPostPre": lambda **kw: WeightDependentPostPre(nu_pre=0.02, nu_post=0.03, pre_trace=PRE,
                                                                  post_trace=POST, **kw),
    "Hebbian": lambda **kw: Hebbian(nu_pre=0.02, nu_post=0.03, pre_trace=PRE, post_trace=POST, **kw),
    "MSTDP": lambda **kw: MSTDP(lr=0.01, a_plus=1.2, a_minus=0.9, pre_trace=PRE, post_trace=POST, **kw),
    "MSTDPET": lambda **kw: MSTDPET(lr=0.01, a_plus=1.2, a_minus=0.9, tau_e_ms=6.0, pre_trace=PRE,
                                    post_trace=POST, **kw),
}
NAMES = list(RULES)


def random_case(seed: int, T: int = 7, B: int = 3, n_in: int = 4, n_out: int = 5):
    g = torch.Generator().manual_seed(seed)
    pre = torch.rand(T, B, n_in, generator=g) < 0.4
    post = torch.rand(T, B, n_out, generator=g) < 0.4
    reward = torch.randint(-4, 5, (T, B), generator=g).to(torch.float64) / 4  # float32-exact
    w = WMIN + (WMAX - WMIN) * torch.rand(n_in, n_out, generator=g, dtype=torch.float64)
    return pre, post, reward, w


# --- the direct step equals the equations in the docstrings --------------------------------------------------
def reference_updates(name: str, rule: LearningRule, pre, post, reward, w, dt: float) -> list[torch.Tensor]:
    """Per-step dw from the written equations, with explicit per-sample outer products and Python time loop."""
    T, B = pre.shape[:2]
    p, q = pre.double(), post.double()
    dp, dq = math.exp(-dt / PRE.tau_ms), math.exp(-dt / POST.tau_ms)
    x_pre = torch.zeros(B, pre.shape[2], dtype=torch.float64)
    x_post = torch.zeros(B, post.shape[2], dtype=torch.float64)
    e = torch.zeros(B, *w.shape, dtype=torch.float64)
    out = []
    for t in range(T):
        x_pre = dp * x_pre + PRE.scale * p[t]                                         # additive
        x_post = torch.where(post[t], torch.full_like(x_post, POST.scale), dq * x_post)  # nearest
        ltp = torch.einsum("bi,bj->bij", x_pre, q[t])   # pair(x_pre, s_post) per sample
        ltd = torch.einsum("bi,bj->bij", p[t], x_post)  # pair(s_pre, x_post) per sample
        if name == "PostPre":
            dw = (rule.nu_post * ltp - rule.nu_pre * ltd).sum(0)
        elif name == "WeightDependentPostPre":
            dw = (rule.nu_post * ltp * (WMAX - w) - rule.nu_pre * ltd * (w - WMIN)).sum(0)
        elif name == "Hebbian":
            dw = (rule.nu_post * ltp + rule.nu_pre * ltd).sum(0)
        else:
            zeta = rule.a_plus * ltp - rule.a_minus * ltd
            if name == "MSTDP":
                dw = rule.lr * (reward[t].view(B, 1, 1) * zeta).sum(0)
            else:
                e = e * math.exp(-dt / rule.tau_e_ms) + zeta
                dw = rule.lr * (reward[t].view(B, 1, 1) * e).sum(0)
        out.append(dw)
    return out


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_direct_step_matches_equations(name, reduction):
    pre, post, reward, w = random_case(seed=1)
    dt, B = 0.7, pre.shape[1]
    conn = Dense(4, 5, w=w, wmin=WMIN, wmax=WMAX)
    rule = RULES[name](reduction=reduction).double()
    state = rule.initial_state(conn, B)
    expected = reference_updates(name, rule, pre, post, reward, w, dt)
    for t in range(pre.shape[0]):
        dw, state = rule.step(conn, pre[t], post[t], state, reward[t], dt)
        scale = B if reduction == "mean" else 1
        torch.testing.assert_close(dw, expected[t] / scale, rtol=1e-12, atol=1e-15)
    assert torch.equal(conn.weight, w)  # step returns dw; it does not touch the weights


@pytest.mark.parametrize("name", NAMES)
def test_step_does_not_mutate_inputs(name):
    pre, post, reward, w = random_case(seed=2)
    conn = Dense(4, 5, w=w, wmin=WMIN, wmax=WMAX)
    rule = RULES[name]().double()
    state = rule.initial_state(conn, 3)
    for t in range(3):
        _, state = rule.step(conn, pre[t], post[t], state, reward[t], 1.0)
    copies = [s.clone() for s in state]
    args = (pre[3].clone(), post[3].clone(), reward[3].clone())
    rule.step(conn, pre[3], post[3], state, reward[3], 1.0)
    assert all(torch.equal(a, b) for a, b in zip(state, copies))
    assert torch.equal(pre[3], args[0]) and torch.equal(post[3], args[1]) and torch.equal(reward[3], args[2])


# --- batch: reduction and additivity -------------------------------------------------------------------------
def one_update_case(B: int):
    """Sample b: pre spike at step b, post spike at step B + 1 (all samples). Every rule changes w only at the
    post step, so the weight used by the weight-dependent rule is w0 for all samples."""
    T = B + 2
    pre = torch.zeros(T, B, 1, dtype=torch.bool)
    for b in range(B):
        pre[b, b] = True
    post = torch.zeros(T, B, 1, dtype=torch.bool)
    post[B + 1] = True
    reward = torch.zeros(T, B)
    reward[B + 1] = torch.tensor([1.5, -0.5, 2.0, 0.25][:B])
    return pre, post, reward


@pytest.mark.parametrize("name", NAMES)
def test_batch_sum_equals_sum_of_samples_and_mean_is_sum_over_b(make_net, learn, name):
    B = 3
    pre, post, reward = one_update_case(B)
    total = learn(make_net(RULES[name](), w0=0.4, wmin=WMIN, wmax=WMAX), pre, post, reward)
    mean = learn(make_net(RULES[name](reduction="mean"), w0=0.4, wmin=WMIN, wmax=WMAX), pre, post, reward)
    alone = [learn(make_net(RULES[name](), w0=0.4, wmin=WMIN, wmax=WMAX), pre[:, b:b + 1], post[:, b:b + 1],
                   reward[:, b:b + 1]) for b in range(B)]
    assert total.abs().item() > 1e-4
    torch.testing.assert_close(total, sum(alone), rtol=1e-12, atol=0)
    torch.testing.assert_close(mean, total / B, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["PostPre", "Hebbian", "MSTDP", "MSTDPET"])
def test_random_batch_is_sum_of_samples(make_net, learn, name):
    """For rules whose dw does not depend on w, a whole random run of a batch of 2 samples with rewards
    [r1, r2] changes w by the sum of the two runs alone (reduction "sum")."""
    pre, post, reward, w = random_case(seed=3, T=12, B=2)
    total = learn(make_net(RULES[name](), w0=w, n_in=4, n_out=5), pre, post, reward)
    alone = [learn(make_net(RULES[name](), w0=w, n_in=4, n_out=5), pre[:, b:b + 1], post[:, b:b + 1],
                   reward[:, b:b + 1]) for b in range(2)]
    assert total.abs().max() > 1e-3
    torch.testing.assert_close(total, alone[0] + alone[1], rtol=1e-10, atol=1e-14)


# --- weight decay ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("reward", [0.0, None])
def test_weight_decay_without_spikes_is_geometric(make_net, train, learn, name, reward):
    """No spikes, weight_decay = lambda: w_T = w_0 * (1 - lambda)^T exactly (reward 0 or none)."""
    T, lam = 6, 0.1
    w0 = torch.tensor([[0.5, -0.25], [1.0, 1.5], [0.0, -1.0]], dtype=torch.float64)
    net = make_net(RULES[name](weight_decay=lam), w0=w0, n_in=3, n_out=2, wmin=WMIN, wmax=WMAX)
    learn(net, train(T, 1, 3, []), train(T, 1, 2, []), reward)
    torch.testing.assert_close(net.connections["X->Y"].weight, w0 * (1 - lam) ** T, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_weight_decay_adds_to_the_pairing(make_net, train, learn, name):
    """One step with pre and post spikes: dw = (same-step pairing without decay) - lambda * w0."""
    w0, lam = 0.4, 0.05
    spikes = train(1, 1, 1, [0])
    plain = learn(make_net(RULES[name](), w0=w0, wmin=WMIN, wmax=WMAX), spikes, spikes, 1.0)
    decayed = learn(make_net(RULES[name](weight_decay=lam), w0=w0, wmin=WMIN, wmax=WMAX), spikes, spikes, 1.0)
    assert decayed.item() == pytest.approx(plain.item() - lam * w0, rel=1e-12)


def test_mstdpet_reward_update_applies_no_decay(make_net, train, learn):
    net = make_net(RULES["MSTDPET"](weight_decay=0.1), w0=0.5)
    learn(net, train(2, 1, 1, []), train(2, 1, 1, []))
    w = net.connections["X->Y"].weight.clone()
    net.apply_reward(1.0)  # zero eligibility and no simulated step: no change
    assert torch.equal(net.connections["X->Y"].weight, w)


# --- bounds ----------------------------------------------------------------------------------------------------
def alternating(T: int, lead: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre ``[T, 1, 3]`` and post ``[T, 1, 2]`` trains: the ``lead`` side spikes at even steps, the other at odd."""
    pre = torch.zeros(T, 1, 3, dtype=torch.bool)
    post = torch.zeros(T, 1, 2, dtype=torch.bool)
    first, second = (0, 1) if lead == "pre" else (1, 0)
    pre[first::2], post[second::2] = True, True
    return pre, post


STRONG_UP = {"PostPre": lambda: PostPre(nu_pre=0.0, nu_post=5.0),
             "WeightDependentPostPre": lambda: WeightDependentPostPre(nu_pre=0.0, nu_post=5.0),
             "Hebbian": lambda: Hebbian(nu_pre=5.0, nu_post=5.0),
             "MSTDP": lambda: MSTDP(lr=5.0, a_minus=0.0),
             "MSTDPET": lambda: MSTDPET(lr=5.0, a_minus=0.0)}
# (rule, leading side, reward): post-before-pre depression, or reward -1 on pre-before-post potentiation
STRONG_DOWN = {"PostPre": (lambda: PostPre(nu_pre=5.0, nu_post=0.0), "post", None),
               "WeightDependentPostPre": (lambda: WeightDependentPostPre(nu_pre=5.0, nu_post=0.0), "post", None),
               "MSTDP": (lambda: MSTDP(lr=5.0, a_minus=0.0), "pre", -1.0),
               "MSTDPET": (lambda: MSTDPET(lr=5.0, a_minus=0.0), "pre", -1.0)}


@pytest.mark.parametrize("name", NAMES)
def test_weights_stay_within_bounds_under_strong_potentiation(make_net, learn, name):
    net = make_net(STRONG_UP[name](), w0=0.1, n_in=3, n_out=2, wmin=WMIN, wmax=WMAX)
    learn(net, *alternating(20, "pre"), 1.0)
    assert torch.all(net.connections["X->Y"].weight == WMAX)  # pushed past wmax and clamped there


@pytest.mark.parametrize("name", list(STRONG_DOWN))
def test_weights_stay_within_bounds_under_strong_depression(make_net, learn, name):
    factory, lead, reward = STRONG_DOWN[name]
    net = make_net(factory(), w0=0.1, n_in=3, n_out=2, wmin=WMIN, wmax=WMAX)
    learn(net, *alternating(20, lead), reward)
    assert torch.all(net.connections["X->Y"].weight == WMIN)


def test_soft_bound_approaches_wmax_geometrically(make_net, learn):
    """Pre at even steps, post at odd ones, nearest traces, no depression: at every post spike
    wmax - w shrinks by the factor (1 - nu_post * exp(-dt / tau_pre)), so w never reaches wmax."""
    nu, tau, T = 0.6, 5.0, 16
    rule = WeightDependentPostPre(nu_pre=0.0, nu_post=nu, pre_trace=TraceParams(tau, "nearest"))
    pre = torch.zeros(T, 1, 1, dtype=torch.bool)
    post = torch.zeros(T, 1, 1, dtype=torch.bool)
    pre[0::2], post[1::2] = True, True
    net = make_net(rule, w0=0.0, wmin=WMIN, wmax=WMAX)
    learn(net, pre, post)
    k = T // 2
    expected = WMAX - (WMAX - 0.0) * (1 - nu * math.exp(-1.0 / tau)) ** k
    assert net.connections["X->Y"].weight.item() == pytest.approx(expected, rel=1e-12)
    assert net.connections["X->Y"].weight.item() < WMAX


# --- the soft-bound rule needs finite bounds -------------------------------------------------------------------
@pytest.mark.parametrize("wmin, wmax", [(-math.inf, 1.0), (0.0, math.inf), (-math.inf, math.inf)])
def test_weight_dependent_rule_rejects_infinite_bounds(make_net, train, learn, wmin, wmax):
    rule = WeightDependentPostPre()
    conn = Dense(1, 1, w=torch.zeros(1, 1), wmin=wmin, wmax=wmax)
    with pytest.raises(ValueError, match="finite weight bounds"):
        rule.check(conn)
    with pytest.raises(ValueError, match="finite weight bounds"):
        traces = LearningRule.initial_state(rule, conn, 1)  # bypass the check made at state creation
        rule.step(conn, torch.ones(1, 1), torch.ones(1, 1), traces, None, 1.0)
    with pytest.raises(ValueError, match="wmin=.*wmax="):  # Network.add_connection checks the rule up front
        make_net(WeightDependentPostPre(), w0=0.0, wmin=wmin, wmax=wmax)


# --- configs ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_config_is_json_and_names_the_rule(name):
    rule = RULES[name](reduction="mean", weight_decay=0.01)
    config = json.loads(json.dumps(rule.config()))
    assert config["type"] == name and config["reduction"] == "mean" and config["weight_decay"] == 0.01


def test_reward_rules_flag_that_they_need_a_reward():
    assert [RULES[n]().needs_reward for n in NAMES] == [False, False, False, True, True]
    assert MSTDP(baseline_window=5).config()["baseline_window"] == 5


@pytest.mark.parametrize("bad", [{"tau_e_ms": 0.0}, {"tau_e_ms": math.inf}, {"a_plus": math.nan}])
def test_bad_constructor_arguments(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        MSTDPET(**bad)


@pytest.mark.parametrize("rule", [PostPre, WeightDependentPostPre, Hebbian])
@pytest.mark.parametrize("rate", ["nu_pre", "nu_post"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_pair_rate_rules_reject_a_rate_that_is_not_finite(rule, rate, bad):
    assert issubclass(rule, PairRateRule)
    with pytest.raises(ValueError, match=rate):
        rule(**{rate: bad})
    kept = rule(nu_pre=0.25, nu_post=0.5)
    assert (kept.nu_pre, kept.nu_post) == (0.25, 0.5)


# --- devices ---------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cpu_equals_cuda(make_net, learn, name):
    """The same run (with a baseline and apply_reward for the reward-modulated rules) on CPU and CUDA."""
    pre, post, reward, w = random_case(seed=5, T=10, B=2)
    kwargs = {"baseline_window": 3} if name in ("MSTDP", "MSTDPET") else {}
    weights = []
    for device in ("cpu", "cuda"):
        net = make_net(RULES[name](**kwargs), w0=w, n_in=4, n_out=5, wmin=WMIN, wmax=WMAX).to(device)
        learn(net, pre.to(device), post.to(device), reward.to(device))
        net.apply_reward(torch.tensor([1.0, -0.5], device=device))
        weights.append(net.connections["X->Y"].weight.detach().cpu())
    assert not torch.equal(weights[0], w)
    torch.testing.assert_close(weights[1], weights[0], rtol=1e-10, atol=1e-12)
