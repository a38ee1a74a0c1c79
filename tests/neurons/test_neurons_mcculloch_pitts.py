"""McCulloch-Pitts units: truth tables, no memory, optional refractory period."""

from __future__ import annotations

import itertools

import pytest
import torch

from spikerl.neurons import McCullochPitts

INPUTS = torch.tensor(list(itertools.product([0.0, 1.0], repeat=2)))  # [4, 2]: (x1, x2) rows


@pytest.mark.parametrize("v_thresh_mv, gate", [
    (2.0, lambda a, b: a and b),        # AND
    (1.0, lambda a, b: a or b),         # OR
    (0.5, lambda a, b: a or b),         # OR with a non-integer threshold
    (3.0, lambda a, b: False),          # never
])
def test_truth_table(v_thresh_mv: float, gate) -> None:
    layer = McCullochPitts(1, v_thresh_mv=v_thresh_mv)
    current = INPUTS.sum(1, keepdim=True)  # unit weights
    spikes, state = layer(current, layer.initial_state(4))
    expected = [[bool(gate(bool(a), bool(b)))] for a, b in INPUTS.tolist()]
    assert spikes.tolist() == expected
    assert torch.equal(state.v, current)


def test_not_gate_with_an_inhibitory_weight_and_bias() -> None:
    layer = McCullochPitts(1, v_thresh_mv=0.0)
    x = torch.tensor([[0.0], [1.0]])
    spikes, _ = layer(-1.0 * x + 0.5, layer.initial_state(2))
    assert spikes.tolist() == [[True], [False]]


def test_memoryless_and_threshold_inclusive() -> None:
    layer = McCullochPitts(3, v_thresh_mv=1.0)
    cur = torch.tensor([[5.0, 1.0, 0.999], [0.0, 1.0, 1.0], [0.999, 0.0, 2.0]]).reshape(3, 1, 3)
    spikes, _, rec = layer.scan(cur, layer.initial_state(1), record=("v",))
    assert torch.equal(spikes, cur >= 1.0)
    assert torch.equal(rec["v"], cur)


def test_refractory_silences_and_ignores_input() -> None:
    R = 2
    layer = McCullochPitts(1, refractory_ms=float(R))
    cur = torch.full((10, 1, 1), 3.0)
    spikes, _, rec = layer.scan(cur, layer.initial_state(1), record=("v", "refractory"))
    times = torch.nonzero(spikes[:, 0, 0]).flatten().tolist()
    assert times == list(range(0, 10, R + 1))
    refractory_steps = [t for t in range(10) if t not in times]
    assert (rec["v"][refractory_steps] == 0).all()
    assert (rec["v"][times] == 3.0).all()


def test_refractory_blocks_firing_even_with_a_non_positive_threshold() -> None:
    layer = McCullochPitts(1, v_thresh_mv=-1.0, refractory_ms=1.0)
    spikes, _, _ = layer.scan(torch.zeros(6, 1, 1), layer.initial_state(1))
    assert spikes[:, 0, 0].tolist() == [True, False] * 3
