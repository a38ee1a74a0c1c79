"""``RSTDPActorCritic``: a spiking actor-critic whose actor and critic both learn by TD-modulated STDP.

The network is :class:`agents.actor_critic_policy.ActorCriticSpikingPolicy`: the R-STDP actor plus a critic
population whose spike count reads out ``V(s)``. Three-factor rules only, no backpropagation. Per environment step
``t`` (all environments in one batch):

1. the network sees ``s_t`` for ``steps_per_action`` ms: actions from the actor, ``V(s_t)`` from the critic;
2. while the environments carry out the actions (from ``step_async`` to ``step_wait``), the TD error of the
   previous step, ``delta_t-1 = r_t-1 + gamma V(s_t) - V(s_t-1)``, is delivered to both rules
   (``Network.apply_reward``: ``dw = lr * sum_b delta_b e_b``) before this step's pairings enter the eligibility,
   so it reaches the synapses active up to step ``t-1``;
3. then the eligibility of the step accumulates: the actor's with the REINFORCE factor ``1[chosen] - pi``, the
   critic's with its own spikes;
4. at an episode's end the TD error is delivered at once, before the reset: ``delta_t = r_t - V(s_t)`` when the
   episode terminated, ``r_t + gamma V(s_final) - V(s_t)`` when a time limit truncated it (``s_final``: the
   ``terminal_observation``, valued by one extra run from the current state).

The TD error replaces RSTDP's ``r - baseline`` (the actor has no baseline). Rewards are clipped to
``reward_clip`` before they enter ``delta``. Saving, loading, exact resume (:meth:`RSTDP.replay_env`) and
TensorBoard work as for :class:`~agents.rstdp.RSTDP`; the TD error waiting for the next step is saved too.
TensorBoard also shows ``value/V_mean``, ``value/td_error``, ``value/td_error_abs`` and the critic's rate
``spikes/C_rate_hz``.

Known limitation (measured on the toy tasks, see ``tests/agents/test_actor_critic_learning.py``): the critic learns
the value of the policy it sees, so when the actor settles on a wrong action for a state with ``pi`` near 1, that
state's value drops to match and the TD error of the choice fades; only softmax exploration can then show a better
action (RSTDP's global baseline kept punishing it). Some seeds stall there for a while (PatternAction) or settle
at about half of Catch's balls.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, TypeVar

import numpy as np
import torch
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback

from spikerl.network import NetworkState
from spikerl.validation import check_number

from agents.actor_critic_policy import ActorCriticSpikingPolicy, CriticConfig
from agents.policy import RuleConfig
from agents.rstdp import RSTDP, EnvStep
from agents.td import td_error

SelfRSTDPActorCritic = TypeVar("SelfRSTDPActorCritic", bound="RSTDPActorCritic")


class RSTDPActorCritic(RSTDP):
    """Spiking actor-critic: R-STDP actor and spiking critic, both modulated by the TD error.

    Args:
        policy: ``"ActorCriticSpikingPolicy"`` (the only policy; kept for SB3 compatibility).
        env: as for :class:`~agents.rstdp.RSTDP`.
        learning_rate: the actor's MSTDPET learning rate (units of its weight scale, per unit TD error); with
            ``learning_rate_end`` (a keyword of :class:`~agents.rstdp.RSTDP`) the actor's rate falls linearly to it
            during training, the critic's stays constant.
        gamma: discount factor of the TD error, in ``[0, 1]``.
        critic_population_size, critic_drive_mv, critic_wmax_ratio, critic_learning_rate, critic_tau_e_ms,
            value_scale, value_feedback, critic_feedback: see :class:`agents.actor_critic_policy.CriticConfig`
            (``critic_feedback`` is its ``feedback``).
        baseline_window: must be None (the TD error is the actor's reward-prediction error).
        **kwargs: every other keyword of :class:`~agents.rstdp.RSTDP` (architecture, STDP, ``reward_clip``,
            logging, ``seed``, ...).
    """

    policy_name = "ActorCriticSpikingPolicy"

    def __init__(self, policy: str = "ActorCriticSpikingPolicy", env: GymEnv | str | None = None,
                 learning_rate: float = RuleConfig.learning_rate, *, gamma: float = 0.9,
                 critic_population_size: int = CriticConfig.population_size,
                 critic_drive_mv: float = CriticConfig.drive_mv,
                 critic_wmax_ratio: float = CriticConfig.wmax_ratio,
                 critic_learning_rate: float = CriticConfig.learning_rate,
                 critic_tau_e_ms: float = CriticConfig.tau_e_ms,
                 value_scale: float = CriticConfig.value_scale,
                 value_feedback: float = CriticConfig.value_feedback,
                 critic_feedback: str = CriticConfig.feedback,
                 baseline_window: int | None = None, _init_setup_model: bool = True, **kwargs: Any) -> None:
        if policy != self.policy_name:
            raise ValueError(f"RSTDPActorCritic has one policy, {self.policy_name!r}; got {policy!r}")
        if baseline_window is not None:
            raise ValueError("RSTDPActorCritic learns from the TD error, not from r - baseline: baseline_window "
                             f"must be None, got {baseline_window!r}")
        self.gamma = check_number("gamma", gamma, 0.0, 1.0)
        self.critic_config = CriticConfig(population_size=critic_population_size, drive_mv=critic_drive_mv,
                                          wmax_ratio=critic_wmax_ratio, learning_rate=critic_learning_rate,
                                          tau_e_ms=critic_tau_e_ms, value_scale=value_scale,
                                          value_feedback=value_feedback, feedback=critic_feedback)
        self._pending: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        # TensorBoard sums since the last log, kept on the policy's device (read back only in dump_logs):
        # sum of V, and of delta, |delta| and the number of deliveries [3]; V's count is known on the host
        self._value_sum: torch.Tensor | float = 0.0
        self._value_count = 0
        self._td_sums: torch.Tensor | float = 0.0
        super().__init__(policy, env, learning_rate, baseline_window=None, _init_setup_model=_init_setup_model,
                         **kwargs)

    def _setup_model(self) -> None:
        if self.seed is not None:
            self.set_random_seed(self.seed)
        self.policy = ActorCriticSpikingPolicy(self.observation_space, self.action_space, self.policy_config,
                                               self.rule_config, self.critic_config, seed=self.seed
                                               ).to(self.device)

    # --- learning ------------------------------------------------------------------------------------
    def learn(self: SelfRSTDPActorCritic, total_timesteps: int, callback: MaybeCallback = None,
              log_interval: int = 4, tb_log_name: str = "RSTDPActorCritic", reset_num_timesteps: bool = True,
              progress_bar: bool = False) -> SelfRSTDPActorCritic:
        """As :meth:`RSTDP.learn`. A TD error still waiting for its next state is kept when the run continues
        (``reset_num_timesteps=False`` on the same envs) and dropped when the envs are reset."""
        if reset_num_timesteps or self._last_obs is None or (
                self._pending is not None and len(self._pending[0]) != self.n_envs):
            self._pending = None
        return super().learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps,
                             progress_bar)

    def _train_step(self, state: NetworkState) -> tuple[NetworkState, EnvStep]:
        """One environment step of training (steps 1 to 4 of the module docstring)."""
        policy, net = self.policy, self.policy.network
        obs = policy.check_observation(self._last_obs)
        with torch.no_grad():
            actions, info, state = policy.act(obs, state, explore=True)
            values = info["value"]
            self._value_sum = self._value_sum + values.sum()
            self._value_count += values.numel()
            self.env.step_async(actions.numpy())  # the envs step while the network learns
            if self._pending is not None:
                rewards, old_values, waiting = self._pending
                self._deliver(td_error(rewards, old_values, values, torch.zeros_like(waiting), self.gamma),
                              waiting, state)
            state = policy.learn_from_run(actions, info, state)
        step, learn_rewards = self._finish_env_step(actions)
        rewards = torch.as_tensor(learn_rewards, device=values.device)
        host_dones = np.asarray(step.dones, dtype=bool)  # decided on the host: no read-back per step
        dones = torch.as_tensor(host_dones, device=values.device)
        with torch.no_grad():
            if host_dones.any():
                host_truncated = host_dones & np.array([bool(i.get("TimeLimit.truncated", False))
                                                        for i in step.infos])
                truncated = torch.as_tensor(host_truncated, device=values.device)
                next_values = torch.zeros_like(values)
                if host_truncated.any():
                    final = np.stack([i["terminal_observation"] if cut else o
                                      for i, cut, o in zip(step.infos, host_truncated, step.new_obs)])
                    next_values = policy.values(policy.check_observation(final), state)
                self._deliver(td_error(rewards, values, next_values, dones & ~truncated, self.gamma), dones, state)
            state = net.reset_rows(host_dones, state=state)
        self._pending = (rewards, values, ~dones)
        self._last_run_info = info
        return state, step

    def _deliver(self, delta: torch.Tensor, rows: torch.Tensor, state: NetworkState) -> None:
        """Apply the TD errors ``delta [B]`` of the environments ``rows`` (bool ``[B]``; the others get 0) to both
        rules, from the eligibility in ``state``."""
        delta = torch.where(rows, delta, torch.zeros_like(delta))
        # finite by construction (rewards checked on the host, V from spike counts and c0 >= 1): no read back
        self.policy.network.apply_reward(delta, state=state, validate=False)
        self._td_sums = self._td_sums + torch.stack([delta.sum(), delta.abs().sum(), rows.sum(dtype=delta.dtype)])

    def dump_logs(self, rollout_logs: int = 0) -> None:
        """RSTDP's logs plus ``value/V_mean`` (the critic's V on the training steps since the last log),
        ``value/td_error`` and ``value/td_error_abs`` (mean TD error and its magnitude)."""
        if self._value_count:
            self.logger.record("value/V_mean", float(self._value_sum) / self._value_count)
        d_sum, d_abs, count = torch.as_tensor(self._td_sums).expand(3).tolist()  # the one read-back per log
        if count:
            self.logger.record("value/td_error", d_sum / count)
            self.logger.record("value/td_error_abs", d_abs / count)
        self._value_sum, self._value_count, self._td_sums = 0.0, 0, 0.0
        super().dump_logs(rollout_logs)

    # --- saving --------------------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able) that rebuild this agent."""
        critic = {(key if key in ("value_scale", "value_feedback") else f"critic_{key}"): value
                  for key, value in dataclasses.asdict(self.critic_config).items()}
        return {**super().hyperparameters(), "gamma": self.gamma, **critic}

    def _extra_checkpoint(self) -> dict[str, Any]:
        if self._pending is None:
            return {}
        rewards, values, waiting = (t.detach().cpu() for t in self._pending)
        return {"td_pending": {"rewards": rewards, "values": values, "waiting": waiting}}

    def _restore_extra(self, payload: dict[str, Any], path: str | pathlib.Path | Any) -> None:
        pending = payload.get("td_pending")
        if pending is not None:
            self._pending = tuple(pending[key].to(self.device) for key in ("rewards", "values", "waiting"))
