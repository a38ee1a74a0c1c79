"""Shared helpers of the script tests: load a script as a module, and skip tests that need MNIST when it is absent.

Imported by the test modules of this folder (pytest puts the folder on ``sys.path``).
"""

from __future__ import annotations

import importlib.util
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
