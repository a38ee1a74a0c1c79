"""Checkpoints: a network's ``state_dict`` plus a JSON-able config, loaded without executing code.

A checkpoint is a plain ``dict`` of tensors, strings and numbers written with ``torch.save`` and read with
``torch.load(weights_only=True)``: nothing pickled, nothing runs on load. Layer, connection and rule types
are rebuilt by name from :mod:`spikerl.neurons`, :mod:`spikerl.connections` and :mod:`spikerl.plasticity`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

from spikerl import connections as connection_types
from spikerl import neurons as neuron_types
from spikerl import plasticity as rule_types
from spikerl.network import Network, NetworkState
from spikerl.traces import TraceParams

FORMAT = "spikerl.network/1"


def network_config(net: Network) -> dict[str, Any]:
    """JSON-able description of a network's layers, connections and rules."""
    return {
        "dt_ms": net.dt_ms,
        "layers": {name: layer.config() for name, layer in net.layers.items()},
        "connections": {
            key: {"source": src, "target": tgt, "connection": net.connections[key].config(),
                  "rule": net.rules[key].config() if key in net.rules else None}
            for key, (src, tgt) in net.edges.items()
        },
    }


def build_network(config: dict[str, Any]) -> Network:
    """Rebuild a network (with freshly initialised weights) from :func:`network_config`."""
    net = Network(dt_ms=config["dt_ms"])
    for name, cfg in config["layers"].items():
        net.add_layer(name, _lookup(neuron_types, cfg["type"], "layer").from_config(cfg))
    for key, entry in config["connections"].items():
        conn_cfg = dict(entry["connection"])
        conn = _lookup(connection_types, conn_cfg.pop("type"), "connection")(**conn_cfg)
        rule = None
        if entry["rule"] is not None:
            rule_cfg = dict(entry["rule"])
            cls = _lookup(rule_types, rule_cfg.pop("type"), "learning rule")
            rule = cls(**{k: TraceParams(**v) if k.endswith("_trace") and isinstance(v, dict) else v
                          for k, v in rule_cfg.items()})
        net.add_connection(entry["source"], entry["target"], conn, rule=rule, name=key)
    return net


def save_network(net: Network, path: str | os.PathLike, *, include_state: bool = False,
                 extra: dict[str, Any] | None = None) -> None:
    """Write ``net`` to ``path``. ``include_state`` also stores membranes, traces and eligibility.

    ``extra`` is any JSON-able metadata (hyperparameters, epoch, ...), returned by :func:`load_network`.
    """
    payload: dict[str, Any] = {
        "format": FORMAT,
        "config": json.dumps(network_config(net)),
        "extra": json.dumps(extra or {}),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
    }
    if include_state and net.state is not None:
        payload["state"] = state_to_dict(net.state)
    tmp = f"{os.fspath(path)}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_network(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                 ) -> tuple[Network, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_network`; returns ``(network, extra)``."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)} is not a spikerl network checkpoint (format {FORMAT!r})")
    net = build_network(json.loads(payload["config"]))
    sd = payload["state_dict"]
    for key, conn in net.connections.items():
        if f"connections.{key}.mask" in sd:
            conn.set_mask(sd[f"connections.{key}.mask"])
    net.load_state_dict(sd)
    net.to(map_location)
    if "state" in payload:
        net.state = state_from_dict(net, payload["state"])
    return net, json.loads(payload["extra"])


def state_to_dict(state: NetworkState) -> dict[str, Any]:
    """A :class:`NetworkState` as nested dicts of CPU tensors (for ``torch.save`` with weights_only)."""
    return {
        "batch_size": state.batch_size, "step": state.step,
        "neurons": {n: {f: t.cpu() for f, t in s._asdict().items()} for n, s in state.neurons.items()},
        "spikes": {n: t.cpu() for n, t in state.spikes.items()},
        "traces": {n: t.cpu() for n, t in state.traces.items()},
        "rules": {k: {f: t.cpu() for f, t in s._asdict().items()} for k, s in state.rules.items()},
    }


def state_from_dict(net: Network, data: dict[str, Any]) -> NetworkState:
    """Inverse of :func:`state_to_dict`, on the network's devices (NamedTuple types from a fresh reset)."""
    reference = net.reset(data["batch_size"])

    def moved(fresh: torch.Tensor, saved: torch.Tensor) -> torch.Tensor:
        return saved.to(device=fresh.device)

    state = NetworkState(data["batch_size"], step=data["step"])
    state.neurons = {n: type(reference.neurons[n])(**{f: moved(getattr(reference.neurons[n], f), t)
                                                      for f, t in fields.items()})
                     for n, fields in data["neurons"].items()}
    state.rules = {k: type(reference.rules[k])(**{f: moved(getattr(reference.rules[k], f), t)
                                                  for f, t in fields.items()})
                   for k, fields in data["rules"].items()}
    state.spikes = {n: moved(reference.spikes[n], t) for n, t in data["spikes"].items()}
    state.traces = {n: moved(reference.traces[n], t) for n, t in data["traces"].items()}
    return state


def _lookup(module: Any, name: str, what: str) -> Any:
    if not hasattr(module, name):
        raise ValueError(f"checkpoint names an unknown {what} type {name!r}")
    return getattr(module, name)
