"""The one checkpoint writer and reader (spikerl.checkpoint): atomic, durable, race-free writes that say "no space
left", and reads that refuse damaged files, missing keys, bad JSON and non-finite weights by name, for every
checkpoint format of the project."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import stat
import subprocess
from pathlib import Path

import pytest
import torch

from spikerl import checkpoint as ckpt
from spikerl.checkpoint import (CheckpointError, CheckpointWriteError, CorruptCheckpointError, check_finite,
                                check_writable, json_field, read_checkpoint, require_keys, write_checkpoint)

PAYLOAD = {"format": "test/1", "config": json.dumps({"a": 1}), "w": torch.arange(6.0).reshape(2, 3)}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- writing ------------------------------------------------------------------------------------------------------
def test_write_then_read_round_trip_with_normal_permissions_and_no_leftovers(tmp_path):
    path = tmp_path / "c.pt"
    write_checkpoint(PAYLOAD, path)
    back = read_checkpoint(path, expected_format="test/1", required=("config", "w"))
    assert back["config"] == PAYLOAD["config"] and torch.equal(back["w"], PAYLOAD["w"])
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # like open(path, "wb"), not mkstemp's 0600
    assert leftovers(tmp_path) == []


def test_file_and_folder_are_fsynced(tmp_path, monkeypatch):
    synced: list[bool] = []  # True for a folder
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_checkpoint(PAYLOAD, tmp_path / "c.pt")
    assert synced == [False, True]  # the temporary file before the rename, the folder after it


def test_failure_removes_the_temporary_file_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    write_checkpoint(PAYLOAD, path)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise KeyboardInterrupt  # e.g. Ctrl-C between writing and renaming

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint({**PAYLOAD, "w": torch.zeros(3)}, path)
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_a_full_disk_says_no_space_left(tmp_path, monkeypatch):
    """ENOSPC when the data reaches the disk (``fsync``; file systems with delayed allocation report a full disk
    there): the error says so in words and names the file; nothing is left behind."""
    path = tmp_path / "c.pt"
    write_checkpoint(PAYLOAD, path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CheckpointWriteError, match=f"no space left on device while writing {path}") as info:
        write_checkpoint(PAYLOAD, path)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_a_really_full_filesystem_says_no_space_left(tmp_path):
    """The same on a real 64 KiB tmpfs (needs the right to mount, as root in CI; skipped elsewhere)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        path = mount / "c.pt"
        with pytest.raises(CheckpointWriteError, match=f"no space left on device while writing {path}"):
            write_checkpoint({"w": torch.zeros(100_000)}, path)  # 400 kB into 64 KiB
        assert list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _hammer(path: str, value: float, times: int) -> None:
    for _ in range(times):
        write_checkpoint({"w": torch.full((1000,), value)}, path)


def test_concurrent_writers_to_one_path_never_collide(tmp_path):
    """Four processes save 25 times each to the same path: with a shared temporary name one would rename or
    truncate another's file; with unique names every save succeeds and the result is one whole checkpoint."""
    path = str(tmp_path / "c.pt")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hammer, args=(path, float(i), 25)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    w = read_checkpoint(path)["w"]
    assert float(w[0]) in (0.0, 1.0, 2.0, 3.0) and torch.equal(w, torch.full((1000,), float(w[0])))
    assert leftovers(tmp_path) == []


def test_check_writable_creates_the_folder_and_leaves_nothing(tmp_path):
    check_writable(tmp_path / "new" / "deeper" / "c.pt")
    assert (tmp_path / "new" / "deeper").is_dir() and list((tmp_path / "new" / "deeper").iterdir()) == []


@pytest.mark.parametrize("where", ["under_a_file", "proc", "is_a_folder"])
def test_check_writable_fails_with_the_folder_named(tmp_path, where):
    """Paths that fail even for root (permission bits alone would not)."""
    (tmp_path / "a_file").write_text("x")
    path = {"under_a_file": tmp_path / "a_file" / "c.pt", "proc": Path("/proc/spikerl-test/c.pt"),
            "is_a_folder": tmp_path}[where]
    with pytest.raises(CheckpointWriteError, match="cannot (write checkpoints to|save a checkpoint to)"):
        check_writable(path)


# --- reading ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "not_zip", "code"])
def test_damaged_files_are_reported_as_corrupt_or_truncated(tmp_path, damage):
    good = tmp_path / "good.pt"
    write_checkpoint(PAYLOAD, good)
    data = good.read_bytes()
    bad = tmp_path / "bad.pt"
    if damage == "code":
        torch.save({"f": os.path.join}, bad)  # a pickled function: weights_only refuses to import it
    else:
        bad.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"hello world" * 10,
                         "not_zip": data[:10]}[damage])
    with pytest.raises(CorruptCheckpointError, match=f"corrupt or truncated checkpoint: {bad}"):
        read_checkpoint(bad)


def test_missing_file_stays_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "nothing.pt")


def test_format_type_and_keys_are_checked(tmp_path):
    path = tmp_path / "c.pt"
    write_checkpoint(PAYLOAD, path)
    with pytest.raises(CheckpointError, match="is not a spikerl agent checkpoint .*'other/1'.*'test/1'"):
        read_checkpoint(path, expected_format="other/1", kind="spikerl agent")
    with pytest.raises(CheckpointError, match="lacks the key\\(s\\) 'policy', 'steps'"):
        read_checkpoint(path, required=("config", "policy", "steps"))
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="expected a dict, got list"):
        read_checkpoint(tmp_path / "list.pt")


def test_json_fields_and_finite_tensors_are_checked_by_name(tmp_path):
    payload = {"config": "{not json", "number": 3, "w": {"a": torch.ones(2), "b": torch.tensor([1.0, float("nan")])},
               "ints": torch.tensor([1, 2])}
    with pytest.raises(CheckpointError, match="field 'config' is not valid JSON"):
        json_field(payload, "config", "x.pt")
    with pytest.raises(CheckpointError, match="field 'number' should be a JSON string"):
        json_field(payload, "number", "x.pt")
    with pytest.raises(CheckpointError, match="lacks the key\\(s\\) 'missing'"):
        require_keys(payload, ["missing"], "x.pt")
    with pytest.raises(CheckpointError, match="weight 'w.b' holds 1 non-finite value"):
        check_finite(payload, "x.pt", "weight")
    check_finite({"ints": payload["ints"], "ok": torch.zeros(3)}, "x.pt")  # integers and finite floats pass


# --- every format of the project uses them -------------------------------------------------------------------------
def network_checkpoint(path: Path):
    from spikerl import LIF, Dense, Input, Network

    net = Network()
    net.add_layer("X", Input(4))
    net.add_layer("Y", LIF(3))
    net.add_connection("X", "Y", Dense(4, 3))
    ckpt.save_network(net, path)
    return ckpt.load_network, "state_dict", "connections.X->Y.w", "config"


def diehl_cook_checkpoint(path: Path):
    from spikerl.models import DiehlAndCook2015

    DiehlAndCook2015(n_neurons=4, time_ms=10.0).save(path, extra={"progress": {}})
    return DiehlAndCook2015.load, "state_dict", "connections.X->Ae.w", "config"


def supervised_checkpoint(path: Path):
    from spikerl.models.conv_snn import ConvSNN
    from spikerl.models.supervised_training import load_checkpoint, save_checkpoint

    save_checkpoint(path, ConvSNN(time_steps=2, channels=(2, 4)), None, epoch=1, step=3)
    return load_checkpoint, "state_dict", "conv1.weight", "model_config"


def agent_checkpoint(path: Path):
    import envs
    from agents import RSTDP

    RSTDP("SpikingPolicy", envs.make_vec("spikerl/PatternAction-v0", n_envs=1, seed=0), seed=0).save(path)
    return RSTDP.load, "policy", "network.connections.X->O.w", "hyperparameters"


@pytest.fixture(params=[network_checkpoint, diehl_cook_checkpoint, supervised_checkpoint, agent_checkpoint],
                ids=["network", "diehl_cook", "supervised", "agent"])
def saved(request, tmp_path):
    path = tmp_path / "good.pt"
    return (path, *request.param(path))


def rewrite(path: Path, change) -> Path:
    payload = torch.load(path, weights_only=True)
    change(payload)
    out = path.with_name("changed.pt")
    torch.save(payload, out)
    return out


def test_every_format_loads_its_own_checkpoint(saved):
    path, load, *_ = saved
    load(path)
    assert leftovers(path.parent) == []


def test_every_format_refuses_a_truncated_file(saved):
    path, load, *_ = saved
    bad = path.with_name("bad.pt")
    bad.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(CorruptCheckpointError, match=f"corrupt or truncated checkpoint: {bad}"):
        load(bad)


def test_every_format_refuses_a_missing_key_by_name(saved):
    path, load, weights, _, _ = saved
    with pytest.raises(CheckpointError, match=f"lacks the key\\(s\\) '{weights}'"):
        load(rewrite(path, lambda p: p.pop(weights)))


def test_every_format_refuses_bad_json_by_name(saved):
    path, load, _, _, field = saved
    with pytest.raises(CheckpointError, match=f"field '{field}' is not valid JSON"):
        load(rewrite(path, lambda p: p.__setitem__(field, "{truncated")))


def test_every_format_refuses_non_finite_weights_by_name(saved):
    path, load, weights, key, _ = saved

    def poison(payload):
        payload[weights][key].view(-1)[0] = float("inf")

    with pytest.raises(CheckpointError, match=f"'{key}' holds 1 non-finite value"):
        load(rewrite(path, poison))
