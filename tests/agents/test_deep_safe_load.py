"""Loading a spiking model unpickles nothing: a malicious payload in the zip is never executed."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zipfile

import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from agents import SpikingMlpPolicy, SpikingPPO, UnsafeModelError
from agents.deep.safe_zip import SAFE_FIELD, safe_save


class Payload:
    """Unpickling this creates the file ``marker`` (what an attacker's code could do)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def serialized(marker: str) -> dict[str, str]:
    """SB3's JSON form of a cloudpickled value, holding the payload."""
    return {":type:": "<class 'object'>", ":serialized:": base64.b64encode(pickle.dumps(Payload(marker))).decode()}


def rewrite_data(src: str, dst: str, edit) -> None:
    """Copy the zip ``src`` to ``dst`` with its ``data`` JSON passed through ``edit``."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for name in old.namelist():
            content = old.read(name)
            if name == "data":
                content = json.dumps(edit(json.loads(content))).encode()
            new.writestr(name, content)


@pytest.fixture
def saved(tmp_path):
    model = SpikingPPO("SpikingMlpPolicy", "CartPole-v1", n_steps=8, batch_size=8, seed=0,
                       policy_kwargs=dict(features_extractor_kwargs=dict(hidden=(8,))))
    path = str(tmp_path / "model.zip")
    model.save(path)
    return model, path


def test_payload_is_live(tmp_path):
    """The test's payload really runs when unpickled (so the next test's absence of a file means something)."""
    marker = tmp_path / "control"
    pickle.loads(base64.b64decode(serialized(str(marker))[":serialized:"]))
    assert marker.exists()


def test_malicious_payload_in_the_zip_is_not_executed(saved, tmp_path):
    model, path = saved
    marker = tmp_path / "pwned"

    def inject(data):
        for key in ("observation_space", "policy_class", "_last_obs", "lr_schedule"):  # rebuilt or dropped
            data[key] = serialized(str(marker))
        data["surprise"] = serialized(str(marker))  # a field spikerl knows nothing about
        return data

    evil = str(tmp_path / "evil.zip")
    rewrite_data(path, evil, inject)
    loaded = SpikingPPO.load(evil)
    assert not marker.exists()
    assert loaded.observation_space == model.observation_space and loaded.surprise is None
    obs = model.observation_space.sample()[None]
    assert (loaded.predict(obs, deterministic=True)[0] == model.predict(obs, deterministic=True)[0]).all()


def test_a_class_outside_the_allow_list_is_refused(saved, tmp_path):
    _, path = saved

    def point_at_os_system(data):
        data[SAFE_FIELD]["policy_class"] = {"__spikerl__": "class", "name": "os.system"}
        return data

    evil = str(tmp_path / "evil.zip")
    rewrite_data(path, evil, point_at_os_system)
    with pytest.raises(UnsafeModelError, match="os.system"):
        SpikingPPO.load(evil)


def test_a_plain_sb3_file_is_refused_and_safe_save_makes_it_loadable(tmp_path):
    model = PPO(SpikingMlpPolicy, make_vec_env("CartPole-v1", n_envs=1, seed=0), n_steps=8, batch_size=8, seed=0)
    model.save(tmp_path / "plain.zip")
    with pytest.raises(UnsafeModelError, match="unpickle"):
        SpikingPPO.load(tmp_path / "plain.zip")
    safe_save(model, tmp_path / "safe.zip")
    loaded = SpikingPPO.load(tmp_path / "safe.zip")
    obs = model.observation_space.sample()[None]
    assert (loaded.predict(obs, deterministic=True)[0] == model.predict(obs, deterministic=True)[0]).all()
    assert not hasattr(model, SAFE_FIELD) and not hasattr(loaded, SAFE_FIELD)


def test_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "garbage.zip"
    path.write_bytes(os.urandom(64))
    with pytest.raises(ValueError, match="not a zip"):
        SpikingPPO.load(path)
