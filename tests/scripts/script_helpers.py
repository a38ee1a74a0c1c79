"""Shared helpers of the script tests: load a script as a module, and skip tests that need MNIST when it is absent.

Imported by the test modules of this folder (pytest puts the folder on ``sys.path``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as a module (its ``if __name__ == "__main__"`` block does not run)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mnist_available() -> bool:
    """Whether the MNIST files can be found without downloading (``$SPIKERL_MNIST_DIR`` or the cache)."""
    from spikerl.datasets import MNISTNotFoundError, load_mnist

    try:
        load_mnist("test", download=False)
    except MNISTNotFoundError:
        return False
    return True


needs_mnist = pytest.mark.skipif(not mnist_available(), reason="MNIST files not available (set SPIKERL_MNIST_DIR)")


def run_script(name: str, *args: str, cwd: Path = ROOT, check: bool = True, timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python scripts/<name>.py ARGS`` in a subprocess (unbuffered, output captured, ``env`` added to the
    environment); with ``check`` the exit status must be 0 (the assertion shows the end of stderr)."""
    proc = subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def last_json(proc: subprocess.CompletedProcess) -> dict:
    """The JSON result line a script prints last on stdout."""
    return json.loads(proc.stdout.strip().splitlines()[-1])


def start_script(name: str, *args: str, cwd: Path = ROOT) -> subprocess.Popen:
    """``python scripts/<name>.py ARGS`` started in the background, stderr readable as text lines."""
    return subprocess.Popen([sys.executable, str(SCRIPTS / f"{name}.py"), *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_line(proc: subprocess.Popen, text: str) -> None:
    """Read ``proc``'s stderr until a line contains ``text`` (or the stream ends)."""
    line = proc.stderr.readline()
    while line and text not in line:
        line = proc.stderr.readline()
