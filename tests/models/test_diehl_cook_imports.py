"""The Diehl & Cook package has no import cycle: each module imports fresh on its own, and its imports among the
model modules (module level or inside functions) form a graph without cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import spikerl

SPIKERL = Path(spikerl.__file__).parent
MODULES = ["spikerl.models.diehl_cook.params", "spikerl.models.diehl_cook.fused", "spikerl.models.diehl_cook.model",
           "spikerl.models.diehl_cook.training", "spikerl.models.diehl_cook", "spikerl.models.label_clamp"]


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    out = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def imports_of(path: Path) -> set[str]:
    """Every ``spikerl.models...`` module that ``path`` imports, anywhere in the file (``from spikerl.models.x
    import y`` counts ``x`` and, when it is a module, ``x.y``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("spikerl.models"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("spikerl.models"))
    return found


def module_files() -> dict[str, Path]:
    files = {}
    for path in (SPIKERL / "models").rglob("*.py"):
        parts = path.relative_to(SPIKERL.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def test_model_modules_import_each_other_without_a_cycle():
    files = module_files()
    graph = {name: {m for m in imports_of(path) if m in files and m != name} for name, path in files.items()}
    # a package imports its submodules through its __init__; a submodule importing the package's __init__ would
    # close a cycle, so the edges stay as they are
    assert "spikerl.models.diehl_cook.model" in graph["spikerl.models.diehl_cook"]
    assert not graph["spikerl.models.diehl_cook.fused"] and not graph["spikerl.models.diehl_cook.params"]
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join(path + [node, nxt])}"
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
