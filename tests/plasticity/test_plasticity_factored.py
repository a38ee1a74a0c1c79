"""FactoredMSTDPET stores MSTDPET's eligibility as ``c A + x (x) g``: the same eligibility and weight changes as
MSTDPET (float64: to ~1e-12; float32: within a few bits, the fold's bound) over long runs with folds, resets,
per-step rewards inside ``Network.run`` and rewards between runs; a step's pairings touch only the rows of the
inputs that spiked; the three ways of adding them (C kernel, ``index_add_``, matmul) agree; the state survives a
checkpoint; and the rule refuses what it cannot do."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl import kernels
from spikerl.checkpoint import CheckpointError, load_network, save_network, state_from_dict, state_to_dict
from spikerl.connections import Conv2d, Dense
from spikerl.plasticity import MSTDPET, FactoredEligibilityState, FactoredMSTDPET
from spikerl.plasticity import factored_mstdpet
from spikerl.traces import TraceParams

from tests.plasticity.conftest import build_net

DT = 1.0


def rules(tau_e_ms: float = 40.0, a_minus: float = 0.0, **extra) -> tuple[MSTDPET, FactoredMSTDPET]:
    kw = dict(lr=0.1, a_plus=1.0, a_minus=a_minus, tau_e_ms=tau_e_ms, pre_trace=TraceParams(10.0, scale=0.7),
              post_trace=TraceParams(15.0), **extra)
    return MSTDPET(**kw), FactoredMSTDPET(**kw)


def runs(count: int, steps: int, batch: int, n_in: int, n_out: int, density: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    for _ in range(count):
        yield (torch.rand(steps, batch, n_in, generator=g) < density,
               torch.randn(steps, batch, n_out, generator=g, dtype=torch.float64),
               torch.randn(batch, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("tau_e_ms,a_minus,density", [(40.0, 0.0, 0.05), (40.0, 0.5, 0.05), (5.0, 0.3, 0.05),
                                                      (40.0, 0.0, 0.9)])
def test_same_eligibility_and_weight_changes_as_mstdpet_over_many_runs(tau_e_ms, a_minus, density) -> None:
    """60 runs of 8 steps, a reward after each and two rows reset on the way. tau_e 40 > tau_pre 10: g grows and
    folds happen (c back to 1); tau_e 5: c decays and the fold on c happens; density 0.9 takes the matmul."""
    reference, factored = rules(tau_e_ms, a_minus)
    conn = Dense(30, 6, w=torch.zeros(30, 6, dtype=torch.float64))
    ref_state, state = reference.initial_state(conn, 3), factored.initial_state(conn, 3)
    folds = 0
    for k, (pre, post, reward) in enumerate(runs(60, 8, 3, 30, 6, density, seed=1)):
        ref_state = reference.accumulate(conn, pre, post, ref_state, DT)
        state = factored.accumulate(conn, pre, post, state, DT, inplace=k % 2 == 0)
        folds += float(state.decay) == 1.0
        assert float(state.decay) >= math.exp(-factored_mstdpet.FOLD_LOG_DECAY)
        if k == 30:  # sample 1 starts a new episode
            ref_state = type(ref_state)(*(t.clone() for t in ref_state))
            state = FactoredEligibilityState(*(t.clone() for t in state))
            for t in (*ref_state, *state[:4]):
                t[1] = 0.0
        e = factored.eligibility(state)
        torch.testing.assert_close(e, ref_state.eligibility, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(state.pre, ref_state.pre, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(factored.reward_update(conn, state, reward),
                                   reference.reward_update(conn, ref_state, reward), rtol=1e-10, atol=1e-12)
    assert folds >= 2


def test_float32_stays_within_the_folds_bound() -> None:
    """In float32 the cancellation between c A and x (x) g costs at most log2(FOLD_GROWTH) = 4 bits: the
    eligibility stays within 2^4 * a few float32 roundings of the float64 reference, relative to its size."""
    reference, factored = rules()
    conn64 = Dense(40, 5, w=torch.zeros(40, 5, dtype=torch.float64))
    conn32 = Dense(40, 5, w=torch.zeros(40, 5))
    ref_state, state = reference.initial_state(conn64, 2), factored.initial_state(conn32, 2)
    worst = 0.0
    for pre, post, _ in runs(80, 8, 2, 40, 5, 0.05, seed=2):
        ref_state = reference.accumulate(conn64, pre, post, ref_state, DT)
        state = factored.accumulate(conn32, pre, post.float(), state, DT, inplace=True)
        error = (factored.eligibility(state).double() - ref_state.eligibility).abs().max()
        worst = max(worst, float(error / ref_state.eligibility.abs().max()))
    assert worst < 16 * 64 * torch.finfo(torch.float32).eps


def test_pairings_touch_only_the_rows_of_inputs_that_spiked() -> None:
    """Input 0 never spikes and starts with no trace: its row of A stays exactly 0, through folds; the rows of
    inputs that spike change."""
    _, factored = rules()
    conn = Dense(12, 4, w=torch.zeros(12, 4, dtype=torch.float64))
    state = factored.initial_state(conn, 2)
    for pre, post, _ in runs(20, 8, 2, 12, 4, 0.2, seed=3):
        pre[:, :, 0] = False
        state = factored.accumulate(conn, pre, post, state, DT)
        assert torch.equal(state.scaled[:, 0], torch.zeros(2, 4))
        assert torch.equal(factored.eligibility(state)[:, 0], torch.zeros(2, 4))
    assert bool((state.scaled[:, 1:] != 0).any())


@pytest.mark.parametrize("path", ["kernel", "matmul"])
def test_the_three_ways_of_adding_pairings_agree(path: str, monkeypatch) -> None:
    """Against index_add_ (the torch path for sparse trains): the C kernel adds the same rows in the same order
    (bit-identical: the same IEEE additions); the matmul of dense trains sums the same products in another order
    (which one depends on the BLAS build and the CPU), so it agrees within the float32 bound of
    ``test_float32_stays_within_the_folds_bound``, relative to the largest entry (elementwise float32 rounding
    failed on a 16-core machine's BLAS: one entry of 525 off by 1.5e-5, 5e-5 of its value)."""
    if path == "kernel" and not kernels.available():
        pytest.skip("no C compiler: the kernels are not built (the torch paths are tested without them)")
    _, factored = rules()
    conn = Dense(25, 7, w=torch.zeros(25, 7))
    calls = []
    add_spike_rows = kernels.add_spike_rows
    monkeypatch.setattr(kernels, "add_spike_rows", lambda *a, **k: calls.append(1) or add_spike_rows(*a, **k))

    def run() -> FactoredEligibilityState:
        state = factored.initial_state(conn, 3)
        for pre, post, _ in runs(12, 8, 3, 25, 7, 0.04, seed=4):
            state = factored.accumulate(conn, pre, post.float(), state, DT)
        return state

    with monkeypatch.context() as torch_only:
        torch_only.setattr(kernels, "available", lambda: False)
        reference = run()  # index_add_
        if path == "matmul":
            torch_only.setattr(factored_mstdpet, "SPARSE_EVENTS_PER_ROW", 0.0)
            state = run()
    assert calls == []
    if path == "kernel":
        state = run()
        assert len(calls) == 12
        assert torch.equal(state.scaled, reference.scaled)
    else:
        worst = (state.scaled - reference.scaled).abs().max() / reference.scaled.abs().max()
        assert 0 < reference.scaled.abs().max() and worst < 16 * 64 * torch.finfo(torch.float32).eps


@pytest.mark.parametrize("extra", [{}, {"weight_decay": 1e-3, "reduction": "mean", "baseline_window": 5}])
def test_learning_inside_network_run_matches_mstdpet(extra: dict) -> None:
    """Per-step rewards inside Network.run (the step path), rewards between runs (apply_reward) and a reset row:
    the same weights as MSTDPET's network, also with weight decay, the batch mean and a reward baseline."""
    reference, factored = rules(a_minus=0.4, **extra)
    w0 = torch.rand(20, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    nets = [build_net(rule, w0=w0.clone(), n_in=20, n_out=3) for rule in (reference, factored)]
    g = torch.Generator().manual_seed(6)
    for k in range(6):
        spikes = torch.rand(10, 2, 20, generator=g) < 0.1
        clamp = torch.rand(10, 2, 3, generator=g) < 0.2
        reward = torch.randn(10, 2, generator=g, dtype=torch.float64) if k % 2 else None
        after = torch.randn(2, generator=g, dtype=torch.float64)
        for net in nets:
            net.run({"X": spikes}, learning=True, clamp={"Y": clamp}, reward=reward)
            net.apply_reward(after)
            if k == 3:
                net.reset_rows(torch.tensor([True, False]))
    torch.testing.assert_close(nets[1].connections["X->Y"].w, nets[0].connections["X->Y"].w, rtol=1e-10,
                               atol=1e-12)
    assert not torch.equal(nets[1].connections["X->Y"].w, w0)


def test_state_survives_a_checkpoint(tmp_path) -> None:
    _, factored = rules()
    net = build_net(factored, n_in=15, n_out=4)
    net.reset(2)
    for pre, post, _ in runs(3, 8, 2, 15, 4, 0.1, seed=7):
        net.state = net.accumulate_eligibility("X->Y", pre, post)
    state = net.state.rules["X->Y"]
    assert float(state.decay) != 1.0 and bool(state.column.abs().sum() > 0)
    again = state_from_dict(net, state_to_dict(net.state)).rules["X->Y"]
    save_network(net, tmp_path / "net.pt", include_state=True)
    loaded, _ = load_network(tmp_path / "net.pt")
    for restored in (again, loaded.state.rules["X->Y"]):
        assert isinstance(restored, FactoredEligibilityState)
        for got, expected in zip(restored, state):
            assert torch.equal(got, expected)
        assert restored.decay.device.type == "cpu" and restored.decay.dtype == torch.float64


def test_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="FactoredMSTDPET needs an additive presynaptic trace"):
        build_net(FactoredMSTDPET(pre_trace=TraceParams(mode="nearest")))
    conv = Conv2d((1, 4, 4), 2, kernel_size=3)
    with pytest.raises(ValueError, match=r"needs a connection with a \[n_source, n_target\] weight \(Dense\), got a "
                                         r"weight of shape \[2, 1, 3, 3\]"):
        build_net(FactoredMSTDPET(), connection=conv)
    _, factored = rules()
    conn = Dense(3, 2)
    with pytest.raises(TypeError, match="expected the FactoredMSTDPET state"):
        factored.reward_update(conn, MSTDPET().initial_state(conn, 1), 1.0)
    with pytest.raises(ValueError, match="finite"):
        factored.reward_update(conn, factored.initial_state(conn, 1), float("nan"))


def test_reads_an_mstdpet_state_saved_before(tmp_path) -> None:
    """A network checkpoint whose connection learned by MSTDPET loads into a network where it learns by
    FactoredMSTDPET with the same eligibility (an agent saved before its hidden layer's rule was factored); a
    state of another rule's layout is refused by name."""
    reference, factored = rules()
    old = build_net(reference, n_in=10, n_out=3)
    old.reset(2)
    for pre, post, _ in runs(2, 8, 2, 10, 3, 0.2, seed=8):
        old.state = old.accumulate_eligibility("X->Y", pre, post)
    data = state_to_dict(old.state)
    new = build_net(factored, n_in=10, n_out=3)
    state = state_from_dict(new, data).rules["X->Y"]
    assert torch.equal(factored.eligibility(state), old.state.rules["X->Y"].eligibility)
    assert torch.equal(state.pre, old.state.rules["X->Y"].pre)
    data["rules"]["X->Y"] = {"pre": data["rules"]["X->Y"]["pre"]}
    with pytest.raises(CheckpointError, match=r"the saved state of the rule on 'X->Y' has the fields \['pre'\]; "
                                              r"this network's rule keeps \['pre', 'post', 'scaled', 'column', "
                                              r"'decay'\]"):
        state_from_dict(new, data)
