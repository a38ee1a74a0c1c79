"""Save and load SB3 algorithms without unpickling anything.

SB3's zip holds the weights as ``.pth`` files (read with ``torch.load(weights_only=True)``) and the other
attributes in a JSON file ``data``, where every value that JSON cannot hold (spaces, the policy class, schedules,
``policy_kwargs`` with classes in it, observation buffers) is a base64 cloudpickle that ``load`` executes.

:class:`SafeZipMixin` keeps SB3's file but never unpickles: ``save`` (or :func:`safe_save` for SB3's own
classes) adds one more JSON field, :data:`SAFE_FIELD`, that describes the pickled values in plain JSON
(spaces by their bounds, schedules by their SB3 class and numbers, classes by name from an allow-list), and
``load`` reads ``data`` as JSON and passes SB3 a ``custom_objects`` entry for *every* pickled field: the
value rebuilt from :data:`SAFE_FIELD`, or ``None`` for run-time buffers (``_last_obs``, ``ep_info_buffer``,
...), which SB3 recreates at the next ``learn`` (the env is reset first, as SB3 does whenever it is given a
new env). A class is rebuilt only if its name is in :func:`allowed_classes`; anything else is refused with
:class:`UnsafeModelError`.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import warnings
import zipfile
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common import torch_layers
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.type_aliases import TrainFreq, TrainFrequencyUnit
from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule, LinearSchedule
from torch import nn

SAFE_FIELD = "spikerl_json_objects"
"""Name of the JSON field (in the zip's ``data``) that describes the otherwise pickled values."""

TAG = "__spikerl__"

REBUILT = ("policy_class", "observation_space", "action_space", "policy_kwargs", "learning_rate", "lr_schedule",
           "clip_range", "clip_range_vf", "exploration_schedule", "ent_coef", "target_kl", "train_freq")
"""Attributes that ``save`` must describe in JSON when they are not plain JSON already."""

REQUIRED = ("policy_class", "observation_space", "action_space", "policy_kwargs", "train_freq")
"""Attributes without which a model cannot be rebuilt: ``save`` refuses a model that cannot describe them."""


class UnsafeModelError(ValueError):
    """A model file (or model) that spikerl will not load (or save) without executing pickled code."""


class _Unencodable(Exception):
    """A value with no JSON description."""


def allowed_classes() -> dict[str, type]:
    """Classes that :func:`from_json` rebuilds by name (``"module.QualName"`` -> class): torch.nn modules,
    torch.optim optimizers, SB3's features extractors and policies, and spikerl's spiking extractors and
    policies, and SB3's ``RMSpropTFLike`` (rl-baselines3-zoo's A2C optimizer). Everything else in a file is
    refused."""
    from stable_baselines3 import A2C, DQN, PPO

    from agents.deep import extractors, policies

    found: list[type] = [RMSpropTFLike]
    for module, base in ((nn, nn.Module), (torch.optim, torch.optim.Optimizer), (torch_layers, nn.Module),
                         (extractors, nn.Module), (policies, nn.Module)):
        found += [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, base)]
    for algo in (PPO, A2C, DQN):
        found += list(algo.policy_aliases.values())
    return {class_name(c): c for c in found}


def class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def to_json(value: Any) -> Any:
    """A JSON description of ``value``, or ``_Unencodable``. Numbers, strings, lists and dicts stay as they
    are (inside a tagged wrapper where they could be mistaken for a tag); spaces, SB3 schedules and
    allow-listed classes get a tagged description."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, TrainFreq):
        return {TAG: "TrainFreq", "frequency": int(value.frequency), "unit": value.unit.value}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _Unencodable(f"a dict with non-string keys {list(value)}")
        return {TAG: "dict", "items": {k: to_json(v) for k, v in value.items()}}
    if isinstance(value, type):
        name = class_name(value)
        if name not in allowed_classes():
            raise _Unencodable(f"class {name} is not in spikerl's allow-list of classes loaded by name")
        return {TAG: "class", "name": name}
    if isinstance(value, FloatSchedule):
        return {TAG: "FloatSchedule", "value_schedule": to_json(value.value_schedule)}
    if isinstance(value, ConstantSchedule):
        return {TAG: "ConstantSchedule", "val": to_json(value.val)}
    if isinstance(value, LinearSchedule):
        return {TAG: "LinearSchedule", "start": to_json(value.start), "end": to_json(value.end),
                "end_fraction": to_json(value.end_fraction)}
    if isinstance(value, gym.spaces.Space):
        return _space_to_json(value)
    raise _Unencodable(f"a {type(value).__name__}")


def _array_to_json(a: np.ndarray) -> Any:
    """A uniform array as its one value, else nested lists (``inf`` is JSON's ``Infinity``)."""
    flat = a.reshape(-1)
    return flat[0].item() if flat.size and (flat == flat[0]).all() else a.tolist()


def _space_to_json(space: gym.spaces.Space) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Box):
        return {TAG: "Box", "low": _array_to_json(space.low), "high": _array_to_json(space.high),
                "shape": list(space.shape), "dtype": str(space.dtype)}
    if isinstance(space, gym.spaces.Discrete):
        return {TAG: "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {TAG: "MultiDiscrete", "nvec": space.nvec.tolist(), "start": space.start.tolist(),
                "dtype": str(space.dtype)}
    if isinstance(space, gym.spaces.MultiBinary):
        return {TAG: "MultiBinary", "n": to_json(space.n)}
    if isinstance(space, gym.spaces.Dict):
        return {TAG: "DictSpace", "spaces": {k: _space_to_json(s) for k, s in space.spaces.items()}}
    raise _Unencodable(f"a {type(space).__name__} space")


def from_json(value: Any) -> Any:
    """Inverse of :func:`to_json`; raises :class:`UnsafeModelError` for a class outside the allow-list or an
    unknown tag."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(TAG)
    if kind == "dict":
        return {k: from_json(v) for k, v in value["items"].items()}
    if kind == "class":
        cls = allowed_classes().get(value["name"])
        if cls is None:
            raise UnsafeModelError(f"the model names class {value['name']!r}, which is not in spikerl's "
                                   "allow-list of classes it loads by name (see agents.deep.safe_zip)")
        return cls
    if kind == "FloatSchedule":
        return FloatSchedule(from_json(value["value_schedule"]))
    if kind == "ConstantSchedule":
        return ConstantSchedule(float(value["val"]))
    if kind == "LinearSchedule":
        return LinearSchedule(float(value["start"]), float(value["end"]), float(value["end_fraction"]))
    if kind == "TrainFreq":
        return TrainFreq(int(value["frequency"]), TrainFrequencyUnit(value["unit"]))
    if kind == "Box":
        shape, dtype = tuple(value["shape"]), np.dtype(value["dtype"])
        return gym.spaces.Box(np.broadcast_to(np.asarray(value["low"], dtype), shape).copy(),
                              np.broadcast_to(np.asarray(value["high"], dtype), shape).copy(), shape, dtype)
    if kind == "Discrete":
        return gym.spaces.Discrete(int(value["n"]), start=int(value["start"]))
    if kind == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(value["nvec"], dtype=np.dtype(value["dtype"]), start=value["start"])
    if kind == "MultiBinary":
        return gym.spaces.MultiBinary(value["n"])
    if kind == "DictSpace":
        return gym.spaces.Dict({k: from_json(s) for k, s in value["spaces"].items()})
    raise UnsafeModelError(f"unknown JSON object in the model file: {json.dumps(value)[:200]}")


def describe(model: Any) -> dict[str, Any]:
    """The JSON descriptions (:data:`SAFE_FIELD`) of ``model``'s attributes in :data:`REBUILT` that plain JSON
    cannot hold. Raises :class:`UnsafeModelError` for one of :data:`REQUIRED` without a description; a
    schedule of another kind is stored as its current value, with a warning."""
    described: dict[str, Any] = {}
    for key in REBUILT:
        if key not in model.__dict__:
            continue
        value = model.__dict__[key]
        try:
            json.dumps(value)
            continue  # plain JSON already: SB3 stores it as it is
        except (TypeError, ValueError):
            pass
        try:
            described[key] = to_json(value)
        except _Unencodable as error:
            if key in REQUIRED:
                raise UnsafeModelError(f"cannot save {key} without pickling it: {error}; use JSON values, SB3 "
                                       "spaces and allow-listed classes (see agents.deep.safe_zip)") from error
            if not callable(value):
                continue
            current = float(value(model._current_progress_remaining))
            warnings.warn(f"{key} is a {type(value).__name__}, which has no JSON form; it is saved as the "
                          f"constant {current} (use SB3's ConstantSchedule or LinearSchedule to keep it)")
            described[key] = {TAG: "ConstantSchedule", "val": current}
    return described


def read_data_json(path: str | pathlib.Path | io.BufferedIOBase) -> dict[str, Any]:
    """The zip's ``data`` file as JSON (nothing decoded). Raises ``ValueError`` for a file that is not one."""
    try:
        with zipfile.ZipFile(path) as archive:
            if "data" not in archive.namelist():
                raise ValueError(f"{path} has no 'data' entry: not a Stable-Baselines3 model file")
            return json.loads(archive.read("data").decode())
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path} is not a zip file (expected a model saved by save())") from error


def read_policy_weights(path: str | pathlib.Path) -> tuple[dict[str, torch.Tensor], int]:
    """The policy's state dict (``policy.pth``) of any SB3 zip, read with ``torch.load(weights_only=True)``, and
    the model's ``num_timesteps`` from the zip's JSON (0 if absent); nothing pickled is read. For models saved by
    plain SB3 (e.g. rl-baselines3-zoo's): the caller builds the same policy and loads these weights into it."""
    data = read_data_json(path)
    with zipfile.ZipFile(path) as archive:
        if "policy.pth" not in archive.namelist():
            raise ValueError(f"{path} has no 'policy.pth' entry: not a Stable-Baselines3 model file")
        weights = torch.load(io.BytesIO(archive.read("policy.pth")), map_location="cpu", weights_only=True)
    steps = data.get("num_timesteps", 0)
    return weights, int(steps) if isinstance(steps, int) else 0


def safe_custom_objects(data: dict[str, Any]) -> dict[str, Any]:
    """``custom_objects`` for SB3's ``load``: a value for every pickled field of ``data`` (the zip's JSON),
    rebuilt from :data:`SAFE_FIELD` or ``None``, so SB3 unpickles nothing."""
    described = data.get(SAFE_FIELD)
    if not isinstance(described, dict):
        raise UnsafeModelError("the model file has no JSON description of its pickled fields (field "
                               f"{SAFE_FIELD!r}): it was not saved by a spikerl spiking algorithm, and loading it "
                               "would unpickle code; re-save it with SpikingPPO/SpikingA2C/SpikingDQN.save")
    objects: dict[str, Any] = {SAFE_FIELD: None}
    for key, item in data.items():
        if key in described:
            objects[key] = from_json(described[key])
        elif isinstance(item, dict) and ":serialized:" in item:
            if key in REQUIRED:
                raise UnsafeModelError(f"the model file describes no {key} in JSON")
            objects[key] = None
    return objects


def safe_save(model: Any, path: str | pathlib.Path | io.BufferedIOBase, exclude: Any = None, include: Any = None,
              _save: Any = None) -> None:
    """Save an SB3 algorithm (any, e.g. ``PPO(SpikingCnnPolicy, env)``) so that the spiking algorithms' ``load``
    can read it without unpickling: ``model.save`` with :data:`SAFE_FIELD` added. Raises
    :class:`UnsafeModelError` when a required field has no JSON description."""
    if _save is None and isinstance(model, SafeZipMixin):  # its own save adds the field
        model.save(path, exclude=exclude, include=include)
        return
    model.__dict__[SAFE_FIELD] = describe(model)
    try:
        (_save or model.save)(path, exclude=exclude, include=include)
    finally:
        del model.__dict__[SAFE_FIELD]


class SafeZipMixin:
    """Mixin for SB3 algorithm classes (listed before them): ``save`` adds :data:`SAFE_FIELD`, ``load``
    unpickles nothing (see the module docstring). Models saved by plain SB3 are refused by ``load``."""

    def save(self, path: str | pathlib.Path | io.BufferedIOBase, exclude: Any = None, include: Any = None) -> None:
        """SB3's ``save`` plus the JSON descriptions of the pickled fields (:func:`safe_save`)."""
        safe_save(self, path, exclude, include, _save=super().save)  # type: ignore[misc]

    @classmethod
    def load(cls, path: str | pathlib.Path | io.BufferedIOBase, env: Any = None, device: torch.device | str = "auto",
             custom_objects: dict[str, Any] | None = None, print_system_info: bool = False, force_reset: bool = True,
             **kwargs: Any) -> Any:
        """SB3's ``load`` with a ``custom_objects`` entry for every pickled field (yours take precedence):
        nothing in the file is unpickled. Raises :class:`UnsafeModelError` for a file without
        :data:`SAFE_FIELD` or naming a class outside the allow-list."""
        if isinstance(path, (str, pathlib.Path)):
            path = str(path)
            if not os.path.exists(path) and os.path.exists(path + ".zip"):
                path += ".zip"
        else:  # a file object is read twice: once for the JSON, once by SB3
            path = io.BytesIO(path.read())
        objects = safe_custom_objects(read_data_json(path))
        objects.update(custom_objects or {})
        if isinstance(path, io.BytesIO):
            path.seek(0)
        model = super().load(path, env=env, device=device, custom_objects=objects,  # type: ignore[misc]
                             print_system_info=print_system_info, force_reset=force_reset, **kwargs)
        model.__dict__.pop(SAFE_FIELD, None)
        return model
