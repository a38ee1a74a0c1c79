"""Network runner: update order, fast path == step-by-step path, state handling, recording, errors."""

import math
import subprocess
import sys

import pytest
import torch

from spikerl import AdaptiveLIF, Dense, Input, LIF, Network, PostPre, TraceParams
from spikerl.monitors import Monitor


def chain(weight: float = 20.0) -> Network:
    """X -> Y with one synapse strong enough to make Y fire on every input spike."""
    net = Network()
    net.add_layer("X", Input(1))
    net.add_layer("Y", LIF(1, refractory_ms=0.0))
    net.add_connection("X", "Y", Dense(1, 1, w=torch.tensor([[weight]])))
    return net


def dyadic(shape: tuple[int, ...], top: float, g: torch.Generator) -> torch.Tensor:
    """Weights in [0, top] that are multiples of top/16: their sums are exact in any order, so computations of
    the same currents in different shapes (one matmul for all steps, or one per step) agree bit for bit."""
    return torch.randint(0, 17, shape, generator=g) * (top / 16.0)


def recurrent_net(seed: int = 0) -> Network:
    g = torch.Generator().manual_seed(seed)
    net = Network()
    net.add_layer("X", Input(30))
    net.add_layer("E", AdaptiveLIF(20, trace=TraceParams(tau_ms=8.0)))
    net.add_layer("I", LIF(20, v_rest_mv=-60.0, v_reset_mv=-45.0, v_thresh_mv=-40.0, tau_mem_ms=10.0))
    net.add_layer("O", LIF(5))
    net.add_connection("X", "E", Dense(30, 20, w=dyadic((30, 20), 8.0, g), wmin=0.0, wmax=8.0))
    net.add_connection("E", "I", Dense(20, 20, w=22.5 * torch.eye(20)))
    net.add_connection("I", "E", Dense(20, 20, w=-5.0 * (1 - torch.eye(20))))
    net.add_connection("E", "O", Dense(20, 5, w=dyadic((20, 5), 10.0, g), wmin=0.0, wmax=10.0))
    return net


def test_connections_deliver_spikes_one_step_later():
    net = chain()
    x = torch.zeros(6, 1, 1, dtype=torch.bool)
    x[2] = True
    out = net.run({"X": x}, record=["Y.spikes"])
    assert out["Y.spikes"][:, 0, 0].nonzero().flatten().tolist() == [3]


def test_fast_path_equals_step_by_step_path():
    x = torch.rand(120, 3, 30, generator=torch.Generator().manual_seed(1)) < 0.2
    rec = ["E.spikes", "E.v", "E.theta", "E.trace", "I.spikes", "O.spikes", "O.v"]
    a = recurrent_net()
    b = recurrent_net()
    ra, rb = a.run({"X": x}, record=rec), b.run({"X": x}, record=rec, fast=False)
    assert a._groups() == [["X"], ["E", "I"], ["O"]]
    assert ra["O.spikes"].any() and ra["E.spikes"].any()
    for key in rec:
        assert torch.equal(ra[key], rb[key]), key


def test_t1_then_t2_steps_equal_t_steps():
    x = torch.rand(100, 2, 30, generator=torch.Generator().manual_seed(2)) < 0.2
    whole, split = recurrent_net(), recurrent_net()
    full = whole.run({"X": x}, record=["O.v", "E.spikes"])
    first = split.run({"X": x[:37]}, record=["O.v", "E.spikes"])
    second = split.run({"X": x[37:]}, record=["O.v", "E.spikes"])
    for key in full:
        assert torch.equal(full[key], torch.cat([first[key], second[key]])), key


def test_batch_rows_are_independent():
    x = torch.rand(80, 3, 30, generator=torch.Generator().manual_seed(3)) < 0.2
    batched = recurrent_net().run({"X": x}, record=["O.v"])["O.v"]
    for b in range(3):
        alone = recurrent_net().run({"X": x[:, b:b + 1]}, record=["O.v"])["O.v"]
        assert torch.equal(batched[:, b:b + 1], alone)


def test_reset_state_equals_fresh_state():
    net = recurrent_net()
    net.run({"X": torch.ones(20, 2, 30, dtype=torch.bool)})
    state = net.reset(2)
    fresh = recurrent_net().reset(2)
    for name in state.neurons:
        for got, want in zip(state.neurons[name], fresh.neurons[name]):
            assert torch.equal(got, want)
        assert not state.spikes[name].any()


def test_clamp_forces_spikes_and_silence_suppresses_them():
    net = chain()
    x = torch.ones(5, 1, 1, dtype=torch.bool)
    force = torch.zeros(5, 1, 1, dtype=torch.bool)
    force[0] = True
    out = net.run({"X": torch.zeros_like(x)}, clamp={"Y": force}, record=["Y.spikes"])
    assert out["Y.spikes"][:, 0, 0].tolist() == [True, False, False, False, False]
    net.reset(1)
    out = net.run({"X": x}, silence={"Y": torch.ones(1, 1, dtype=torch.bool)}, record=["Y.spikes"])
    assert not out["Y.spikes"].any()


def test_lif_membrane_follows_closed_form_inside_network():
    # X fires every step from t=0; Y receives w from t=1 on: v_t = v_inf + (v_rest - v_inf) d^(t)
    w, tau = 0.1, 100.0
    net = chain(weight=w)
    out = net.run({"X": torch.ones(50, 1, 1, dtype=torch.bool)}, record=["Y.v"])
    d = math.exp(-1.0 / tau)
    v_inf = -65.0 + w / (1 - d)
    expected = torch.tensor([-65.0] + [v_inf + (-65.0 - v_inf) * d ** t for t in range(1, 50)])
    torch.testing.assert_close(out["Y.v"][:, 0, 0], expected, rtol=0, atol=1e-4)


def test_learning_changes_weights_within_bounds_and_normalises():
    net = Network()
    net.add_layer("X", Input(10))
    net.add_layer("Y", LIF(4, v_thresh_mv=-64.0))
    net.add_connection("X", "Y", Dense(10, 4, wmin=0.0, wmax=1.0, norm=2.0), rule=PostPre(nu_pre=0.01, nu_post=0.05))
    before = net.connections["X->Y"].w.clone()
    net.run({"X": torch.rand(30, 2, 10) < 0.5}, learning=True)
    w = net.connections["X->Y"].w
    assert not torch.equal(w, before)
    assert w.min() >= 0 and w.max() <= 1.0 + 1e-6
    torch.testing.assert_close(w.sum(0), torch.full((4,), 2.0))


def test_monitor_collects_runs_in_order():
    net = chain()
    mon = net.add_monitor("m", Monitor(["Y.spikes", "Y.v"], capacity=10))
    x = torch.zeros(4, 1, 1, dtype=torch.bool)
    x[1] = True
    net.run({"X": x})
    net.run({"X": x})
    assert mon.get("Y.v").shape == (8, 1, 1)
    assert mon.get("Y.spikes")[:, 0, 0].nonzero().flatten().tolist() == [2, 6]
    with pytest.raises(RuntimeError, match="monitor is full"):
        net.run({"X": x})


@pytest.mark.parametrize("bad, message", [
    ({"Z": torch.zeros(3, 1, 1)}, "unknown layer 'Z'"),
    ({"X": torch.zeros(3, 1, 2)}, r"expected input for layer 'X' of shape \[T, B, 1\]"),
    ({"X": torch.zeros(3, 1)}, r"expected input for layer 'X'"),
])
def test_bad_inputs_raise_clear_errors(bad, message):
    with pytest.raises((ValueError, KeyError), match=message):
        chain().run(bad)


def test_mismatched_batch_and_missing_steps_raise():
    net = chain()
    net.run({"X": torch.zeros(3, 2, 1)})
    with pytest.raises(ValueError, match="batch size 3 but the network state has batch size 2"):
        net.run({"X": torch.zeros(3, 3, 1)})
    with pytest.raises(ValueError, match="number of steps"):
        net.run()
    with pytest.raises(ValueError, match="dt_ms must be a positive number"):
        Network(dt_ms=-1.0)
    with pytest.raises(ValueError, match="dt_ms=0.5 but the network has dt_ms=1.0"):
        net.add_layer("Z", LIF(1, dt_ms=0.5))
    with pytest.raises(ValueError, match="maps"):
        net.add_connection("X", "Y", Dense(2, 1))
    with pytest.raises(ValueError, match="reward must be finite"):
        net.run({"X": torch.zeros(3, 2, 1)}, learning=True, reward=float("nan"))
    with pytest.raises(ValueError, match="cannot record 'Y.w'"):
        net.run({"X": torch.zeros(3, 2, 1)}, record=["Y.w"])


def test_import_spikerl_stays_light():
    code = ("import sys, spikerl, spikerl.network, spikerl.checkpoint; "
            "print([m for m in ('gymnasium', 'cv2', 'matplotlib', 'tensorboard') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_reset_rows_resets_only_chosen_samples():
    x = torch.rand(40, 3, 30, generator=torch.Generator().manual_seed(5)) < 0.3
    net = recurrent_net()
    net.run({"X": x})
    before = net.state.neurons["O"].v.clone()
    net.reset_rows(torch.tensor([False, True, False]))
    after = net.state.neurons["O"].v
    assert torch.equal(after[[0, 2]], before[[0, 2]])
    assert torch.equal(after[1], torch.full_like(after[1], -65.0))
    assert not net.state.spikes["E"][1].any()
    with pytest.raises(ValueError, match=r"rows must be bool \[3\]"):
        net.reset_rows(torch.tensor([True]))


def test_learning_with_precomputed_input_currents_equals_step_by_step():
    def build():
        g = torch.Generator().manual_seed(7)
        net = Network()
        net.add_layer("X", Input(30))
        net.add_layer("H", LIF(20, tau_mem_ms=10.0))
        net.add_layer("O", LIF(6, tau_mem_ms=10.0))
        net.add_connection("X", "H", Dense(30, 20, w=dyadic((30, 20), 6.0, g), wmin=0.0, wmax=6.0))
        net.add_connection("H", "O", Dense(20, 6, wmin=0.0, wmax=8.0, generator=g), rule=PostPre(0.01, 0.05))
        return net
    x = torch.rand(60, 2, 30, generator=torch.Generator().manual_seed(8)) < 0.3
    a, b = build(), build()
    ra = a.run({"X": x}, learning=True, record=["O.v", "O.spikes"])
    rb = b.run({"X": x}, learning=True, record=["O.v", "O.spikes"], fast=False)
    # X->H's currents are exact (dyadic weights), and H->O is stepped the same way on both paths
    assert ra["O.spikes"].any()
    assert torch.equal(ra["O.v"], rb["O.v"])
    assert torch.equal(a.connections["H->O"].w, b.connections["H->O"].w)


def test_reward_free_eligibility_run_equals_step_by_step():
    from spikerl import MSTDPET

    def build():
        g = torch.Generator().manual_seed(9)
        net = Network()
        net.add_layer("X", Input(30))
        net.add_layer("O", LIF(6, tau_mem_ms=10.0))
        net.add_connection("X", "O", Dense(30, 6, wmin=0.0, wmax=4.0, generator=g),
                           rule=MSTDPET(lr=0.05, a_plus=1.0, a_minus=0.6, tau_e_ms=15.0))
        net.add_connection("O", "O", Dense(6, 6, w=-2.0 * (1 - torch.eye(6))))
        return net
    x = torch.rand(25, 3, 30, generator=torch.Generator().manual_seed(10)) < 0.4
    a, b = build(), build()
    for net, fast in ((a, True), (b, False)):
        net.run({"X": x[:12]}, learning=True, fast=fast)
        net.run({"X": x[12:]}, learning=True, fast=fast)
        net.apply_reward(torch.tensor([1.0, -0.5, 2.0]))
    ea, eb = a.state.rules["X->O"].eligibility, b.state.rules["X->O"].eligibility
    assert ea.abs().max() > 0
    torch.testing.assert_close(ea, eb, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.connections["X->O"].w, b.connections["X->O"].w, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.state.rules["X->O"].pre, b.state.rules["X->O"].pre, rtol=1e-6, atol=1e-6)
