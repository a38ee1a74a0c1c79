"""A spiking policy with a spiking critic: the actor of :class:`agents.policy.SpikingPolicy` plus a population of
LIF neurons whose spike count reads out the value of the current state.

Architecture (the actor as in :mod:`agents.policy`; the critic is new)::

    X (input spikes)  [--fixed or e-prop--> H]  --MSTDPET, factor 1[chosen] - pi-->   O: LIF(n_actions * population)  actor
                                      --MSTDPET, the critic's own spikes--> C: LIF(critic population)       critic

    (or X --reward-free STDP--> F, the feature layer of :mod:`agents.features`, in place of H)

With a plastic hidden layer (``hidden_learning_rate > 0``, :meth:`agents.policy.SpikingPolicy.learn_hidden`) the
hidden neurons' learning signal also carries the critic's error through its own fixed random feedback,
``L_j = sum_k B_jk (1[k chosen] - pi_k) + value_feedback * b_j``: reward-based e-prop's actor-critic signal (Bellec
et al. 2020), both terms modulated by the same TD error.

Value read-out. With ``c`` the critic population's spike count over the ``T = steps_per_action`` steps of one
environment step (all ``N`` critic neurons together) and ``c0`` its expected count at calibration (the initial
weights, the first observations)::

    V(s) = value_scale * (c - c0) / c0          (reward units; c, c0 in spikes per environment step)

so an untrained critic values every state about 0, a silent one ``-value_scale``, and one firing at twice its
initial rate ``+value_scale``.

Learning. Both plastic connections are :class:`~spikerl.plasticity.MSTDPET` rules that the agent modulates with
the TD error ``delta`` (:func:`agents.td.td_error`) through ``Network.apply_reward``. The critic's eligibility
is ordinary STDP between the source's trains and the critic's own spikes, ``e_ij = a_plus * sum_t x_pre_i(t)
s_j(t)`` (decayed with ``tau_e``), accumulated per environment step by :meth:`ActorCriticSpikingPolicy.learn_from_run`.

Sign of the critic's update: TD(0) moves the estimate along ``dw_ij = eta * delta * dV/dw_ij`` (semi-gradient
descent on ``(target - V)^2 / 2`` with the target ``r + gamma V(s')`` held fixed). Here ``dV/dw_ij =
(value_scale / c0) * dc_j/dw_ij``, and a larger weight from an input that fired before neuron ``j``'s spikes
makes ``j`` fire more (``dc_j/dw_ij >= 0``, carried by exactly the pre-before-post pairings that ``e_ij``
counts). So ``e_ij >= 0`` is a non-negative surrogate of ``dV/dw_ij`` (with ``value_scale > 0``), and ``dw = lr *
delta * e`` with ``lr > 0`` raises ``V(s)`` when ``delta > 0`` (the target is above the estimate) and lowers it
when ``delta < 0``: V moves toward the TD target, with the same sign convention as the actor (Fremaux,
Sprekeler & Gerstner 2013; Potjans, Morrison & Diesmann 2009).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from gymnasium import spaces

from spikerl.connections import Dense
from spikerl.network import Network, NetworkState
from spikerl.neurons import LIF
from spikerl.plasticity import MSTDPET
from spikerl.traces import TraceParams
from spikerl.validation import check_number

from agents.policy import HIDDEN_FEEDBACK, RuleConfig, SpikingPolicy, SpikingPolicyConfig


@dataclass(frozen=True)
class CriticConfig:
    """The critic population and its learning rule.

    Attributes:
        population_size: LIF neurons in the critic ``C``.
        drive_mv: initial mean current (mV per step) into a critic neuron: the plastic weights start uniform in
            ``[0, 2 s_c]`` with ``s_c = drive_mv / m_source`` (``m_source``: measured spikes per step of the layer
            feeding the critic). Low enough that the critic's initial rate leaves room to rise (values above 0).
        wmax_ratio: upper bound of the critic's weights in units of ``s_c`` (lower bound 0).
        learning_rate: the critic's MSTDPET ``lr`` in units of ``s_c``, per unit TD error per unit eligibility.
        tau_e_ms: the critic's eligibility time constant: a TD error ``k`` environment steps after a pairing sees
            ``exp(-k * steps_per_action / tau_e_ms)`` of it (a TD(lambda)-like trace).
        value_scale: ``V = value_scale * (c - c0) / c0`` (reward units; > 0, see the module docstring).
        value_feedback: weight ``c_V`` of the critic's term in a plastic hidden layer's learning signal (>= 0;
            used only with ``hidden_learning_rate > 0``).
        feedback: how the critic's error reaches a plastic hidden layer: ``"random"`` (fixed random ``b_j``) or
            ``"symmetric"`` (``b_j`` = the mean of hidden neuron ``j``'s weights onto the critic, in units of
            ``s_c``: the sign and size of its drive of ``V``, see :meth:`ActorCriticSpikingPolicy.critic_feedback`).
    """

    population_size: int = 32
    drive_mv: float = 2.0
    wmax_ratio: float = 10.0
    learning_rate: float = 0.01
    tau_e_ms: float = 10.0
    value_scale: float = 1.0
    value_feedback: float = 1.0
    feedback: str = "random"

    def __post_init__(self) -> None:
        if self.population_size < 1:
            raise ValueError(f"critic population_size must be >= 1, got {self.population_size}")
        for name in ("drive_mv", "wmax_ratio", "learning_rate", "tau_e_ms", "value_scale"):
            check_number(f"critic {name}", getattr(self, name), low=0.0, low_open=True)
        check_number("critic value_feedback", self.value_feedback, low=0.0)
        if self.feedback not in HIDDEN_FEEDBACK:
            raise ValueError(f"critic feedback must be one of {HIDDEN_FEEDBACK}, got {self.feedback!r}")


class ActorCriticSpikingPolicy(SpikingPolicy):
    """:class:`~agents.policy.SpikingPolicy` plus the critic population ``C`` (see the module docstring).

    :meth:`act` also returns ``info["value"]``, ``V(s)`` per environment ``[B]``; :meth:`learn_from_run` also
    accumulates the critic's eligibility. The actor's rule must have no reward baseline: the TD error is its
    reward-prediction error.
    """

    def __init__(self, observation_space: spaces.Box, action_space: spaces.Discrete,
                 config: SpikingPolicyConfig = SpikingPolicyConfig(),
                 rule: RuleConfig = RuleConfig(baseline_window=None), critic: CriticConfig = CriticConfig(),
                 seed: int | None = None) -> None:
        if rule.baseline_window is not None:
            raise ValueError("the actor-critic's actor learns from the TD error, not from r - baseline: "
                             f"baseline_window must be None, got {rule.baseline_window!r}")
        self.critic_config = critic  # read by _build, which the parent's __init__ calls
        super().__init__(observation_space, action_space, config, rule, seed)
        self.critic_source = self.source_layer
        self.critic = f"{self.critic_source}->C"
        self.register_buffer("critic_weight_scale", torch.tensor(1.0))
        self.register_buffer("critic_count0", torch.tensor(1.0))
        if config.hidden_learning_rate:
            #: fixed random feedback ``b [hidden]`` of the critic's error to a plastic hidden layer
            self.register_buffer("hidden_value_feedback", torch.zeros(config.hidden_size))

    def _build(self) -> Network:
        net = super()._build()
        c, r, k = self.config, self.rule_config, self.critic_config
        source = net.layers[self.source_layer].shape
        n_source = math.prod(source)
        net.add_layer("C", LIF(k.population_size, tau_mem_ms=c.tau_mem_ms, refractory_ms=1.0))
        rule = MSTDPET(lr=k.learning_rate, a_plus=r.a_plus, a_minus=r.a_minus, tau_e_ms=k.tau_e_ms,
                       pre_trace=TraceParams(r.tau_plus_ms), post_trace=TraceParams(r.tau_minus_ms))
        net.add_connection(self.source_layer, "C",
                           Dense(source, k.population_size, w=torch.zeros(n_source, k.population_size), wmin=0.0,
                                 wmax=k.wmax_ratio), rule=rule)
        return net

    @torch.no_grad()
    def calibrate(self, obs: torch.Tensor) -> bool:
        """The actor's calibration (:meth:`SpikingPolicy.calibrate`), then the critic's: weights for a mean drive
        of ``drive_mv`` (``s_c = weight_scale * drive_mv / output_drive_mv``, the same source rate), and ``c0``,
        the critic's mean count per environment step over ``4`` steps from rest on these observations."""
        if self._calibrated:  # the host mirror of the buffer: acting reads nothing back
            return True
        if not super().calibrate(obs):
            return False
        k, net = self.critic_config, self.network
        scale = float(self.weight_scale) * k.drive_mv / self.config.output_drive_mv
        self.critic_weight_scale.fill_(scale)
        self.apply_scale()
        critic = net.connections[self.critic]
        critic.set_weights(torch.rand(critic.w.shape, generator=self.generator) * 2 * scale)
        state, steps, count = net.initial_state(obs.shape[0]), 4, 0.0
        for _ in range(steps):
            out, state = net.run({"X": self.encode(obs)}, state=state, record=["C.spikes"])
            count += float(out["C.spikes"].sum())
        self.critic_count0.fill_(max(count / (steps * obs.shape[0]), 1.0))
        if self.config.hidden_learning_rate:
            self.hidden_value_feedback.copy_(torch.randn(self.hidden_value_feedback.shape, generator=self.generator,
                                                         device=self.generator.device))
        return True

    def apply_scale(self) -> None:
        """The actor's scaling, and the critic's ``lr = learning_rate * s_c`` and ``wmax = wmax_ratio * s_c``."""
        super().apply_scale()
        scale, k = float(self.critic_weight_scale), self.critic_config
        self.network.rules[self.critic].lr = k.learning_rate * scale
        self.network.connections[self.critic].wmax = k.wmax_ratio * scale

    # --- value ---------------------------------------------------------------------------------------
    def value(self, critic_spikes: torch.Tensor) -> torch.Tensor:
        """Critic spikes ``[T, B, N]`` -> ``V = value_scale * (c - c0) / c0`` per environment ``[B]`` (float32)."""
        count = critic_spikes.sum((0, 2), dtype=torch.float32)
        c0 = self.critic_count0.to(count.dtype)
        return self.critic_config.value_scale * (count - c0) / c0

    def values(self, obs: torch.Tensor, state: NetworkState) -> torch.Tensor:
        """``V`` of observations ``[B, *obs_shape]`` seen from ``state`` for one environment step (a run whose new
        state is discarded; it draws input spikes from the policy's generator)."""
        out, _ = self.network.run({"X": self.encode(obs)}, state=self.with_current_thresholds(state),
                                  record=["C.spikes"])
        return self.value(out["C.spikes"])

    # --- acting and learning -------------------------------------------------------------------------
    def recorded(self) -> list[str]:
        return super().recorded() + ["C.spikes"]

    def act(self, obs: torch.Tensor, state: NetworkState, *, explore: bool
            ) -> tuple[torch.Tensor, dict, NetworkState]:
        """:meth:`SpikingPolicy.act`, with ``info["value"]`` = ``V(s)`` ``[B]`` and ``info["C.spikes"]``."""
        actions, info, state = super().act(obs, state, explore=explore)
        info["value"] = self.value(info["C.spikes"])
        return actions, info, state

    def hidden_learning_signal(self, actions: torch.Tensor, info: dict) -> torch.Tensor:
        """The actor's feedback signal plus the critic's, ``value_feedback * b_j`` ``[B, hidden]``."""
        signal = super().hidden_learning_signal(actions, info)
        return signal + self.critic_config.value_feedback * self.critic_feedback()

    def critic_feedback(self) -> torch.Tensor:
        """``b [hidden]``, the critic's feedback to a plastic hidden layer: fixed and random, or
        (``CriticConfig.feedback="symmetric"``) ``b_j = mean_c w_jc / s_c`` from the hidden->critic weights
        ``w`` (``>= 0``). Random ``b_j < 0`` for a neuron that drives the critic closes a loop: a negative TD
        error raises that neuron's input, which raises ``V``, which makes the next TD error more negative. With
        symmetric feedback a TD error moves each hidden neuron's input in the direction that moves ``V``
        towards its target."""
        if self.critic_config.feedback == "symmetric":
            return self.network.connections[self.critic].w.mean(1) / self.critic_weight_scale
        return self.hidden_value_feedback

    def learn_from_run(self, actions: torch.Tensor, info: dict, state: NetworkState) -> NetworkState:
        """The actor's eligibility (:meth:`SpikingPolicy.learn_from_run`) and the critic's: STDP between the
        source's trains and the critic's spikes of the run, in place in ``state``."""
        state = super().learn_from_run(actions, info, state)
        return self.network.accumulate_eligibility(self.critic, self.source_train(info), info["C.spikes"],
                                                   state=state, inplace=True)
