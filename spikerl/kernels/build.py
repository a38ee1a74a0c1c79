"""Compile the C kernels at first use and load them with ctypes.

The sources (``kernels.c`` and ``kernels_impl.h``, shipped beside this module) are compiled once with the
system C compiler (``$CC`` or ``cc``) into a per-user cache, ``$XDG_CACHE_HOME/spikerl/kernels`` or
``~/.cache/spikerl/kernels``, under a name that hashes the sources, the compiler's version and the flags; a
changed source or compiler gives a new file. The flags keep IEEE semantics (``-ffp-contract=off``, no
``-ffast-math``) so the kernels' float results are bit-identical to the torch step functions.

When no compiler is found or compilation fails, :func:`library` returns ``None`` after one
``warnings.warn``, and callers use their torch code instead. ``SPIKERL_NO_KERNELS=1`` forces that fallback
(without a warning).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

SOURCES = ("kernels.c", "kernels_impl.h")
FLAGS = ("-O3", "-shared", "-fPIC", "-std=c99", "-ffp-contract=off", "-fno-fast-math")
ABI_VERSION = 1


def disabled() -> bool:
    """True when ``SPIKERL_NO_KERNELS`` is set to a non-empty value other than ``0``."""
    return os.environ.get("SPIKERL_NO_KERNELS", "0") not in ("", "0")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/spikerl/kernels``, or ``~/.cache/spikerl/kernels``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spikerl" / "kernels"


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
    target = cache_dir() / f"{stem}_{digest.hexdigest()[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            result = subprocess.run([cc, *FLAGS, "-o", tmp, str(folder / sources[0]), *libs],
                                    capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                raise RuntimeError(f"{cc} failed:\n{result.stderr.strip()}")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return target


def _load() -> ctypes.CDLL:
    path = compiled_library(Path(__file__).parent, SOURCES, "spikerl_kernels")
    lib = ctypes.CDLL(str(path))
    lib.spikerl_kernels_abi.restype = ctypes.c_int64
    if lib.spikerl_kernels_abi() != ABI_VERSION:
        raise RuntimeError(f"{path} has interface version {lib.spikerl_kernels_abi()}, expected {ABI_VERSION}")
    lib.count_spikes.restype = ctypes.c_int64
    lib.spike_events.restype = None
    for name in ("lif_scan", "adaptive_lif_scan", "propagate"):
        for suffix in ("f32", "f64"):
            getattr(lib, f"{name}_{suffix}").restype = None
    return lib


class LazyLibrary:
    """A C library built and loaded by ``load()`` at its first call, once (thread-safe).

    Calling it returns the library, or ``None`` when ``SPIKERL_NO_KERNELS`` is set or loading failed (then
    after one ``RuntimeWarning`` that says ``unavailable``, and callers use their torch code).
    """

    def __init__(self, load: Callable[[], ctypes.CDLL], unavailable: str) -> None:
        self._load, self._unavailable = load, unavailable
        self._lock = threading.Lock()
        self._library: ctypes.CDLL | None = None
        self._failed = False

    def __call__(self) -> ctypes.CDLL | None:
        if disabled():
            return None
        if self._library is None and not self._failed:
            with self._lock:
                if self._library is None and not self._failed:
                    try:
                        self._library = self._load()
                    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
                        self._failed = True
                        warnings.warn(f"spikerl: {self._unavailable} ({err})", RuntimeWarning, stacklevel=3)
        return self._library


#: The kernel library, compiling it on first use; ``None`` if disabled or unavailable.
library = LazyLibrary(_load, "C kernels unavailable, using the slower torch code instead")


def available() -> bool:
    """Whether the C kernels are in use (compiling them now if needed)."""
    return library() is not None
