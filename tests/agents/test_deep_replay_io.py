"""A DQN's replay buffer saved to ``.npz`` and loaded back (agents.deep.replay_io): exact round trip before and
after the buffer wraps around, shape and dtype checks by name, no pickle, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3 import DQN

from agents.deep.replay_io import (ReplayBufferFileError, load_replay_buffer, replay_buffer_path,
                                   save_replay_buffer)

ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def dqn(env: str = "CartPole-v1", buffer_size: int = 50, seed: int = 0) -> DQN:
    return DQN("MlpPolicy", env, buffer_size=buffer_size, learning_starts=10_000, seed=seed, device="cpu")


def filled(steps: int) -> DQN:
    model = dqn()
    model.learn(steps)  # learning_starts > steps: it only collects transitions
    return model


@pytest.mark.parametrize("steps, full, pos", [(28, False, 28), (80, True, 30)])
def test_round_trip_restores_every_array_and_the_write_position(tmp_path, steps, full, pos):
    """28 steps in a 50-row buffer fill rows 0-27 (DQN collects 4 steps per rollout here); 80 steps wrap around (full, next row 80 - 50 = 30). A fresh
    model's buffer loaded from the file equals the original in every array, ``pos`` and ``full``."""
    source = filled(steps).replay_buffer
    assert (source.full, source.pos) == (full, pos)
    path = tmp_path / "model.replay.npz"
    save_replay_buffer(source, path)
    target = dqn(seed=1).replay_buffer
    rows = load_replay_buffer(target, path)
    assert rows == (50 if full else 28) and (target.full, target.pos) == (full, pos)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(target, name), getattr(source, name), err_msg=name)
    assert [p.name for p in tmp_path.iterdir()] == ["model.replay.npz"]  # no temporary file left


def test_the_file_holds_only_the_filled_rows(tmp_path):
    path = tmp_path / "b.npz"
    save_replay_buffer(filled(28).replay_buffer, path)
    with np.load(path) as stored:
        assert stored["observations"].shape == (28, 1, 4) and int(stored["pos"]) == 28


def test_a_buffer_of_another_shape_is_refused_by_name_and_left_empty(tmp_path):
    path = tmp_path / "b.npz"
    save_replay_buffer(filled(28).replay_buffer, path)
    other = dqn("MountainCar-v0").replay_buffer  # observations of 2 numbers, not 4
    with pytest.raises(ReplayBufferFileError, match=r"observations has shape \(28, 1, 4\).*needs \(28, 1, 2\)"):
        load_replay_buffer(other, path)
    assert (other.pos, other.full) == (0, False)


def test_a_pickled_payload_is_not_executed(tmp_path):
    """An object array in the file would be unpickled by ``np.load(allow_pickle=True)``; it is refused and the
    payload's side effect (creating ``marker``) never happens."""
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "marker"), "w"))

    path = tmp_path / "evil.npz"
    buffer = filled(28).replay_buffer
    arrays = {name: getattr(buffer, name)[:28] for name in ARRAYS}
    arrays["observations"] = np.array([Payload()] * 28, dtype=object)
    np.savez(path, pos=np.int64(28), full=np.bool_(False), **arrays)
    with pytest.raises(ReplayBufferFileError, match="not a readable replay buffer"):
        load_replay_buffer(dqn().replay_buffer, path)
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("content, message", [(b"not a zip", "not a readable replay buffer"),
                                              (b"PK\x03\x04truncated", "not a readable replay buffer")])
def test_damaged_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ReplayBufferFileError, match=message):
        load_replay_buffer(dqn().replay_buffer, path)


def test_missing_arrays_and_a_bad_position_are_named(tmp_path):
    buffer = filled(28).replay_buffer
    arrays = {name: getattr(buffer, name)[:28] for name in ARRAYS}
    np.savez(tmp_path / "a.npz", pos=np.int64(28), full=np.bool_(False),
             **{k: v for k, v in arrays.items() if k != "rewards"})
    with pytest.raises(ReplayBufferFileError, match=r"missing array\(s\) \['rewards'\]"):
        load_replay_buffer(dqn().replay_buffer, tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", pos=np.int64(51), full=np.bool_(False), **arrays)
    with pytest.raises(ReplayBufferFileError, match="pos 51 is outside the buffer of 50 rows"):
        load_replay_buffer(dqn().replay_buffer, tmp_path / "b.npz")


def test_the_buffer_file_sits_beside_the_model():
    assert str(replay_buffer_path("runs/SI_dqn_seed0.zip")) == "runs/SI_dqn_seed0.replay.npz"
