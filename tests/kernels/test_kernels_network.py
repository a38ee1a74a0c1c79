"""The network's fast path (event-driven currents + fused scan) equals its step-by-step path on the benchmark
network (Poisson -> Dense -> LIF) and with adaptive neurons.

The two paths sum the same weights in different orders (the fast path adds the weight rows of the active
inputs in ascending order, for all steps at once; the step loop takes one dense ``[1, n] @ [n, m]`` product
per step, whose order the BLAS library picks per CPU), so the currents may differ in the last bits. The
spikes must be identical, except where a membrane lies within that rounding of its threshold (then a
neuron may legitimately fire on one path only, and is compared up to there); membranes agree within the
float32 bound of ``tests/conftest.py``.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from spikerl import AdaptiveLIF, Dense, Input, LIF, Network, kernels
from spikerl.encoding.poisson import poisson
from spikerl.neurons import phases

SEED = 0  # of the weights; the input trains use SEED + 1


def benchmark_network(n: int, layer: torch.nn.Module, seed: int) -> Network:
    net = Network()
    net.add_layer("X", Input(n))
    net.add_layer("Y", layer)
    weights = Dense(n, layer.n, wmin=0.0, wmax=1.0, generator=torch.Generator().manual_seed(seed))
    net.add_connection("X", "Y", weights)
    return net


def membranes_before_firing(layer: torch.nn.Module, currents: torch.Tensor, v: torch.Tensor,
                            refractory: torch.Tensor) -> torch.Tensor:
    """``v [T, B, n]`` before the threshold test of every step, by the layer's own step function.

    ``v``, ``refractory``: the state after every step (the state before step 0 is the initial one). A copy of
    the layer with an unreachable threshold takes each recorded state one step further, all steps at once.
    """
    # 1e30 mV: out of reach of any membrane here (neuron parameters must be finite)
    probe = type(layer)(layer.shape, params=dataclasses.replace(layer.params, v_thresh_mv=1e30)).eval()
    start = layer.initial_state(currents.shape[1])
    before = [torch.cat([getattr(start, f).unsqueeze(0), x[:-1]]) for f, x in (("v", v), ("refractory", refractory))]
    state = probe.initial_state(currents.shape[0] * currents.shape[1])
    state = state._replace(v=before[0].flatten(0, 1), refractory=before[1].flatten(0, 1))
    return probe.step(currents.flatten(0, 1), state)[1].v.reshape(currents.shape)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("make", [LIF, lambda n: AdaptiveLIF(n, one_spike=False), AdaptiveLIF],
                         ids=["LIF", "AdaptiveLIF", "AdaptiveLIF-one_spike"])
@pytest.mark.parametrize("kernels_off", [False, True])
def test_fast_run_equals_step_by_step(make, kernels_off: bool, monkeypatch: pytest.MonkeyPatch,
                                      float_bounds) -> None:
    if kernels_off:
        monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    elif not kernels.available():
        pytest.skip("no C compiler: the kernels are not built")
    n, steps = 150, 200
    net = benchmark_network(n, make(n), seed=SEED)
    x = poisson(torch.full((1, n), 40.0), steps, generator=torch.Generator().manual_seed(SEED + 1))
    record = ["Y.spikes", "Y.v", "Y.refractory"]
    runs = []
    for fast in (True, False):
        net.reset(1)
        first = net.run({"X": x[:120]}, record=record, fast=fast)
        second = net.run({"X": x[120:]}, record=record, fast=fast)  # state carries over between runs
        runs.append({k: torch.cat([first[k], second[k]]) for k in record})
    fast_run, slow_run = runs
    assert 0 < int(fast_run["Y.spikes"].sum()) < fast_run["Y.spikes"].numel()

    # the step loop's membranes before each threshold test, from its own currents (one step of delay)
    layer, w = net.layer("Y"), net.connections["X->Y"].w
    shifted = torch.cat([torch.zeros_like(x[:1]), x[:-1]])
    step_currents = torch.stack([net.connections["X->Y"](s) for s in shifted])
    v, p = slow_run["Y.v"], layer.params
    v_pre = membranes_before_firing(layer, step_currents, v, slow_run["Y.refractory"])

    # the bound on the membranes: both paths' currents are sums of the same weights; the rounded operations
    # of a step are v - v_rest, times decay, + v_rest, + current
    above_rest = float((v - p.v_rest_mv).abs().max())
    v_max = max(float(v.abs().max()), float(v_pre.abs().max()), abs(p.v_rest_mv))
    tol = float_bounds.leaky_state_tolerance(float_bounds.matmul_tolerance(shifted, w, w.dtype), slow_run["Y.spikes"],
                                             phases.decay_factor(p.tau_mem_ms, layer.dt_ms),
                                             (above_rest, above_rest, v_max, v_max), w.dtype)

    # the spikes agree (any flip only where a membrane lies within rounding of its threshold), then the states
    threshold = p.v_thresh_mv + getattr(layer.initial_state(1), "theta", torch.zeros(()))
    same = float_bounds.same_spikes_until_rounding_flip(fast_run["Y.spikes"], slow_run["Y.spikes"], v_pre, threshold,
                                                        tol, one_spike=getattr(p, "one_spike", False))
    assert torch.equal(fast_run["Y.refractory"][same], slow_run["Y.refractory"][same])  # counters follow spikes
    assert bool(((fast_run["Y.v"].double() - v.double()).abs() <= tol)[same].all())
