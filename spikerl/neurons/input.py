"""Input layer: its spikes are given from outside (e.g. by an encoder)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from spikerl.neurons.base import NeuronLayer
from spikerl.neurons.surrogate import SurrogateArg
from spikerl.traces import TraceParams


class InputState(NamedTuple):
    """Input layers carry no state of their own (the network keeps the last spikes and the trace)."""


class Input(NeuronLayer):
    """A layer whose spikes at step ``t`` are the input given for step ``t`` (bool or 0/1 float).

    ``step`` passes the input through as ``bool`` spikes; the multi-step module mode returns them as float.
    """

    State = InputState
    surrogate_unsupported = "its spikes are given from outside; there is no threshold to take a derivative of"

    def __init__(self, shape: int | tuple[int, ...], dt_ms: float = 1.0, trace: TraceParams | None = None,
                 surrogate: SurrogateArg = None) -> None:
        super().__init__(shape, None, dt_ms, trace, surrogate)

    def initial_state(self, batch_size: int) -> InputState:
        self._zeros(batch_size)  # validates batch_size
        return InputState()

    def step(self, current: torch.Tensor, state: InputState) -> tuple[torch.Tensor, InputState]:
        return current.bool() if current.dtype != torch.bool else current, state
