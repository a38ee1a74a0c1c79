"""Monitors: record chosen variables across runs into preallocated buffers."""

from __future__ import annotations

from typing import Iterable, Mapping

import torch


class Monitor:
    """Records variables ``"layer.var"`` of a network, run after run, into buffers of ``capacity`` steps.

    Buffers ``[capacity, B, *shape]`` are allocated on the first run (when shapes are known) and never
    grow. When full, ``overflow="error"`` raises; ``"wrap"`` keeps the most recent ``capacity`` steps.

    Example::

        mon = net.add_monitor("exc", Monitor(["Ae.spikes", "Ae.v"], capacity=350))
        net.run({"X": x})
        mon.get("Ae.spikes")   # [350, B, n]
    """

    def __init__(self, variables: Iterable[str], capacity: int, overflow: str = "error") -> None:
        self.variables = [variables] if isinstance(variables, str) else list(variables)
        if not self.variables:
            raise ValueError("a Monitor needs at least one variable such as 'layer.spikes'")
        if not isinstance(capacity, int) or capacity <= 0:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        if overflow not in ("error", "wrap"):
            raise ValueError(f"overflow must be 'error' or 'wrap', got {overflow!r}")
        self.capacity, self.overflow = capacity, overflow
        self.buffers: dict[str, torch.Tensor] = {}
        self.length = 0  # steps recorded (may exceed capacity when wrapping)

    def append(self, records: Mapping[str, torch.Tensor]) -> None:
        """Append one run's recordings ``{var: [T, B, *shape]}``."""
        steps = next(iter(records.values())).shape[0] if records else 0
        if not self.buffers:
            self.buffers = {v: torch.empty(self.capacity, *records[v].shape[1:], dtype=records[v].dtype,
                                           device=records[v].device) for v in self.variables}
        for v in self.variables:
            if records[v].shape[1:] != self.buffers[v].shape[1:]:
                raise ValueError(f"monitor buffer for {v!r} holds {list(self.buffers[v].shape[1:])} per step, "
                                 f"got {list(records[v].shape[1:])}; call reset() after changing the batch")
        if self.overflow == "error" and self.length + steps > self.capacity:
            raise RuntimeError(f"monitor is full: {self.length} + {steps} steps > capacity {self.capacity}; "
                               "call reset() or use overflow='wrap'")
        for v in self.variables:
            x = records[v]
            if steps >= self.capacity:
                self.buffers[v].copy_(x[-self.capacity:].roll((self.length + steps) % self.capacity, dims=0))
                continue
            start = self.length % self.capacity
            first = min(steps, self.capacity - start)
            self.buffers[v][start:start + first] = x[:first]
            self.buffers[v][:steps - first] = x[first:]
        self.length += steps

    def get(self, variable: str) -> torch.Tensor:
        """The recorded steps of ``variable`` in time order: ``[min(length, capacity), B, *shape]``."""
        if variable not in self.variables:
            raise KeyError(f"monitor records {self.variables}, not {variable!r}")
        if not self.buffers:
            raise RuntimeError("nothing recorded yet")
        buf = self.buffers[variable]
        if self.length <= self.capacity:
            return buf[:self.length].clone()
        start = self.length % self.capacity
        return torch.cat([buf[start:], buf[:start]])

    def reset(self) -> None:
        """Forget everything recorded (buffers are reallocated on the next run)."""
        self.buffers, self.length = {}, 0
