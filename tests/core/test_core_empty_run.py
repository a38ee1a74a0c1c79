"""A run of T = 0 steps simulates nothing on every path: empty records, state, weights and monitors unchanged."""

from __future__ import annotations

import pytest
import torch

from spikerl import MSTDPET, AdaptiveLIF, Dense, Input, LIF, Network, PostPre, kernels
from spikerl.connections import Conv2d, LocallyConnected2d, MaxPool2d, OneToOne, Sparse
from spikerl.monitors import Monitor
from spikerl.neurons import IF, SRM0, CurrentLIF, Izhikevich, McCullochPitts, NeuronLayer

B = 2
RECORD = ["X.spikes", "Y.spikes", "Y.v", "Y.theta", "Z.spikes", "Z.v"]


def network(rule: str | None) -> Network:
    """X -> Y (plastic with ``rule``; Y alone is scanned on the fast path) -> Z with Z -> Z (a recurrent group)."""
    g = torch.Generator().manual_seed(0)
    rules = {None: None, "PostPre": PostPre(nu_pre=0.01, nu_post=0.05),
             "MSTDPET": MSTDPET(lr=0.05, a_plus=1.0, a_minus=0.6, tau_e_ms=15.0)}  # MSTDPET: accumulated at once
    net = Network()
    net.add_layer("X", Input(6))
    net.add_layer("Y", AdaptiveLIF(4, one_spike=False))
    net.add_layer("Z", LIF(3))
    net.add_connection("X", "Y", Dense(6, 4, wmin=0.0, wmax=20.0, norm=30.0, generator=g), rule=rules[rule])
    net.add_connection("Y", "Z", Dense(4, 3, w=torch.full((4, 3), 15.0)))
    net.add_connection("Z", "Z", Dense(3, 3, w=-2.0 * (1 - torch.eye(3))))
    net.add_monitor("m", Monitor(["Y.v"], capacity=100))
    return net


def snapshot(net: Network) -> dict[str, torch.Tensor]:
    state = net.state
    out = {f"param.{k}": v.clone() for k, v in net.state_dict().items() if v is not None}
    for name in net.layers:
        out.update({f"{name}.{f}": x.clone() for f, x in state.neurons[name]._asdict().items()})
        out[f"{name}.last_spikes"] = state.spikes[name].clone()
    for key, rule_state in state.rules.items():
        out.update({f"{key}.{f}": x.clone() for f, x in rule_state._asdict().items()})
    out["step"] = torch.tensor(state.step)
    out["monitor"] = net.monitors["m"].get("Y.v").clone()
    return out


@pytest.mark.parametrize("rule", [None, "PostPre", "MSTDPET"])
@pytest.mark.parametrize("learning", [False, True])
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("kernels_off", [False, True])
def test_zero_step_run_is_empty_and_changes_nothing(rule: str | None, learning: bool, fast: bool,
                                                     kernels_off: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernels_off:
        monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    x = torch.rand(30, B, 6, generator=torch.Generator().manual_seed(1)) < 0.5
    net, fresh = network(rule), network(rule)
    net.reset(B)
    net.run({"X": x[:10]}, learning=learning, fast=fast)  # a state that is not the initial one
    fresh.reset(B)
    fresh.run({"X": x[:10]}, learning=learning, fast=fast)
    before = snapshot(net)

    out = net.run({"X": x[:0]}, learning=learning, fast=fast, record=RECORD)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "X.spikes": (0, B, 6), "Y.spikes": (0, B, 4), "Y.v": (0, B, 4), "Y.theta": (0, B, 4),
        "Z.spikes": (0, B, 3), "Z.v": (0, B, 3)}
    assert out["Y.spikes"].dtype == torch.bool and out["Y.v"].dtype == torch.float32
    after = snapshot(net)
    assert after.keys() == before.keys()
    for key in before:
        assert torch.equal(after[key], before[key]), key

    # the next run continues as if the empty one had not happened
    again, reference = (n.run({"X": x[10:]}, learning=learning, fast=fast, record=RECORD) for n in (net, fresh))
    assert reference["Z.spikes"].any()
    for key in RECORD:
        assert torch.equal(again[key], reference[key]), key


@pytest.mark.parametrize("fast", [True, False])
def test_steps_zero_without_inputs(fast: bool) -> None:
    net = network(None)
    out = net.run(steps=0, record=["Y.v", "Z.spikes"], fast=fast)
    assert out["Y.v"].shape == (0, 1, 4) and out["Z.spikes"].shape == (0, 1, 3)
    assert net.state.step == 0 and net.monitors["m"].length == 0
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match=f"steps must be an int >= 0, got {bad!r}"):
            net.run(steps=bad)


LAYERS = {
    "LIF": lambda: LIF((2, 3)), "IF": lambda: IF((2, 3)), "AdaptiveLIF": lambda: AdaptiveLIF((2, 3)),
    "CurrentLIF": lambda: CurrentLIF((2, 3)), "Izhikevich": lambda: Izhikevich((2, 3)),
    "McCullochPitts": lambda: McCullochPitts((2, 3)),
    "SRM0": lambda: SRM0((2, 3), generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("kernels_off", [False, True])
def test_neuron_scan_of_zero_steps(name: str, kernels_off: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernels_off:
        monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    layer = LAYERS[name]()
    state = layer.initial_state(B)
    fields = tuple(layer.State._fields)
    spikes, final, recorded = layer.scan(torch.zeros(0, B, 2, 3), state, fields)
    assert spikes.shape == (0, B, 2, 3) and spikes.dtype == torch.bool
    assert all(recorded[f].shape == (0, B, 2, 3) for f in fields)
    for f in fields:
        assert torch.equal(getattr(final, f), getattr(state, f)), f
    assert torch.equal(NeuronLayer.scan(layer, torch.zeros(0, B, 2, 3), state)[0], spikes)


@pytest.mark.skipif(not kernels.available(), reason="no C compiler: the kernels are not built")
def test_propagate_kernel_on_zero_rows() -> None:
    w = torch.rand(5, 3)
    out = kernels.propagate(torch.zeros(0, 5, dtype=torch.bool), w)
    assert out.shape == (0, 3) and out.dtype == w.dtype


SOURCE = (2, 6, 6)
CONNECTIONS = {
    "dense": lambda: Dense(SOURCE, 4, bias=True), "conv": lambda: Conv2d(SOURCE, 3, 3, padding=1),
    "local": lambda: LocallyConnected2d(SOURCE, 2, 3, stride=1), "max_pool": lambda: MaxPool2d(SOURCE, 2),
    "one_to_one": lambda: OneToOne(SOURCE),
    "sparse": lambda: Sparse.random(SOURCE, 40, 0.3, generator=torch.Generator().manual_seed(1)),
}


@pytest.mark.parametrize("kind", list(CONNECTIONS))
@pytest.mark.parametrize("kernels_off", [False, True])
def test_connection_trains_of_zero_steps(kind: str, kernels_off: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernels_off:
        monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    conn = CONNECTIONS[kind]()
    out = conn.forward_many(torch.zeros(0, B, *SOURCE, dtype=torch.bool))
    assert out.shape == (0, B, *conn.target_shape) and out.dtype == conn.weight.dtype
