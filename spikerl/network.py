"""The network runner: named layers, connections between them, and a batched time loop.

Update order (the same on every code path, and tested to be):

At every step ``t`` of a run, for a batch of ``B`` samples,

1. every connection carries the spikes its source emitted at step ``t-1`` to its target
   (input layers included: an input spike given for step ``t`` reaches its targets at ``t+1``);
2. every layer sums its incoming currents (plus any current injected through ``inputs``) and steps its
   neurons; input layers emit the spikes given for step ``t``;
3. ``clamp`` forces chosen neurons to spike and ``silence`` forces them quiet (this only changes the spike
   output, not the membrane);
4. layer spike traces are updated with the spikes of step ``t``;
5. when learning, every connection with a rule updates its weights from the step-``t`` spikes of its
   source and target (and the step's reward);
6. requested variables are recorded.

After a learning run, connections with ``norm`` are renormalised and layers commit learned state
(adaptive thresholds). Rule state (traces, eligibility) only advances in learning runs.

Fast path: without learning, layers are simulated one strongly connected group at a time in topological
order. A group's input from upstream groups is computed for all ``T`` steps at once from the known spike
trains (event-driven when they are sparse), and a lone layer without recurrence is simulated by its
``scan``. A learning run without reward whose rules only accumulate eligibility (MSTDPET, no weight
decay) takes the same path and then updates the eligibility of the whole run at once
(``rule.accumulate``), since no weight can change during it. With learning, fixed connections from input
layers get their currents for all steps at once. All of this gives the same result as the step-by-step
path (tested); ``run(..., fast=False)`` forces the step-by-step path.

State. Everything a run changes except weights and committed adaptive thresholds (which live in the modules)
is a :class:`NetworkState`: membranes, last spikes, layer traces, the rules' traces and eligibility. It can be
held explicitly: ``state = net.initial_state(B)``, then ``records, state = net.run(inputs, state=state)``; the
state passed in is not changed, so a caller keeps one state per purpose (acting, training, evaluation) and
never swaps one object's insides. Without ``state=``, ``run`` uses and advances the network's own
``net.state`` (created by ``reset(B)`` or by the first run), as a single-purpose user expects. The other
state-driven operations take ``state=`` the same way: :meth:`Network.reset_rows` (new episodes in some rows),
:meth:`Network.accumulate_eligibility` (pairings of given trains, e.g. a policy-gradient factor, added to a
rule's eligibility without simulating), :meth:`Network.learn_from_trains` (an unsupervised rule's update from
the trains of a run simulated without learning) and :meth:`Network.apply_reward` (a reward turns a state's
eligibility into a weight change). Rule state is only advanced through these methods; callers never write
into ``state.rules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple, overload

import numpy as np
import torch
from torch import nn

from spikerl import sync
from spikerl.connections.base import Connection
from spikerl.kernels.compiled import chunk_slices, compiled
from spikerl.monitors import Monitor
from spikerl.neurons.base import NeuronLayer, check_positive
from spikerl.neurons.input import Input
from spikerl.plasticity.base import LearningRule
from spikerl.traces import trace_step
from spikerl.validation import check_finite

TensorMap = Mapping[str, torch.Tensor]

GROUP_BACKENDS = ("torch", "compiled")
"""How a run steps the layers that it cannot scan one layer at a time (a recurrent or plastic group, or the
whole network on the step-by-step path): ``"torch"`` (the default), the step loop in Python, a few kernel
launches per layer, connection and rule at every step; ``"compiled"``, the same loop (:meth:`Network._step_loop`)
fused by ``torch.compile`` and run in chunks of 32, 16 and 8 steps (the last 0-7 steps uncompiled;
:func:`spikerl.kernels.compiled.chunk_lengths`), learning runs included (weights updated inside a chunk), or
:class:`~spikerl.kernels.BackendUnavailable` saying why it cannot compile here. Compiling takes seconds to
minutes per network, chunk length and set of inputs, so it is opt-in; it pays where launches dominate (a GPU).
On the 2-core CPU the compiled loop of Diehl & Cook's recurrent pair (100 neurons, batch 64) ran at 0.6 x the
Python loop's speed."""


@dataclass
class NetworkState:
    """Everything that changes during a run (weights and adaptive thresholds live in the modules).

    Attributes:
        batch_size: ``B``.
        neurons: per layer, its model's state ``NamedTuple`` of ``[B, *shape]`` tensors.
        spikes: per layer, the spikes of the last simulated step, bool ``[B, *shape]``.
        traces: per layer with trace settings, its spike trace ``[B, *shape]``.
        rules: per plastic connection, the rule's state (traces, eligibility).
        step: number of steps simulated since the last reset.
    """

    batch_size: int
    neurons: dict[str, NamedTuple] = field(default_factory=dict)
    spikes: dict[str, torch.Tensor] = field(default_factory=dict)
    traces: dict[str, torch.Tensor] = field(default_factory=dict)
    rules: dict[str, NamedTuple] = field(default_factory=dict)
    step: int = 0

    def copy(self) -> NetworkState:
        """A new state holding the same tensors in new dicts: advancing one never changes the other (the
        network replaces tensors, it does not modify them; see ``accumulate_eligibility(inplace=True)``)."""
        return NetworkState(self.batch_size, dict(self.neurons), dict(self.spikes), dict(self.traces),
                            dict(self.rules), self.step)


def _checked_state(state: object) -> NetworkState:
    """``state`` itself, or a ``TypeError`` when it is not a :class:`NetworkState`."""
    if not isinstance(state, NetworkState):
        raise TypeError(f"state must be a NetworkState (from Network.initial_state or a run), "
                        f"got {type(state).__name__}")
    return state


class Network(nn.Module):
    """A spiking network of named layers and connections.

    Example::

        net = Network(dt_ms=1.0)
        net.add_layer("X", Input(784))
        net.add_layer("Y", LIF(100))
        net.add_connection("X", "Y", Dense(784, 100, wmin=0, wmax=1), rule=PostPre())
        out = net.run({"X": spikes}, learning=True, record=["Y.spikes", "Y.v"])   # spikes [T, B, 784]
        out["Y.spikes"]                                                            # [T, B, 100]
    """

    def __init__(self, dt_ms: float = 1.0, group_backend: str = "torch") -> None:
        super().__init__()
        check_positive("dt_ms", dt_ms)
        if group_backend not in GROUP_BACKENDS:
            raise ValueError(f"group_backend must be one of {GROUP_BACKENDS}, got {group_backend!r}")
        self.dt_ms = float(dt_ms)
        self.group_backend = group_backend
        self.layers = nn.ModuleDict()
        self.connections = nn.ModuleDict()
        self.rules = nn.ModuleDict()
        self.edges: dict[str, tuple[str, str]] = {}
        self.monitors: dict[str, Monitor] = {}
        self.state: NetworkState | None = None

    # --- building -----------------------------------------------------------------------------------
    def add_layer(self, name: str, layer: NeuronLayer) -> NeuronLayer:
        """Add ``layer`` under ``name`` (letters, digits, ``_``; no dots or arrows)."""
        if not isinstance(layer, NeuronLayer):
            raise TypeError(f"layer {name!r} must be a NeuronLayer, got {type(layer).__name__}")
        if not name or not name.replace("_", "").isalnum():
            raise ValueError(f"layer name must be letters, digits and '_', got {name!r}")
        if name in self.layers:
            raise ValueError(f"a layer named {name!r} already exists")
        if layer.dt_ms != self.dt_ms:
            raise ValueError(f"layer {name!r} has dt_ms={layer.dt_ms} but the network has dt_ms={self.dt_ms}")
        self.layers[name] = layer
        self.state = None
        return layer

    def add_connection(self, source: str, target: str, connection: Connection,
                       rule: LearningRule | None = None, name: str | None = None) -> Connection:
        """Connect layer ``source`` to layer ``target``; the connection is named ``"source->target"``."""
        for which in (source, target):
            self.layer(which)
        src, tgt = self.layers[source], self.layers[target]
        if connection.source_shape != src.shape or connection.target_shape != tgt.shape:
            raise ValueError(
                f"connection {source}->{target} maps {connection.source_shape} to {connection.target_shape} "
                f"but the layers have shapes {src.shape} and {tgt.shape}")
        if rule is not None:
            if connection.weight.numel() == 0:
                raise TypeError(f"{type(connection).__name__} {source}->{target} has no weights to learn; "
                                "give it no rule")
            rule.check(connection)
        key = name or f"{source}->{target}"
        if key in self.connections:
            raise ValueError(f"a connection named {key!r} already exists; pass name= to add another")
        self.connections[key] = connection
        if rule is not None:
            self.rules[key] = rule
        self.edges[key] = (source, target)
        self.state = None
        return connection

    def add_monitor(self, name: str, monitor: Monitor) -> Monitor:
        """Attach ``monitor``: every later run records its variables and appends them to it."""
        for key in monitor.variables:
            self._allocate_records([key], 1, 1)  # validates the names now
        self.monitors[name] = monitor
        return monitor

    def layer(self, name: str) -> NeuronLayer:
        """The layer called ``name``, or a ``KeyError`` that lists the known layers."""
        if name not in self.layers:
            raise KeyError(f"unknown layer {name!r}; layers are {sorted(self.layers)}")
        return self.layers[name]

    # --- state --------------------------------------------------------------------------------------
    def initial_state(self, batch_size: int = 1) -> NetworkState:
        """A fresh state for ``batch_size`` samples (membranes at rest, no spikes, zero traces and eligibility).

        ``net.state`` is left alone: hold the result and pass it as ``state=`` (see the module docstring).
        """
        state = NetworkState(batch_size)
        for name, layer in self.layers.items():
            state.neurons[name] = layer.initial_state(batch_size)
            state.spikes[name] = torch.zeros(batch_size, *layer.shape, dtype=torch.bool, device=layer.device)
            if layer.trace is not None:
                state.traces[name] = layer._zeros(batch_size)
        for key, rule in self.rules.items():
            state.rules[key] = rule.initial_state(self.connections[key], batch_size)
        return state

    def reset(self, batch_size: int = 1) -> NetworkState:
        """Make a fresh state (:meth:`initial_state`) the network's own ``net.state``, and return it."""
        self.state = self.initial_state(batch_size)
        return self.state

    def reset_rows(self, rows: torch.Tensor | np.ndarray, *, state: NetworkState | None = None
                   ) -> NetworkState | None:
        """Reset the samples where ``rows`` (bool ``[B]``, a tensor or a NumPy array) is True; the others keep
        their state.

        Used by agents when some environments of a vectorised batch start a new episode. State without
        a batch dimension (an adaptive threshold shared by the batch) is left alone. When no row is True the
        state is returned as it is; that test reads ``rows``, so it is made only where the read is free (host
        data: a NumPy array or a CPU tensor); on an accelerator every call blends fresh and old state on the
        device (the same values, no stall).

        With ``state``, returns the new state and leaves ``state`` (and ``net.state``) as they were; without,
        updates ``net.state`` and returns it (None when the network has no state yet: nothing to reset).
        """
        implicit = state is None
        state = self.state if implicit else _checked_state(state)
        if state is None:
            return None
        if not isinstance(rows, torch.Tensor):
            host = np.asarray(rows, dtype=bool)
            if host.shape != (state.batch_size,):
                raise ValueError(f"rows must be bool [{state.batch_size}], got shape {list(host.shape)}")
            if not host.any():
                return state
            rows = torch.from_numpy(host)
        rows = rows.to(torch.bool)
        if rows.shape != (state.batch_size,):
            raise ValueError(f"rows must be bool [{state.batch_size}], got shape {list(rows.shape)}")
        if sync.reads_are_free(rows.device) and not rows.any():
            return state
        new = state if implicit else state.copy()
        fresh = self.initial_state(state.batch_size)
        on_device: dict[torch.device, torch.Tensor] = {}  # rows copied once per device, without waiting

        def pick(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
            if old.dim() == 0 or old.shape[0] != state.batch_size or new.shape != old.shape:
                return old
            if old.device not in on_device:
                on_device[old.device] = rows.to(old.device, non_blocking=True)
            mask = on_device[old.device].reshape(-1, *([1] * (old.dim() - 1)))
            return torch.where(mask, new, old)

        for name in state.neurons:
            new.neurons[name] = type(state.neurons[name])(
                *(pick(n, o) for n, o in zip(fresh.neurons[name], state.neurons[name])))
            new.spikes[name] = pick(fresh.spikes[name], state.spikes[name])
            if name in state.traces:
                new.traces[name] = pick(fresh.traces[name], state.traces[name])
        for key in state.rules:
            new.rules[key] = type(state.rules[key])(
                *(pick(n, o) for n, o in zip(fresh.rules[key], state.rules[key])))
        return new

    # --- running ------------------------------------------------------------------------------------
    @overload
    def run(self, inputs: TensorMap | None = None, steps: int | None = None, *, state: None = None,
            learning: bool = False, reward: float | torch.Tensor | None = None, clamp: TensorMap | None = None,
            silence: TensorMap | None = None, record: Iterable[str] = (), fast: bool = True
            ) -> dict[str, torch.Tensor]: ...

    @overload
    def run(self, inputs: TensorMap | None = None, steps: int | None = None, *, state: NetworkState,
            learning: bool = False, reward: float | torch.Tensor | None = None, clamp: TensorMap | None = None,
            silence: TensorMap | None = None, record: Iterable[str] = (), fast: bool = True
            ) -> tuple[dict[str, torch.Tensor], NetworkState]: ...

    def run(self, inputs: TensorMap | None = None, steps: int | None = None, *, state: NetworkState | None = None,
            learning: bool = False, reward: float | torch.Tensor | None = None, clamp: TensorMap | None = None,
            silence: TensorMap | None = None, record: Iterable[str] = (), fast: bool = True
            ) -> dict[str, torch.Tensor] | tuple[dict[str, torch.Tensor], NetworkState]:
        """Simulate ``T`` steps for the whole batch.

        Args:
            inputs: per layer, ``[T, B, *shape]``: spikes for :class:`Input` layers (bool, or 0/1 values; other
                values raise ``ValueError``), injected current (mV per step, finite) for the others. Checked
                once per call (one boolean read back per tensor, also on CUDA), never per step.
            steps: ``T``; optional when ``inputs`` are given (must then agree with them).
            state: the state to start from (e.g. from :meth:`initial_state` or an earlier run); it is not
                changed, and the run returns the new one. Omitted: the run starts from ``net.state`` (a fresh
                one if there is none) and updates it.
            learning: apply the connections' learning rules at every step.
            reward: for reward-modulated rules: a number, ``[B]`` (the same every step) or ``[T, B]``.
            clamp, silence: per layer, bool ``[B, *shape]`` or ``[T, B, *shape]``: neurons forced to spike /
                to stay silent.
            record: names ``"layer.var"`` with ``var`` one of ``spikes``, ``trace`` or a field of the
                layer's state (e.g. ``v``, ``theta``).
            fast: allow the grouped fast path (ignored when learning).

        Returns:
            Recorded variables, each ``[T, B, *shape]``; with ``state``, the pair ``(records, new_state)``.
            ``T = 0`` (empty inputs or ``steps=0``) simulates nothing on every path: the records are empty
            ``[0, B, *shape]`` and the state, weights and monitors are left as they were.
        """
        explicit = state is not None
        inputs = dict(inputs or {})
        start = _checked_state(state) if explicit else self.state
        T, B = self._check_inputs(inputs, steps, start)
        if not explicit and start is None:
            start = self.reset(B)
        if start.batch_size != B:
            fix = f"pass a state for {B} samples (initial_state({B}))" if explicit else f"call reset({B}) first"
            raise ValueError(f"inputs have batch size {B} but the network state has batch size "
                             f"{start.batch_size}; {fix}")
        clamp = self._check_masks(clamp or {}, T, B, "clamp")
        silence = self._check_masks(silence or {}, T, B, "silence")
        rewards = self._check_reward(reward, T, B) if learning else None
        record = [record] if isinstance(record, str) else list(record)
        wanted = list(dict.fromkeys(record + [v for m in self.monitors.values() for v in m.variables]))
        recorders = self._allocate_records(wanted, T, B)
        if T == 0:
            records = {k: recorders[k] for k in record}
            return (records, start) if explicit else records
        state = start.copy() if explicit else start
        for layer in self.layers.values():
            layer.train(learning)  # adaptive layers adapt only while learning
        if learning and fast and rewards is None and self._accumulable():
            trains = self._run_grouped(state, inputs, T, clamp, silence, recorders)
            for key, rule in self.rules.items():
                src, tgt = self.edges[key]
                state.rules[key] = rule.accumulate(self.connections[key], trains[src], trains[tgt],
                                                   state.rules[key], self.dt_ms)
        elif learning or not fast:
            external, skip = ({}, set()) if not fast else self._input_currents(state, inputs, T, learning,
                                                                               set(clamp) | set(silence))
            self._run_group(state, list(self.layers), inputs, external, T, learning, rewards, clamp, silence,
                            recorders, skip=skip)
        else:
            self._run_grouped(state, inputs, T, clamp, silence, recorders)
        state.step += T
        for key, rule in self.rules.items():
            if learning and self.connections[key].norm is not None:
                self.connections[key].normalize()
        for name, layer in self.layers.items():
            layer.end_run(state.neurons[name], learning)
        for monitor in self.monitors.values():
            monitor.append({v: recorders[v] for v in monitor.variables})
        records = {k: recorders[k] for k in record}
        return (records, state) if explicit else records

    def apply_reward(self, reward: float | torch.Tensor, *, state: NetworkState | None = None,
                     validate: bool = True) -> None:
        """Deliver a reward to rules that keep eligibility traces (e.g. MSTDPET) without simulating.

        ``reward``: a number, ``[B]`` (a tensor, or a NumPy array checked on the host and copied to the device
        without waiting: pass host rewards as arrays, not as device tensors, to keep an accelerator from
        stalling on the finiteness check; or pass ``validate=False`` for a device tensor that is finite by
        construction, which skips the check). Each such rule changes its connection's weights by its
        ``reward_update`` (``lr * sum_b r_b * e_b``, see the rule) from the eligibility in ``state`` (default:
        ``net.state``); the state itself does not change (a rule's reward baseline, if any, is the rule's).
        """
        state = self.state if state is None else _checked_state(state)
        if state is None:
            raise RuntimeError("the network has no state yet: run it (or reset it) before apply_reward")
        r = self._check_reward(reward, 1, state.batch_size, validate)[0]
        for key, rule in self.rules.items():
            if hasattr(rule, "reward_update"):
                dw = rule.reward_update(self.connections[key], state.rules[key], r, check_finite=False)
                self.connections[key].apply_update(dw)

    def accumulate_eligibility(self, connection: str, pre: torch.Tensor, post: torch.Tensor, *,
                               state: NetworkState | None = None, inplace: bool = False) -> NetworkState:
        """Add the pairings of given trains to the eligibility of the rule on ``connection``, without simulating.

        For learning signals that are not the target layer's own spikes (e.g. a policy-gradient factor per
        action): ``pre [T, B, *source]`` is the source's spike train, ``post [T, B, ...]`` the postsynaptic
        factor the rule's ``accumulate`` takes (its shape is the rule's to define). The rule's traces and
        eligibility advance over the ``T`` steps exactly as in a learning run; weights do not change.

        With ``state``, returns the new state and leaves ``state`` as it was, unless ``inplace`` (faster: the
        eligibility tensor is updated in place, so pass only a state you own and will not reuse); without,
        updates ``net.state`` and returns it.
        """
        if connection not in self.rules:
            raise KeyError(f"connection {connection!r} has no learning rule; plastic connections are "
                           f"{sorted(self.rules)}")
        rule = self.rules[connection]
        if not hasattr(rule, "accumulate"):
            raise TypeError(f"the rule {type(rule).__name__} on {connection!r} cannot accumulate eligibility")
        implicit = state is None
        if implicit and self.state is None:
            raise RuntimeError("the network has no state yet: run it (or reset it) before accumulate_eligibility")
        state = self.state if implicit else _checked_state(state).copy()
        state.rules[connection] = rule.accumulate(self.connections[connection], pre, post, state.rules[connection],
                                                  self.dt_ms, inplace=inplace)
        return state

    def learn_from_trains(self, connection: str, pre: torch.Tensor, post: torch.Tensor, *,
                          state: NetworkState | None = None) -> NetworkState:
        """Apply the unsupervised rule on ``connection`` to trains a run has already produced (weights frozen
        during that run, the update applied after it, as in batched learning).

        ``pre [T, B, *source]`` and ``post [T, B, *target]`` are the source's and the target's spike trains;
        the rule's ``run_update`` (e.g. :meth:`spikerl.plasticity.PostPre.run_update`) gives the summed weight
        change, which is applied (bounds, mask), then the connection is renormalised (``norm``). The rule's
        traces advance over the ``T`` steps; no reward is involved.

        With ``state``, returns the new state and leaves ``state`` as it was; without, updates ``net.state``.
        """
        if connection not in self.rules:
            raise KeyError(f"connection {connection!r} has no learning rule; plastic connections are "
                           f"{sorted(self.rules)}")
        rule = self.rules[connection]
        if not hasattr(rule, "run_update"):
            raise TypeError(f"the rule {type(rule).__name__} on {connection!r} has no run_update: it cannot learn "
                            "from given trains")
        implicit = state is None
        if implicit and self.state is None:
            raise RuntimeError("the network has no state yet: run it (or reset it) before learn_from_trains")
        state = self.state if implicit else _checked_state(state).copy()
        conn = self.connections[connection]
        dw, state.rules[connection] = rule.run_update(conn, pre, post, state.rules[connection], self.dt_ms)
        conn.apply_update(dw)
        conn.normalize()
        return state

    # --- the step-by-step loop (one group of layers) --------------------------------------------------
    def _run_group(self, state: NetworkState, names: list[str], inputs: dict[str, torch.Tensor],
                   external: dict[str, torch.Tensor], T: int, learning: bool,
                   rewards: torch.Tensor | None, clamp: dict, silence: dict,
                   recorders: dict[str, torch.Tensor], skip: set[str] = frozenset()) -> dict[str, torch.Tensor]:
        """Simulate the layers ``names`` for ``T`` steps; returns their spike trains ``[T, B, ...]``.

        ``external`` holds precomputed currents ``[T, B, *shape]`` from layers outside the group, or from the
        connections named in ``skip`` (whose currents were computed ahead from known input trains). Advances
        ``state`` (its dicts' entries are replaced, never its tensors modified). The step loop runs as
        :attr:`group_backend` says (:data:`GROUP_BACKENDS`).
        """
        if self.group_backend == "torch":
            return self._step_loop(state, names, inputs, external, T, learning, rewards, clamp, silence,
                                   recorders, skip)
        loop = compiled(Network._step_loop, state.spikes[names[0]].device)  # BackendUnavailable: why not
        trains: dict[str, list[torch.Tensor]] = {n: [] for n in names}
        for part, is_compiled in chunk_slices(T):
            chunk = (loop if is_compiled else Network._step_loop)(
                self, state, names, {k: v[part] for k, v in inputs.items()}, {k: v[part] for k, v in external.items()},
                part.stop - part.start, learning, None if rewards is None else rewards[part],
                {k: v[part] for k, v in clamp.items()}, {k: v[part] for k, v in silence.items()},
                {k: v[part] for k, v in recorders.items()}, skip)
            for n in names:
                trains[n].append(chunk[n])
        return {n: parts[0] if len(parts) == 1 else torch.cat(parts) for n, parts in trains.items()}

    def _step_loop(self, state: NetworkState, names: list[str], inputs: dict[str, torch.Tensor],
                   external: dict[str, torch.Tensor], T: int, learning: bool,
                   rewards: torch.Tensor | None, clamp: dict, silence: dict,
                   recorders: dict[str, torch.Tensor], skip: set[str] = frozenset()) -> dict[str, torch.Tensor]:
        """:meth:`_run_group`'s step loop in Python: what the ``"compiled"`` group backend hands to
        ``torch.compile``. Writes the recorded variables into ``recorders`` (``[T, B, *shape]`` each)."""
        members = set(names)
        internal = [k for k, (s, t) in self.edges.items() if t in members and s in members and k not in skip]
        plastic = [k for k in self.rules if learning] if learning else []
        trains = {n: torch.empty(T, state.batch_size, *self.layers[n].shape, dtype=torch.bool,
                                 device=self.layers[n].device) for n in names}
        recs = [(key, *key.split(".", 1)) for key in recorders if key.split(".", 1)[0] in members]
        for t in range(T):
            currents: dict[str, torch.Tensor] = {}
            for key in internal:
                src, tgt = self.edges[key]
                c = self.connections[key](state.spikes[src])
                currents[tgt] = c if tgt not in currents else currents[tgt] + c
            for n in names:
                layer = self.layers[n]
                if isinstance(layer, Input):
                    s = inputs[n][t] if n in inputs else torch.zeros_like(state.spikes[n])
                    s = s if s.dtype == torch.bool else s.bool()
                else:
                    cur = currents.get(n)
                    for extra in (external.get(n), inputs.get(n)):
                        if extra is not None:
                            cur = extra[t] if cur is None else cur + extra[t]
                    if cur is None:
                        cur = layer._zeros(state.batch_size)
                    s, state.neurons[n] = layer.step(cur, state.neurons[n])
                if n in clamp:
                    s = s | clamp[n][t]
                if n in silence:
                    s = s & ~silence[n][t]
                state.spikes[n] = s
                trains[n][t] = s
                if layer.trace is not None:
                    p = layer.trace
                    state.traces[n] = trace_step(s, state.traces[n], p.decay(self.dt_ms), p.mode, p.scale)
            for key in plastic:
                src, tgt = self.edges[key]
                r = None if rewards is None else rewards[t]
                dw, state.rules[key] = self.rules[key].step(self.connections[key], state.spikes[src],
                                                            state.spikes[tgt], state.rules[key], r, self.dt_ms)
                if dw is not None:
                    self.connections[key].apply_update(dw)
            for key, n, var in recs:
                recorders[key][t] = self._read(state, n, var)
        return trains

    # --- the grouped fast path ------------------------------------------------------------------------
    def _accumulable(self) -> bool:
        """True when every rule can take a reward-free run at once (its weights cannot change in it)."""
        return bool(self.rules) and all(hasattr(r, "accumulate") and not r.weight_decay for r in self.rules.values())

    def _run_grouped(self, state: NetworkState, inputs: dict[str, torch.Tensor], T: int, clamp: dict,
                     silence: dict, recorders: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        trains: dict[str, torch.Tensor] = {}
        before = dict(state.spikes)  # spikes of the step before this run, for the one-step delay
        for group in self._groups():
            external: dict[str, torch.Tensor] = {}
            for key, (src, tgt) in self.edges.items():
                if tgt in group and src not in group:
                    shifted = torch.cat([before[src].unsqueeze(0), trains[src][:-1]])
                    c = self.connections[key].forward_many(shifted)
                    external[tgt] = c if tgt not in external else external[tgt] + c
            n0 = group[0]
            lone = (len(group) == 1 and not isinstance(self.layers[n0], Input) and n0 not in clamp
                    and n0 not in silence and not any(s == t == n0 for s, t in self.edges.values()))
            if lone:
                trains[n0] = self._scan_layer(state, n0, external.get(n0), inputs.get(n0), T, recorders)
            elif len(group) == 1 and isinstance(self.layers[n0], Input) and n0 not in clamp \
                    and n0 not in silence and self.layers[n0].trace is None and not self._wants(n0, recorders):
                train = inputs.get(n0)
                trains[n0] = (train.bool() if train is not None else
                              torch.zeros(T, *state.spikes[n0].shape, dtype=torch.bool, device=before[n0].device))
                state.spikes[n0] = trains[n0][-1]
            else:
                trains.update(self._run_group(state, group, inputs, external, T, False, None, clamp, silence,
                                              recorders))
        return trains

    def _input_currents(self, state: NetworkState, inputs: dict[str, torch.Tensor], T: int, learning: bool,
                        forced: set[str]) -> tuple[dict[str, torch.Tensor], set[str]]:
        """Currents of fixed connections from input layers, for all ``T`` steps at once (learning path).

        Their source trains are given, so ``W s_{t-1}`` is known ahead; plastic connections are left to the
        step loop because their weights change every step.
        """
        external: dict[str, torch.Tensor] = {}
        skip: set[str] = set()
        for key, (src, tgt) in self.edges.items():
            if not isinstance(self.layers[src], Input) or isinstance(self.layers[tgt], Input) or src in forced:
                continue
            if learning and key in self.rules:
                continue
            train = inputs.get(src)
            if train is None:
                continue
            shifted = torch.cat([state.spikes[src].unsqueeze(0), train[:-1].bool()])
            c = self.connections[key].forward_many(shifted)
            external[tgt] = c if tgt not in external else external[tgt] + c
            skip.add(key)
        return external, skip

    def _scan_layer(self, state: NetworkState, name: str, external: torch.Tensor | None,
                    injected: torch.Tensor | None, T: int, recorders: dict[str, torch.Tensor]) -> torch.Tensor:
        layer = self.layers[name]
        cur = external
        if injected is not None:
            cur = injected if cur is None else cur + injected
        if cur is None:
            cur = torch.zeros(T, state.batch_size, *layer.shape, device=layer.device, dtype=layer.dtype)
        fields = tuple(k.split(".", 1)[1] for k in recorders if k.split(".", 1)[0] == name
                       and k.split(".", 1)[1] not in ("spikes", "trace"))
        train, state.neurons[name], recorded = layer.scan(cur, state.neurons[name], fields)
        state.spikes[name] = train[-1]
        for var, values in recorded.items():
            recorders[f"{name}.{var}"].copy_(values)
        if f"{name}.spikes" in recorders:
            recorders[f"{name}.spikes"].copy_(train)
        if layer.trace is not None:
            p = layer.trace
            decay, trace = p.decay(self.dt_ms), state.traces[name]
            for t in range(T):
                trace = trace_step(train[t], trace, decay, p.mode, p.scale)
                if f"{name}.trace" in recorders:
                    recorders[f"{name}.trace"][t] = trace
            state.traces[name] = trace
        return train

    def _groups(self) -> list[list[str]]:
        """Strongly connected groups of layers in topological order (Tarjan), members in insertion order."""
        names = list(self.layers)
        succ: dict[str, list[str]] = {n: [] for n in names}
        for src, tgt in self.edges.values():
            succ[src].append(tgt)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        groups: list[list[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in succ[v]:
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                groups.append(sorted(comp, key=names.index))

        for n in names:
            if n not in index:
                visit(n)
        return groups[::-1]

    # --- recording and validation -------------------------------------------------------------------
    def _read(self, state: NetworkState, name: str, var: str) -> torch.Tensor:
        if var == "spikes":
            return state.spikes[name]
        if var == "trace":
            return state.traces[name]
        value = getattr(state.neurons[name], var)
        return value.expand(state.batch_size, *self.layers[name].shape)

    def _wants(self, name: str, recorders: dict) -> bool:
        return any(k.split(".", 1)[0] == name for k in recorders)

    def _allocate_records(self, record: Iterable[str], T: int, B: int) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for key in record:
            name, _, var = key.partition(".")
            layer = self.layer(name)
            fields = ["spikes"] + (["trace"] if layer.trace is not None else []) + list(layer.State._fields)
            if var not in fields:
                raise ValueError(f"cannot record {key!r}: layer {name!r} has variables {fields}")
            dtype = torch.bool if var == "spikes" else layer.dtype
            out[key] = torch.empty(T, B, *layer.shape, dtype=dtype, device=layer.device)
        return out

    def _check_inputs(self, inputs: dict[str, torch.Tensor], steps: int | None, state: NetworkState | None
                      ) -> tuple[int, int]:
        T, B = steps, None
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 0):
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        for name, x in inputs.items():
            layer = self.layer(name)
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"input for layer {name!r} must be a torch.Tensor, got {type(x).__name__}")
            if x.dim() != 2 + len(layer.shape) or tuple(x.shape[2:]) != layer.shape:
                raise ValueError(f"expected input for layer {name!r} of shape [T, B, "
                                 f"{', '.join(map(str, layer.shape))}], got {list(x.shape)}")
            if x.device != layer.device:
                raise ValueError(f"input for layer {name!r} is on {x.device} but the layer is on {layer.device}")
            if T is not None and x.shape[0] != T:
                raise ValueError(f"input for layer {name!r} has {x.shape[0]} steps, expected {T}")
            if B is not None and x.shape[1] != B:
                raise ValueError(f"inputs disagree on batch size: {B} and {x.shape[1]} (layer {name!r})")
            T, B = x.shape[0], x.shape[1]
            self._check_input_values(name, layer, x)
            if not isinstance(layer, Input) and not x.is_floating_point():
                inputs[name] = x.to(layer.dtype)
        if T is None:
            raise ValueError("give inputs or steps: the number of steps to simulate is unknown")
        if B is None:
            B = state.batch_size if state is not None else 1
        if state is not None:
            for name, s in state.spikes.items():
                if s.device != self.layers[name].device:
                    raise ValueError(f"network state is on {s.device} but layer {name!r} is on "
                                     f"{self.layers[name].device}; call reset() after moving the network")
        return T, B

    @staticmethod
    def _check_input_values(name: str, layer: NeuronLayer, x: torch.Tensor) -> None:
        """Spikes for an :class:`Input` layer must be bool or 0/1; currents for the others must be finite.

        One reduction and one boolean read back per input tensor and run (never per step).
        """
        if isinstance(layer, Input):
            if x.dtype == torch.bool:
                return
            bad = (x != 0) & (x != 1)
            if bool(bad.any()):
                first = tuple(int(i) for i in bad.nonzero()[0])
                raise ValueError(
                    f"input for Input layer {name!r} must be spikes (bool, or 0/1 values), but the {x.dtype} tensor "
                    f"holds {int(bad.sum())} other value(s) (first: {x[first].item()} at index {list(first)}); "
                    "encode rates or intensities into spikes first (spikerl.encoding.poisson, bernoulli, ...)")
        else:
            check_finite(f"input current for layer {name!r}", x)

    def _check_masks(self, masks: TensorMap, T: int, B: int, what: str) -> dict[str, torch.Tensor]:
        out = {}
        for name, m in masks.items():
            layer = self.layer(name)
            if m.dtype != torch.bool:
                raise TypeError(f"{what} mask for layer {name!r} must be bool, got {m.dtype}")
            if tuple(m.shape) == (B, *layer.shape):
                m = m.unsqueeze(0).expand(T, *m.shape)
            if tuple(m.shape) != (T, B, *layer.shape):
                raise ValueError(f"{what} mask for layer {name!r} must be [B, *shape] or [T, B, *shape] = "
                                 f"{[T, B, *layer.shape]}, got {list(m.shape)}")
            out[name] = m.to(layer.device)
        return out

    def _check_reward(self, reward: float | torch.Tensor | None, T: int, B: int,
                      validate: bool = True) -> torch.Tensor | None:
        if reward is None:
            return None
        dtype = next((c.weight.dtype for c in self.connections.values()), torch.get_default_dtype())
        if isinstance(reward, torch.Tensor):
            r = reward.to(dtype)
            finite = not validate or bool(torch.isfinite(r).all())  # a read back (an accelerator stalls)
        else:  # host data: checked on the host, in float64 and against the range of ``dtype``
            host = np.asarray(reward, dtype=np.float64)
            finite = bool(np.isfinite(host).all() and np.abs(host).max(initial=0.0) <= torch.finfo(dtype).max)
            r = torch.from_numpy(host).to(dtype)
        if not finite:
            raise ValueError(f"reward must be finite, got {reward!r}")
        if r.dim() == 0:
            r = r.expand(T, B)
        elif r.dim() == 1 and r.shape[0] == B:
            r = r.unsqueeze(0).expand(T, B)
        elif tuple(r.shape) != (T, B):
            raise ValueError(f"reward must be a number, [B]={[B]} or [T, B]={[T, B]}, got {list(r.shape)}")
        device = next((c.weight.device for c in self.connections.values()), r.device)
        return r.to(device, non_blocking=True)
