"""Contracts every neuron model keeps: module == pure step, batch rows independent, T1 + T2 == T1 + T2
steps, reset == fresh, scan == step loop, float64, no mutation of the caller's tensors, clear errors."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import torch

from spikerl import Network
from spikerl.neurons import (
    IF, LIF, SRM0, AdaptiveLIF, CurrentLIF, Izhikevich, McCullochPitts, NeuronLayer, adaptive_lif_step,
    current_lif_step, izhikevich_step, lif_step, mcculloch_pitts_step, srm0_step,
)

SHAPE = (2, 3)
B, T = 4, 60
SEED = 1234


def make_if(shape: Any, **kw: Any) -> IF:
    return IF(shape, **kw)


def make_srm0(shape: Any, seed: int = SEED, **kw: Any) -> SRM0:
    return SRM0(shape, generator=torch.Generator().manual_seed(seed), **kw)


@dataclass
class Case:
    """How to build, drive and purely step one neuron model."""

    name: str
    make: Callable[..., NeuronLayer]
    pure: Callable[[NeuronLayer], Callable]  # layer -> (current, state) -> (spikes, state)
    drive: float  # random currents are uniform in [0, drive): enough to make the model spike
    quiet: tuple[dict, float]  # (overrides, drive) under which the model never spikes
    rows_independent: Callable[[NeuronLayer], NeuronLayer] = lambda layer: layer
    stochastic: bool = False


CASES = [
    Case("LIF", LIF, lambda l: lambda c, s: lif_step(c, s, l.params, l.dt_ms), 3.0,
         ({"v_thresh_mv": 1e6}, 3.0)),
    Case("LIF-subtract", lambda shape, **kw: LIF(shape, reset="subtract", v_reset_mv=-60.0, **kw),
         lambda l: lambda c, s: lif_step(c, s, l.params, l.dt_ms), 3.0, ({"v_thresh_mv": 1e6}, 3.0)),
    Case("IF", make_if, lambda l: lambda c, s: lif_step(c, s, l.params, l.dt_ms), 3.0,
         ({"v_thresh_mv": 1e6}, 3.0)),
    # theta is shared by the batch while adapting, so rows are independent only in eval mode
    Case("AdaptiveLIF", lambda shape, **kw: AdaptiveLIF(shape, one_spike=False, **kw),
         lambda l: lambda c, s: adaptive_lif_step(c, s, l.params, l.dt_ms, adapt=l.training), 3.0,
         ({"v_thresh_mv": 1e6}, 3.0), rows_independent=lambda layer: layer.eval()),
    Case("AdaptiveLIF-one_spike", AdaptiveLIF,
         lambda l: lambda c, s: adaptive_lif_step(c, s, l.params, l.dt_ms, adapt=l.training), 3.0,
         ({"v_thresh_mv": 1e6}, 3.0), rows_independent=lambda layer: layer.eval()),
    Case("CurrentLIF", CurrentLIF, lambda l: lambda c, s: current_lif_step(c, s, l.params, l.dt_ms), 2.0,
         ({"v_thresh_mv": 1e6}, 2.0)),
    Case("Izhikevich-RS", Izhikevich.regular_spiking,
         lambda l: lambda c, s: izhikevich_step(c, s, l.params, l.dt_ms), 25.0, ({}, 1.0)),
    Case("Izhikevich-FS", Izhikevich.fast_spiking,
         lambda l: lambda c, s: izhikevich_step(c, s, l.params, l.dt_ms), 25.0, ({}, 1.0)),
    Case("McCullochPitts", McCullochPitts, lambda l: lambda c, s: mcculloch_pitts_step(c, s, l.params, l.dt_ms),
         2.0, ({}, 0.9)),
    # with a tiny threshold width the escape probability is 0 or 1: deterministic, rows independent
    Case("SRM0", make_srm0,
         lambda l: (lambda g: lambda c, s: srm0_step(c, s, l.params, l.dt_ms, g))(
             torch.Generator().manual_seed(SEED)),
         6.0, ({"v_thresh_mv": 1e6}, 6.0), stochastic=True,
         rows_independent=lambda layer: make_srm0(layer.shape, delta_u_mv=1e-4)),
]
IDS = [c.name for c in CASES]


def currents(drive: float, steps: int = T, batch: int = B, shape: tuple[int, ...] = SHAPE, seed: int = 0,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (drive * torch.rand(steps, batch, *shape, generator=g, dtype=torch.float64)).to(dtype)


def loop(layer: NeuronLayer, cur: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any, dict[str, torch.Tensor]]:
    """Reference: call the module step by step, keeping every state field."""
    spikes, fields = [], {f: [] for f in layer.State._fields}
    for t in range(cur.shape[0]):
        s, state = layer(cur[t], state)
        spikes.append(s)
        for f in fields:
            fields[f].append(getattr(state, f).expand(cur.shape[1], *layer.shape))
    return torch.stack(spikes), state, {f: torch.stack(v) for f, v in fields.items()}


def assert_states_equal(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    for name, x, y in zip(a._fields, a, b):
        assert x.dtype == y.dtype, name
        assert torch.equal(x, y), f"state field {name} differs"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_drive_makes_the_model_spike(case: Case) -> None:
    """Precondition for the other tests: the random drive produces spikes, but not at every step."""
    layer = case.make(SHAPE)
    spikes, _, _ = layer.scan(currents(case.drive), layer.initial_state(B))
    assert 0 < spikes.float().mean() < 1


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_module_equals_pure_step_function(case: Case) -> None:
    layer = case.make(SHAPE)
    step = case.pure(layer)
    cur = currents(case.drive)
    s_mod, s_fun = layer.initial_state(B), layer.initial_state(B)
    for t in range(T):
        spk_mod, s_mod = layer(cur[t], s_mod)
        spk_fun, s_fun = step(cur[t], s_fun)
        assert spk_mod.dtype == torch.bool and spk_mod.shape == (B, *SHAPE)
        assert torch.equal(spk_mod, spk_fun)
        assert_states_equal(s_mod, s_fun)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_batch_rows_are_independent(case: Case) -> None:
    cur = currents(case.drive)
    layer = case.rows_independent(case.make(SHAPE))
    spikes, final, fields = loop(layer, cur, layer.initial_state(B))
    for b in range(B):
        row = case.rows_independent(case.make(SHAPE))
        spikes_b, final_b, fields_b = loop(row, cur[:, b:b + 1], row.initial_state(1))
        assert torch.equal(spikes[:, b:b + 1], spikes_b)
        for f in fields:
            assert torch.equal(fields[f][:, b:b + 1], fields_b[f]), f
    assert spikes.any()


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("t1", [1, 23])
def test_running_t1_then_t2_steps_equals_t1_plus_t2(case: Case, t1: int) -> None:
    cur = currents(case.drive)
    whole = case.make(SHAPE)
    spikes, final, rec = whole.scan(cur, whole.initial_state(B), record=whole.State._fields)
    split = case.make(SHAPE)
    spikes1, mid, rec1 = split.scan(cur[:t1], split.initial_state(B), record=split.State._fields)
    spikes2, end, rec2 = split.scan(cur[t1:], mid, record=split.State._fields)
    assert torch.equal(spikes, torch.cat([spikes1, spikes2]))
    assert_states_equal(final, end)
    for f in rec:
        assert torch.equal(rec[f], torch.cat([rec1[f], rec2[f]]))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_initial_state_after_a_run_equals_a_fresh_one(case: Case) -> None:
    fresh = case.make(SHAPE).initial_state(B)
    layer = case.make(SHAPE)
    _, state, _ = layer.scan(currents(case.drive), layer.initial_state(B))
    layer.end_run(state, learning=False)
    assert_states_equal(layer.initial_state(B), fresh)
    # the same through the network: reset after a run gives the fresh state
    net = Network()
    net.add_layer("Y", case.make(SHAPE))
    net.add_layer("Z", case.make(SHAPE))
    net.reset(B)
    expected = net.state.neurons["Y"]
    net.run({"Y": currents(case.drive)})
    assert net.state.step == T
    net.reset(B)
    assert_states_equal(net.state.neurons["Y"], expected)
    assert net.state.step == 0 and not net.state.spikes["Y"].any()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scan_equals_step_loop_including_recorded_fields(case: Case) -> None:
    cur = currents(case.drive)
    a, b = case.make(SHAPE), case.make(SHAPE)
    spikes, final, rec = a.scan(cur, a.initial_state(B), record=a.State._fields)
    spikes_ref, final_ref, rec_ref = loop(b, cur, b.initial_state(B))
    assert torch.equal(spikes, spikes_ref)
    assert_states_equal(final, final_ref)
    assert set(rec) == set(a.State._fields)
    for f in rec:
        assert torch.equal(rec[f], rec_ref[f]), f


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_to_float64(case: Case) -> None:
    layer64 = case.make(SHAPE).to(torch.float64)
    layer32 = case.make(SHAPE)
    assert layer64.dtype == torch.float64
    s64, s32 = layer64.initial_state(B), layer32.initial_state(B)
    assert all(x.dtype == torch.float64 for x in s64)
    cur = currents(case.drive, steps=5, dtype=torch.float64)
    for t in range(5):
        spk64, s64 = layer64(cur[t], s64)
        spk32, s32 = layer32(cur[t].float(), s32)
        assert spk64.dtype == torch.bool
        assert all(x.dtype == torch.float64 for x in s64)
        if not case.stochastic:  # the float64 draws differ from the float32 ones
            assert torch.equal(spk64, spk32)
            for x, y in zip(s64, s32):
                torch.testing.assert_close(x.float(), y, rtol=0, atol=1e-3)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_step_does_not_modify_its_arguments(case: Case) -> None:
    layer = case.make(SHAPE)
    state = layer.initial_state(B)
    _, state, _ = layer.scan(currents(case.drive, steps=10), state)
    cur = currents(case.drive, steps=1, seed=5)[0]
    before = (cur.clone(), [x.clone() for x in state])
    layer(cur, state)
    assert torch.equal(cur, before[0])
    assert all(torch.equal(x, y) for x, y in zip(state, before[1]))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_neuron_that_never_spikes_is_unaffected_by_its_refractory_setting(case: Case) -> None:
    overrides, drive = case.quiet
    cur = currents(drive, steps=100)
    runs = []
    for refractory_ms in (0.0, 5.0):
        layer = case.make(SHAPE, refractory_ms=refractory_ms, **overrides)
        runs.append(layer.scan(cur, layer.initial_state(B), record=("v",)))
    (spikes0, _, rec0), (spikes5, _, rec5) = runs
    assert not spikes0.any() and not spikes5.any()
    assert torch.equal(rec0["v"], rec5["v"])
    assert not torch.equal(rec0["v"][0], rec0["v"][-1])  # the membrane did move


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_is_json_serialisable(case: Case) -> None:
    layer = case.make(SHAPE, dt_ms=0.5)
    cfg = json.loads(json.dumps(layer.config()))
    assert cfg["shape"] == list(SHAPE) and cfg["dt_ms"] == 0.5
    assert cfg["params"]["refractory_ms"] == layer.params.refractory_ms


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_input_raises_clear_errors(case: Case) -> None:
    layer = case.make(SHAPE)
    state = layer.initial_state(B)
    with pytest.raises(ValueError, match=r"expected current of shape \[B, 2, 3\], got \[4, 3, 2\]"):
        layer(torch.zeros(B, 3, 2), state)
    with pytest.raises(ValueError, match=r"expected current of shape \[B, 2, 3\], got \[2, 3\]"):
        layer(torch.zeros(2, 3), state)
    with pytest.raises(TypeError, match="current must be a torch.Tensor, got list"):
        layer([[0.0] * 3] * 2, state)
    for dt in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="dt_ms must be a positive number"):
            case.make(SHAPE, dt_ms=dt)
    with pytest.raises(ValueError, match="refractory_ms must be >= 0|refractory_ms and theta_plus_mv must be >= 0"):
        case.make(SHAPE, refractory_ms=-1.0)
    for bad in (0, -2, 2.0, None):
        with pytest.raises(ValueError, match=f"batch_size must be a positive int, got {bad!r}"):
            layer.initial_state(bad)
    with pytest.raises(ValueError, match="layer shape must be a positive int or a tuple of positive ints"):
        case.make((2, 0))
    with pytest.raises(TypeError, match="unexpected keyword argument 'tau_ms'"):
        case.make(SHAPE, tau_ms=3.0)
