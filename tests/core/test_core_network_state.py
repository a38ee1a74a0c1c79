"""Explicit network state: ``run(..., state=s)`` returns the new state and leaves ``s`` and ``net.state`` alone,
equals the implicit ``net.state`` path, and rule state is driven through the network (reset_rows,
accumulate_eligibility, apply_reward), never by writing into ``state.rules``."""

from __future__ import annotations

import pytest
import torch

from spikerl import LIF, MSTDPET, AdaptiveLIF, Dense, Input, Network, TraceParams
from spikerl.network import NetworkState


def recurrent_net(seed: int = 0) -> Network:
    """Input -> a recurrent excitatory/inhibitory pair (with a trace and adaptive thresholds) -> output."""
    g = torch.Generator().manual_seed(seed)
    net = Network()
    net.add_layer("X", Input(30))
    net.add_layer("E", AdaptiveLIF(20, trace=TraceParams(tau_ms=8.0)))
    net.add_layer("I", LIF(20, v_rest_mv=-60.0, v_reset_mv=-45.0, v_thresh_mv=-40.0))
    net.add_layer("O", LIF(5))
    net.add_connection("X", "E", Dense(30, 20, w=8.0 * torch.rand(30, 20, generator=g)))
    net.add_connection("E", "I", Dense(20, 20, w=22.5 * torch.eye(20)))
    net.add_connection("I", "E", Dense(20, 20, w=-5.0 * (1 - torch.eye(20))))
    net.add_connection("E", "O", Dense(20, 5, w=10.0 * torch.rand(20, 5, generator=g)))
    return net


def flat(state: NetworkState) -> dict[str, torch.Tensor]:
    """Every tensor of a state, by a readable key (clones, so later in-place changes would show)."""
    out = {}
    for part in ("neurons", "rules"):
        for name, tup in getattr(state, part).items():
            out.update({f"{part}.{name}.{f}": t.clone() for f, t in tup._asdict().items()})
    for part in ("spikes", "traces"):
        out.update({f"{part}.{n}": t.clone() for n, t in getattr(state, part).items()})
    return out


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def eligibility_net(seed: int = 9) -> Network:
    g = torch.Generator().manual_seed(seed)
    net = Network()
    net.add_layer("X", Input(30))
    net.add_layer("O", LIF(6, tau_mem_ms=10.0))
    net.add_connection("X", "O", Dense(30, 6, wmin=0.0, wmax=4.0, generator=g),
                       rule=MSTDPET(lr=0.05, a_plus=1.0, a_minus=0.6, tau_e_ms=15.0))
    return net


@pytest.mark.parametrize("fast", [True, False])
def test_explicit_state_runs_equal_implicit_runs(fast: bool) -> None:
    x = torch.rand(50, 3, 30, generator=torch.Generator().manual_seed(1)) < 0.3
    rec = ["E.spikes", "E.v", "E.trace", "O.spikes", "O.v"]
    implicit, explicit = recurrent_net(), recurrent_net()
    r1, r2 = implicit.run({"X": x[:20]}, record=rec, fast=fast), implicit.run({"X": x[20:]}, record=rec, fast=fast)
    state = explicit.initial_state(3)
    e1, state = explicit.run({"X": x[:20]}, state=state, record=rec, fast=fast)
    e2, state = explicit.run({"X": x[20:]}, state=state, record=rec, fast=fast)
    assert r2["O.spikes"].any()
    for key in rec:
        assert torch.equal(r1[key], e1[key]) and torch.equal(r2[key], e2[key]), key
    assert_same(flat(implicit.state), flat(state))
    assert state.step == implicit.state.step == 50
    assert explicit.state is None  # the explicit form never touches the network's own state


def test_run_leaves_the_given_state_unchanged_so_states_can_interleave() -> None:
    """Two states (acting and evaluating, say) advanced in turns give each the records it gets alone."""
    x = torch.rand(30, 2, 30, generator=torch.Generator().manual_seed(2)) < 0.3
    y = torch.rand(30, 2, 30, generator=torch.Generator().manual_seed(3)) < 0.3
    net = recurrent_net()
    start = net.initial_state(2)
    before = flat(start)
    a_alone, s = [], start
    for i in (0, 10, 20):
        out, s = net.run({"X": x[i:i + 10]}, state=s, record=["O.v"])
        a_alone.append(out["O.v"])
    a, b = start, net.initial_state(2)
    for k, i in enumerate((0, 10, 20)):
        out, a = net.run({"X": x[i:i + 10]}, state=a, record=["O.v"])
        _, b = net.run({"X": y[i:i + 10]}, state=b)
        assert torch.equal(out["O.v"], a_alone[k])
    assert_same(flat(start), before)
    assert start.step == 0


def test_reset_rows_with_a_state_returns_a_new_state() -> None:
    x = torch.rand(40, 3, 30, generator=torch.Generator().manual_seed(5)) < 0.3
    net = recurrent_net()
    _, state = net.run({"X": x}, state=net.initial_state(3))
    before = flat(state)
    new = net.reset_rows(torch.tensor([False, True, False]), state=state)
    assert_same(flat(state), before)
    assert torch.equal(new.neurons["O"].v[[0, 2]], state.neurons["O"].v[[0, 2]])
    assert torch.equal(new.neurons["O"].v[1], torch.full((5,), -65.0))  # LIF rest
    assert not new.spikes["E"][1].any() and not new.traces["E"][1].any()
    assert net.state is None


def test_accumulate_eligibility_equals_a_reward_free_learning_run() -> None:
    """A learning run without reward only accumulates eligibility from the source and target trains; the same
    pairings handed to accumulate_eligibility (trains recorded by a run that does not learn) give the same
    eligibility, leave the weights and the given state alone."""
    x = torch.rand(25, 3, 30, generator=torch.Generator().manual_seed(10)) < 0.4
    learner, observer = eligibility_net(), eligibility_net()
    learner.run({"X": x}, learning=True)
    w0 = observer.connections["X->O"].w.clone()
    start = observer.initial_state(3)
    out, state = observer.run({"X": x}, state=start, record=["O.spikes"])
    before = flat(state)
    state2 = observer.accumulate_eligibility("X->O", x, out["O.spikes"], state=state)
    assert out["O.spikes"].any()
    for f, value in learner.state.rules["X->O"]._asdict().items():
        assert torch.equal(state2.rules["X->O"]._asdict()[f], value), f
    assert learner.state.rules["X->O"].eligibility.abs().max() > 0
    assert_same(flat(state), before)
    assert torch.equal(observer.connections["X->O"].w, w0)


def test_apply_reward_reads_the_eligibility_of_the_given_state() -> None:
    """``dw = lr * sum_b r_b e_b`` from the state passed (not from ``net.state``), clipped to ``[wmin, wmax]``."""
    x = torch.rand(25, 2, 30, generator=torch.Generator().manual_seed(11)) < 0.4
    net = eligibility_net()
    net.reset(2)  # a net.state with zero eligibility: it must not be the one used
    out, state = net.run({"X": x}, state=net.initial_state(2), record=["O.spikes"])
    state = net.accumulate_eligibility("X->O", x, out["O.spikes"], state=state)
    w0, e = net.connections["X->O"].w.clone(), state.rules["X->O"].eligibility
    r = torch.tensor([1.0, -0.5])
    net.apply_reward(r, state=state)
    expected = (w0 + 0.05 * (r[0] * e[0] + r[1] * e[1])).clamp(0.0, 4.0)
    assert not torch.equal(expected, w0)
    torch.testing.assert_close(net.connections["X->O"].w, expected, rtol=0, atol=1e-6)


def test_apply_reward_without_validation_reads_nothing_back_and_gives_the_same_update(read_backs) -> None:
    """``validate=False`` (a device reward finite by construction) skips the finiteness read back only; the
    default still refuses a non-finite tensor."""
    x = torch.rand(25, 2, 30, generator=torch.Generator().manual_seed(11)) < 0.4
    nets = eligibility_net(), eligibility_net()
    r = torch.tensor([1.0, -0.5])
    for net, validate in zip(nets, (True, False)):
        out, state = net.run({"X": x}, state=net.initial_state(2), record=["O.spikes"])
        state = net.accumulate_eligibility("X->O", x, out["O.spikes"], state=state)
        with read_backs() as recorder:
            net.apply_reward(r, state=state, validate=validate)
        assert (recorder.calls != []) == validate
    assert torch.equal(nets[0].connections["X->O"].w, nets[1].connections["X->O"].w)
    with pytest.raises(ValueError, match="reward must be finite"):
        nets[0].apply_reward(torch.tensor([float("nan"), 0.0]), state=state)


def test_explicit_state_errors_name_the_problem() -> None:
    net = eligibility_net()
    x = torch.zeros(4, 2, 30, dtype=torch.bool)
    with pytest.raises(TypeError, match="state must be a NetworkState"):
        net.run({"X": x}, state={"X": x})
    with pytest.raises(ValueError, match=r"batch size 2 but the network state has batch size 3; pass a state"):
        net.run({"X": x}, state=net.initial_state(3))
    with pytest.raises(KeyError, match="has no learning rule"):
        net.accumulate_eligibility("O->X", x, x, state=net.initial_state(2))
    with pytest.raises(RuntimeError, match="no state yet"):
        net.accumulate_eligibility("X->O", x, x)


def test_explicit_learning_runs_equal_implicit_ones() -> None:
    """Learning with a per-step reward and then a reward-free run (two paths of the runner): the same weights
    and rule state whether the state is the network's own or held by the caller."""
    x = torch.rand(30, 2, 30, generator=torch.Generator().manual_seed(12)) < 0.4
    r = torch.tensor([1.0, -0.5])
    implicit, explicit = eligibility_net(), eligibility_net()
    implicit.run({"X": x[:15]}, learning=True, reward=r)
    implicit.run({"X": x[15:]}, learning=True)
    _, state = explicit.run({"X": x[:15]}, state=explicit.initial_state(2), learning=True, reward=r)
    _, state = explicit.run({"X": x[15:]}, state=state, learning=True)
    assert not torch.equal(implicit.connections["X->O"].w, eligibility_net().connections["X->O"].w)
    assert torch.equal(implicit.connections["X->O"].w, explicit.connections["X->O"].w)
    assert_same(flat(implicit.state), flat(state))
