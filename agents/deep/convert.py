"""ANN-to-SNN conversion of trained SB3 agents (PPO, A2C, DQN with ReLU networks): :func:`convert`.

The source network is a chain of synaptic layers (``nn.Linear``, ``nn.Conv2d``) with ReLU between them (and
``nn.Flatten`` where SB3 puts one): SB3's ``FlattenExtractor`` or ``NatureCNN``, then for PPO/A2C the actor's
``mlp_extractor.policy_net`` and ``action_net``, for DQN the ``q_net``'s head. Conversion (Rueckauer et al.
2017, "Conversion of continuous-valued deep networks to efficient event-driven networks"):

* every ReLU becomes a layer of non-leaky integrate-and-fire neurons (:class:`spikerl.neurons.IF`,
  ``v_t = v_{t-1} + I_t``, threshold 1, reset by subtraction ``v_t <- v_t - 1`` on a spike, no refractory
  period), so its firing rate ``r = n_T / T`` approximates ``min(a, 1)`` for a constant drive ``a >= 0``;
* data-based normalisation: ``lambda_l`` is the ``percentile`` (e.g. 99.9) of the positive ReLU activations
  of layer ``l`` over rollout observations, and ``W_l <- W_l lambda_{l-1} / lambda_l``,
  ``b_l <- b_l / lambda_l`` (``lambda_0 = 1``: the input is the observation itself), so the rates
  approximate ``a_l / lambda_l`` and saturate only for the few activations above the percentile;
* analog input: the preprocessed observation (SB3's ``preprocess_obs``: images scaled to ``[0, 1]``) drives
  the first layer as a constant current ``W_1 x + b_1`` at every step; each bias is a constant current;
* the output layer does not spike: its neurons accumulate ``u_T = sum_t (W_L s_t + b_L)`` with
  ``W_L <- W_L lambda_{L-1}`` (``lambda_L = 1``), so ``u_T / T`` approximates the source network's output
  (logits or Q-values) on its own scale; the greedy action is ``argmax u_T``.

Each env step runs ``T = time_steps`` simulation steps from rest: the converted policy is a stateless function
of the observation, like the source. :class:`SpikingConvertedPolicy` has SB3's ``predict``, so
``stable_baselines3.common.evaluation.evaluate_policy(converted, env)`` runs it; give it the env the source
model was trained on, with the same wrappers (e.g. ``VecTransposeImage`` for images: ``model.get_env()``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.preprocessing import maybe_transpose, preprocess_obs
from stable_baselines3.common.torch_layers import FlattenExtractor, NatureCNN
from stable_baselines3.common.utils import is_vectorized_observation
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from torch import nn

from spikerl.neurons import IF

SYNAPSES = (nn.Linear, nn.Conv2d)
"""Synaptic layers that the conversion handles."""


@dataclass
class Stage:
    """One synaptic layer of the converted network: ``flatten`` its input first (SB3's ``nn.Flatten``), then
    ``synapse``; ``spiking`` stages are followed by an IF layer (the source had a ReLU there), the last stage
    is the non-spiking accumulator. ``name`` is the source layer's path, for messages."""

    synapse: nn.Module
    flatten: bool
    spiking: bool
    name: str


def source_layers(model: BaseAlgorithm) -> tuple[nn.Module, list[tuple[str, nn.Module]]]:
    """The source policy (for preprocessing) and its actor or Q network as named leaf layers in order.

    Raises ``TypeError`` for an algorithm without a ``policy`` holding an actor (``mlp_extractor`` and
    ``action_net``) or a ``q_net``, or a features extractor other than ``FlattenExtractor`` and ``NatureCNN``.
    """
    policy = getattr(model, "policy", None)
    if hasattr(policy, "q_net") and hasattr(policy.q_net, "q_net"):
        network = policy.q_net
        extractor, parts = network.features_extractor, [("policy.q_net.q_net", network.q_net)]
        prefix = "policy.q_net.features_extractor"
    elif hasattr(policy, "mlp_extractor") and hasattr(policy, "action_net"):
        extractor = policy.pi_features_extractor
        parts = [("policy.mlp_extractor.policy_net", policy.mlp_extractor.policy_net),
                 ("policy.action_net", policy.action_net)]
        prefix = "policy.pi_features_extractor"
    else:
        raise TypeError(f"expected an SB3 PPO, A2C or DQN model (a policy with mlp_extractor and action_net, or a "
                        f"q_net), got {type(model).__name__} with policy {type(policy).__name__}")
    if isinstance(extractor, NatureCNN):
        parts = [(f"{prefix}.cnn", extractor.cnn), (f"{prefix}.linear", extractor.linear), *parts]
    elif isinstance(extractor, FlattenExtractor):
        parts = [(f"{prefix}.flatten", extractor.flatten), *parts]
    else:
        raise TypeError(f"{prefix} is a {type(extractor).__name__}; the conversion handles FlattenExtractor and "
                        "NatureCNN")
    layers = []
    for name, part in parts:
        children = list(part.named_children()) if isinstance(part, nn.Sequential) else [("", part)]
        layers += [(f"{name}.{child}" if child else name, module) for child, module in children]
    return policy, layers


def build_stages(layers: list[tuple[str, nn.Module]]) -> list[Stage]:
    """Group ``layers`` into :class:`Stage` s: ``[Flatten] synapse [ReLU]``, ReLU after every synapse but the last.

    Raises ``ValueError`` naming the first layer that is not ``Linear``, ``Conv2d``, ``ReLU`` or ``Flatten``
    (e.g. SB3's default ``Tanh`` for PPO and A2C), or a ReLU in the wrong place.
    """
    stages: list[Stage] = []
    flatten = False
    for name, module in layers:
        if isinstance(module, nn.Flatten):
            flatten = True
        elif isinstance(module, SYNAPSES):
            if stages and not stages[-1].spiking:
                raise ValueError(f"{name} follows {stages[-1].name} without a ReLU in between; the conversion "
                                 "expects a ReLU after every synaptic layer but the last")
            stages.append(Stage(copy.deepcopy(module), flatten, False, name))
            flatten = False
        elif isinstance(module, nn.ReLU):
            if not stages or stages[-1].spiking:
                raise ValueError(f"{name}: a ReLU must follow a Linear or Conv2d layer")
            stages[-1].spiking = True
        else:
            hint = (" (SB3's default for PPO and A2C; train with policy_kwargs=dict(activation_fn=torch.nn.ReLU))"
                    if isinstance(module, nn.Tanh) else "")
            raise ValueError(f"cannot convert layer {name} ({type(module).__name__}){hint}: expected Linear, "
                             "Conv2d, ReLU or Flatten")
    if not stages:
        raise ValueError("the network has no Linear or Conv2d layer to convert")
    if stages[-1].spiking or flatten:
        raise ValueError(f"the output layer {stages[-1].name} must be a Linear or Conv2d layer without activation")
    return stages


def ann_forward(stages: list[Stage], x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The source network on preprocessed observations ``x [B, *obs]``: ``(output [B, A], [ReLU outputs])``."""
    activations = []
    for stage in stages:
        x = stage.synapse(x.flatten(1) if stage.flatten else x)
        if stage.spiking:
            x = torch.relu(x)
            activations.append(x)
    return x, activations


def layer_scale(activation: torch.Tensor, percentile: float) -> float:
    """``lambda``: the ``percentile`` of the positive entries of ``activation`` (1.0 if none is positive)."""
    positive = activation[activation > 0].double().cpu().numpy()
    return float(np.percentile(positive, percentile)) if positive.size else 1.0


def preprocess_observations(observation: np.ndarray, space: gym.Space, normalize_images: bool,
                            device: torch.device) -> tuple[torch.Tensor, bool]:
    """SB3's preprocessing (``policy.obs_to_tensor``, then ``preprocess_obs``: images scaled to ``[0, 1]``,
    discrete observations one-hot) of one or a batch of raw observations: ``(float [B, ...], vectorized)``.
    Channel-last images (an env without ``VecTransposeImage``, e.g. ``make_atari_env`` + ``VecFrameStack``)
    are transposed to the channel-first ``space`` first, as SB3's ``predict`` does."""
    if isinstance(observation, dict):
        raise TypeError("dict observations are not supported by the converted policy")
    observation = maybe_transpose(np.asarray(observation), space)
    vectorized = is_vectorized_observation(observation, space)
    tensor = torch.as_tensor(observation.reshape((-1, *space.shape))).to(device)
    return preprocess_obs(tensor, space, normalize_images).float(), vectorized


class SpikingConvertedPolicy(nn.Module):
    """A converted spiking network with SB3's ``predict``: see the module docstring and :func:`convert`.

    Attributes:
        time_steps: simulation steps ``T`` per env step.
        scales: ``lambda_l`` of each spiking layer (the ReLU activation that maps to rate 1).
        observation_space, action_space: the source model's.
    """

    def __init__(self, stages: list[Stage], neurons: list[IF], scales: list[float], time_steps: int,
                 observation_space: gym.Space, action_space: gym.spaces.Discrete, normalize_images: bool,
                 actor_critic: bool) -> None:
        super().__init__()
        self.synapses = nn.ModuleList(stage.synapse for stage in stages)
        self.flatten = [stage.flatten for stage in stages]
        self.neurons = nn.ModuleList(neurons)
        self.scales = scales
        self.time_steps = time_steps
        self.observation_space = observation_space
        self.action_space = action_space
        self.normalize_images = normalize_images
        self.actor_critic = actor_critic

    def synapse(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Stage ``index``'s synaptic layer on ``x [N, ...]`` (flattened first where the source flattens)."""
        return self.synapses[index](x.flatten(1) if self.flatten[index] else x)

    @torch.no_grad()
    def simulate(self, observations: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run ``T`` steps from rest on preprocessed observations ``[B, *obs]``.

        Returns the output membrane ``u_T [B, A]`` (sum over the steps of the output layer's input current) and
        each IF layer's spikes ``[T, B, *shape]`` (float 0/1), on this network's device (observations elsewhere
        are copied there).
        """
        steps, batch = self.time_steps, observations.shape[0]
        current = self.synapse(0, observations.to(self.synapses[0].weight.device))
        current = current.unsqueeze(0).expand(steps, *current.shape).contiguous()
        trains = []
        for index, layer in enumerate(self.neurons, start=1):
            spikes = layer(current)
            trains.append(spikes)
            current = self.synapse(index, spikes.flatten(0, 1)).unflatten(0, (steps, batch))
        return current.sum(0), trains

    def preprocess(self, observation: np.ndarray) -> tuple[torch.Tensor, bool]:
        """:func:`preprocess_observations` with the source policy's settings, on this network's device."""
        return preprocess_observations(observation, self.observation_space, self.normalize_images,
                                       self.synapses[0].weight.device)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``u_T / T [B, A]``: the output membrane per step, the converted estimate of the source output."""
        return self.simulate(observations)[0] / self.time_steps

    def predict(self, observation: np.ndarray, state: tuple[np.ndarray, ...] | None = None,
                episode_start: np.ndarray | None = None, deterministic: bool = True
                ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """SB3's ``predict``: actions for one or a batch of observations, and ``None`` (no recurrent state).

        ``deterministic``: ``argmax u_T``; otherwise (PPO/A2C) a sample of the categorical distribution with
        logits ``u_T / T``. DQN's converted Q-network always acts greedily (exploration is the algorithm's).
        """
        x, vectorized = self.preprocess(observation)
        values = self(x)
        if deterministic or not self.actor_critic:
            actions = values.argmax(dim=1)
        else:
            actions = torch.distributions.Categorical(logits=values).sample()
        actions = actions.cpu().numpy().reshape((-1, *self.action_space.shape))
        return (actions if vectorized else actions.squeeze(axis=0)), None


def convert(model: BaseAlgorithm, observations: np.ndarray, time_steps: int = 32,
            percentile: float = 99.9) -> SpikingConvertedPolicy:
    """Convert a trained SB3 PPO, A2C or DQN with a ReLU MLP or NatureCNN to a spiking policy.

    Args:
        model: the source model; PPO and A2C need ``policy_kwargs=dict(activation_fn=torch.nn.ReLU)`` (SB3's
            default there is Tanh), DQN's default is ReLU; Discrete actions; the actor path is converted
            (the value network is not needed to act).
        observations: raw observations ``[N, *obs]`` (as the env gives them, e.g. from
            :func:`rollout_observations`) on which the normalisation scales are measured.
        time_steps: simulation steps ``T`` per env step.
        percentile: percentile in ``(0, 100]`` of each layer's positive ReLU activations taken as its scale.
            Activations above it saturate at rate 1. Below 100 this trades range for resolution: on
            CartPole-v1 a PPO agent's play visits a narrow band of states, and with 99.9 a converted policy
            that strays outside it saturates and fails (2 of 30 episodes, at every ``T`` from 8 to 128), while
            100 keeps the ANN's score of 500 on all 30 from ``T = 8`` on.

    Raises:
        TypeError: not a PPO/A2C/DQN-like model or an unsupported extractor.
        ValueError: a layer other than Linear, Conv2d, ReLU or Flatten (named in the message), non-Discrete
            actions, or bad ``time_steps`` / ``percentile``.
    """
    if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps <= 0:
        raise ValueError(f"time_steps must be a positive int, got {time_steps!r}")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile!r}")
    policy, layers = source_layers(model)
    if not isinstance(policy.action_space, gym.spaces.Discrete):
        raise ValueError(f"the conversion supports Discrete action spaces, got {policy.action_space}")
    stages = build_stages(layers)
    x, _ = preprocess_observations(observations, policy.observation_space, policy.normalize_images,
                                   next(policy.parameters()).device)
    with torch.no_grad():
        _, activations = ann_forward(stages, x)
        scales = [layer_scale(a, percentile) for a in activations]
        previous = 1.0
        for stage, scale in zip(stages, [*scales, 1.0]):
            stage.synapse.weight.mul_(previous / scale)
            if stage.synapse.bias is not None:
                stage.synapse.bias.div_(scale)
            previous = scale
    neurons = [IF(tuple(a.shape[1:]), v_rest_mv=0.0, v_reset_mv=0.0, v_thresh_mv=1.0, refractory_ms=0.0,
                  reset="subtract").to(x.device) for a in activations]
    return SpikingConvertedPolicy(stages, neurons, scales, time_steps, policy.observation_space,
                                  policy.action_space, policy.normalize_images,
                                  actor_critic=hasattr(policy, "action_net")).eval()


def rollout_observations(model: BaseAlgorithm, env: gym.Env | VecEnv, n_steps: int, deterministic: bool = False,
                         seed: int | None = None) -> np.ndarray:
    """Raw observations ``[n_steps * n_envs, *obs]`` visited by ``model`` acting in ``env`` for ``n_steps``.

    ``env`` is a VecEnv (e.g. ``model.get_env()``, with the wrappers the model was trained with) or a Gym env
    (wrapped in a ``DummyVecEnv``); ``seed`` seeds it before the first reset. The default samples the model's
    actions (``deterministic=False``, as in training), which covers a wider range of states than greedy play.
    """
    if n_steps <= 0:
        raise ValueError(f"n_steps must be positive, got {n_steps!r}")
    venv = env if isinstance(env, VecEnv) else DummyVecEnv([lambda: env])
    if seed is not None:
        venv.seed(seed)
    obs = venv.reset()
    collected = []
    for _ in range(n_steps):
        collected.append(np.asarray(obs))
        actions, _ = model.predict(obs, deterministic=deterministic)
        obs, _, _, _ = venv.step(actions)
    return np.concatenate(collected)
