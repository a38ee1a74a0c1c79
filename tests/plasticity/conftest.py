"""Helpers for the plasticity tests: a tiny Input -> Dense -> LIF network whose post spikes we dictate.

The post layer's threshold is far out of reach, so its neurons spike exactly where ``clamp`` says; the input
layer spikes exactly where the input train says. Everything runs in float64 so closed forms match to ~1e-12.
"""

from __future__ import annotations

import math
from typing import Callable

import pytest
import torch

from spikerl.connections import Dense
from spikerl.network import Network
from spikerl.neurons import LIF, Input
from spikerl.plasticity import LearningRule

UNREACHABLE_MV = 1e9  # LIF threshold: the post neurons only spike when clamped


def build_net(rule: LearningRule | None, w0: float | torch.Tensor = 0.3, n_in: int = 1, n_out: int = 1,
              wmin: float = -math.inf, wmax: float = math.inf, dt_ms: float = 1.0,
              connection: torch.nn.Module | None = None) -> Network:
    """``X: Input(n_in) -> Y: LIF(n_out)`` with weights ``w0`` (a number fills the matrix), in float64.

    With ``connection`` given, the layers take its source and target shapes instead.
    """
    src, tgt = (n_in, n_out) if connection is None else (connection.source_shape, connection.target_shape)
    net = Network(dt_ms=dt_ms)
    net.add_layer("X", Input(src, dt_ms=dt_ms))
    net.add_layer("Y", LIF(tgt, dt_ms=dt_ms, v_thresh_mv=UNREACHABLE_MV, refractory_ms=0.0))
    if connection is None:
        w = torch.as_tensor(w0, dtype=torch.float64)
        w = w.expand(n_in, n_out).clone() if w.dim() == 0 else w
        connection = Dense(n_in, n_out, w=w, wmin=wmin, wmax=wmax)
    net.add_connection("X", "Y", connection, rule=rule)
    return net.double()


def spike_train(T: int, B: int, n: int, times: dict[int, list[int]] | list[int]) -> torch.Tensor:
    """Bool ``[T, B, n]``: ``times`` lists spike steps (all samples, all neurons) or maps sample -> steps."""
    out = torch.zeros(T, B, n, dtype=torch.bool)
    per_sample = times if isinstance(times, dict) else {b: times for b in range(B)}
    for b, steps in per_sample.items():
        for t in steps:
            out[t, b, :] = True
    return out


def run_learning(net: Network, pre: torch.Tensor, post: torch.Tensor, reward=None) -> torch.Tensor:
    """Run one learning pass (pre spikes into X, post spikes clamped on Y); return the weight change."""
    w = net.connections["X->Y"].weight.detach().clone()
    net.run({"X": pre}, learning=True, clamp={"Y": post}, reward=reward)
    return net.connections["X->Y"].weight.detach() - w


@pytest.fixture
def make_net() -> Callable[..., Network]:
    return build_net


@pytest.fixture
def train() -> Callable[..., torch.Tensor]:
    return spike_train


@pytest.fixture
def learn() -> Callable[..., torch.Tensor]:
    return run_learning
