"""Spiking features extractors for Stable-Baselines3 policies: :class:`SpikingNatureCNN` and :class:`SpikingMlp`.

Each env step runs the spiking network for ``T = time_steps`` simulation steps from rest (the membranes are
reset every env step), so the extractor is a stateless function of the observation, like SB3's ``NatureCNN``,
and SB3's rollout, replay and ``predict`` logic stays valid as it is.

Signal flow for an observation batch ``x [B, *obs]`` (after SB3's preprocessing: images scaled to ``[0, 1]``)::

    encoding "direct":  the first synaptic layer runs ONCE, its output I1 [B, ...] is the current at every step
    encoding "poisson": Bernoulli spikes with per-step probability x (x must lie in [0, 1]), [T, B, *obs];
                        the first synaptic layer runs on [T*B, ...] at once
    LIF -> synaptic layer on [T*B, ...] -> LIF -> ...      (every later layer sees all T steps in one call)
    last LIF spikes s_t [T, B, F]  ->  readout r [B, F]

The LIF neurons are :meth:`spikerl.neurons.LIF.trainable` layers in their multi-step module mode (rest and
reset at 0, soft reset, no refractory period, ``v_t = beta v_{t-1} + I_t``, ``beta = exp(-dt / tau_mem)``,
surrogate spike derivative, fused BPTT backend), so the policy trains by backpropagation through time.

Readout (``readout=``): SB3's heads (action logits, value, Q) are ``nn.Linear`` layers on the features, i.e.
the synapses ``W, b`` of *non-spiking* output neurons.

* ``"membrane"`` (default): the heads read the membrane of leaky non-spiking output neurons after the last
  step, normalised by its gain: ``u_T = sum_t beta_out^(T-1-t) (W s_t + b) / sum_k beta_out^k``
  ``= W r + b`` with ``r = sum_t w_t s_t``, ``w_t = beta_out^(T-1-t) / sum_k beta_out^k``,
  ``beta_out = exp(-dt / tau_out_ms)``. The extractor returns ``r``: the exact membrane readout at the cost
  of one weighted sum. ``tau_out_ms = inf`` (a non-leaky integrator) gives equal weights ``1 / T``.
* ``"spike_rate"``: ``r = mean_t s_t``, the mean spike count per step of the last spiking layer.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import gymnasium as gym
import torch
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from spikerl.encoding import bernoulli
from spikerl.neurons import LIF
from spikerl.neurons.surrogate import SURROGATES, SurrogateSpike

ENCODINGS = ("direct", "poisson")
"""How an observation drives the first layer: a constant current, or Bernoulli spikes of probability ``x``."""

READOUTS = ("membrane", "spike_rate")
"""What SB3's linear heads read: see the module docstring."""

NORMALIZATIONS = ("none", "layer")
"""What stands between a synaptic layer and its LIF layer: nothing, or a layer normalisation of the input current.

``"layer"`` normalises each sample's current at each step over the layer (all channels and positions of a
convolution: ``nn.GroupNorm(1, C)``; the features of a linear layer: ``nn.LayerNorm``) to zero mean and unit
variance, then applies a learned per-channel scale (initially 1) and shift (initially 0). Every layer then
receives currents of the same spread around the threshold whatever its weights' scale and however sparse the
frame, as in the potential-based normalisation of deep spiking Q-networks (Sun et al. 2022). The statistics are
per sample, so rollouts and training batches compute the same function."""

DEFAULT_TIME_STEPS = 2
"""Simulation steps per env step, chosen by measurement (``scripts/benchmark.py deep``, SpaceInvaders, PPO,
1 thread, SB3 and spiking runs interleaved): spiking PPO trains at 0.48 x SB3 PPO's env steps/s with T = 2,
0.31 x with T = 3 and about 0.30 x with T = 4, and the target is 0.33 x. Spiking PPO also solves CartPole-v1
(>= 475) with T = 2, in 40k-50k env steps over two seeds (T = 3: 20k-60k)."""

DEFAULT_SURROGATE = "arctan"
"""The surrogate spike derivative of the hidden LIF layers: arctan at slope 2, ``1 / (1 + (pi x)^2)`` (half its
peak at ``|v - v_thresh| = 0.32``), chosen by measurement over fast sigmoid at slope 25 (half its peak at
``|x| = 0.017``). The Nature CNN's membranes spread with a standard deviation of 0.3-1.5 around the threshold 1,
so the narrow surrogate passes a gradient through few neurons. Fitting a trained SB3 PPO's value and policy on
10240 SpaceInvaders observations (``scripts/fit_teacher.py``, 300 Adam steps of 256 at PPO's learning rate;
held-out explained variance of the value after 150 / 300 steps): fast sigmoid 0.64 / 0.72, arctan 0.71 / 0.75,
SB3's ReLU NatureCNN 0.81 / 0.85. An earlier screen of the same kind (other initial weights) gave fast sigmoid
0.69 / 0.72 (slope 25), 0.74 / 0.81 (slope 5), 0.74 / 0.82 (slope 2); arctan 0.79 / 0.82; fast sigmoid with
T = 4 0.77 / 0.80 (three times slower); ReLU 0.81 / 0.84. In PPO on SpaceInvaders (seed 0) the explained variance
of the value at 100k steps rose from 0.33 (fast sigmoid) to 0.66 (arctan); SB3's CNN had 0.86."""


class SpikingFeaturesExtractor(BaseFeaturesExtractor):
    """Shared machinery of the spiking extractors: encoding, LIF layers, readout and activity probes.

    Args:
        observation_space: the (preprocessed) observation space.
        features_dim: size ``F`` of the readout, i.e. of the last spiking layer.
        time_steps: simulation steps ``T`` per env step.
        encoding: one of :data:`ENCODINGS`.
        readout: one of :data:`READOUTS`.
        tau_mem_ms: membrane time constant of the hidden LIF layers.
        tau_out_ms: time constant of the non-spiking output neurons (``readout="membrane"``; may be ``inf``).
        v_thresh: firing threshold of the hidden LIF layers.
        surrogate: surrogate derivative name (``"fast_sigmoid"`` or ``"arctan"``), at its default slope; see
            :data:`DEFAULT_SURROGATE`.
        dt_ms: simulation step.
        init_gain: gain of the orthogonal initialisation of the synaptic layers (biases start at 0), see
            :meth:`reset_parameters`.
        input_gain: the same for the first synaptic layer, the one the observation drives (``None``: ``init_gain``).
        normalization: one of :data:`NORMALIZATIONS`; subclasses place :meth:`norm` layers accordingly.

    Subclasses build their synaptic layers and LIF layers (via :meth:`lif`), implement :meth:`simulate` and
    call :meth:`reset_parameters` at the end of their ``__init__``.
    """

    def __init__(self, observation_space: gym.Space, features_dim: int, time_steps: int = DEFAULT_TIME_STEPS,
                 encoding: str = "direct", readout: str = "membrane", tau_mem_ms: float = 5.0,
                 tau_out_ms: float = 5.0, v_thresh: float = 1.0, surrogate: str = DEFAULT_SURROGATE,
                 dt_ms: float = 1.0, init_gain: float = 3.0, input_gain: float | None = None,
                 normalization: str = "none") -> None:
        super().__init__(observation_space, features_dim)
        if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps <= 0:
            raise ValueError(f"time_steps must be a positive int, got {time_steps!r}")
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        if surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {sorted(SURROGATES)}, got {surrogate!r}")
        if not (isinstance(tau_out_ms, (int, float)) and tau_out_ms > 0):
            raise ValueError(f"tau_out_ms must be a positive number (inf allowed), got {tau_out_ms!r}")
        self.time_steps = time_steps
        self.encoding = encoding
        self.readout = readout
        self.tau_mem_ms = float(tau_mem_ms)
        self.v_thresh = float(v_thresh)
        self.dt_ms = float(dt_ms)
        self.init_gain = float(init_gain)
        self.input_gain = self.init_gain if input_gain is None else float(input_gain)
        for name, gain in (("init_gain", self.init_gain), ("input_gain", self.input_gain)):
            if not (math.isfinite(gain) and gain > 0):
                raise ValueError(f"{name} must be a positive finite number, got {gain!r}")
        self.normalization = normalization
        self._surrogate = SurrogateSpike(surrogate)
        self.register_buffer("readout_weights", readout_weights(time_steps, readout, tau_out_ms, dt_ms),
                             persistent=False)
        self._probe: dict[str, dict[str, torch.Tensor]] | None = None

    def reset_parameters(self) -> None:
        """Orthogonal weights of gain ``init_gain`` (``input_gain`` for :meth:`input_layer`) and zero biases for
        every ``nn.Linear`` and ``nn.Conv2d``.

        SB3's default (gain ``sqrt(2)``, made for ReLU) leaves deep LIF layers nearly silent: with threshold 1
        and ``tau_mem`` 5 ms, the Nature CNN's fourth layer fires in about 0.1 % of neuron-steps on sparse
        frames, against 10-30 % in every layer with gain 3. On frames of a few small objects (Breakout's ball
        and paddle) the first layer needs more, ``input_gain``: its currents must reach the threshold from a
        few lit pixels. The spiking policies call this after SB3's initialisation so it is the one that holds.
        """
        first = self.input_layer()
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.orthogonal_(module.weight, gain=self.input_gain if module is first else self.init_gain)
                nn.init.zeros_(module.bias)

    def input_layer(self) -> nn.Module:
        """The synaptic layer that the observation drives (each subclass names its own)."""
        raise NotImplementedError(f"{type(self).__name__} must define input_layer()")

    def inner_layers(self) -> list[nn.Module]:
        """The synaptic layers (with their normalisation) whose spikes drive a further spiking layer: every
        layer but the last (each subclass lists its own)."""
        raise NotImplementedError(f"{type(self).__name__} must define inner_layers()")

    def lif(self, shape: int | tuple[int, ...]) -> LIF:
        """A trainable LIF layer of this extractor's settings."""
        return LIF.trainable(shape, self.tau_mem_ms, self.v_thresh, self._surrogate, dt_ms=self.dt_ms)

    def norm(self, channels: int, conv: bool) -> nn.Module:
        """The module between a synaptic layer of ``channels`` outputs and its LIF layer (see
        :data:`NORMALIZATIONS`): ``nn.Identity``, ``nn.GroupNorm(1, channels)`` after a convolution or
        ``nn.LayerNorm(channels)`` after a linear layer."""
        if self.normalization == "none":
            return nn.Identity()
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)

    def encode(self, x: torch.Tensor, first: nn.Module) -> torch.Tensor:
        """The first layer's input currents ``[T, B, *out]`` for observations ``x [B, *obs]``.

        ``"direct"``: ``first(x)`` computed once and expanded over ``T`` (a view, no copy). ``"poisson"``:
        ``first`` applied to Bernoulli spikes ``[T*B, *obs]`` of probability ``x`` in one call.
        """
        steps, batch = self.time_steps, x.shape[0]
        if self.encoding == "direct":
            current = first(x)
            return current.unsqueeze(0).expand(steps, *current.shape)
        spikes = bernoulli(x.detach(), steps).to(x.dtype)
        return first(spikes.flatten(0, 1)).unflatten(0, (steps, batch))

    def fire(self, name: str, layer: LIF, currents: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, B, *shape]`` of ``layer`` driven by ``currents [T, B, *shape]``.

        Inside :meth:`probing`, runs the layer's Network path instead (the same step, no gradient) and records
        the spikes and membrane potentials of ``name`` for :meth:`activity`.
        """
        if self._probe is None:
            return layer(currents)
        with torch.no_grad():
            spikes, _, recorded = layer.scan(currents.contiguous(), layer.initial_state(currents.shape[1]),
                                             record=("v",))
        self._probe[name] = {"spikes": spikes.float(), "v": recorded["v"]}
        return spikes.to(currents.dtype)

    def read(self, spikes: torch.Tensor) -> torch.Tensor:
        """The readout ``r [B, F] = sum_t w_t s_t`` of the last layer's spikes ``[T, B, F]``."""
        return torch.einsum("t,tbf->bf", self.readout_weights, spikes)

    def simulate(self, observations: torch.Tensor) -> torch.Tensor:
        """The last spiking layer's spikes ``[T, B, F]`` for observations ``[B, *obs]`` (each subclass defines
        its layers here)."""
        raise NotImplementedError(f"{type(self).__name__} must define simulate(observations) -> spikes [T, B, F]")

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Features ``[B, F]`` (the readout, see the module docstring) of observations ``[B, *obs]``."""
        return self.read(self.simulate(observations))

    @contextlib.contextmanager
    def probing(self) -> Iterator[dict[str, dict[str, torch.Tensor]]]:
        """Within the block, forward passes record each LIF layer's ``"spikes"`` and membrane ``"v"``
        (``[T, B, *shape]``, no gradient) into the yielded dict, keyed by layer name."""
        self._probe = {}
        try:
            yield self._probe
        finally:
            self._probe = None


def readout_weights(steps: int, readout: str, tau_out_ms: float, dt_ms: float) -> torch.Tensor:
    """Weights ``w [T]`` of the readout: ``beta^(T-1-t) / sum_k beta^k`` (membrane) or ``1 / T`` (spike rate)."""
    if readout == "spike_rate" or math.isinf(tau_out_ms):
        return torch.full((steps,), 1.0 / steps)
    beta = math.exp(-dt_ms / tau_out_ms)
    w = torch.tensor([beta ** (steps - 1 - t) for t in range(steps)], dtype=torch.float64)
    return (w / w.sum()).float()


class SpikingNatureCNN(SpikingFeaturesExtractor):
    """The Nature-DQN layout (Mnih et al. 2015) with LIF neurons in place of ReLUs.

    ``conv 8x8/4 (32) -> LIF -> conv 4x4/2 (64) -> LIF -> conv 3x3/1 (64) -> LIF -> linear (F) -> LIF ->
    readout`` (with ``normalization="layer"`` a normalisation after each synaptic layer), for image
    observations ``[B, C, H, W]`` (channels first, as SB3's ``VecTransposeImage`` gives).
    With direct encoding the first convolution runs once per env step; the others run on ``[T*B, ...]``.
    Keyword arguments as :class:`SpikingFeaturesExtractor`; ``features_dim`` defaults to 512.
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 512, **kwargs: object) -> None:
        super().__init__(observation_space, features_dim, **kwargs)
        if not is_image_space(observation_space, check_channels=False, normalized_image=True):
            raise ValueError(f"SpikingNatureCNN expects an image observation space [C, H, W], got "
                             f"{observation_space}")
        channels = observation_space.shape[0]
        self.conv1 = nn.Conv2d(channels, 32, kernel_size=8, stride=4)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=4, stride=2)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3, stride=1)
        sizes = [tuple(observation_space.shape[1:])]
        for kernel, stride in ((8, 4), (4, 2), (3, 1)):
            sizes.append(tuple((n - kernel) // stride + 1 for n in sizes[-1]))
        if min(min(s) for s in sizes) < 1:
            raise ValueError(f"image {tuple(observation_space.shape)} is too small for the Nature CNN (needs "
                             "at least 36 x 36 pixels)")
        s1, s2, s3 = ((32, *sizes[1]), (64, *sizes[2]), (64, *sizes[3]))
        self.lif1, self.lif2, self.lif3 = self.lif(s1), self.lif(s2), self.lif(s3)
        self.linear = nn.Linear(math.prod(s3), features_dim)
        self.lif4 = self.lif(features_dim)
        self.norm1, self.norm2, self.norm3 = self.norm(32, True), self.norm(64, True), self.norm(64, True)
        self.norm4 = self.norm(features_dim, False)
        self.reset_parameters()

    def input_layer(self) -> nn.Module:
        return self.conv1

    def inner_layers(self) -> list[nn.Module]:
        return [self.conv1, self.norm1, self.conv2, self.norm2, self.conv3, self.norm3]

    def simulate(self, observations: torch.Tensor) -> torch.Tensor:
        steps, batch = self.time_steps, observations.shape[0]
        s = self.fire("lif1", self.lif1, self.encode(observations, nn.Sequential(self.conv1, self.norm1)))
        for name, conv, norm, lif in (("lif2", self.conv2, self.norm2, self.lif2),
                                      ("lif3", self.conv3, self.norm3, self.lif3)):
            s = self.fire(name, lif, norm(conv(s.flatten(0, 1))).unflatten(0, (steps, batch)))
        return self.fire("lif4", self.lif4, self.norm4(self.linear(s.flatten(2))))


class SpikingMlp(SpikingFeaturesExtractor):
    """A fully connected spiking network for vector observations ``[B, *obs]`` (flattened).

    ``linear (h1) -> LIF -> linear (h2) -> LIF -> ... -> readout`` with ``hidden = (h1, h2, ...)`` (default
    ``(64, 64)``); ``F`` is the last hidden size. Keyword arguments as :class:`SpikingFeaturesExtractor`.
    """

    def __init__(self, observation_space: gym.Space, hidden: tuple[int, ...] | list[int] = (64, 64),
                 **kwargs: object) -> None:
        hidden = tuple(hidden)
        if not hidden or any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {hidden!r}")
        super().__init__(observation_space, hidden[-1], **kwargs)
        sizes = (gym.spaces.utils.flatdim(observation_space), *hidden)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.lifs = nn.ModuleList(self.lif(h) for h in hidden)
        self.norms = nn.ModuleList(self.norm(h, False) for h in hidden)
        self.reset_parameters()

    def input_layer(self) -> nn.Module:
        return self.linears[0]

    def inner_layers(self) -> list[nn.Module]:
        return [*self.linears[:-1], *self.norms[:-1]]

    def simulate(self, observations: torch.Tensor) -> torch.Tensor:
        x = observations.flatten(1)
        s = self.fire("lif1", self.lifs[0], self.encode(x, nn.Sequential(self.linears[0], self.norms[0])))
        for i, (linear, norm, lif) in enumerate(zip(self.linears[1:], self.norms[1:], self.lifs[1:]), start=2):
            s = self.fire(f"lif{i}", lif, norm(linear(s)))
        return s
