"""A spiking policy: encoder -> spikerl network -> decoder, with state carried across environment steps.

Architecture (all sizes configurable in :class:`SpikingPolicyConfig`)::

    observation [B, *obs_shape]  --Bernoulli spikes, T steps-->  X: Input(obs_shape)
    X --Dense, fixed random-->  H: LIF(hidden)                   (omitted with hidden_size=0)
      (or plastic: reward-based e-prop, random or symmetric feedback, hidden_learning_rate > 0; see learn_hidden)
    or X --local/conv STDP, no reward-->  F: AdaptiveLIF(maps, H', W')  (feature_maps > 0; see agents.features)
    H (or F, or X) --Dense, MSTDPET (plastic, one eligibility column per action)-->  O: LIF(n_actions * population)
    O --Dense, fixed, -inhibition between populations--> O       (optional, inhibition_mv > 0)

Each environment step shows the observation for ``steps_per_action`` simulation steps (``dt = 1 ms``), encoded by a
:class:`spikerl.encoding.NormalizedBernoulliEncoder`. The spike count of each action's population is its score
(:func:`spikerl.decoding.population_vote`); while exploring, the action is drawn from the softmax of the scores
(``temperature``, in spikes; :func:`spikerl.decoding.softmax_policy`, :func:`~spikerl.decoding.sample_action`)
and, with probability ``epsilon``, uniformly instead (:func:`~spikerl.decoding.explore_uniformly`); greedy
actions (``deterministic=True``) take the highest score (:func:`~spikerl.decoding.argmax_action`: ties broken at
random, so a silent network picks at random). One generator, on the policy's device, drives every draw.

No stalls on an accelerator: per environment step nothing is read back from the device except the actions
handed to the environment (one copy of ``[B]`` longs). Observations are checked on the host and copied
without waiting; the encoder draws one uniform per input element on the device
(:func:`spikerl.encoding.sparse_bernoulli`); the spike counts are finite by construction, so the softmax is not
checked for NaN; the "calibrated" flag is mirrored in a Python attribute.

Learning is REINFORCE carried by MSTDPET (:meth:`SpikingPolicy.learn_from_run`): the postsynaptic factor of the
step's STDP pairings is, for every neuron of action ``k``'s population, ``1[k chosen] - pi_k`` (``pi`` the softmax
of the scores), the gradient of ``log pi(chosen)`` with respect to the score of ``k``. So the eligibility trace
records which presynaptic activity pushed towards the action taken, a later reward ``r`` (minus a baseline)
changes the weights by ``lr * r * eligibility``, and the update fades as the policy becomes sure of an
action. Membranes, traces and eligibility persist across environment steps and are reset per environment
when its episode ends. They live in explicit :class:`spikerl.network.NetworkState` objects: the policy holds one
for training (``train_state``) and one for acting outside training (``predict_state``), and every method that
simulates takes a state and returns the new one; the network's own ``net.state`` is never used.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from spikerl.connections import Dense
from spikerl.decoding import argmax_action, explore_uniformly, population_vote, sample_action, softmax_policy
from spikerl.encoding import NormalizedBernoulliEncoder
from spikerl.network import Network, NetworkState
from spikerl.neurons import LIF, Input
from spikerl.plasticity import MSTDPET, FactoredMSTDPET
from spikerl.traces import TraceParams
from spikerl.validation import check_finite, check_number

from agents.features import (FEATURE_CONNECTION, FEATURE_LAYER, add_feature_layer, apply_feature_scale,
                             feature_norm, initialise_features)
from agents.population_rule import PopulationMSTDPET
from agents.spaces import check_action_space, check_observation_space


#: How a plastic hidden layer receives the policy's learning signal (:attr:`SpikingPolicyConfig.hidden_feedback`).
HIDDEN_FEEDBACK = ("random", "symmetric")


@dataclass(frozen=True)
class SpikingPolicyConfig:
    """Architecture and exploration of a :class:`SpikingPolicy`.

    Attributes:
        hidden_size: LIF neurons in the hidden layer (0: inputs connect straight to the output).
        population_size: output neurons per action.
        steps_per_action: simulation steps (ms) per environment step.
        input_spikes_per_step: expected input spikes per step: an observation ``x`` (scaled to [0, 1]) gives
            spike probabilities ``min(1, x_i * input_spikes_per_step / sum_j x_j)``, so the network's drive
            does not depend on how many pixels are lit (a blank observation gives no spikes).
        tau_mem_ms: membrane time constant of hidden and output neurons.
        hidden_drive_mv: mean current (mV per step) into a hidden neuron; the fixed random input->hidden
            weights are ``w = mu + sigma * N(0, 1)`` with ``mu = hidden_drive_mv / m`` and
            ``sigma = hidden_spread * hidden_drive_mv / sqrt(m)``, ``m`` the measured input spikes per step
            (see :meth:`SpikingPolicy.calibrate`).
        hidden_spread: standard deviation of the hidden drive across neurons, relative to its mean.
        hidden_learning_rate: 0 keeps the input->hidden weights fixed; > 0 makes them learn by reward-based
            e-prop (Bellec et al. 2020; see :meth:`SpikingPolicy.learn_hidden`), with
            ``lr = hidden_learning_rate * mu`` per unit reward per unit eligibility (``mu`` the mean initial
            input->hidden weight). Needs ``hidden_size > 0``.
        hidden_weight_bound: keeps the plastic input->hidden weights within ``mu +- hidden_weight_bound * sigma``
            (``mu``, ``sigma``: their initial mean and spread, see ``hidden_drive_mv``; None: no bound). Needs
            ``hidden_learning_rate > 0`` and ``hidden_spread > 0``.
        hidden_feedback: how the policy's learning signal reaches a plastic hidden layer: ``"random"`` (fixed
            random weights ``B``, random e-prop) or ``"symmetric"`` (the hidden->output weights themselves, each
            action's population summed, in units of the weight scale: symmetric e-prop).
        output_drive_mv: initial mean current (mV per step) into an output neuron: the plastic weights start
            uniform in ``[0, 2 s]`` with ``s = output_drive_mv / m_source`` (``m_source``: measured spikes per
            step of the layer feeding the output).
        wmax_ratio: upper bound of the plastic weights in units of ``s`` (lower bound 0).
        inhibition_mv: weight of the lateral inhibition between different action populations (>= 0).
        temperature: softmax temperature (spikes) of the exploring policy over the population spike counts,
            and of the ``pi`` in the learning rule (> 0).
        epsilon: probability per environment step of a uniformly random action while exploring.
        feature_maps: feature maps of the unsupervised feature layer ``F`` between the pixels and the plastic
            output (0: no feature layer; needs ``hidden_size=0`` and image observations ``(C, H, W)``; see
            :mod:`agents.features`).
        feature_patch, feature_stride: side and stride (pixels) of each feature's square receptive field;
            ``feature_patch=0``: the whole frame, one position (a global competitive layer, stride unused).
        feature_shared: one filter bank for all positions (convolution) instead of weights per position
            (locally connected).
        feature_drive_mv: mean current (mV per step) into a feature neuron with uniform weights (sets the
            incoming weight sum ``norm`` at calibration).
        feature_inhibition_mv: inhibition between the maps at the same position (mV per spike, >= 0).
        feature_learning_rate: STDP potentiation rate of the feature weights, in units of their mean weight.
        feature_theta_plus_mv: adaptive-threshold increase per feature spike (Diehl & Cook's homeostasis; the
            spikes of all environments of the batch add up).
        feature_tau_theta_ms: decay time constant of the adaptive thresholds (simulated ms): with ``B``
            environments and a rate ``r`` (spikes per ms) a threshold settles near ``theta_plus * B * r *
            tau_theta`` instead of growing until the layer falls silent.
    """

    hidden_size: int = 0
    population_size: int = 16
    steps_per_action: int = 8
    input_spikes_per_step: float = 16.0
    tau_mem_ms: float = 10.0
    hidden_drive_mv: float = 1.5
    hidden_spread: float = 1.0
    hidden_learning_rate: float = 0.0
    hidden_weight_bound: float | None = None
    hidden_feedback: str = "random"
    output_drive_mv: float = 5.0
    wmax_ratio: float = 7.0
    inhibition_mv: float = 0.0
    temperature: float = 4.0
    epsilon: float = 0.0
    feature_maps: int = 0
    feature_patch: int = 5
    feature_stride: int = 2
    feature_shared: bool = False
    feature_drive_mv: float = 3.0
    feature_inhibition_mv: float = 10.0
    feature_learning_rate: float = 0.1
    feature_theta_plus_mv: float = 0.01
    feature_tau_theta_ms: float = 1000.0

    def __post_init__(self) -> None:
        if self.feature_patch < 0:
            raise ValueError(f"feature_patch must be >= 0 (0: the whole frame), got {self.feature_patch}")
        for name in ("population_size", "steps_per_action", "feature_stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("hidden_size", "feature_maps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.hidden_size and self.feature_maps:
            raise ValueError(f"choose a fixed random hidden layer (hidden_size={self.hidden_size}) or a learned "
                             f"feature layer (feature_maps={self.feature_maps}), not both")
        check_number("hidden_learning_rate", self.hidden_learning_rate, low=0.0)
        if self.hidden_feedback not in HIDDEN_FEEDBACK:
            raise ValueError(f"hidden_feedback must be one of {HIDDEN_FEEDBACK}, got {self.hidden_feedback!r}")
        if self.hidden_learning_rate and not self.hidden_size:
            raise ValueError(f"hidden_learning_rate={self.hidden_learning_rate} needs a hidden layer (hidden_size > "
                             "0), got hidden_size=0")
        if self.hidden_weight_bound is not None:
            check_number("hidden_weight_bound", self.hidden_weight_bound, low=0.0, low_open=True)
            if not self.hidden_learning_rate:
                raise ValueError(f"hidden_weight_bound={self.hidden_weight_bound} bounds a plastic hidden layer: it "
                                 "needs hidden_learning_rate > 0")
            if not self.hidden_spread:
                raise ValueError(f"hidden_weight_bound={self.hidden_weight_bound} is in units of the initial spread "
                                 "of the hidden weights: it needs hidden_spread > 0")
        for name in ("feature_drive_mv", "feature_learning_rate", "feature_tau_theta_ms"):
            check_number(name, getattr(self, name), low=0.0, low_open=True)
        for name in ("feature_inhibition_mv", "feature_theta_plus_mv"):
            check_number(name, getattr(self, name), low=0.0)
        for name in ("input_spikes_per_step", "tau_mem_ms", "output_drive_mv", "wmax_ratio", "temperature"):
            check_number(name, getattr(self, name), low=0.0, low_open=True)
        for name in ("hidden_drive_mv", "hidden_spread", "inhibition_mv"):
            check_number(name, getattr(self, name), low=0.0)
        check_number("epsilon", self.epsilon, 0.0, 1.0)


@dataclass(frozen=True)
class RuleConfig:
    """Settings of the MSTDPET rule on the plastic connection (see :class:`spikerl.plasticity.MSTDPET`).

    Attributes:
        learning_rate: MSTDPET ``lr`` in units of the initial mean weight ``s`` (so the same value works
            whatever the input size): ``lr = learning_rate * s`` per unit reward per unit eligibility.
        learning_rate_end: None keeps ``learning_rate`` throughout training; a number makes the rate fall
            linearly from ``learning_rate`` at the start of a training budget to ``learning_rate_end`` at its end,
            by SB3's progress (``1 - num_timesteps / total``, :meth:`rate`): a ``learn(N + M)`` stopped after
            ``N`` steps and continued with ``learn(M, reset_num_timesteps=False)`` stays on its line. A
            REINFORCE readout learning at a constant rate keeps moving once it has a good solution (the Catch
            ladder in README); a falling rate holds it.
        tau_plus_ms, tau_minus_ms: STDP trace time constants.
        a_plus, a_minus: STDP amplitudes.
        tau_e_ms: eligibility time constant; with ``steps_per_action`` ms per env step, a reward ``k`` env
            steps after a pairing sees ``exp(-k * steps_per_action / tau_e_ms)`` of it.
        baseline_window: moving-average reward baseline over about this many rewards (None: no baseline).
        entropy_rate: a policy-entropy term (SB3's ``ent_coef`` in a local, two-factor form; 0: off). Every
            env step the plastic weights also move by ``entropy_rate * s * mean_b n_i(b) g_k(b)``, ``n_i`` the
            spikes of source neuron ``i`` in the step and ``g_k = -pi_k (ln pi_k + H)`` the entropy's gradient
            with respect to action ``k``'s score (times the temperature), ``H`` the entropy of ``pi``. It is not
            gated by reward: it counteracts the collapse of the policy onto one action.
    """

    learning_rate: float = 0.002
    learning_rate_end: float | None = None
    tau_plus_ms: float = 10.0
    tau_minus_ms: float = 10.0
    a_plus: float = 1.0
    a_minus: float = 0.0
    tau_e_ms: float = 20.0
    baseline_window: int | None = 20
    entropy_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("learning_rate", "tau_plus_ms", "tau_minus_ms", "tau_e_ms"):
            check_number(name, getattr(self, name), low=0.0, low_open=True)
        check_number("entropy_rate", self.entropy_rate, low=0.0)
        if self.learning_rate_end is not None:
            check_number("learning_rate_end", self.learning_rate_end, low=0.0)
        for name in ("a_plus", "a_minus"):
            check_number(name, getattr(self, name))

    def rate(self, progress_remaining: float) -> float:
        """The learning rate (units of ``s``) at SB3's ``progress_remaining`` (1 at the start of training, 0 at
        its end): ``learning_rate`` without ``learning_rate_end``, else the line between the two."""
        if self.learning_rate_end is None:
            return self.learning_rate
        return self.learning_rate_end + (self.learning_rate - self.learning_rate_end) * progress_remaining


class SpikingPolicy(nn.Module):
    """Encoder -> network -> decoder for one observation space and one discrete action space."""

    def __init__(self, observation_space: spaces.Box, action_space: spaces.Discrete,
                 config: SpikingPolicyConfig = SpikingPolicyConfig(), rule: RuleConfig = RuleConfig(),
                 seed: int | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__()
        check_observation_space(observation_space)
        check_action_space(action_space)
        self.observation_space, self.action_space = observation_space, action_space
        self.config, self.rule_config = config, rule
        self.n_actions = int(action_space.n)
        self.obs_shape = tuple(int(d) for d in observation_space.shape)
        self.register_buffer("obs_low", torch.as_tensor(observation_space.low, dtype=torch.float32))
        self.register_buffer("obs_scale", torch.as_tensor(observation_space.high - observation_space.low,
                                                          dtype=torch.float32))
        seed = seed if seed is not None else int(torch.randint(2**31, ()))
        self.generator = torch.Generator(device=device).manual_seed(seed)  # the module is moved to ``device``
        # intensities are clamped to [0, 1] (and observations checked finite): no range check to read back
        self.encoder = NormalizedBernoulliEncoder(config.steps_per_action, config.input_spikes_per_step,
                                                  self.generator, validate=False)
        #: the layer the plastic output (and a critic) reads: X (pixels), H (fixed random) or F (features)
        self.source_layer = "H" if config.hidden_size else FEATURE_LAYER if config.feature_maps else "X"
        self.plastic = f"{self.source_layer}->O"
        self.network = self._build()
        self.register_buffer("calibrated", torch.tensor(False))
        self.register_buffer("weight_scale", torch.tensor(1.0))
        self._scale = 1.0  # weight_scale on the host, set by apply_scale
        #: SB3's progress (1 at the start of training, 0 at its end) for RuleConfig.rate; set by set_progress
        self.progress_remaining = 1.0
        if config.feature_maps:  # only then: checkpoints of policies without features keep loading
            self.register_buffer("feature_norm", torch.tensor(1.0))
        if config.hidden_learning_rate:  # likewise
            self.register_buffer("hidden_weight_scale", torch.tensor(1.0))
            #: fixed random feedback ``B [hidden, n_actions]`` of the policy's learning signal (drawn at calibration)
            self.register_buffer("hidden_feedback", torch.zeros(config.hidden_size, self.n_actions))
        self._calibrated = False  # mirrors the buffer, so acting never reads it back from the device
        self.register_load_state_dict_post_hook(lambda module, keys: module._mirror_calibrated())
        self.train_state: NetworkState | None = None
        self.predict_state: NetworkState | None = None

    def _build(self) -> Network:
        """The network, with placeholder weights until :meth:`calibrate` sees the first observations."""
        c, r = self.config, self.rule_config
        n_out = self.n_actions * c.population_size
        net = Network(dt_ms=1.0)
        neuron = dict(tau_mem_ms=c.tau_mem_ms, refractory_ms=1.0)
        net.add_layer("X", Input(self.obs_shape))
        source: tuple[int, ...] | int = self.obs_shape
        if c.hidden_size:
            net.add_layer("H", LIF(c.hidden_size, **neuron))
            hidden_rule = FactoredMSTDPET(lr=c.hidden_learning_rate, a_plus=1.0, a_minus=0.0, tau_e_ms=r.tau_e_ms,
                                          pre_trace=TraceParams(r.tau_plus_ms),
                                          post_trace=TraceParams(r.tau_minus_ms),
                                          baseline_window=r.baseline_window) if c.hidden_learning_rate else None
            net.add_connection("X", "H", Dense(self.obs_shape, c.hidden_size, w=torch.zeros(
                math.prod(self.obs_shape), c.hidden_size)), rule=hidden_rule)
            source = c.hidden_size
        elif c.feature_maps:
            source = add_feature_layer(net, self.obs_shape, c.feature_maps, c.feature_patch, c.feature_stride,
                                       shared=c.feature_shared, inhibition_mv=c.feature_inhibition_mv,
                                       theta_plus_mv=c.feature_theta_plus_mv,
                                       tau_theta_ms=c.feature_tau_theta_ms, tau_mem_ms=c.tau_mem_ms)
        net.add_layer("O", LIF(n_out, **neuron))
        rule = PopulationMSTDPET(c.population_size, lr=r.learning_rate, a_plus=r.a_plus, a_minus=r.a_minus,
                                 tau_e_ms=r.tau_e_ms, pre_trace=TraceParams(r.tau_plus_ms),
                                 post_trace=TraceParams(r.tau_minus_ms), baseline_window=r.baseline_window)
        n_source = math.prod(net.layers[self.source_layer].shape)
        net.add_connection(self.source_layer, "O",
                           Dense(source, n_out, w=torch.zeros(n_source, n_out), wmin=0.0, wmax=c.wmax_ratio),
                           rule=rule)
        if c.inhibition_mv > 0:
            group = torch.arange(n_out) // c.population_size
            inhibition = -c.inhibition_mv * (group[:, None] != group[None, :]).float()
            net.add_connection("O", "O", Dense(n_out, n_out, w=inhibition))
        return net

    def use_backend(self, backend: str) -> None:
        """Run each env step's time loop with ``backend``: ``"auto"`` (the default: the C kernels on the CPU, the
        torch loop elsewhere) or ``"compiled"``: the LIF layers' scans (``LIF(backend="compiled")``) and the
        network's step loop (``Network(group_backend="compiled")``, e.g. under lateral inhibition) fused by
        ``torch.compile``. For GPUs: compiled at first use (seconds to minutes), not saved with the agent. The
        feature layer (``feature_maps``) keeps its own backend."""
        if backend not in ("auto", "compiled"):
            raise ValueError(f"backend must be 'auto' or 'compiled', got {backend!r}")
        for layer in self.network.layers.values():
            if type(layer) is LIF:
                layer.backend = layer.choose_backend(backend)
        self.network.group_backend = "compiled" if backend == "compiled" else "torch"

    @torch.no_grad()
    def calibrate(self, obs: torch.Tensor) -> bool:
        """Set the initial weights from the activity the first observations cause (once).

        Measures ``m``, the expected input spikes per step, draws the input->hidden weights for a mean drive of
        ``hidden_drive_mv`` (or the feature weights for ``feature_drive_mv``, see :mod:`agents.features`),
        measures the hidden (feature) spikes per step over ``4 * steps_per_action`` steps, and
        draws the plastic weights for a mean drive of ``output_drive_mv``; the rule's ``lr`` and the
        weight bound follow the weight scale ``s``. Skipped (returns False) while observations are blank.
        """
        if self._calibrated:
            return True
        check_finite("calibration observation", obs)
        c, g = self.config, self.generator
        m_in = float(self.input_probabilities(obs).flatten(1).sum(1).mean())
        if m_in < 0.5:
            return False
        net = self.network
        m_source = m_in
        if c.hidden_size:
            n_in = math.prod(self.obs_shape)
            noise = torch.randn(n_in, c.hidden_size, generator=g, device=g.device)
            w = c.hidden_drive_mv / m_in + c.hidden_spread * c.hidden_drive_mv / math.sqrt(m_in) * noise
            if c.hidden_learning_rate:  # scale and bounds first: set_weights clamps to them (it draws nothing)
                self.hidden_weight_scale.fill_(c.hidden_drive_mv / m_in)
                self.bound_hidden_weights()
                self.hidden_feedback.copy_(torch.randn(self.hidden_feedback.shape, generator=g, device=g.device))
            net.connections["X->H"].set_weights(w)
        if c.feature_maps:
            self.feature_norm.fill_(feature_norm(c.feature_drive_mv, math.prod(self.obs_shape), m_in))
            self.apply_scale()
            initialise_features(net, g)
        if self.source_layer != "X":
            state, steps, spikes = net.initial_state(obs.shape[0]), 4, 0.0
            for _ in range(steps):
                out, state = net.run({"X": self.encode(obs)}, state=state, record=[f"{self.source_layer}.spikes"])
                spikes += float(out[f"{self.source_layer}.spikes"].sum())
            m_source = max(spikes / (steps * c.steps_per_action * obs.shape[0]), 0.5)
        plastic = net.connections[self.plastic]
        scale = c.output_drive_mv / m_source
        self.weight_scale.fill_(scale)
        self.apply_scale()  # sets the bound wmax = wmax_ratio * scale, which set_weights then enforces
        plastic.set_weights(torch.rand(plastic.w.shape, generator=g, device=g.device) * 2 * scale)
        self.calibrated.fill_(True)
        self._calibrated = True
        return True

    def _mirror_calibrated(self) -> None:
        """Copy the ``calibrated`` buffer (just loaded) into the Python flag :meth:`calibrate` tests."""
        self._calibrated = bool(self.calibrated)

    def apply_scale(self) -> None:
        """Give the rule's learning rate and the weight bound the calibrated weight scale."""
        self._scale = scale = float(self.weight_scale)
        self.set_progress(self.progress_remaining)
        self.network.connections[self.plastic].wmax = self.config.wmax_ratio * scale
        if self.config.hidden_learning_rate:
            self.network.rules["X->H"].lr = self.config.hidden_learning_rate * float(self.hidden_weight_scale)
            self.bound_hidden_weights()
        if self.config.feature_maps:
            apply_feature_scale(self.network, float(self.feature_norm), self.config.feature_learning_rate)

    def set_progress(self, progress_remaining: float) -> None:
        """Set the plastic readout's learning rate for SB3's ``progress_remaining`` (see
        :meth:`RuleConfig.rate`; a host number, nothing read from the device)."""
        self.progress_remaining = progress_remaining
        self.network.rules[self.plastic].lr = self.rule_config.rate(progress_remaining) * self._scale

    def bound_hidden_weights(self) -> None:
        """The bounds ``mu +- hidden_weight_bound * sigma`` of a plastic hidden layer (none without
        ``hidden_weight_bound``), from the calibrated mean initial weight ``mu``: ``m = hidden_drive_mv / mu``
        input spikes per step, so ``sigma = hidden_spread * hidden_drive_mv / sqrt(m) = hidden_spread *
        sqrt(hidden_drive_mv * mu)``."""
        c, conn = self.config, self.network.connections["X->H"]
        if c.hidden_weight_bound is None:
            conn.wmin, conn.wmax = -math.inf, math.inf
            return
        mu = float(self.hidden_weight_scale)
        half_width = c.hidden_weight_bound * c.hidden_spread * math.sqrt(c.hidden_drive_mv * mu)
        conn.wmin, conn.wmax = mu - half_width, mu + half_width

    # --- encoding / decoding ------------------------------------------------------------------------
    def intensities(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations ``[B, *obs_shape]`` scaled to ``[0, 1]`` by the observation space's bounds."""
        return ((obs.float() - self.obs_low) / self.obs_scale).clamp_(0.0, 1.0)

    def input_probabilities(self, obs: torch.Tensor) -> torch.Tensor:
        """Per-step spike probabilities ``[B, *obs_shape]``: ``min(1, x_i * k / sum_j x_j)``, ``x`` in [0, 1]."""
        return self.encoder.probabilities(self.intensities(obs))

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations ``[B, *obs_shape]`` -> Bernoulli input spikes ``[T, B, *obs_shape]`` (see config)."""
        return self.encoder(self.intensities(obs))

    def action_scores(self, output_spikes: torch.Tensor) -> torch.Tensor:
        """Output spikes ``[T, B, n_actions * population]`` -> spike counts per action ``[B, n_actions]``."""
        return population_vote(output_spikes.sum(0, dtype=torch.float32), self.n_actions, reduce="sum")

    # --- acting --------------------------------------------------------------------------------------
    def check_observation(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """A batch ``[B, *obs_shape]`` as a tensor on the policy's device, or a clear error (wrong shape, NaN or
        infinite values: the encoder would turn a NaN pixel silently into "no spike"). Host observations
        (NumPy) are checked on the host and copied without waiting for the device; a tensor is checked where
        it lives (a read back)."""
        array = np.asarray(obs) if not isinstance(obs, torch.Tensor) else None
        x = torch.as_tensor(array if array is not None else obs)
        if tuple(x.shape) == self.obs_shape:
            x = x.unsqueeze(0)
        if tuple(x.shape[1:]) != self.obs_shape:
            raise ValueError(f"expected observation of shape {self.obs_shape} (or a batch [B, "
                             f"{', '.join(map(str, self.obs_shape))}]), got {tuple(x.shape)}")
        if array is not None:
            check_finite_array("observation", array)
        else:
            check_finite("observation", x)
        return x.to(self.obs_low.device, non_blocking=True)

    def act(self, obs: torch.Tensor, state: NetworkState, *, explore: bool
            ) -> tuple[torch.Tensor, dict, NetworkState]:
        """Simulate one environment step for the batch ``obs`` from ``state``; returns actions ``long [B]`` (on
        the CPU), run info and the new state (``state`` itself is not changed).

        The network runs ``steps_per_action`` steps and each action's score is its population's spike count.
        Exploring: the action is drawn from ``pi = softmax(scores / temperature)`` (or, with probability
        ``epsilon``, uniformly); otherwise the highest score wins. To learn from the step, pass the run info
        to :meth:`learn_from_run`. The actions are chosen on the policy's device; copying them to the CPU is
        the only read back of the step.
        """
        self.calibrate(obs)
        state = self.with_current_thresholds(state)
        spikes_in = self.encode(obs)
        out, state = self.network.run({"X": spikes_in}, state=state, record=self.recorded())
        scores = self.action_scores(out["O.spikes"])
        pi = softmax_policy(scores, self.config.temperature, validate=False)  # counts: finite by construction
        if explore:
            actions = sample_action(pi, self.generator)
            actions = explore_uniformly(actions, self.n_actions, self.config.epsilon, self.generator)
        else:
            actions = argmax_action(scores, self.generator)
        actions = handed_to_env(actions)
        info = {"scores": scores, "policy": pi, "input": spikes_in, **out}
        return actions, info, state

    def with_current_thresholds(self, state: NetworkState) -> NetworkState:
        """``state`` with the feature layer's learned thresholds (a state holds the thresholds of its creation;
        :meth:`learn_features` raises them after each training step). ``state`` itself is not changed."""
        if not self.config.feature_maps:
            return state
        state = state.copy()
        neurons = state.neurons[FEATURE_LAYER]
        state.neurons[FEATURE_LAYER] = neurons._replace(theta=self.network.layers[FEATURE_LAYER].theta)
        return state

    def recorded(self) -> list[str]:
        """The variables :meth:`act` records (``"layer.spikes"``), returned in its run info."""
        return (["O.spikes"] + ([f"{self.source_layer}.spikes"] if self.source_layer != "X" else [])
                + (["H.v"] if self.config.hidden_learning_rate else []))

    def source_train(self, info: dict) -> torch.Tensor:
        """The spikes ``[T, B, *shape]`` of the layer the plastic connections read, from :meth:`act`'s run info."""
        return info["input"] if self.source_layer == "X" else info[f"{self.source_layer}.spikes"]

    def learn_from_run(self, actions: torch.Tensor, info: dict, state: NetworkState) -> NetworkState:
        """:meth:`learn_features` (with a feature layer) and :meth:`learn_from_step` for the run :meth:`act` just
        made (``info``: its run info), e.g. while the environments carry out ``actions``."""
        if self.config.feature_maps:
            state = self.learn_features(info["input"], info[f"{FEATURE_LAYER}.spikes"], state)
        if self.config.hidden_learning_rate:
            state = self.learn_hidden(actions, info, state)
        return self.learn_from_step(self.source_train(info), actions, info["policy"], state)

    def learn_features(self, input_train: torch.Tensor, feature_train: torch.Tensor, state: NetworkState
                       ) -> NetworkState:
        """The feature layer's unsupervised step (no reward, see :mod:`agents.features`): the summed STDP update
        of the input ``[T, B, *obs_shape]`` and feature ``[T, B, maps, H', W']`` trains of one environment step,
        renormalisation, and the thresholds' rise. Returns the new state (the rule's traces advanced)."""
        net = self.network
        state = net.learn_from_trains(FEATURE_CONNECTION, input_train, feature_train, state=state)
        net.layers[FEATURE_LAYER].adapt_to(feature_train)
        return state

    def policy_factor(self, actions: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """``1[k chosen] - pi_k`` ``[B, n_actions]``: the gradient of ``log pi(chosen)`` with respect to the scores
        (times the temperature); ``actions`` long ``[B]`` (on any device), ``pi [B, n_actions]``."""
        chosen = torch.nn.functional.one_hot(actions.to(pi.device, non_blocking=True), self.n_actions)
        return chosen.to(pi.dtype) - pi

    def hidden_learning_signal(self, actions: torch.Tensor, info: dict) -> torch.Tensor:
        """The learning signal ``L [B, hidden]`` of each hidden neuron for one env step: the policy factor sent
        back through the feedback weights, ``L_j = sum_k B_jk (1[k chosen] - pi_k)``, with ``B`` fixed and random
        or (``hidden_feedback="symmetric"``) ``B_jk = sum_(n in population k) w_jn / s``, the hidden->output weights
        in units of the weight scale ``s``."""
        if self.config.hidden_feedback == "symmetric":
            w = self.network.connections[self.plastic].w
            feedback = w.reshape(w.shape[0], self.n_actions, -1).sum(-1) / self.weight_scale
        else:
            feedback = self.hidden_feedback
        return self.policy_factor(actions, info["policy"]) @ feedback.T

    def pseudo_derivative(self, v: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:
        """e-prop's pseudo-derivative ``psi [T, B, hidden]`` of the hidden neurons: ``max(0, 1 - |v - v_thresh| /
        (v_thresh - v_rest))`` from the membrane ``v`` (mV) after each step, and 1 at a spike (whose membrane
        was at or above the threshold before the reset)."""
        p = self.network.layers["H"].params
        psi = (1.0 - (v - p.v_thresh_mv).abs() / (p.v_thresh_mv - p.v_rest_mv)).clamp_(min=0.0)
        return psi.masked_fill_(spikes.bool(), 1.0)

    def learn_hidden(self, actions: torch.Tensor, info: dict, state: NetworkState) -> NetworkState:
        """Reward-based e-prop on the input->hidden weights (Bellec et al. 2020), for the run
        :meth:`act` just made. The eligibility of synapse ``i -> j`` accumulates ``x_i(t) psi_j(t) L_j``: the
        presynaptic trace of input ``i``, the pseudo-derivative of hidden neuron ``j`` (:meth:`pseudo_derivative`)
        and its learning signal (:meth:`hidden_learning_signal`), decayed with ``tau_e``; a later reward (or TD
        error) ``r`` changes the weights by ``lr * r * e``, delivered with the output's by
        ``Network.apply_reward``. Three factors, no backpropagation: the feedback weights are fixed and random, or
        the forward hidden->output weights (``hidden_feedback``).
        Returns the new state (eligibility updated in place)."""
        signal = self.hidden_learning_signal(actions, info)                       # [B, hidden]
        post = self.pseudo_derivative(info["H.v"], info["H.spikes"]) * signal     # [T, B, hidden]
        return self.network.accumulate_eligibility("X->H", info["input"], post, state=state, inplace=True)

    def learn_from_step(self, source_train: torch.Tensor, actions: torch.Tensor, pi: torch.Tensor,
                        state: NetworkState) -> NetworkState:
        """Accumulate the eligibility of one environment step: presynaptic traces of ``source_train
        [T, B, n_source]`` paired with the constant postsynaptic factor ``1[k chosen] - pi_k`` (``pi [B,
        n_actions]``) that every neuron of action ``k``'s population shares (stored once per action, see
        :class:`agents.population_rule.PopulationMSTDPET`). Returns the new state; the eligibility tensor of
        ``state`` is updated in place (the policy owns its states, and in-place saves a copy per step)."""
        factor = self.policy_factor(actions, pi)
        post = factor.unsqueeze(0).expand(source_train.shape[0], *factor.shape)
        if self.rule_config.entropy_rate > 0:
            self.raise_entropy(source_train, pi)
        return self.network.accumulate_eligibility(self.plastic, source_train, post, state=state, inplace=True)

    @torch.no_grad()
    def raise_entropy(self, source_train: torch.Tensor, pi: torch.Tensor) -> None:
        """The entropy term of :class:`RuleConfig` (``entropy_rate``) for one env step: source spikes
        ``[T, B, *source]`` and the policy ``pi [B, n_actions]`` it was acted on."""
        counts = source_train.flatten(2).sum(0).to(pi.dtype)  # [B, n_source]
        plogp = torch.special.xlogy(pi, pi)
        gradient = -(plogp + pi * -plogp.sum(1, keepdim=True))  # -pi_k (ln pi_k + H)  [B, n_actions]
        dw = (self.rule_config.entropy_rate * self._scale / pi.shape[0]) * counts.T @ gradient
        self.network.connections[self.plastic].apply_update(
            dw.repeat_interleave(self.config.population_size, dim=1))

    def state(self, which: str, batch: int) -> NetworkState:
        """The held ``which`` ('train' or 'predict') state; a fresh one is made (and held) when it is missing
        or of another batch size."""
        if which not in ("train", "predict"):
            raise ValueError(f"which must be 'train' or 'predict', got {which!r}")
        state = getattr(self, f"{which}_state")
        if state is None or state.batch_size != batch:
            state = self.network.initial_state(batch)
            setattr(self, f"{which}_state", state)
        return state

    def reset_episodes(self, which: str, done: np.ndarray | torch.Tensor) -> NetworkState:
        """Reset membranes, traces and eligibility of the environments whose episode ended (bool ``done
        [B]``) in the held ``which`` state; returns (and holds) the new state."""
        rows = done if isinstance(done, torch.Tensor) else np.asarray(done, dtype=bool)
        state = self.network.reset_rows(rows, state=self.state(which, len(rows)))
        setattr(self, f"{which}_state", state)
        return state

    def describe(self) -> dict:
        """JSON-able description (for checkpoints)."""
        return {"config": dataclasses.asdict(self.config), "rule": dataclasses.asdict(self.rule_config)}


def handed_to_env(actions: torch.Tensor) -> torch.Tensor:
    """The chosen actions ``long [B]`` copied to the CPU for the environment: the one read back from the device
    per environment step (the no-stall tests allow exactly this function's copy)."""
    return actions.cpu()


def check_finite_array(name: str, value: np.ndarray) -> None:
    """:func:`spikerl.validation.check_finite` for host data (a NumPy array), without making a tensor."""
    if np.issubdtype(value.dtype, np.inexact) and not np.isfinite(value).all():
        check_finite(name, torch.as_tensor(value))  # raises, naming the first bad element
