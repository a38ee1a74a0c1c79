"""Checkpoints: one writer, one reader, and the network format built on them.

Every checkpoint in the project is a plain ``dict`` of tensors, strings and numbers (JSON strings for configs),
written by :func:`write_checkpoint` (other files, e.g. a DQN's replay buffer, by :func:`write_file_atomically`) and read by :func:`read_checkpoint` with ``torch.load(weights_only=True)``:
nothing pickled, nothing runs on load.

Writing is atomic and durable: the payload goes to a temporary file with a unique name in the destination
folder (``<name>.<pid>.<random>.tmp``, created with ``O_EXCL``, so two runs saving to the same path never share
one), which is flushed and ``fsync``-ed, renamed onto the destination (``os.replace``, atomic within a folder),
and then the folder itself is ``fsync``-ed so the rename survives a crash. On any failure the temporary file is
removed and the destination keeps its previous content; a full disk raises :class:`CheckpointWriteError`
saying "no space left on device while writing PATH".

Reading turns every way a file can be damaged (truncated zip, empty file, garbage, a pickle that would run
code) into :class:`CorruptCheckpointError` ("corrupt or truncated checkpoint: PATH"), and the helpers
:func:`require_keys`, :func:`json_field` and :func:`check_finite` refuse, by name, a checkpoint with missing
keys, bad JSON or non-finite weights.

The network format (:func:`save_network`, :func:`load_network`) stores a :class:`~spikerl.network.Network`'s
``state_dict`` and its JSON config; layer, connection and rule types are rebuilt by name from
:mod:`spikerl.neurons`, :mod:`spikerl.connections` and :mod:`spikerl.plasticity`.
"""

from __future__ import annotations

import errno
import io
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, BinaryIO

import torch

from spikerl import connections as connection_types
from spikerl import neurons as neuron_types
from spikerl import plasticity as rule_types
from spikerl.network import Network, NetworkState
from spikerl.traces import TraceParams


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or used: the message names the file and what is wrong."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file that ``torch.load(weights_only=True)`` cannot read (truncated, damaged, not one)."""


class CheckpointWriteError(OSError):
    """A checkpoint that could not be written (no space left, folder not writable); the previous file, if any,
    is unchanged."""


def _temporary_path(path: str) -> str:
    """A fresh name beside ``path`` that no other process picks: ``<path>.<pid>.<16 hex digits>.tmp``."""
    return f"{path}.{os.getpid()}.{secrets.token_hex(8)}.tmp"


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened or synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _write_new_file(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Create ``path`` (which must not exist), let ``write`` fill it and ``fsync`` it; removes it on any
    failure."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode minus umask, like open(path, "wb")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        _remove_quietly(path)
        raise


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_file_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Let ``write`` fill a binary file that then replaces ``path`` atomically and durably (module docstring).

    ``write`` gets the open temporary file and writes the content (``torch.save``, ``np.savez``, ...). On
    failure nothing is left behind and an existing ``path`` is untouched. Raises :class:`CheckpointWriteError`
    for a full disk ("no space left on device while writing PATH") and for a missing or unwritable folder.
    """
    path = os.fspath(path)
    tmp = _temporary_path(path)
    try:
        _write_new_file(tmp, write)
        os.replace(tmp, path)
    except BaseException as error:
        _remove_quietly(tmp)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise CheckpointWriteError(errno.ENOSPC, f"no space left on device while writing {path}") from error
        if isinstance(error, OSError) and not isinstance(error, CheckpointWriteError):
            raise CheckpointWriteError(error.errno, f"cannot write checkpoint {path}: {error.strerror or error}"
                                       ) from error
        raise
    _fsync_folder(os.path.dirname(os.path.abspath(path)))


def write_checkpoint(payload: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write ``payload`` (plain data: tensors, str, numbers, lists, dicts) to ``path`` atomically and durably
    (:func:`write_file_atomically`): serialised with ``torch.save`` into memory first, so a payload that cannot
    be serialised fails before any file is created."""
    buffer = io.BytesIO()
    torch.save(dict(payload), buffer)
    write_file_atomically(path, lambda file: file.write(buffer.getbuffer()))


def check_writable(path: str | os.PathLike) -> None:
    """Fail now, not after hours of training, if a checkpoint cannot be written to ``path``.

    Creates ``path``'s folder if needed, then creates and removes a uniquely named file in it: the test that
    really decides (permission bits alone do not, e.g. for root or on read-only mounts). Raises
    :class:`CheckpointWriteError` naming the folder and the reason.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CheckpointWriteError(errno.EISDIR, f"cannot save a checkpoint to {path}: it is a folder")
    probe = _temporary_path(path)
    try:
        os.makedirs(folder, exist_ok=True)
        _write_new_file(probe, lambda file: None)
        os.unlink(probe)
    except OSError as error:
        raise CheckpointWriteError(error.errno, f"cannot write checkpoints to {folder} (for {path}): "
                                   f"{error.strerror or error}") from error


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
                    expected_format: str | None = None, kind: str = "spikerl",
                    required: Iterable[str] = ()) -> dict[str, Any]:
    """Read a checkpoint written by :func:`write_checkpoint` with ``torch.load(weights_only=True)``.

    Args:
        map_location: where tensors go (as for ``torch.load``).
        expected_format: the payload's ``"format"`` must equal this (None: any format).
        kind: what the format is called in the error, e.g. ``"spikerl agent"``.
        required: keys the payload must have (besides ``"format"``), see :func:`require_keys`.

    Raises:
        FileNotFoundError: no such file (left as it is: nothing is damaged).
        CorruptCheckpointError: "corrupt or truncated checkpoint: PATH (...)" for any file that does not unpickle
            as plain data, including one that would need to run code.
        CheckpointError: a readable file that is not a ``dict`` of the expected format, or lacks a required key.
    """
    name = os.fspath(path)
    try:
        payload = torch.load(name, map_location=map_location, weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as error:  # torch reports damage as RuntimeError, EOFError, KeyError, UnpicklingError, ...
        reason = str(error).split(". ")[0].strip() or type(error).__name__
        if "Weights only load failed" in reason:
            reason = "it holds pickled objects other than plain data and tensors, which are never loaded"
        raise CorruptCheckpointError(f"corrupt or truncated checkpoint: {name} ({type(error).__name__}: "
                                     f"{reason[:200]})") from error
    if not isinstance(payload, dict):
        raise CheckpointError(f"{name} is not a {kind} checkpoint: expected a dict, got {type(payload).__name__}")
    if expected_format is not None and payload.get("format") != expected_format:
        raise CheckpointError(f"{name} is not a {kind} checkpoint (format {expected_format!r}, found "
                              f"{payload.get('format')!r})")
    require_keys(payload, required, name)
    return payload


def require_keys(payload: Mapping[str, Any], keys: Iterable[str], path: str | os.PathLike) -> None:
    """Raise :class:`CheckpointError` naming every key of ``keys`` that ``payload`` lacks."""
    missing = [key for key in keys if key not in payload]
    if missing:
        raise CheckpointError(f"checkpoint {os.fspath(path)} lacks the key(s) {', '.join(map(repr, missing))}: "
                              "written by another program, or damaged")


def json_field(payload: Mapping[str, Any], key: str, path: str | os.PathLike) -> Any:
    """``json.loads(payload[key])``, or a :class:`CheckpointError` naming the key and the file."""
    require_keys(payload, [key], path)
    value = payload[key]
    if not isinstance(value, str):
        raise CheckpointError(f"checkpoint {os.fspath(path)}: field {key!r} should be a JSON string, got "
                              f"{type(value).__name__}")
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint {os.fspath(path)}: field {key!r} is not valid JSON ({error})") from None


def check_finite(tensors: Mapping[str, Any], path: str | os.PathLike, what: str = "tensor") -> None:
    """Refuse (:class:`CheckpointError`) a checkpoint whose floating-point tensors in ``tensors`` (a possibly
    nested dict) hold NaN or infinity, naming the first such tensor by its dotted key."""
    for key, value in _flat_items(tensors):
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(f"checkpoint {os.fspath(path)}: {what} {key!r} holds {bad} non-finite value(s) "
                                  "(NaN or infinity); refusing to load it")


def _flat_items(tree: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _flat_items(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


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
    write_checkpoint(payload, path)


def load_network(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                 ) -> tuple[Network, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_network`; returns ``(network, extra)``.

    Raises :class:`CorruptCheckpointError` for a damaged file and :class:`CheckpointError` for missing keys, bad
    JSON or non-finite weights (see :func:`read_checkpoint`).
    """
    payload = read_checkpoint(path, expected_format=FORMAT, kind="spikerl network",
                              required=("config", "extra", "state_dict"))
    config, extra = json_field(payload, "config", path), json_field(payload, "extra", path)
    sd = payload["state_dict"]
    check_finite(sd, path, "weight")
    net = build_network(config)
    for key, conn in net.connections.items():
        if f"connections.{key}.mask" in sd:
            conn.set_mask(sd[f"connections.{key}.mask"])
    net.load_state_dict(sd)
    net.to(map_location)
    if "state" in payload:
        net.state = state_from_dict(net, payload["state"])
    return net, extra


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
    reference = net.initial_state(data["batch_size"])

    def moved(fresh: torch.Tensor, saved: torch.Tensor) -> torch.Tensor:
        return saved.to(device=fresh.device)

    state = NetworkState(data["batch_size"], step=data["step"])
    state.neurons = {n: type(reference.neurons[n])(**{f: moved(getattr(reference.neurons[n], f), t)
                                                      for f, t in fields.items()})
                     for n, fields in data["neurons"].items()}
    state.rules = {}
    for key, fields in data["rules"].items():
        rule = net.rules[key] if key in net.rules else None
        if hasattr(rule, "saved_state_fields"):  # a rule that reads states saved in an earlier layout
            fields = rule.saved_state_fields(fields)
        kind = type(reference.rules[key])
        if set(fields) != set(kind._fields):
            raise CheckpointError(f"the saved state of the rule on {key!r} has the fields {sorted(fields)}; this "
                                  f"network's rule keeps {list(kind._fields)}")
        state.rules[key] = kind(**{f: moved(getattr(reference.rules[key], f), t) for f, t in fields.items()})
    state.spikes = {n: moved(reference.spikes[n], t) for n, t in data["spikes"].items()}
    state.traces = {n: moved(reference.traces[n], t) for n, t in data["traces"].items()}
    return state


def _lookup(module: Any, name: str, what: str) -> Any:
    if not hasattr(module, name):
        raise ValueError(f"checkpoint names an unknown {what} type {name!r}")
    return getattr(module, name)
