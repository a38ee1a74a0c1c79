"""``RSTDP``: a spiking agent trained online by reward-modulated STDP, with the Stable-Baselines3 API.

Per environment step (all environments of the ``VecEnv`` in one batch):

1. the spiking policy sees the observations for ``steps_per_action`` ms;
2. it acts: an action drawn from the softmax of the populations' spike counts; while the environments carry
   it out (``step_async``; subprocess envs run meanwhile), the step's STDP pairings, with ``1[chosen] - pi``
   as their postsynaptic factor, accumulate in the MSTDPET eligibility traces, which span environment steps
   (REINFORCE through the eligibility traces);
3. the environments finish the step (``step_wait``), and their rewards are delivered to the rule:
   ``dw = lr * sum_b r_b e_b`` (``r - baseline`` with a baseline), so delayed rewards reach the synapses that
   caused them;
4. membranes, traces and eligibility of finished episodes are reset; callbacks and the logger run.

Checkpoints (``save``/``load``) are a single file of tensors and JSON strings written by
:func:`spikerl.checkpoint.write_checkpoint` (atomic, fsync-ed) and read with ``weights_only=True``: nothing is
unpickled, nothing executes on load; a damaged file, missing keys, bad JSON or non-finite weights are refused.

Exact resume (:meth:`RSTDP.replay_env`). Weights, generator, membranes, traces and eligibility are in the
checkpoint, but the environments are not: env objects are never pickled. Instead, ``learn`` records the actions
it takes since the envs were last reset by ``learn`` (with the seeds that reset used), and the checkpoint holds
that log (1 byte per env step in memory, 8 in the checkpoint: 3.2 MB for a 400,000-step run). ``replay_env`` rebuilds the envs' state by
resetting fresh envs with the same seeds and stepping them through the logged actions without the network (the
cost: as many env steps as were trained since that reset). Environments that are deterministic given their seed
and the actions (the toy envs; ALE, including sticky actions, whose RNG is seeded by ``reset(seed=...)``) then
stand exactly where they stood, in a ``DummyVecEnv`` as in a ``SubprocVecEnv`` (each worker runs the same env code
on the same seed and actions), so an interrupted run of N steps resumed for M more gives the weights of an
uninterrupted N + M run.

Devices. ``device="cuda"`` runs the network, its state and the generator on the GPU; per environment step the
only read back from the device is the copy of the actions handed to the environments (rewards and ``done``
flags are checked on the host and copied without waiting; statistics for the logger are summed on the device
and read when the logger writes). A checkpoint loads on any device (``load(path, device=...)``); the
generator's state is restored when the checkpoint was saved from a generator of the same device type, else the
new device's generator is seeded from it (deterministically; the random stream of another device cannot be
continued), so exact resume holds on the device the run was saved from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import time
from collections import deque
from collections.abc import Iterator
from typing import Any, NamedTuple, TypeVar

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import safe_mean
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from spikerl import sync
from spikerl.checkpoint import (CheckpointError, check_finite, json_field, read_checkpoint, state_from_dict,
                                state_to_dict, write_checkpoint)
from spikerl.network import NetworkState

from agents.policy import RuleConfig, SpikingPolicy, SpikingPolicyConfig
from agents.spaces import check_action_space, check_observation_space, space_from_json, space_to_json
from agents.tensorboard import log_network

FORMAT = "spikerl.agent/1"
SelfRSTDP = TypeVar("SelfRSTDP", bound="RSTDP")


class EnvStep(NamedTuple):
    """One step of the training envs: the actions ``long [n_envs]`` and what ``step_wait`` returned."""

    actions: torch.Tensor
    new_obs: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    infos: list[dict]


class RSTDP(BaseAlgorithm):
    """Reward-modulated STDP agent (MSTDPET with eligibility traces) for discrete actions.

    Args:
        policy: ``"SpikingPolicy"`` (the only policy; kept for SB3 compatibility).
        env: a Gymnasium env, an SB3 ``VecEnv`` (several envs run as one batch) or a registered id.
        learning_rate: MSTDPET learning rate (mV per unit reward per unit eligibility).
        learning_rate_end: None: a constant rate; a number: the rate falls linearly to it over each training
            budget (:class:`agents.policy.RuleConfig`; logged as ``train/learning_rate``).
        hidden_size, population_size, steps_per_action, input_spikes_per_step, tau_mem_ms, hidden_drive_mv, hidden_spread,
        hidden_learning_rate, hidden_weight_bound, hidden_feedback, output_drive_mv, wmax_ratio, inhibition_mv, temperature, epsilon, feature_maps, feature_patch, feature_stride,
        feature_shared, feature_drive_mv, feature_inhibition_mv, feature_learning_rate, feature_theta_plus_mv,
        feature_tau_theta_ms: see
            :class:`agents.policy.SpikingPolicyConfig` (the feature layer: :mod:`agents.features`).
        tau_plus_ms, tau_minus_ms, a_plus, a_minus, tau_e_ms, baseline_window, entropy_rate: see
            :class:`agents.policy.RuleConfig`.
        reward_clip: rewards reach the learning rule clipped to ``[-reward_clip, reward_clip]`` (None: as they
            are). Atari scores of 5..200 points per event would otherwise make single updates huge; episode
            statistics and evaluations always use the environment's own rewards.
        log_weights_every: log weight histograms/images every this many rollout logs (0: never).
        tensorboard_log, verbose, seed, device, stats_window_size: as in SB3.
    """

    def __init__(self, policy: str = "SpikingPolicy", env: GymEnv | str | None = None,
                 learning_rate: float = RuleConfig.learning_rate, *,
                 learning_rate_end: float | None = RuleConfig.learning_rate_end,
                 hidden_size: int = SpikingPolicyConfig.hidden_size,
                 population_size: int = SpikingPolicyConfig.population_size,
                 steps_per_action: int = SpikingPolicyConfig.steps_per_action,
                 input_spikes_per_step: float = SpikingPolicyConfig.input_spikes_per_step,
                 tau_mem_ms: float = SpikingPolicyConfig.tau_mem_ms,
                 hidden_drive_mv: float = SpikingPolicyConfig.hidden_drive_mv,
                 hidden_spread: float = SpikingPolicyConfig.hidden_spread,
                 hidden_learning_rate: float = SpikingPolicyConfig.hidden_learning_rate,
                 hidden_weight_bound: float | None = SpikingPolicyConfig.hidden_weight_bound,
                 hidden_feedback: str = SpikingPolicyConfig.hidden_feedback,
                 output_drive_mv: float = SpikingPolicyConfig.output_drive_mv,
                 wmax_ratio: float = SpikingPolicyConfig.wmax_ratio,
                 inhibition_mv: float = SpikingPolicyConfig.inhibition_mv,
                 temperature: float = SpikingPolicyConfig.temperature,
                 epsilon: float = SpikingPolicyConfig.epsilon,
                 feature_maps: int = SpikingPolicyConfig.feature_maps,
                 feature_patch: int = SpikingPolicyConfig.feature_patch,
                 feature_stride: int = SpikingPolicyConfig.feature_stride,
                 feature_shared: bool = SpikingPolicyConfig.feature_shared,
                 feature_drive_mv: float = SpikingPolicyConfig.feature_drive_mv,
                 feature_inhibition_mv: float = SpikingPolicyConfig.feature_inhibition_mv,
                 feature_learning_rate: float = SpikingPolicyConfig.feature_learning_rate,
                 feature_theta_plus_mv: float = SpikingPolicyConfig.feature_theta_plus_mv,
                 feature_tau_theta_ms: float = SpikingPolicyConfig.feature_tau_theta_ms,
                 tau_plus_ms: float = RuleConfig.tau_plus_ms, tau_minus_ms: float = RuleConfig.tau_minus_ms,
                 a_plus: float = RuleConfig.a_plus, a_minus: float = RuleConfig.a_minus,
                 tau_e_ms: float = RuleConfig.tau_e_ms, baseline_window: int | None = RuleConfig.baseline_window,
                 entropy_rate: float = RuleConfig.entropy_rate,
                 reward_clip: float | None = 1.0, log_weights_every: int = 10, stats_window_size: int = 100,
                 tensorboard_log: str | None = None,
                 verbose: int = 0, seed: int | None = None, device: torch.device | str = "cpu",
                 _init_setup_model: bool = True) -> None:
        if policy != self.policy_name:
            raise ValueError(f"{type(self).__name__} has one policy, {self.policy_name!r}; got {policy!r}")
        if callable(learning_rate):
            raise TypeError("learning_rate must be a number (a checkpoint stores no code); for a rate that falls "
                            "linearly during training pass learning_rate_end")
        super().__init__(policy=SpikingPolicy, env=env, learning_rate=learning_rate,
                         stats_window_size=stats_window_size, tensorboard_log=tensorboard_log, verbose=verbose,
                         device=device, support_multi_env=True, seed=seed,
                         supported_action_spaces=None)
        self.policy_config = SpikingPolicyConfig(
            hidden_size=hidden_size, population_size=population_size, steps_per_action=steps_per_action,
            input_spikes_per_step=input_spikes_per_step, tau_mem_ms=tau_mem_ms, hidden_drive_mv=hidden_drive_mv,
            hidden_spread=hidden_spread, hidden_learning_rate=hidden_learning_rate,
            hidden_weight_bound=hidden_weight_bound, hidden_feedback=hidden_feedback,
            output_drive_mv=output_drive_mv, wmax_ratio=wmax_ratio, inhibition_mv=inhibition_mv,
            temperature=temperature, epsilon=epsilon, feature_maps=feature_maps, feature_patch=feature_patch,
            feature_stride=feature_stride, feature_shared=feature_shared, feature_drive_mv=feature_drive_mv,
            feature_inhibition_mv=feature_inhibition_mv, feature_learning_rate=feature_learning_rate,
            feature_theta_plus_mv=feature_theta_plus_mv, feature_tau_theta_ms=feature_tau_theta_ms)
        self.rule_config = RuleConfig(learning_rate=float(learning_rate), learning_rate_end=learning_rate_end,
                                      tau_plus_ms=tau_plus_ms, tau_minus_ms=tau_minus_ms, a_plus=a_plus,
                                      a_minus=a_minus, tau_e_ms=tau_e_ms, baseline_window=baseline_window,
                                      entropy_rate=entropy_rate)
        if reward_clip is not None and not reward_clip > 0:
            raise ValueError(f"reward_clip must be a positive number or None, got {reward_clip!r}")
        self.reward_clip = reward_clip
        self.log_weights_every = log_weights_every
        self._prediction_error_sums = np.zeros(3)  # sum of r - b, of |r - b|, count; since the last log
        self._device_error_sums: torch.Tensor | None = None  # the same, summed on an accelerator (see below)
        self._action_log = ActionLog()  # actions [n_envs] per env step since learn last reset the envs
        self._log_seeds: list[int | None] | None = None  # the seeds of that reset (None: no reset recorded)
        self.metadata: dict[str, Any] = {}  # the notes a loaded checkpoint was saved with
        if self.env is not None:
            check_observation_space(self.observation_space)
            check_action_space(self.action_space)
        if _init_setup_model:
            self._setup_model()

    #: The one policy this agent takes (its ``policy`` argument, for SB3 compatibility).
    policy_name = "SpikingPolicy"

    def _setup_model(self) -> None:
        if self.seed is not None:
            self.set_random_seed(self.seed)
        self.policy = SpikingPolicy(self.observation_space, self.action_space, self.policy_config,
                                    self.rule_config, seed=self.seed, device=self.device).to(self.device)

    # --- acting --------------------------------------------------------------------------------------
    def predict(self, observation: np.ndarray | dict[str, np.ndarray], state: tuple[np.ndarray, ...] | None = None,
                episode_start: np.ndarray | None = None, deterministic: bool = False
                ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Actions for a batch of observations; the spiking state is carried per environment.

        ``episode_start`` (bool ``[n_envs]``) resets the membranes of environments that start an episode.
        Prediction uses its own network state, separate from training, and never changes weights.
        ``deterministic=False`` samples from the softmax policy (see ``temperature``, ``epsilon``); ``True``
        takes the highest spike count. Returns ``(actions, None)``.
        """
        if isinstance(observation, dict):
            raise ValueError("RSTDP takes Box observations, not dict observations")
        obs = self.policy.check_observation(observation)
        single = tuple(np.shape(observation)) == self.policy.obs_shape
        policy, batch = self.policy, obs.shape[0]
        if episode_start is not None:
            state = policy.reset_episodes("predict", np.asarray(episode_start, dtype=bool).reshape(batch))
        else:
            state = policy.state("predict", batch)
        with torch.no_grad():
            actions, _, policy.predict_state = policy.act(obs, state, explore=not deterministic)
        actions = actions.numpy()
        return (actions[0] if single else actions), None

    # --- learning ------------------------------------------------------------------------------------
    def learn(self: SelfRSTDP, total_timesteps: int, callback: MaybeCallback = None, log_interval: int = 4,
              tb_log_name: str = "RSTDP", reset_num_timesteps: bool = True, progress_bar: bool = False
              ) -> SelfRSTDP:
        """Train online for ``total_timesteps`` environment steps (summed over environments).

        ``log_interval``: dump the logger every this many finished episodes (of the first env group).
        """
        if self.env is None:
            raise ValueError("RSTDP.learn needs an environment: pass env= or call set_env(env) first")
        if reset_num_timesteps or self._last_obs is None:  # _setup_learn resets the envs: a new action log
            self._log_seeds, self._action_log = pending_seeds(self.env), ActionLog(n_actions=self.action_space.n)
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps,
                                                      tb_log_name, progress_bar)
        callback.on_training_start(locals(), globals())
        env: VecEnv = self.env
        policy = self.policy
        state = policy.reset_episodes("train", self._last_episode_starts)  # fresh for another number of envs
        episodes_at_last_log = self._episode_num
        rollout_logs = 0
        callback.on_rollout_start()
        while self.num_timesteps < total_timesteps:
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            policy.set_progress(self._current_progress_remaining)
            state, (actions, new_obs, rewards, dones, infos) = self._train_step(state)
            policy.train_state = state
            self.num_timesteps += env.num_envs
            self._update_info_buffer(infos, dones)
            self._episode_num += int(np.sum(dones))
            self._last_obs, self._last_episode_starts = new_obs, dones
            callback.update_locals(locals())
            if not callback.on_step():
                break
            if log_interval and self._episode_num - episodes_at_last_log >= log_interval:
                episodes_at_last_log = self._episode_num
                rollout_logs += 1
                self.dump_logs(rollout_logs)
        callback.on_rollout_end()
        callback.on_training_end()
        return self

    def _train_step(self, state: NetworkState) -> tuple[NetworkState, EnvStep]:
        """One environment step of training from ``state``: act, let the envs carry the actions out, learn from
        the reward, reset finished episodes. Returns the new state and the step (for callbacks' ``locals``)."""
        policy, net = self.policy, self.policy.network
        obs = policy.check_observation(self._last_obs)
        with torch.no_grad():
            actions, info, state = policy.act(obs, state, explore=True)
            self.env.step_async(actions.numpy())
            # the eligibility update overlaps subprocess envs' steps
            state = policy.learn_from_run(actions, info, state)
        step, learn_rewards = self._finish_env_step(actions)
        self._record_prediction_error(learn_rewards)
        with torch.no_grad():  # host arrays: checked on the host, copied without waiting
            net.apply_reward(learn_rewards, state=state)
            state = net.reset_rows(np.asarray(step.dones, dtype=bool), state=state)
        self._last_run_info = info
        return state, step

    def _finish_env_step(self, actions: torch.Tensor) -> tuple[EnvStep, np.ndarray]:
        """``step_wait`` for ``actions`` (logged for :meth:`replay_env`); refuses non-finite rewards. Returns the
        step and the rewards the learning rule sees (clipped to ``reward_clip``), float32 ``[n_envs]``."""
        new_obs, rewards, dones, infos = self.env.step_wait()
        self._action_log.append(actions.numpy())
        rewards = np.asarray(rewards, dtype=np.float32)
        if not np.isfinite(rewards).all():
            raise ValueError(f"the environment returned a non-finite reward {rewards.tolist()}; "
                             "refusing to apply it to the weights")
        learn_rewards = rewards if self.reward_clip is None else np.clip(rewards, -self.reward_clip,
                                                                           self.reward_clip)
        return EnvStep(actions, new_obs, rewards, dones, infos), learn_rewards

    def _record_prediction_error(self, rewards: np.ndarray) -> None:
        """Add this step's reward-prediction errors ``r - b`` (``b`` the rule's baseline before it sees ``r``;
        0 without a baseline) to the sums that :meth:`dump_logs` reports. A baseline on an accelerator is not
        read back: the sums are then made on the device and read when the logger writes."""
        baseline = getattr(self.policy.network.rules[self.policy.plastic], "baseline", None)
        if baseline is not None and not sync.reads_are_free(baseline.value.device):
            error = torch.from_numpy(rewards).to(baseline.value.device, non_blocking=True) - baseline.value
            if self._device_error_sums is None:
                self._device_error_sums = torch.zeros(3, dtype=torch.float64, device=baseline.value.device)
            self._device_error_sums += torch.stack([error.sum(), error.abs().sum(), torch.ones_like(error).sum()])
            return
        error = rewards - (float(baseline.value) if baseline is not None else 0.0)
        sums = self._prediction_error_sums
        sums += (float(error.sum()), float(np.abs(error).sum()), error.size)

    def dump_logs(self, rollout_logs: int = 0) -> None:
        """Record episode statistics, speed and network statistics, then write them."""
        elapsed = max((time.time_ns() - self.start_time) / 1e9, 1e-9)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / elapsed)
        if self.ep_info_buffer:
            self.logger.record("rollout/ep_rew_mean", safe_mean([ep["r"] for ep in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([ep["l"] for ep in self.ep_info_buffer]))
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/fps", fps)
        self.logger.record("train/learning_rate", self.rule_config.rate(self.policy.progress_remaining))
        if self._device_error_sums is not None:  # one read back per log
            self._prediction_error_sums += self._device_error_sums.cpu().numpy()
            self._device_error_sums = None
        total, total_abs, count = self._prediction_error_sums
        if count:
            self.logger.record("reward/prediction_error", total / count)
            self.logger.record("reward/prediction_error_abs", total_abs / count)
            self._prediction_error_sums[:] = 0.0
        self.logger.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        info = getattr(self, "_last_run_info", None)
        with_images = bool(self.log_weights_every) and rollout_logs % self.log_weights_every == 0
        if info is not None:
            log_network(self.logger, self.policy, info, histograms=True, images=with_images)
        self.logger.dump(step=self.num_timesteps)

    # --- saving --------------------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able) that rebuild this agent."""
        rule = dataclasses.asdict(self.rule_config)
        rates = {name: rule.pop(name) for name in ("learning_rate", "learning_rate_end")}
        return {**rates, **dataclasses.asdict(self.policy_config),
                **rule, "reward_clip": self.reward_clip, "log_weights_every": self.log_weights_every,
                "stats_window_size": self._stats_window_size, "seed": self.seed}

    def save(self, path: str | pathlib.Path | Any, exclude: Any = None, include: Any = None,
             metadata: dict[str, Any] | None = None) -> None:
        """Write weights, traces, eligibility, hyperparameters and spaces to ``path`` (a ``.pt`` file).

        Also stores the actions taken since ``learn`` last reset the envs, for :meth:`replay_env`. Written by
        :func:`spikerl.checkpoint.write_checkpoint`; loaded by :meth:`load` with ``torch.load(weights_only=True)``.
        ``metadata``: JSON-able notes (e.g. a validation score), back as ``metadata`` on the loaded agent.
        ``exclude``/``include`` are accepted for SB3 compatibility and ignored.
        """
        policy = self.policy
        payload = {
            "format": FORMAT,
            "class": type(self).__name__,
            "hyperparameters": json.dumps(self.hyperparameters()),
            "observation_space": json.dumps(space_to_json(self.observation_space)),
            "action_space": json.dumps(space_to_json(self.action_space)),
            "num_timesteps": int(self.num_timesteps),
            "episode_num": int(self._episode_num),
            "policy": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
            "generator": policy.generator.get_state(),
            "generator_device": policy.generator.device.type,
            "metadata": json.dumps(metadata or {}),
        }
        for which in ("train", "predict"):
            state = getattr(policy, f"{which}_state")
            if state is not None:
                payload[f"{which}_state"] = state_to_dict(state)
        if self._log_seeds is not None:
            payload["replay"] = {"seeds": json.dumps(self._log_seeds),
                                 "actions": torch.from_numpy(self._action_log.array(len(self._log_seeds)))}
        payload.update(self._extra_checkpoint())
        write_checkpoint(payload, path)

    def _extra_checkpoint(self) -> dict[str, Any]:
        """Entries a subclass adds to the checkpoint (plain data), read back by :meth:`_restore_extra`."""
        return {}

    def _restore_extra(self, payload: dict[str, Any], path: str | pathlib.Path | Any) -> None:
        """Restore what :meth:`_extra_checkpoint` saved (``payload``: the whole checkpoint read from ``path``)."""

    @classmethod
    def load(cls: type[SelfRSTDP], path: str | pathlib.Path | Any, env: GymEnv | None = None,
             device: torch.device | str = "cpu", custom_objects: dict[str, Any] | None = None,
             print_system_info: bool = False, force_reset: bool = True, **kwargs: Any) -> SelfRSTDP:
        """Rebuild an agent saved by :meth:`save`; with ``env`` it can go on learning.

        ``kwargs`` override saved hyperparameters that do not change the network's shape (e.g.
        ``epsilon``, ``tensorboard_log``, ``verbose``). To continue exactly where the saved run stopped, give
        freshly built envs seeded as the saved run's and call :meth:`replay_env` before ``learn``.

        Raises :class:`spikerl.checkpoint.CorruptCheckpointError` for a damaged file and
        :class:`spikerl.checkpoint.CheckpointError` (a ``ValueError``) for another format, another agent class,
        missing keys, bad JSON or non-finite weights.
        """
        payload = read_checkpoint(path, expected_format=FORMAT, kind="spikerl agent",
                                  required=("hyperparameters", "observation_space", "action_space", "num_timesteps",
                                            "episode_num", "policy", "generator"))
        saved = payload.get("class", cls.__name__)
        if saved != cls.__name__:
            raise CheckpointError(f"{path} holds a {saved} agent, not a {cls.__name__}: load it with {saved}.load")
        hyper = json_field(payload, "hyperparameters", path)
        hyper.update(kwargs)
        obs_space = space_from_json(json_field(payload, "observation_space", path))
        act_space = space_from_json(json_field(payload, "action_space", path))
        check_finite(payload["policy"], path, "policy tensor")
        model = cls(cls.policy_name, env=None, device=device, _init_setup_model=False, **hyper)
        model.observation_space, model.action_space = obs_space, act_space
        if env is not None:
            model._attach_env(env)
        model._setup_model()
        model.policy.load_state_dict(payload["policy"])
        model.policy.apply_scale()
        restore_generator(model.policy.generator, payload["generator"], payload.get("generator_device", "cpu"))
        for which in ("train", "predict"):
            if f"{which}_state" in payload:
                setattr(model.policy, f"{which}_state", state_from_dict(model.policy.network, payload[f"{which}_state"]))
        model.num_timesteps = payload["num_timesteps"]
        model._episode_num = payload["episode_num"]
        model.metadata = json_field(payload, "metadata", path) if "metadata" in payload else {}
        if "replay" in payload:
            model._log_seeds = json_field(payload["replay"], "seeds", path)
            model._action_log = ActionLog(payload["replay"]["actions"].numpy())
        model._restore_extra(payload, path)
        return model

    def replay_env(self) -> int:
        """Bring the attached envs to where the saved run's envs stood, for an exact continuation.

        The envs must be freshly built and seeded like the saved run's (e.g. ``envs.make_vec(id, n_envs, seed)``
        passed to :meth:`load`): they are reset with those seeds and stepped through the logged actions; the last
        observations and episode starts become the agent's, and the episode statistics are rebuilt from the
        Monitor infos. Then ``learn(..., reset_num_timesteps=False)`` continues as if never interrupted (for envs
        deterministic given seed and actions; see the module docstring). Returns the number of env steps replayed.

        Raises ``ValueError`` (nothing replayed) when no env is attached, the checkpoint holds no action log, or
        the envs' number or seeds differ from the logged run's.
        """
        if self.env is None:
            raise ValueError("replay_env needs the training envs: load(path, env=...) or set_env(env) first")
        if self._log_seeds is None:
            raise ValueError("the checkpoint holds no action log (saved before any training)")
        seeds = pending_seeds(self.env)
        if len(self._log_seeds) != self.env.num_envs:
            raise ValueError(f"the saved run trained {len(self._log_seeds)} envs, these are {self.env.num_envs}")
        if None in self._log_seeds or seeds != self._log_seeds:
            raise ValueError(f"the envs' seeds {seeds} differ from the saved run's {self._log_seeds} (envs "
                             "without seeds cannot be rebuilt)")
        env = self.env
        obs = env.reset()
        dones = np.ones(env.num_envs, dtype=bool)
        self.ep_info_buffer = deque(maxlen=self._stats_window_size)
        self.ep_success_buffer = deque(maxlen=self._stats_window_size)
        for actions in self._action_log:
            obs, _, dones, infos = env.step(actions)
            self._update_info_buffer(infos, dones)
        self._last_obs, self._last_episode_starts = obs, dones
        return len(self._action_log)

    def set_env(self, env: GymEnv, force_reset: bool = True) -> None:
        """As SB3's, but with any number of environments (the spiking state is kept per batch row).

        ``force_reset=False`` keeps the last observations when the number of environments is unchanged.
        """
        last = self._last_obs
        self._attach_env(env)
        if not force_reset and last is not None and len(last) == self.n_envs:
            self._last_obs = last

    def _attach_env(self, env: GymEnv) -> None:
        """Wrap and check ``env`` against the saved spaces (any number of environments)."""
        venv = self._wrap_env(env, self.verbose)
        if venv.observation_space != self.observation_space or venv.action_space != self.action_space:
            raise ValueError(f"environment spaces {venv.observation_space}, {venv.action_space} differ from the "
                             f"saved agent's {self.observation_space}, {self.action_space}")
        self.env, self.n_envs = venv, venv.num_envs
        self._last_obs = None

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy"], []


class ActionLog:
    """Actions of every env step, ``[steps, n_envs]``, in a buffer that doubles when full (amortised O(1)
    appends). Stored as ``uint8`` (1 byte per env and step) when every action fits, else ``int64``; read back
    as ``int64``."""

    def __init__(self, actions: np.ndarray | None = None, n_actions: int = 256) -> None:
        self.dtype = np.uint8 if n_actions <= 256 else np.int64
        self._buffer = np.asarray(actions).astype(self.dtype) if actions is not None else None
        self._size = 0 if actions is None else len(self._buffer)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[np.ndarray]:
        rows = self._buffer[:self._size] if self._buffer is not None else ()
        return (row.astype(np.int64) for row in rows)

    def append(self, actions: np.ndarray) -> None:
        """Add one env step's actions ``[n_envs]``."""
        row = np.asarray(actions).reshape(-1)
        if self._buffer is None:
            self._buffer = np.empty((1024, row.size), dtype=self.dtype)
        elif self._size == len(self._buffer):
            self._buffer = np.concatenate([self._buffer, np.empty_like(self._buffer)])
        self._buffer[self._size] = row
        self._size += 1

    def array(self, n_envs: int) -> np.ndarray:
        """The logged actions ``int64 [steps, n_envs]`` (a copy)."""
        if self._buffer is None:
            return np.zeros((0, n_envs), dtype=np.int64)
        return self._buffer[:self._size].astype(np.int64)


def restore_generator(generator: torch.Generator, state: torch.Tensor, saved_device: str) -> None:
    """Give ``generator`` the saved ``state`` of a generator on ``saved_device`` (a device type, e.g. ``"cpu"``).

    The same device type: the stream continues exactly. Another one (a CPU checkpoint resumed on CUDA, or back):
    the states have other formats, so ``generator`` is seeded from a digest of ``state`` instead: a
    deterministic, fresh stream.
    """
    if generator.device.type == saved_device:
        generator.set_state(state)
    else:
        digest = hashlib.sha256(state.numpy().tobytes()).digest()
        generator.manual_seed(int.from_bytes(digest[:8], "little") % 2**63)


def pending_seeds(env: VecEnv) -> list[int | None]:
    """The seeds the next ``reset`` of ``env`` (or of the ``VecEnv`` inside its wrappers) will use: one per env,
    ``None`` for an env that continues its own random stream."""
    while isinstance(env, VecEnvWrapper):
        env = env.venv
    return [None if seed is None else int(seed) for seed in getattr(env, "_seeds", [None] * env.num_envs)]
