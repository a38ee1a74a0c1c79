"""The network's group backends: the step loop of recurrent or plastic groups in Python (``"torch"``) or fused
by ``torch.compile`` in chunks (``"compiled"``).

The compiled backend compiles the Python loop itself (``Network._step_loop``), so what must hold is that the
chunking is exact: with the compiler replaced by the loop itself, the same trains, records, final state, weights
and rule state as one loop over all steps. The comparison with the real compiler takes minutes on a busy 2-core
CPU and is marked slow.
"""

from __future__ import annotations

import pytest
import torch

from spikerl import Network
from spikerl.kernels import BackendUnavailable
from spikerl.kernels.compiled import chunk_lengths, unavailable_reason
from spikerl.models import DiehlAndCook2015

B = 4


def model(backend: str = "torch") -> DiehlAndCook2015:
    return DiehlAndCook2015(n_neurons=12, group_backend=backend, generator=torch.Generator().manual_seed(1))


def pair_run(net: DiehlAndCook2015, steps: int) -> tuple[dict[str, torch.Tensor], object]:
    """The recurrent pair driven by a strong random current into Ae, recording spikes, v and theta."""
    current = 40.0 * torch.rand(steps, B, net.n_neurons, generator=torch.Generator().manual_seed(steps))
    pair = net.recurrent_pair()
    return pair.run({"Ae": current}, state=pair.initial_state(B), record=["Ae.spikes", "Ae.v", "Ai.spikes", "Ai.v"])


def online_run(net: DiehlAndCook2015, steps: int) -> dict[str, torch.Tensor]:
    """The whole network learning online (STDP and adaptive thresholds at every step) on dense input spikes."""
    spikes = torch.rand(steps, 1, 784, generator=torch.Generator().manual_seed(steps)) < 0.2
    net.reset(1)
    return net.run({"X": spikes}, learning=True, record=["Ae.spikes", "Ae.v", "Ae.theta", "Ai.v"])


def assert_same_state(a, b) -> None:
    assert a.step == b.step and a.neurons.keys() == b.neurons.keys()
    for name in a.neurons:
        assert all(torch.equal(x, y) for x, y in zip(a.neurons[name], b.neurons[name])), name
        assert torch.equal(a.spikes[name], b.spikes[name]), name
    for part in ("traces", "rules"):
        for key, value in getattr(a, part).items():
            other = getattr(b, part)[key]
            pairs = zip(value, other) if isinstance(value, tuple) else [(value, other)]
            assert all(torch.equal(x, y) for x, y in pairs), (part, key)


def test_group_backend_must_be_known() -> None:
    with pytest.raises(ValueError, match=r"group_backend must be one of \('torch', 'compiled'\), got 'fast'"):
        Network(group_backend="fast")


def test_compiled_group_backend_says_why_it_cannot_serve(monkeypatch) -> None:
    monkeypatch.setenv("SPIKERL_NO_COMPILE", "1")
    with pytest.raises(BackendUnavailable, match=r"the 'compiled' backend cannot serve this call: "
                                                 r"SPIKERL_NO_COMPILE=1 turns torch.compile off"):
        pair_run(model("compiled"), 12)


@pytest.fixture
def loop_as_compiler(monkeypatch) -> list[int]:
    """Replace the compiler by the function itself; returns the lengths of the chunks it was given."""
    seen: list[int] = []

    def counting(fn, device):
        def run(net, state, names, inputs, external, steps, *args):
            seen.append(steps)
            return fn(net, state, names, inputs, external, steps, *args)
        return run

    monkeypatch.setattr("spikerl.network.compiled", counting)
    return seen


@pytest.mark.parametrize("steps", [5, 8, 45, 77])
def test_chunked_recurrent_pair_equals_one_loop(loop_as_compiler: list[int], steps: int) -> None:
    ref, ref_state = pair_run(model("torch"), steps)
    got, got_state = pair_run(model("compiled"), steps)
    assert 0 < ref["Ae.spikes"].float().mean() < 1 and ref["Ai.spikes"].any()
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    assert_same_state(ref_state, got_state)
    assert loop_as_compiler == chunk_lengths(steps)[0] and all(n >= 8 for n in loop_as_compiler)


@pytest.mark.parametrize("steps", [5, 45])
def test_chunked_online_learning_equals_one_loop(loop_as_compiler: list[int], steps: int) -> None:
    """Plasticity at every step (weights change inside the chunks) and adaptive thresholds carry over."""
    ref_net, got_net = model("torch"), model("compiled")
    ref, got = online_run(ref_net, steps), online_run(got_net, steps)
    assert ref["Ae.spikes"].any() and not torch.equal(ref_net.input_weights, model().input_weights)
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    assert torch.equal(ref_net.input_weights, got_net.input_weights) and torch.equal(ref_net.theta, got_net.theta)
    assert_same_state(ref_net.state, got_net.state)
    assert loop_as_compiler == chunk_lengths(steps)[0]


def test_diehl_cook_learns_with_a_compiled_pair_as_with_the_loop(loop_as_compiler: list[int]) -> None:
    """Batched learning (frozen pair, then the summed update) on the torch path: the same spikes and thresholds,
    and the same weights up to the summed update's float32 rounding (its sums may split between threads in
    another order from one call to the next, with or without the compiled pair)."""
    images = torch.randint(0, 256, (B, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    nets = model(), model("compiled")
    posts = [net.learn_batched(net.encode(images, 255.0, generator=torch.Generator().manual_seed(3)), fused=False)
             for net in nets]
    assert posts[0].any() and torch.equal(posts[0], posts[1]) and torch.equal(nets[0].theta, nets[1].theta)
    torch.testing.assert_close(nets[1].input_weights, nets[0].input_weights, rtol=0, atol=1e-6)
    assert (nets[0].input_weights - model().input_weights).abs().max() > 1e-3
    assert loop_as_compiler and set(loop_as_compiler) <= {32, 16, 8}


def test_diehl_cook_keeps_one_pair_outside_its_state_dict() -> None:
    net = model()
    keys = set(net.state_dict())
    pair = net.recurrent_pair()
    assert net.recurrent_pair() is pair and set(net.state_dict()) == keys
    assert pair.layers["Ae"] is net.layers["Ae"] and pair.connections["Ai->Ae"] is net.connections["Ai->Ae"]
    assert pair.group_backend == "torch"
    net.group_backend = "compiled"
    assert net.recurrent_pair().group_backend == "compiled"
    with pytest.raises(ValueError, match=r"group_backend must be one of \('torch', 'compiled'\), got 'c'"):
        DiehlAndCook2015(n_neurons=4, group_backend="c")


def agreeing_steps(ref: dict[str, torch.Tensor], net: DiehlAndCook2015) -> int:
    """Steps before the first one where a reference membrane comes within 1e-3 mV of its threshold, where a
    different rounding (Inductor may fuse a multiply and an add into one) could flip a spike."""
    thresholds = {"Ae": net.layers["Ae"].params.v_thresh_mv + net.theta, "Ai": net.layers["Ai"].params.v_thresh_mv}
    steps = ref["Ae.spikes"].shape[0]
    near = torch.zeros(steps, dtype=torch.bool)
    for layer, threshold in thresholds.items():
        if f"{layer}.v" in ref:
            near |= ((ref[f"{layer}.v"] - threshold).abs() < 1e-3).flatten(1).any(1)
    return int(near.nonzero()[0]) if near.any() else steps


def assert_agree(ref: dict[str, torch.Tensor], got: dict[str, torch.Tensor], until: int) -> None:
    for key in ref:
        if key.endswith("spikes"):
            assert torch.equal(ref[key][:until], got[key][:until]), key
        else:
            torch.testing.assert_close(got[key][:until], ref[key][:until], rtol=0, atol=1e-3)


compiler = pytest.mark.skipif(unavailable_reason(torch.device("cpu")) is not None,
                              reason=f"torch.compile unavailable: {unavailable_reason(torch.device('cpu'))}")


@pytest.mark.slow
@compiler
def test_compiled_recurrent_pair_equals_the_step_loop() -> None:
    """The real compiler (a chunk of 32 and one of 8, then a tail of 5 steps), compared up to the first step
    where rounding could flip a spike (:func:`agreeing_steps`); that must leave a compiled chunk."""
    steps = 45
    ref, ref_state = pair_run(model("torch"), steps)
    got, got_state = pair_run(model("compiled"), steps)
    until = agreeing_steps(ref, model())
    assert until >= 8
    assert_agree(ref, got, until)
    if until == steps:
        assert all(torch.equal(ref_state.spikes[n], got_state.spikes[n]) for n in ref_state.spikes)


@pytest.mark.slow
@compiler
def test_compiled_online_learning_equals_the_step_loop() -> None:
    """Weights that change inside a compiled chunk of 16 steps: the same spikes, membranes and thresholds, and
    weights within float32 rounding, where no membrane came near its threshold."""
    steps = 16
    ref_net, got_net = model("torch"), model("compiled")
    ref = online_run(ref_net, steps)
    got = online_run(got_net, steps)
    until = agreeing_steps(ref, ref_net)
    assert ref["Ae.spikes"].any() and until >= 8
    assert_agree(ref, got, until)
    if until == steps:
        torch.testing.assert_close(got_net.input_weights, ref_net.input_weights, rtol=0, atol=1e-6)
