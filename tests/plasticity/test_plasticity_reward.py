"""Reward-modulated rules: MSTDPET's eligibility decay, ``Network.apply_reward``, reward baselines, bad rewards.

A pre spike at ``t1`` and a post spike ``n`` steps later give ``zeta = a_plus * exp(-n dt / tau_plus)`` at the
post spike and nothing at any other step, so MSTDPET's eligibility is ``zeta * exp(-k dt / tau_e)`` ``k`` steps
after the pairing. All rewards are exact in float32 (the network passes rewards in the default dtype).
"""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.connections import Dense
from spikerl.plasticity import MSTDP, MSTDPET, EligibilityState, RewardBaseline, check_reward
from spikerl.traces import TraceParams

DT, TAU_PLUS, TAU_MINUS, TAU_E = 0.5, 10.0, 15.0, 7.0
LR, A_PLUS, A_MINUS = 0.05, 1.5, 0.75
T1, N = 2, 3                       # pre spike at T1, post spike at T2 = T1 + N
T2 = T1 + N
ZETA = A_PLUS * math.exp(-N * DT / TAU_PLUS)


def mstdpet(**kw) -> MSTDPET:
    return MSTDPET(lr=LR, a_plus=A_PLUS, a_minus=A_MINUS, tau_e_ms=TAU_E, pre_trace=TraceParams(TAU_PLUS),
                   post_trace=TraceParams(TAU_MINUS), **kw)


def mstdp(**kw) -> MSTDP:
    return MSTDP(lr=LR, a_plus=A_PLUS, a_minus=A_MINUS, pre_trace=TraceParams(TAU_PLUS),
                 post_trace=TraceParams(TAU_MINUS), **kw)


def decay(k: int) -> float:
    return math.exp(-k * DT / TAU_E)


# --- MSTDPET: eligibility decays exactly --------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, 1, 4, 11])
def test_mstdpet_reward_k_steps_after_pairing(make_net, train, learn, k):
    T = T2 + k + 2
    reward = torch.zeros(T, 1)
    reward[T2 + k] = 2.0
    dw = learn(make_net(mstdpet(), dt_ms=DT), train(T, 1, 1, [T1]), train(T, 1, 1, [T2]), reward)
    assert dw.item() == pytest.approx(LR * 2.0 * ZETA * decay(k), rel=1e-12)


@pytest.mark.parametrize("k", [0, 3])
def test_mstdpet_post_before_pre_is_depressing_eligibility(make_net, train, learn, k):
    T = T2 + k + 1
    reward = torch.zeros(T, 1)
    reward[T2 + k] = 1.5
    dw = learn(make_net(mstdpet(), dt_ms=DT), train(T, 1, 1, [T2]), train(T, 1, 1, [T1]), reward)
    assert dw.item() == pytest.approx(-LR * 1.5 * A_MINUS * math.exp(-N * DT / TAU_MINUS) * decay(k), rel=1e-12)


def test_mstdpet_rewards_accumulate_over_steps(make_net, train, learn):
    """Rewards r1 at the pairing and r2 k steps later: dw = lr * zeta * (r1 + r2 * exp(-k dt / tau_e))."""
    k, T = 5, T2 + 8
    reward = torch.zeros(T, 1)
    reward[T2], reward[T2 + k] = 1.0, -0.5
    dw = learn(make_net(mstdpet(), dt_ms=DT), train(T, 1, 1, [T1]), train(T, 1, 1, [T2]), reward)
    assert dw.item() == pytest.approx(LR * ZETA * (1.0 - 0.5 * decay(k)), rel=1e-12)


@pytest.mark.parametrize("k", [0, 2, 6])
def test_apply_reward_after_run(make_net, train, learn, k):
    """A run without reward builds the eligibility; apply_reward(r) then changes w by lr * r * e."""
    T = T2 + k + 1  # the last step is k steps after the pairing
    net = make_net(mstdpet(), dt_ms=DT)
    assert learn(net, train(T, 1, 1, [T1]), train(T, 1, 1, [T2]), None).item() == 0.0
    w = net.connections["X->Y"].weight.clone()
    net.apply_reward(3.0)
    assert (net.connections["X->Y"].weight - w).item() == pytest.approx(LR * 3.0 * ZETA * decay(k), rel=1e-12)


def test_apply_reward_equals_reward_at_the_last_step(make_net, train, learn):
    T = T2 + 4
    pre, post = train(T, 1, 1, [T1]), train(T, 1, 1, [T2])
    reward = torch.zeros(T, 1)
    reward[-1] = -2.0
    in_run = learn(make_net(mstdpet(), dt_ms=DT), pre, post, reward)
    net = make_net(mstdpet(), dt_ms=DT)
    learn(net, pre, post, None)
    w = net.connections["X->Y"].weight.clone()
    net.apply_reward(torch.tensor([-2.0]))
    torch.testing.assert_close(net.connections["X->Y"].weight - w, in_run, rtol=1e-12, atol=0)


def test_eligibility_persists_across_runs_until_reset(make_net, train, learn):
    """The pairing in one run, k silent steps in a second run, reward after: the delayed reward still
    reaches the synapse; after Network.reset() it does not."""
    k = 7
    net = make_net(mstdpet(), dt_ms=DT)
    learn(net, train(T2 + 1, 1, 1, [T1]), train(T2 + 1, 1, 1, [T2]))
    learn(net, train(k, 1, 1, []), train(k, 1, 1, []))
    w = net.connections["X->Y"].weight.clone()
    net.apply_reward(1.0)
    assert (net.connections["X->Y"].weight - w).item() == pytest.approx(LR * ZETA * decay(k), rel=1e-12)
    net.reset(1)
    assert torch.count_nonzero(net.state.rules["X->Y"].eligibility) == 0
    w = net.connections["X->Y"].weight.clone()
    net.apply_reward(1.0)
    assert torch.equal(net.connections["X->Y"].weight, w)


def test_eligibility_state_shape(make_net, train, learn):
    net = make_net(mstdpet(), n_in=3, n_out=2)
    net.reset(4)
    state = net.state.rules["X->Y"]
    assert isinstance(state, EligibilityState)
    assert state.eligibility.shape == (4, 3, 2) and state.pre.shape == (4, 3) and state.post.shape == (4, 2)


def test_apply_reward_per_sample(make_net, train, learn):
    """B = 2, sample 0 paired at gap N, sample 1 at gap 2N; rewards [r0, r1] -> lr * sum_b r_b e_b."""
    T = T1 + 2 * N + 1
    pre = train(T, 2, 1, {0: [T1 + N], 1: [T1]})
    post = train(T, 2, 1, [T1 + 2 * N])
    net = make_net(mstdpet(), dt_ms=DT)
    learn(net, pre, post)
    w = net.connections["X->Y"].weight.clone()
    net.apply_reward(torch.tensor([2.0, -1.0]))
    e0 = A_PLUS * math.exp(-N * DT / TAU_PLUS)
    e1 = A_PLUS * math.exp(-2 * N * DT / TAU_PLUS)
    expected = LR * (2.0 * e0 - 1.0 * e1)
    assert (net.connections["X->Y"].weight - w).item() == pytest.approx(expected, rel=1e-12)


def test_mstdp_has_no_eligibility_to_reward_later(make_net, train, learn):
    net = make_net(mstdp(), dt_ms=DT)
    learn(net, train(T2 + 1, 1, 1, [T1]), train(T2 + 1, 1, 1, [T2]))
    w = net.connections["X->Y"].weight.clone()
    net.apply_reward(5.0)  # MSTDP has no reward_update: nothing to reward
    assert torch.equal(net.connections["X->Y"].weight, w)


# --- reward baseline ------------------------------------------------------------------------------------------
def expected_effective(rewards: list[float], window: int) -> tuple[list[float], float]:
    """Hand recursion: r_eff_i = r_i - b_{i-1}; b_i = b_{i-1} + (r_i - b_{i-1}) / window; b_0 = 0."""
    b, out = 0.0, []
    for r in rewards:
        out.append(r - b)
        b = b + (r - b) / window
    return out, b


def test_baseline_effective_rewards_by_hand():
    rb = RewardBaseline(window=2)
    got = [rb(torch.tensor([r], dtype=torch.float64)).item() for r in (1.0, 2.0, -1.0)]
    # b: 0 -> 0.5 -> 1.25 -> 0.125
    assert got == pytest.approx([1.0 - 0.0, 2.0 - 0.5, -1.0 - 1.25], abs=1e-15)
    assert rb.value.item() == pytest.approx(0.125)


def test_baseline_window_one_is_the_last_reward():
    rb = RewardBaseline(window=1)
    got = [rb(torch.tensor([r])).item() for r in (3.0, 1.0, 4.0)]
    assert got == [3.0, 1.0 - 3.0, 4.0 - 1.0]


def test_baseline_is_shared_across_the_batch():
    """Every sample gets r_b - b; b moves towards the batch mean."""
    rb = RewardBaseline(window=4)
    first = rb(torch.tensor([1.0, 3.0]))
    assert first.tolist() == [1.0, 3.0]
    assert rb.value.item() == pytest.approx((1.0 + 3.0) / 2 / 4)
    second = rb(torch.tensor([0.0, 2.0]))
    assert second.tolist() == pytest.approx([0.0 - 0.5, 2.0 - 0.5])
    assert rb.value.item() == pytest.approx(0.5 + (1.0 - 0.5) / 4)


@pytest.mark.parametrize("window", [0, -1, 1.5, True, None])
def test_baseline_window_must_be_positive_int(window):
    with pytest.raises(ValueError, match="window"):
        RewardBaseline(window)


def test_mstdp_baseline_through_network(make_net, train, learn):
    """Pre and post spike every step with nearest traces: zeta = a_plus - a_minus at every step; one-step runs
    with rewards r_i change w by lr * (r_i - b_{i-1}) * zeta."""
    rewards, window = [1.0, 2.0, -1.0, 0.5], 3
    rule = MSTDP(lr=LR, a_plus=A_PLUS, a_minus=A_MINUS, pre_trace=TraceParams(TAU_PLUS, "nearest"),
                 post_trace=TraceParams(TAU_MINUS, "nearest"), baseline_window=window)
    net = make_net(rule)
    spikes = train(1, 1, 1, [0])
    got = [learn(net, spikes, spikes, r).item() for r in rewards]
    effective, b = expected_effective(rewards, window)
    assert got == pytest.approx([LR * e * (A_PLUS - A_MINUS) for e in effective], rel=1e-12)
    assert rule.baseline.value.item() == pytest.approx(b, rel=1e-12)


def test_mstdp_baseline_not_updated_without_reward(make_net, train, learn):
    rule = mstdp(baseline_window=2)
    net = make_net(rule)
    spikes = train(1, 1, 1, [0])
    learn(net, spikes, spikes, 4.0)
    learn(net, spikes, spikes, None)
    assert rule.baseline.value.item() == 2.0


def test_mstdpet_baseline_with_apply_reward(make_net, train, learn):
    """Eligibility e fixed (no steps between rewards): apply_reward(r_i) changes w by lr * (r_i - b_{i-1}) * e."""
    rewards, window = [2.0, 1.0, -3.0], 2
    net = make_net(mstdpet(baseline_window=window), dt_ms=DT)
    learn(net, train(T2 + 1, 1, 1, [T1]), train(T2 + 1, 1, 1, [T2]))
    got = []
    for r in rewards:
        w = net.connections["X->Y"].weight.clone()
        net.apply_reward(r)
        got.append((net.connections["X->Y"].weight - w).item())
    effective, _ = expected_effective(rewards, window)
    assert got == pytest.approx([LR * e * ZETA for e in effective], rel=1e-12)


def test_mstdpet_baseline_per_step(make_net, train, learn):
    """Rewards at the pairing step and 2 steps later: effective rewards r1 and r2 - r1 / window."""
    window, T = 4, T2 + 3
    reward = torch.zeros(T, 1)
    reward[T2], reward[T2 + 2] = 2.0, 1.0
    # the zero rewards of the other steps count too: b moves towards 0 at each of them
    rewards = reward[:, 0].tolist()
    effective, _ = expected_effective(rewards, window)
    eligibility = [0.0] * T
    for t in range(T2, T):
        eligibility[t] = ZETA * decay(t - T2)
    expected = sum(LR * e * el for e, el in zip(effective, eligibility))
    dw = learn(make_net(mstdpet(baseline_window=window), dt_ms=DT), train(T, 1, 1, [T1]), train(T, 1, 1, [T2]),
               reward)
    assert dw.item() == pytest.approx(expected, rel=1e-12)


def test_baseline_is_saved_and_survives_reset(make_net, train, learn):
    rule = mstdpet(baseline_window=2)
    net = make_net(rule)
    spikes = train(1, 1, 1, [0])
    learn(net, spikes, spikes, 3.0)
    assert net.state_dict()["rules.X->Y.baseline.value"].item() == 1.5
    net.reset(1)
    assert rule.baseline.value.item() == 1.5
    fresh = make_net(mstdpet(baseline_window=2))
    fresh.load_state_dict(net.state_dict())
    assert fresh.rules["X->Y"].baseline.value.item() == 1.5
    rule.baseline.reset()
    assert rule.baseline.value.item() == 0.0


def test_rules_without_baseline_have_no_buffer():
    assert mstdp().baseline is None and dict(mstdpet().state_dict()) == {}


# --- bad rewards --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("factory", [mstdp, mstdpet])
def test_nonfinite_reward_in_run_is_rejected(make_net, train, learn, factory, bad):
    net = make_net(factory())
    with pytest.raises(ValueError, match="finite"):
        learn(net, train(3, 1, 1, [0]), train(3, 1, 1, [1]), bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("factory", [mstdp, mstdpet])
def test_nonfinite_reward_in_direct_step_is_rejected(factory, bad):
    conn = Dense(2, 3, w=torch.zeros(2, 3))
    rule = factory()
    state = rule.initial_state(conn, 2)
    pre, post = torch.ones(2, 2, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="finite"):
        rule.step(conn, pre, post, state, torch.tensor([1.0, bad]), 1.0)


@pytest.mark.parametrize("bad", [math.nan, -math.inf])
def test_nonfinite_reward_update_is_rejected(make_net, bad):
    conn = Dense(1, 1, w=torch.zeros(1, 1))
    rule = mstdpet()
    with pytest.raises(ValueError, match="finite"):
        rule.reward_update(conn, rule.initial_state(conn, 1), bad)
    net = make_net(mstdpet())
    net.reset(1)
    with pytest.raises(ValueError, match="finite"):
        net.apply_reward(bad)


def test_nonfinite_reward_leaves_the_baseline_alone():
    rule = mstdpet(baseline_window=2)
    conn = Dense(1, 1, w=torch.zeros(1, 1))
    with pytest.raises(ValueError):
        rule.reward_update(conn, rule.initial_state(conn, 1), math.nan)
    assert rule.baseline.value.item() == 0.0


def test_reward_shape_and_type_are_checked():
    like = torch.zeros(1, dtype=torch.float64)
    assert check_reward(2.0, 3, like).tolist() == [2.0, 2.0, 2.0]
    assert check_reward(torch.tensor([1.0, 2.0]), 2, like).dtype == torch.float64
    with pytest.raises(ValueError, match=r"\[B\]=\[3\]"):
        check_reward(torch.zeros(2), 3, like)
    with pytest.raises(ValueError, match="shape"):
        check_reward(torch.zeros(3, 1), 3, like)
    with pytest.raises(TypeError, match="reward"):
        check_reward("1.0", 3, like)
    with pytest.raises(TypeError, match="EligibilityState"):
        mstdpet().reward_update(Dense(1, 1), (torch.zeros(1, 1),), 1.0)


@pytest.mark.parametrize("a_minus", [0.0, A_MINUS])
def test_mstdpet_accumulate_in_place_equals_the_functional_update(a_minus):
    """``accumulate(inplace=True)`` writes the same eligibility into the state's tensor as the functional call
    returns, for Dense's fused path and for the generic per-step path (a float postsynaptic factor included)."""
    g = torch.Generator().manual_seed(0)
    rule = MSTDPET(lr=LR, a_plus=A_PLUS, a_minus=a_minus, tau_e_ms=TAU_E, pre_trace=TraceParams(TAU_PLUS),
                   post_trace=TraceParams(TAU_MINUS))
    pre = torch.rand(6, 3, 5, generator=g) < 0.4
    post = torch.rand(6, 3, 4, generator=g) - 0.5
    constant = post[0].unsqueeze(0).expand(6, 3, 4)   # stride 0 in time: the shortcut for a constant factor
    for conn, post in ((Dense(5, 4, torch.rand(5, 4, generator=g)), constant),
                       (GenericDense(5, 4, torch.rand(5, 4, generator=g)), constant)):
        start = rule.initial_state(conn, 3)
        expected = rule.accumulate(conn, pre, post.contiguous(), start, DT)
        got = rule.accumulate(conn, pre, post, start, DT)
        torch.testing.assert_close(got.eligibility, expected.eligibility)
    post = torch.rand(6, 3, 4, generator=g) - 0.5
    for conn in (Dense(5, 4, torch.rand(5, 4, generator=g)), GenericDense(5, 4, torch.rand(5, 4, generator=g))):
        start = rule.initial_state(conn, 3)
        start = EligibilityState(start.pre, start.post, torch.rand(start.eligibility.shape, generator=g))
        expected = rule.accumulate(conn, pre, post, start, DT)
        target = start.eligibility.clone()
        got = rule.accumulate(conn, pre, post, EligibilityState(start.pre, start.post, target), DT, inplace=True)
        assert got.eligibility.data_ptr() == target.data_ptr()
        torch.testing.assert_close(got.eligibility, expected.eligibility)
        torch.testing.assert_close(got.pre, expected.pre)
        assert not torch.equal(expected.eligibility, start.eligibility)


class GenericDense(Dense):
    """Dense with the base class's per-step pairing sum (no fused batched matmul)."""

    def pair_over_time(self, pre, post, into=None, beta=1.0, alpha=1.0, inplace=False):
        return super(Dense, self).pair_over_time(pre, post, into, beta, alpha, inplace)


def test_dense_pairing_of_a_constant_postsynaptic_factor_takes_the_outer_product():
    """A ``post`` expanded in time (stride 0) gives the same eligibility as the same values materialised."""
    g = torch.Generator().manual_seed(1)
    conn = Dense(5, 4, torch.rand(5, 4, generator=g))
    pre = torch.rand(6, 3, 5, generator=g)
    factor = torch.rand(3, 4, generator=g) - 0.5
    into = torch.rand(3, 5, 4, generator=g)
    expanded = factor.unsqueeze(0).expand(6, 3, 4)
    assert expanded.stride(0) == 0
    got = conn.pair_over_time(pre, expanded, into=into, beta=0.5, alpha=2.0)
    torch.testing.assert_close(got, conn.pair_over_time(pre, expanded.contiguous(), into=into, beta=0.5, alpha=2.0))
    torch.testing.assert_close(got, 0.5 * into + 2.0 * torch.einsum("tbi,bj->bij", pre, factor))


def test_mstdpet_constant_factor_shortcut_equals_the_general_path_from_any_state():
    """With a factor held over the run (stride 0 in time), additive traces and ``a_minus = 0``, the shortcut
    (decayed trace sum, closed-form postsynaptic trace) gives the same eligibility and traces as the general
    path, from nonzero traces and eligibility and with trace scales other than 1."""
    g = torch.Generator().manual_seed(3)
    rule = MSTDPET(lr=LR, a_plus=A_PLUS, a_minus=0.0, tau_e_ms=TAU_E, pre_trace=TraceParams(TAU_PLUS, scale=0.7),
                   post_trace=TraceParams(TAU_MINUS, scale=1.3))
    conn = Dense(5, 4, torch.rand(5, 4, generator=g, dtype=torch.float64))
    start = EligibilityState(torch.rand(3, 5, generator=g, dtype=torch.float64),
                             torch.rand(3, 4, generator=g, dtype=torch.float64),
                             torch.rand(3, 5, 4, generator=g, dtype=torch.float64))
    pre = torch.rand(8, 3, 5, generator=g) < 0.4
    factor = (torch.rand(3, 4, generator=g, dtype=torch.float64) - 0.5).unsqueeze(0).expand(8, 3, 4)
    expected = rule.accumulate(conn, pre, factor.contiguous(), start, DT)
    got = rule.accumulate(conn, pre, factor, start, DT)
    for field in ("pre", "post", "eligibility"):
        torch.testing.assert_close(getattr(got, field), getattr(expected, field), rtol=1e-12, atol=1e-12, msg=field)
    assert not torch.allclose(got.eligibility, start.eligibility)
