"""Compile the C kernels at first use and load them with ctypes.

The sources (:data:`SOURCES`: ``kernels.c`` and ``propagate.h`` beside this module, and the C restatements of
the neuron models beside their Python references in ``spikerl/neurons``) are compiled once with the
system C compiler (``$CC`` or ``cc``) into a per-user cache, ``$XDG_CACHE_HOME/spikerl/kernels`` (an absolute
``XDG_CACHE_HOME`` only; a relative one is ignored) or ``~/.cache/spikerl/kernels``, under a name that hashes
the sources, the compiler's version and the flags; a changed source or compiler gives a new file. The flags
keep IEEE semantics (``-ffp-contract=off``, no ``-ffast-math``) so the kernels' float results are
bit-identical to the torch step functions.

A cached library is loaded only when it and its folder belong to the current user and are not writable by
group or others (otherwise someone else could have put code there); else the library is built into a
private temporary folder for this process, after a warning. Every C function is declared with its
``argtypes`` and ``restype`` (:func:`declare`), so a call with a wrong argument raises
``ctypes.ArgumentError`` instead of corrupting memory.

When no compiler is found or compilation fails, :func:`library` returns ``None`` after one
``warnings.warn``, and callers use their torch code instead. ``SPIKERL_NO_KERNELS=1`` forces that fallback
(without a warning). :meth:`LazyLibrary.require` returns the library or raises
:class:`~spikerl.kernels.backend.BackendUnavailable` with the reason (for the ``"c"`` backend asked for by name).
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from spikerl.kernels.backend import BackendUnavailable

#: The kernel library's sources, relative to the ``spikerl`` package; the first includes the others.
SOURCES = ("kernels/kernels.c", "kernels/propagate.h", "neurons/phases.h", "neurons/lif_scan.h",
           "neurons/adaptive_lif_scan.h")
FLAGS = ("-O3", "-shared", "-fPIC", "-std=c99", "-ffp-contract=off", "-fno-fast-math")
ABI_VERSION = 2


def disabled() -> bool:
    """True when ``SPIKERL_NO_KERNELS`` is set to a non-empty value other than ``0``."""
    return os.environ.get("SPIKERL_NO_KERNELS", "0") not in ("", "0")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/spikerl/kernels`` when ``XDG_CACHE_HOME`` is an absolute path, else
    ``~/.cache/spikerl/kernels``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spikerl" / "kernels"


def not_private(path: Path, folder: bool) -> str | None:
    """Why ``path`` may not be trusted to hold code, or ``None`` when it may.

    Trusted: a folder (followed through symbolic links) or a regular file (not a link) that belongs to the
    current user and is not writable by group or others.
    """
    try:
        info = os.stat(path) if folder else os.lstat(path)
    except OSError as err:
        return f"cannot stat it: {err.strerror}"
    if not (stat.S_ISDIR(info.st_mode) if folder else stat.S_ISREG(info.st_mode)):
        return "not a folder" if folder else "not a regular file"
    if info.st_uid != os.geteuid():
        return f"owned by uid {info.st_uid}, not by this user (uid {os.geteuid()})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"writable by group or others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


_private_dirs: list[Path] = []


def _private_dir() -> Path:
    """A folder only this user can write, created for this process and removed at exit."""
    if not _private_dirs:
        path = Path(tempfile.mkdtemp(prefix="spikerl-kernels-"))  # mode 0700, a new name
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _private_dirs.append(path)
    return _private_dirs[0]


def _build_folder(name: str) -> Path:
    """The folder to load ``name`` from or build it into: the cache if it is private, else a private one."""
    folder = cache_dir()
    where = folder
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        reason = not_private(folder, folder=True)
    except OSError as err:
        reason = f"cannot create it: {err.strerror}"
    if reason is None and os.path.lexists(folder / name):
        where, reason = folder / name, not_private(folder / name, folder=False)
    if reason is None:
        return folder
    private = _private_dir()
    warnings.warn(f"spikerl: not using the kernel cache {where} ({reason}); building {name} in {private}",
                  RuntimeWarning, stacklevel=4)
    return private


def _compiler() -> tuple[str, str]:
    """The compiler's path and its ``--version`` text, or a ``RuntimeError``."""
    cc = shutil.which(os.environ.get("CC") or "cc")
    if cc is None:
        raise RuntimeError(f"no C compiler found ({os.environ.get('CC') or 'cc'} is not on PATH)")
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    return cc, version


def compiled_library(folder: Path, sources: tuple[str, ...], stem: str, libs: tuple[str, ...] = ()) -> Path:
    """Path of the shared library built from ``folder/sources[0]`` (which includes the other sources).

    Cached in :func:`cache_dir` under a name keyed by the sources, the compiler, the flags and the platform;
    compiled on first use, written atomically (safe with parallel builds). Raises ``RuntimeError`` when no
    compiler is found or compilation fails.
    """
    cc, version = _compiler()
    digest = hashlib.sha256()
    for name in sources:
        digest.update((folder / name).read_bytes())
    for part in (version, " ".join(FLAGS), platform.machine(), platform.system()):
        digest.update(part.encode())
    name = f"{stem}_{digest.hexdigest()[:16]}.so"
    target = _build_folder(name) / name
    if not target.exists():
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            result = subprocess.run([cc, *FLAGS, "-o", tmp, str(folder / sources[0]), *libs],
                                    capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                raise RuntimeError(f"{cc} failed:\n{result.stderr.strip()}")
            os.chmod(tmp, 0o700)  # whatever the umask: nobody else may change it
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return target


def declare(lib: ctypes.CDLL, signatures: Mapping[str, tuple[Any, list[Any]]]) -> None:
    """Set ``restype`` and ``argtypes`` of each function ``name: (restype, argtypes)`` of ``lib``."""
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


class LIFParams(ctypes.Structure):
    """``struct lif_params`` of kernels.c."""

    _fields_ = [("v_rest", ctypes.c_double), ("v_reset", ctypes.c_double), ("v_thresh", ctypes.c_double),
                ("v_min", ctypes.c_double), ("decay", ctypes.c_double), ("refractory_steps", ctypes.c_int64),
                ("leaky", ctypes.c_int32), ("has_v_min", ctypes.c_int32)]


class AdaptiveParams(ctypes.Structure):
    """``struct adaptive_params`` of kernels.c."""

    _fields_ = [("theta_plus", ctypes.c_double), ("theta_decay", ctypes.c_double),
                ("one_spike", ctypes.c_int32), ("adapt", ctypes.c_int32)]


_i64, _ptr = ctypes.c_int64, ctypes.c_void_p  # a data pointer: a tensor's data_ptr() or None
#: Every function that kernels.c exports: ``name: (restype, argtypes)``, in the order of the C prototypes.
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "spikerl_kernels_abi": (_i64, []),
    "count_spikes": (_i64, [_i64, _ptr]),
    "spike_events": (None, [_i64, _i64, _ptr, _ptr, _ptr]),
    **{f"lif_scan_{s}": (None, [_i64, _i64, *[_ptr] * 6, ctypes.POINTER(LIFParams)]) for s in ("f32", "f64")},
    **{f"adaptive_lif_scan_{s}": (None, [_i64, _i64, _i64, *[_ptr] * 8, ctypes.POINTER(LIFParams),
                                         ctypes.POINTER(AdaptiveParams)]) for s in ("f32", "f64")},
    **{f"propagate_{s}": (None, [_i64, _i64, *[_ptr] * 4]) for s in ("f32", "f64")},
    **{f"add_spike_rows_{s}": (None, [_i64, _i64, _i64, _i64, *[_ptr] * 4]) for s in ("f32", "f64")},
}


def _load() -> ctypes.CDLL:
    path = compiled_library(Path(__file__).parent.parent, SOURCES, "spikerl_kernels")
    lib = ctypes.CDLL(str(path))
    declare(lib, SIGNATURES)
    if lib.spikerl_kernels_abi() != ABI_VERSION:
        raise RuntimeError(f"{path} has interface version {lib.spikerl_kernels_abi()}, expected {ABI_VERSION}")
    return lib


class LazyLibrary:
    """A C library built and loaded by ``load()`` at its first use, once (thread-safe).

    Calling it returns the library, or ``None`` when ``SPIKERL_NO_KERNELS`` is set or loading failed (then
    after one ``RuntimeWarning`` that says ``unavailable``, and callers use their torch code).
    :meth:`require` returns the library or raises :class:`BackendUnavailable` saying why.
    """

    def __init__(self, load: Callable[[], ctypes.CDLL], unavailable: str) -> None:
        self._load, self._unavailable = load, unavailable
        self._lock = threading.Lock()
        self._library: ctypes.CDLL | None = None
        self._error: str | None = None  # why loading failed
        self._warned = False

    def _try_load(self) -> ctypes.CDLL | None:
        if self._library is None and self._error is None:
            with self._lock:
                if self._library is None and self._error is None:
                    try:
                        self._library = self._load()
                    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
                        self._error = str(err)
        return self._library

    def __call__(self) -> ctypes.CDLL | None:
        if disabled():
            return None
        library = self._try_load()
        if library is None and not self._warned:
            self._warned = True
            warnings.warn(f"spikerl: {self._unavailable} ({self._error})", RuntimeWarning, stacklevel=3)
        return library

    def require(self, backend: str = "c") -> ctypes.CDLL:
        """The library, or :class:`BackendUnavailable` naming ``backend`` and why (disabled, no compiler...)."""
        if disabled():
            raise BackendUnavailable(backend, f"SPIKERL_NO_KERNELS={os.environ['SPIKERL_NO_KERNELS']} turns the "
                                              "C kernels off")
        library = self._try_load()
        if library is None:
            raise BackendUnavailable(backend, f"the C kernels could not be built or loaded ({self._error})")
        return library


#: The kernel library, compiling it on first use; ``None`` if disabled or unavailable.
library = LazyLibrary(_load, "C kernels unavailable, using the slower torch code instead")


def available() -> bool:
    """Whether the C kernels are in use (compiling them now if needed)."""
    return library() is not None
