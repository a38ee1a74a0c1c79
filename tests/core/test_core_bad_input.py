"""No silent NaN: every boundary of the engine refuses NaN and infinite values with an error that names them.

Covers :mod:`spikerl.validation`, neuron and trace parameters, weights (initial, ``set_weights``,
``load_state_dict``), learning-rule rates and ``Network.run`` inputs (Input layers take only 0/1 spikes).
"""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest
import torch

from spikerl import (
    LIF, MSTDP, MSTDPET, SRM0, AdaptiveLIF, CurrentLIF, Dense, Hebbian, Input, Izhikevich, McCullochPitts, Network,
    OneToOne, PostPre, Sparse, TraceParams, WeightDependentPostPre,
)
from spikerl.models import DiehlAndCookParams
from spikerl.validation import check_device, check_finite, check_number, number_flag

NAN, INF = float("nan"), float("inf")
PARAMS = [type(layer(3).params) for layer in (LIF, AdaptiveLIF, CurrentLIF, Izhikevich, McCullochPitts, SRM0)]


# --- spikerl.validation -----------------------------------------------------------------------------------
def test_check_finite_names_the_parameter_the_count_and_the_first_bad_value():
    x = torch.tensor([[0.0, 1.0], [NAN, INF]])
    with pytest.raises(ValueError, match=r"currents must be finite, found 2 NaN or infinite value\(s\) among 4 "
                                         r"\(first: nan at index \[1, 0\]\)"):
        check_finite("currents", x)
    with pytest.raises(ValueError, match="lr must be a finite number, got inf"):
        check_finite("lr", INF)
    with pytest.raises(TypeError, match="lr must be a real number"):
        check_finite("lr", "0.1")
    check_finite("ok", torch.tensor([0.0, -1e30]))
    check_finite("large", torch.full((4,), 3e38))  # finite values whose float32 sum overflows to inf
    check_finite("ints", torch.tensor([1, 2]))  # integer tensors cannot hold NaN


@pytest.mark.parametrize("value, low, high, low_open, message", [
    (NAN, 0.0, 1.0, False, r"in \[0, 1\], got nan"),
    (2.0, 0.0, 1.0, False, r"in \[0, 1\], got 2.0"),
    (0.0, 0.0, math.inf, True, r"> 0, got 0.0"),
    (-1.0, 0.0, math.inf, False, r">= 0, got -1.0"),
    (INF, -math.inf, math.inf, False, r"x must be a finite number, got inf"),
])
def test_check_number_says_what_range_was_expected(value, low, high, low_open, message):
    with pytest.raises(ValueError, match=message):
        check_number("x", value, low, high, low_open)


def test_number_flag_turns_bad_values_into_usage_errors():
    epsilon, positive = number_flag(0, 1), number_flag(1, integer=True)
    assert epsilon("0.25") == 0.25 and positive("3") == 3 and isinstance(positive("3"), int)
    for parse, text, message in ((epsilon, "2", r"in \[0, 1\], got 2"), (epsilon, "nan", "got nan"),
                                 (positive, "0", "an integer >= 1, got 0"), (positive, "1.5", "expected an integer")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_check_device_refuses_cuda_without_cuda():
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"torch.cuda.is_available\(\) is False"):
        check_device("cuda")
    with pytest.raises(ValueError, match="invalid device 'gpu0'"):
        check_device("gpu0")


# --- neuron, trace and model parameters ------------------------------------------------------------------
@pytest.mark.parametrize("params_cls", PARAMS, ids=lambda c: c.__name__)
def test_every_numeric_neuron_parameter_refuses_nan(params_cls):
    numeric = [f.name for f in dataclasses.fields(params_cls)
               if isinstance(getattr(params_cls(), f.name), float) or f.name == "v_min_mv"]
    assert numeric
    for name in numeric:
        with pytest.raises(ValueError, match=f"{params_cls.__name__}.{name} must be a finite number, got nan"):
            params_cls(**{name: NAN})


@pytest.mark.parametrize("field", ["v_thresh_mv", "v_rest_mv", "v_reset_mv", "refractory_ms", "v_min_mv"])
def test_lif_voltages_and_refractory_period_refuse_infinity(field):
    with pytest.raises(ValueError, match=f"LIFParams.{field} must be a finite number"):
        LIF(3, **{field: INF if field != "v_min_mv" else -INF})


def test_infinite_time_constants_stay_allowed_where_documented():
    assert LIF(3, tau_mem_ms=INF).params.tau_mem_ms == INF                     # IF neuron
    assert AdaptiveLIF(3, tau_theta_ms=INF).params.tau_theta_ms == INF         # threshold that never decays


def test_trace_scale_refuses_nan():
    with pytest.raises(ValueError, match="trace scale must be a finite number"):
        TraceParams(scale=NAN)


def test_diehl_cook_parameters_refuse_nan_and_warn_when_boosted_rates_saturate():
    with pytest.raises(ValueError, match="DiehlAndCookParams.exc_v_rest_mv must be a finite number"):
        DiehlAndCookParams(exc_v_rest_mv=NAN)
    # 800 Hz + 10 boosts of 31.875 Hz = 1118.75 Hz > 1000 / (1 ms)
    with pytest.warns(RuntimeWarning, match="1118.75 Hz exceeds 1000 / dt = 1000 Hz"):
        DiehlAndCookParams(intensity_hz=800.0)


# --- weights -----------------------------------------------------------------------------------------------
def test_initial_weights_and_bounds_refuse_nan():
    with pytest.raises(ValueError, match=r"initial weights w must be finite, found 1 NaN"):
        Dense(2, 2, w=torch.tensor([[0.0, NAN], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="wmin and wmax must be numbers"):
        Dense(2, 2, wmin=NAN)


def test_set_weights_checks_before_changing_anything_then_enforces_bounds_and_mask():
    conn = Dense(2, 3, w=torch.zeros(2, 3), wmin=0.0, wmax=1.0)
    conn.set_mask(torch.tensor([[True, True, False], [True, True, True]]))
    with pytest.raises(ValueError, match=r"Dense weights must be finite, found 1 NaN or infinite value\(s\)"):
        conn.set_weights(torch.tensor([[0.5, 0.5, 0.5], [0.5, INF, 0.5]]))
    assert torch.equal(conn.w, torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"expected weights of shape \[2, 3\], got \[3, 2\]"):
        conn.set_weights(torch.zeros(3, 2))
    conn.set_weights(torch.tensor([[-1.0, 0.5, 0.7], [2.0, 0.25, 1.0]]))
    # clamped to [0, 1]; the masked-out synapse (0, 2) stays 0
    assert torch.equal(conn.w, torch.tensor([[0.0, 0.5, 0.0], [1.0, 0.25, 1.0]]))


@pytest.mark.parametrize("make, key", [
    (lambda: Dense(3, 2, w=torch.ones(3, 2)), "w"),
    (lambda: OneToOne(3, w=torch.ones(3)), "w"),
    (lambda: Dense(3, 2, w=torch.ones(3, 2), bias=True), "bias"),
    (lambda: Sparse.from_dense(3, 2, torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])), "values"),
])
def test_load_state_dict_refuses_non_finite_weights_and_keeps_the_old_ones(make, key):
    conn = make()
    before = {k: v.clone() for k, v in conn.state_dict().items()}
    state = conn.state_dict()
    state[key] = state[key].clone()
    state[key].view(-1)[-1] = NAN
    with pytest.raises(ValueError, match=f"'{key}' in the loaded state dict .* must be finite"):
        conn.load_state_dict(state)
    for k, v in conn.state_dict().items():
        assert torch.equal(v, before[k]), k


# --- learning rules ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, name", [
    (lambda v: PostPre(nu_pre=v), "nu_pre"),
    (lambda v: PostPre(nu_post=v), "nu_post"),
    (lambda v: Hebbian(nu_post=v), "nu_post"),
    (lambda v: WeightDependentPostPre(nu_pre=v), "nu_pre"),
    (lambda v: MSTDP(lr=v), "lr"),
    (lambda v: MSTDPET(lr=v), "lr"),
    (lambda v: PostPre(weight_decay=v), "weight_decay"),
])
@pytest.mark.parametrize("bad", [NAN, INF])
def test_learning_rule_rates_refuse_nan_and_infinity(make, name, bad):
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        make(bad)


# --- Network.run inputs ------------------------------------------------------------------------------------
def small_network() -> Network:
    net = Network()
    net.add_layer("X", Input(3))
    net.add_layer("Y", LIF(2))
    net.add_connection("X", "Y", Dense(3, 2, w=torch.full((3, 2), 5.0)))
    return net


@pytest.mark.parametrize("value", [0.5, 2.0, NAN, -1.0])
def test_input_layer_refuses_values_other_than_0_and_1(value):
    spikes = torch.zeros(4, 1, 3)
    spikes[2, 0, 1] = value
    net = small_network()
    net.run(steps=2)
    with pytest.raises(ValueError, match=r"input for Input layer 'X' must be spikes \(bool, or 0/1 values\), but "
                                         r"the torch.float32 tensor holds 1 other value\(s\) .* at index \[2, 0, 1\]"):
        net.run({"X": spikes})
    assert net.state.step == 2  # nothing more was simulated


def test_input_layer_takes_0_1_floats_and_ints_as_the_same_spikes_as_bool():
    g = torch.Generator().manual_seed(0)
    spikes = torch.rand(20, 2, 3, generator=g) < 0.4
    out = {}
    for dtype in (torch.bool, torch.float32, torch.uint8):
        net = small_network()
        out[dtype] = net.run({"X": spikes.to(dtype)}, record=["Y.spikes", "Y.v"])
    for dtype in (torch.float32, torch.uint8):
        assert torch.equal(out[dtype]["Y.spikes"], out[torch.bool]["Y.spikes"])
        assert torch.equal(out[dtype]["Y.v"], out[torch.bool]["Y.v"])


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
@pytest.mark.parametrize("fast", [True, False])
def test_injected_current_must_be_finite(bad, fast):
    net = small_network()
    net.run(steps=2)
    current = torch.zeros(5, 1, 2)
    current[3, 0, 0] = bad
    with pytest.raises(ValueError, match=r"input current for layer 'Y' must be finite, found 1 NaN or infinite "
                                         r"value\(s\) among 10 \(first: .* at index \[3, 0, 0\]\)"):
        net.run({"Y": current}, fast=fast)
    assert net.state.step == 2
