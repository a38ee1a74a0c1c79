"""Every neuron model in a Network (Input -> Dense -> layer): the grouped fast path equals the step loop."""

from __future__ import annotations

from typing import Callable

import pytest
import torch

from spikerl import Dense, Input, Network, TraceParams
from spikerl.neurons import (
    IF, LIF, SRM0, AdaptiveLIF, CurrentLIF, Izhikevich, McCullochPitts, NeuronLayer,
)

N_IN, SHAPE, B, T = 8, (2, 3), 3, 80
TRACE = TraceParams(tau_ms=10.0)

# (layer factory, weight step): weights are small integers times a power-of-two step, so every current
# sum is exact in floating point and the two paths can be compared bit for bit.
MODELS: dict[str, tuple[Callable[[], NeuronLayer], float]] = {
    "LIF": (lambda: LIF(SHAPE, trace=TRACE), 0.5),
    "IF": (lambda: IF(SHAPE, trace=TRACE), 0.5),
    "AdaptiveLIF": (lambda: AdaptiveLIF(SHAPE, trace=TRACE), 0.5),
    "CurrentLIF": (lambda: CurrentLIF(SHAPE, trace=TRACE), 0.25),
    "Izhikevich": (lambda: Izhikevich.fast_spiking(SHAPE, trace=TRACE), 2.0),
    "McCullochPitts": (lambda: McCullochPitts(SHAPE, trace=TRACE), 0.5),
    "SRM0": (lambda: SRM0(SHAPE, trace=TRACE, generator=torch.Generator().manual_seed(5)), 0.5),
}


def build(name: str) -> Network:
    make, step = MODELS[name]
    layer = make()
    w = torch.randint(0, 5, (N_IN, 6), generator=torch.Generator().manual_seed(1)).float() * step
    net = Network()
    net.add_layer("X", Input(N_IN))
    net.add_layer("Y", layer)
    net.add_connection("X", "Y", Dense(N_IN, SHAPE, w=w))
    return net


@pytest.mark.parametrize("name", list(MODELS))
def test_fast_and_step_by_step_runs_agree(name: str) -> None:
    g = torch.Generator().manual_seed(0)
    trains = [torch.rand(T, B, N_IN, generator=g) < 0.3 for _ in range(2)]
    fast, slow = build(name), build(name)
    fields = [f"Y.{f}" for f in fast.layer("Y").State._fields]
    record = ["Y.spikes", "Y.trace", *fields]
    for x in trains:  # two runs in a row: state, last spikes and traces are carried between runs
        out_fast = fast.run({"X": x}, record=record, fast=True)
        out_slow = slow.run({"X": x}, record=record, fast=False)
        for key in record:
            assert torch.equal(out_fast[key], out_slow[key]), key
        assert out_fast["Y.spikes"].any() and not out_fast["Y.spikes"].all()
    for a, b in zip(fast.state.neurons["Y"], slow.state.neurons["Y"]):
        assert torch.equal(a, b)
    assert torch.equal(fast.state.traces["Y"], slow.state.traces["Y"])
