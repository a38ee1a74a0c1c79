"""Parameters of the Diehl & Cook (2015) network (:class:`DiehlAndCookParams`); the modelling choices behind
the defaults are explained in :mod:`spikerl.models.diehl_cook.model`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from spikerl.neurons.base import check_positive
from spikerl.validation import check_fields_finite, warn_if_saturated


@dataclass(frozen=True)
class DiehlAndCookParams:
    """Parameters of :class:`DiehlAndCook2015`. Defaults: the paper and its code, unless said otherwise.

    Attributes:
        n_inputs: input neurons (784 for MNIST).
        n_neurons: excitatory neurons, and as many inhibitory ones (paper: 100 to 6400).
        dt_ms: simulation step (BindsNET 1 ms; the paper code 0.5 ms).
        time_ms: presentation time of an image (paper: 350 ms; BindsNET's example 250 ms).
        rest_ms: rest between presentations, during which the thresholds decay (paper: 150 ms).
        intensity_hz: rate of a white pixel (paper: pixel / 4 = 63.75 Hz; BindsNET's example 128 Hz).
        intensity_step_hz: rate added to a white pixel when an image is shown again (paper code:
            ``pixel / 8`` = 31.875 Hz).
        min_spikes: an image is shown again while the excitatory layer fires fewer spikes (paper: 5).
        max_boosts: at most this many repetitions per image (the paper code has no limit).
        exc_v_rest_mv, exc_v_reset_mv: excitatory rest and reset (paper code: -65, -65; BindsNET resets to -60).
        exc_v_thresh_mv: excitatory base threshold: the paper code's -52 mV minus its 20 mV offset.
        theta_init_mv: initial adaptive threshold (paper code: 20 mV, cancelling the offset).
        exc_tau_mem_ms, exc_refractory_ms: 100 ms and 5 ms (paper code).
        theta_plus_mv, tau_theta_ms: threshold increase per spike and its decay time (0.05 mV, 1e7 ms).
        one_spike: at most one excitatory spike per step (BindsNET; see module docstring).
        inh_v_rest_mv, inh_v_reset_mv, inh_v_thresh_mv: -60, -45, -40 mV (paper code).
        inh_tau_mem_ms, inh_refractory_ms: 10 ms and 2 ms (paper code).
        exc_to_inh_mv: weight of the one-to-one excitatory -> inhibitory synapses (BindsNET 22.5).
        inh_to_exc_mv: weight of the lateral inhibitory -> excitatory synapses (BindsNET example -120).
        wmax: upper bound of the input weights (1.0; lower bound 0).
        norm: sum of each excitatory neuron's input weights (BindsNET 78.4; paper code 78.0).
        w_init_max: initial weights are uniform in ``[0, w_init_max]``, then normalised (0.3, paper code).
        nu_pre, nu_post: STDP depression and potentiation rates (1e-4, 1e-2).
        tau_pre_ms, tau_post_ms: STDP trace time constants (20 ms, 20 ms).
        trace_mode: ``"nearest"`` (paper code, BindsNET) or ``"additive"`` STDP traces.
        stdp_chunk: batched mode applies the summed update of at most this many samples at a time, each
            chunk clamped and normalised (ours; see the module docstring).
    """

    n_inputs: int = 784
    n_neurons: int = 100
    dt_ms: float = 1.0
    time_ms: float = 350.0
    rest_ms: float = 150.0
    intensity_hz: float = 63.75
    intensity_step_hz: float = 31.875
    min_spikes: int = 5
    max_boosts: int = 10
    exc_v_rest_mv: float = -65.0
    exc_v_reset_mv: float = -65.0
    exc_v_thresh_mv: float = -72.0
    theta_init_mv: float = 20.0
    exc_tau_mem_ms: float = 100.0
    exc_refractory_ms: float = 5.0
    theta_plus_mv: float = 0.05
    tau_theta_ms: float = 1e7
    one_spike: bool = True
    inh_v_rest_mv: float = -60.0
    inh_v_reset_mv: float = -45.0
    inh_v_thresh_mv: float = -40.0
    inh_tau_mem_ms: float = 10.0
    inh_refractory_ms: float = 2.0
    exc_to_inh_mv: float = 22.5
    inh_to_exc_mv: float = -120.0
    wmax: float = 1.0
    norm: float = 78.4
    w_init_max: float = 0.3
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre_ms: float = 20.0
    tau_post_ms: float = 20.0
    trace_mode: Literal["nearest", "additive"] = "nearest"
    stdp_chunk: int = 32

    def __post_init__(self) -> None:
        for name, low in (("n_inputs", 1), ("n_neurons", 1), ("min_spikes", 0), ("max_boosts", 0), ("stdp_chunk", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        for name in ("dt_ms", "time_ms", "exc_tau_mem_ms", "inh_tau_mem_ms", "tau_theta_ms", "wmax", "norm",
                     "w_init_max", "tau_pre_ms", "tau_post_ms"):
            check_positive(name, getattr(self, name))
        for name in ("rest_ms", "intensity_hz", "intensity_step_hz", "theta_plus_mv", "nu_pre", "nu_post",
                     "exc_refractory_ms", "inh_refractory_ms", "exc_to_inh_mv"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.inh_to_exc_mv > 0:
            raise ValueError(f"inh_to_exc_mv is inhibitory and must be <= 0, got {self.inh_to_exc_mv}")
        if self.trace_mode not in ("nearest", "additive"):
            raise ValueError(f"trace_mode must be 'nearest' or 'additive', got {self.trace_mode!r}")
        if self.steps < 1:
            raise ValueError(f"time_ms={self.time_ms} is shorter than one step of dt_ms={self.dt_ms}")
        check_fields_finite(self)
        warn_if_saturated("intensity_hz + max_boosts * intensity_step_hz (the rate of a white pixel after the last "
                          "boost)", self.intensity_hz + self.max_boosts * self.intensity_step_hz, self.dt_ms)

    @property
    def steps(self) -> int:
        """Steps per presentation: ``round(time_ms / dt_ms)``."""
        return int(round(self.time_ms / self.dt_ms))
