"""A small convolutional spiking network trained with surrogate gradients (BPTT), for MNIST-sized images.

Architecture (``c1, c2 = channels``, ``k = kernel_size``, ``T = time_steps``)::

    image x [B, C, H, W]    (direct / analog encoding: the image is a constant input current)
      -> conv(C -> c1, k x k) [-> batch norm] -> max pool 2x2     computed ONCE: the same current I1 at every step
      -> LIF (T steps of I1)                                        spikes s1 [T, B, c1, H1, W1]
      -> conv(c1 -> c2, k x k) [-> batch norm] -> max pool 2x2     all T steps in one batched call on [T*B, ...]
      -> LIF                                                        spikes s2 [T, B, c2, H2, W2]
      -> flatten                                                    features r_t [T, B, F], F = c2 H2 W2
      -> readout: non-leaky integrator of W r_t + b, read at the end and divided by T
         logits = u_T / T = W (mean_t r_t) + b                      [B, n_classes]

with ``H1 = (H - k + 1) // 2`` and ``H2 = (H1 - k + 1) // 2`` (28 -> 12 -> 4 for MNIST with k = 5).

The LIF neurons are the engine's :class:`spikerl.neurons.LIF` in their multi-step module mode, built by
:meth:`~spikerl.neurons.LIF.trainable` (rest and reset at 0, no refractory period, soft reset:
``v_t = beta v_{t-1} + I_t``, ``s_t = H(v_t - v_thresh)``, ``v_t -= s_t v_thresh``, ``beta = exp(-dt / tau_mem)``);
their spike derivative is a surrogate, so the network is trained end to end by backpropagation through time.
The only recurrence is inside the LIF layers, so every synaptic layer is applied to all ``T`` steps at once
and only the elementwise neuron update loops over time (in LIF's fused backend). Pooling the input *currents*
(as snnTorch's tutorials do) rather than the spikes gives the LIF layers 4x fewer neurons to simulate. Batch norm (on by
default) normalises each conv layer's output current over the batch and all time steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from spikerl.neurons import LIF
from spikerl.neurons.surrogate import SURROGATES, SurrogateSpike


@dataclass(frozen=True)
class ConvSNNConfig:
    """Hyperparameters of :class:`ConvSNN` (JSON-able through :meth:`ConvSNN.config`).

    Attributes:
        in_channels: channels of the input image.
        image_size: height = width of the input image (pixels).
        channels: output channels of the two conv layers.
        kernel_size: side of the square conv kernels.
        n_classes: number of output classes.
        time_steps: simulation steps ``T`` per sample.
        tau_mem_ms: membrane time constant of the LIF layers.
        v_thresh: LIF threshold.
        surrogate: surrogate derivative name (``"fast_sigmoid"`` or ``"arctan"``).
        slope: surrogate slope; ``None`` uses the surrogate's default.
        batch_norm: batch-normalise the conv output currents.
        dt_ms: simulation step.
    """

    in_channels: int = 1
    image_size: int = 28
    channels: tuple[int, int] = (12, 64)
    kernel_size: int = 5
    n_classes: int = 10
    time_steps: int = 6
    tau_mem_ms: float = 5.0
    v_thresh: float = 1.0
    surrogate: str = "fast_sigmoid"
    slope: float | None = None
    batch_norm: bool = True
    dt_ms: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        for name in ("in_channels", "image_size", "kernel_size", "n_classes", "time_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if len(self.channels) != 2 or any(not isinstance(c, int) or c <= 0 for c in self.channels):
            raise ValueError(f"channels must be two positive ints, got {self.channels!r}")
        if self.pooled_size(2) < 1:
            raise ValueError(f"image_size {self.image_size} is too small for two {self.kernel_size}x"
                             f"{self.kernel_size} convolutions each followed by 2x2 pooling")
        if not (isinstance(self.v_thresh, (int, float)) and self.v_thresh > 0):
            raise ValueError(f"v_thresh must be a positive number, got {self.v_thresh!r}")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"unknown surrogate {self.surrogate!r}; expected one of {sorted(SURROGATES)}")

    def pooled_size(self, layer: int) -> int:
        """Side of the feature map (and of its LIF layer) after conv + pool number ``layer`` (1 or 2)."""
        size = self.image_size
        for _ in range(layer):
            size = (size - self.kernel_size + 1) // 2
        return size

    @property
    def n_features(self) -> int:
        """Number of spiking features ``F`` feeding the readout."""
        return self.channels[1] * self.pooled_size(2) ** 2


class ConvSNN(nn.Module):
    """Convolutional spiking classifier (see the module docstring for the architecture and equations).

    ``ConvSNN()`` uses :class:`ConvSNNConfig` defaults; override by keyword (``ConvSNN(time_steps=8)``) or pass
    ``config=ConvSNNConfig(...)``. ``model(x)`` maps float images ``[B, C, H, W]`` to logits ``[B, n_classes]``.
    """

    def __init__(self, config: ConvSNNConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        self.cfg = dataclasses.replace(config or ConvSNNConfig(), **overrides)
        c = self.cfg
        c1, c2 = c.channels
        self.conv1 = nn.Conv2d(c.in_channels, c1, c.kernel_size, bias=not c.batch_norm)
        self.conv2 = nn.Conv2d(c1, c2, c.kernel_size, bias=not c.batch_norm)
        self.norm1: nn.Module = nn.BatchNorm2d(c1) if c.batch_norm else nn.Identity()
        self.norm2: nn.Module = nn.BatchNorm2d(c2) if c.batch_norm else nn.Identity()
        surrogate = SurrogateSpike(c.surrogate, c.slope)
        self.lif1 = LIF.trainable((c1, c.pooled_size(1), c.pooled_size(1)), c.tau_mem_ms, c.v_thresh, surrogate,
                                  dt_ms=c.dt_ms)
        self.lif2 = LIF.trainable((c2, c.pooled_size(2), c.pooled_size(2)), c.tau_mem_ms, c.v_thresh, surrogate,
                                  dt_ms=c.dt_ms)
        self.readout = nn.Linear(c.n_features, c.n_classes)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a clear error unless ``x`` is a float ``[B, C, H, W]`` batch on the model's device."""
        c = self.cfg
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"images must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"images must be floating point (see mnist_to_input), got dtype {x.dtype}")
        expected = (c.in_channels, c.image_size, c.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images of shape [B, {', '.join(map(str, expected))}], got {list(x.shape)}")
        device = self.readout.weight.device
        if x.device != device:
            raise ValueError(f"images are on {x.device} but the model is on {device}; move one with .to()")

    def simulate(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the network on images ``x [B, C, H, W]`` and return its time-major signals.

        Returns a dict with ``"spikes1" [T, B, c1, H1, W1]``, ``"spikes2" [T, B, c2, H2, W2]`` (float 0/1),
        ``"features" [T, B, F]`` (layer-2 spikes, flattened) and ``"logits" [B, n_classes]``.
        """
        self.check_input(x)
        steps, batch = self.cfg.time_steps, x.shape[0]
        current1 = F.max_pool2d(self.norm1(self.conv1(x)), 2)  # the same input current at every step
        spikes1 = self.lif1(current1.unsqueeze(0).expand(steps, *current1.shape))
        current2 = F.max_pool2d(self.norm2(self.conv2(spikes1.flatten(0, 1))), 2)  # all T steps in one call
        spikes2 = self.lif2(current2.unflatten(0, (steps, batch)))
        features = spikes2.flatten(2)
        logits = self.readout(features.mean(0))
        return {"spikes1": spikes1, "spikes2": spikes2, "features": features, "logits": logits}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_classes]`` for float images ``x [B, C, H, W]``."""
        return self.simulate(x)["logits"]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Predicted class ``int64 [B]`` in evaluation mode, in chunks of ``batch_size`` (restores the mode)."""
        was_training = self.training
        self.eval()
        try:
            return torch.cat([self(chunk).argmax(1) for chunk in x.split(batch_size)])
        finally:
            self.train(was_training)

    def config(self) -> dict[str, Any]:
        """JSON-able description (see :meth:`from_config`)."""
        cfg = dataclasses.asdict(self.cfg)
        cfg["channels"] = list(cfg["channels"])
        return {"type": type(self).__name__, **cfg}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ConvSNN":
        """Rebuild a model (freshly initialised weights) from :meth:`config`."""
        cfg = dict(config)
        kind = cfg.pop("type", cls.__name__)
        if kind != cls.__name__:
            raise ValueError(f"config describes a {kind!r}, expected {cls.__name__!r}")
        return cls(ConvSNNConfig(**cfg))


def mnist_to_input(images: torch.Tensor) -> torch.Tensor:
    """``uint8 [N, 28, 28]`` images (0..255) -> float ``[N, 1, 28, 28]`` in ``[0, 1]`` (the direct-encoding input)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 3:
        raise ValueError(f"expected images of shape [N, H, W], got {list(images.shape)}")
    if images.dtype == torch.uint8:
        return images.unsqueeze(1).float() / 255.0
    if images.is_floating_point():
        return images.unsqueeze(1).clone()
    raise TypeError(f"images must be uint8 (0..255) or float (0..1), got dtype {images.dtype}")
