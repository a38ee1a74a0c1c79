"""A DQN's replay buffer on disk, so that a stopped DQN run resumes where it stopped: :func:`save_replay_buffer`
and :func:`load_replay_buffer`.

SB3 saves its replay buffers with pickle; these read and write an uncompressed ``.npz`` of plain arrays instead
(``np.load(allow_pickle=False)``: nothing in the file runs on load). The file holds the filled part of the
buffer (its first ``pos`` rows until it has wrapped around, all rows after), ``pos`` and ``full``. Loading
checks every array's shape and dtype against the model's own buffer and names the first that does not fit.

Without its buffer a resumed DQN past ``learning_starts`` would learn at once from the few transitions of its
first steps, and all it had seen would be lost: a 100k-transition Atari buffer is about 5.6 GB (observations and
next observations, uint8), about 30 s to write.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer

from spikerl.checkpoint import write_file_atomically

#: The arrays of SB3's ``ReplayBuffer`` that are stored (``next_observations`` only where the buffer has them).
ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


class ReplayBufferFileError(ValueError):
    """A replay-buffer file that is damaged or does not fit the model's buffer."""


def replay_buffer_path(model_path: str | os.PathLike) -> Path:
    """Where the replay buffer of the model saved at ``model_path`` lives: ``<stem>.replay.npz`` beside it."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}.replay.npz")


def _arrays(buffer: ReplayBuffer) -> dict[str, np.ndarray]:
    return {name: getattr(buffer, name) for name in ARRAYS
            if name != "next_observations" or not buffer.optimize_memory_usage}


def save_replay_buffer(buffer: ReplayBuffer, path: str | os.PathLike) -> None:
    """Write ``buffer``'s filled rows, ``pos`` and ``full`` to ``path`` (atomically; see the module docstring)."""
    if not isinstance(buffer, ReplayBuffer):
        raise TypeError(f"expected an SB3 ReplayBuffer, got {type(buffer).__name__}")
    rows = buffer.buffer_size if buffer.full else buffer.pos
    content = {name: array[:rows] for name, array in _arrays(buffer).items()}
    content["pos"] = np.asarray(buffer.pos, dtype=np.int64)
    content["full"] = np.asarray(buffer.full, dtype=np.bool_)
    write_file_atomically(path, lambda file: np.savez(file, **content))


def load_replay_buffer(buffer: ReplayBuffer, path: str | os.PathLike) -> int:
    """Fill ``buffer`` (the model's own, already built: its shapes are the reference) from ``path``.

    Returns:
        The number of transitions per env now in the buffer.

    Raises:
        ReplayBufferFileError: the file is not a readable ``.npz`` of this format, or an array's shape or dtype
            differs from the buffer's (the message names the array and both shapes/dtypes). The buffer is then
            left empty (``pos`` 0, not full).
    """
    expected = _arrays(buffer)
    try:
        with np.load(path, allow_pickle=False) as stored:
            missing = sorted((set(expected) | {"pos", "full"}) - set(stored.files))
            if missing:
                raise ReplayBufferFileError(f"{path}: missing array(s) {missing}")
            pos, full = int(stored["pos"]), bool(stored["full"])
            if not 0 <= pos <= buffer.buffer_size or (full and pos == buffer.buffer_size):
                raise ReplayBufferFileError(f"{path}: pos {pos} is outside the buffer of {buffer.buffer_size} rows")
            rows = buffer.buffer_size if full else pos
            buffer.pos, buffer.full = 0, False  # empty until every array is in
            for name, target in expected.items():  # one array in memory at a time
                array = stored[name]
                wanted = (rows, *target.shape[1:])
                if array.shape != wanted or array.dtype != target.dtype:
                    raise ReplayBufferFileError(f"{path}: {name} has shape {array.shape} and dtype {array.dtype}; "
                                                f"this model's buffer needs {wanted} and {target.dtype}")
                target[:rows] = array
    except ReplayBufferFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ReplayBufferFileError(f"{path}: not a readable replay buffer ({error})") from error
    buffer.pos, buffer.full = pos, full
    return rows
