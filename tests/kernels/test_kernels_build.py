"""Building and loading the kernels: compiled once into the per-user cache, keyed by the sources; without a
compiler (or with SPIKERL_NO_KERNELS=1) everything falls back to torch, with one warning at most. A cache
that others could write is not loaded from; every C function is declared, so wrong arguments raise."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from spikerl import kernels
from spikerl.models.diehl_cook import fused as diehl_cook_fused
from spikerl.neurons import LIF, NeuronLayer

# Runs a LIF scan twice in a fresh interpreter and reports whether the kernels were used, the warnings, and
# whether the result equals the generic loop.
SCRIPT = """
import json, warnings, torch
from spikerl import kernels
from spikerl.models.diehl_cook import fused
from spikerl.neurons import LIF, NeuronLayer
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    layer = LIF(8)
    x = 3.0 * torch.rand(50, 2, 8, generator=torch.Generator().manual_seed(0))
    same = []
    for _ in range(2):
        a, b = layer.scan(x, layer.initial_state(2)), NeuronLayer.scan(layer, x, layer.initial_state(2))
        same.append(torch.equal(a[0], b[0]) and torch.equal(a[1].v, b[1].v))
print(json.dumps({"available": kernels.available(), "same": all(same),
                  "warnings": [str(w.message) for w in caught if "kernels" in str(w.message)]}))
"""


def run_fresh(tmp_path: Path, **env: str) -> dict:
    full_env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **env}
    full_env.pop("SPIKERL_NO_KERNELS", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=full_env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not kernels.available(), reason="no C compiler here")
def test_compiles_into_a_fresh_cache(tmp_path: Path) -> None:
    report = run_fresh(tmp_path)
    assert report == {"available": True, "same": True, "warnings": []}
    built = list((tmp_path / "cache" / "spikerl" / "kernels").glob("spikerl_kernels_*.so"))
    assert len(built) == 1
    assert run_fresh(tmp_path)["available"] and list(built[0].parent.iterdir()) == built  # reused, not rebuilt


def test_missing_compiler_warns_once_and_falls_back(tmp_path: Path) -> None:
    report = run_fresh(tmp_path, CC=str(tmp_path / "no-such-compiler"))
    assert report["available"] is False and report["same"] is True
    assert len(report["warnings"]) == 1 and "no C compiler" in report["warnings"][0]


def test_env_var_forces_fallback_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    layer = LIF(5)
    x = torch.full((4, 1, 5), 5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not kernels.available()
        assert kernels.lif_scan(x, *layer.initial_state(1), layer.params, layer.dt_ms) is None
        assert kernels.propagate(torch.ones(2, 3, dtype=torch.bool), torch.ones(3, 2)) is None
        spikes, _, _ = layer.scan(x, layer.initial_state(1))
    assert torch.equal(spikes, NeuronLayer.scan(layer, x, layer.initial_state(1))[0])


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kernels.cache_dir() == tmp_path / "spikerl" / "kernels"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert kernels.cache_dir() == Path.home() / ".cache" / "spikerl" / "kernels"


def test_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert kernels.cache_dir() == Path.home() / ".cache" / "spikerl" / "kernels"


OTHER_UID = 12345


def make_dir_group_writable(folder: Path, library: Path) -> None:
    folder.chmod(0o770)


def make_dir_world_writable(folder: Path, library: Path) -> None:
    folder.chmod(0o777)


def give_dir_to_another_user(folder: Path, library: Path) -> None:
    os.chown(folder, OTHER_UID, -1)


def give_library_to_another_user(folder: Path, library: Path) -> None:
    os.chown(library, OTHER_UID, -1)


def make_library_group_writable(folder: Path, library: Path) -> None:
    library.chmod(0o720)


def replace_library_by_a_link(folder: Path, library: Path) -> None:
    real = folder.parent / "elsewhere.so"
    library.rename(real)
    library.symlink_to(real)


@pytest.mark.skipif(not kernels.available(), reason="no C compiler here")
@pytest.mark.parametrize("unsafe, reason", [
    (make_dir_group_writable, "writable by group or others"),
    (make_dir_world_writable, "writable by group or others"),
    (give_dir_to_another_user, f"owned by uid {OTHER_UID}"),
    (give_library_to_another_user, f"owned by uid {OTHER_UID}"),
    (make_library_group_writable, "writable by group or others"),
    (replace_library_by_a_link, "not a regular file"),
])
def test_cache_that_others_could_write_is_not_loaded(tmp_path: Path, unsafe, reason: str) -> None:
    """A library that someone else could have planted is neither loaded nor overwritten: the kernels are built
    in a private temporary folder instead, after a warning that says why."""
    if unsafe in (give_dir_to_another_user, give_library_to_another_user) and os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    folder = tmp_path / "cache" / "spikerl" / "kernels"
    folder.mkdir(parents=True, mode=0o700)
    library = folder / Path(kernels.library()._name).name  # the name a fresh process looks for
    planted = b"not a shared library: loading it would fail"
    library.write_bytes(planted)
    unsafe(folder, library)

    report = run_fresh(tmp_path)
    assert report["available"] and report["same"]  # built elsewhere, not loaded from the cache
    assert len(report["warnings"]) == 1
    assert "not using the kernel cache" in report["warnings"][0] and reason in report["warnings"][0]
    assert library.read_bytes() == planted  # and the suspicious file was left alone


def exported_functions(path: str) -> set[str]:
    """Names of the functions a shared library exports (``nm -D --defined-only``, type T)."""
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if len(line.split()) == 3 and line.split()[1] == "T"}


def c_prototypes(*sources: Path) -> dict[str, tuple[str, list[str]]]:
    """``name: (return type, parameter types)`` of the non-static functions defined in C ``sources``; a name
    written ``FN(name)`` stands for ``name_f32`` and ``name_f64``; pointer types keep their ``*``."""
    pattern = re.compile(r"^(int64_t|void)\s+(?:FN\((\w+)\)|(\w+))\(([^)]*)\)\s*\{", re.MULTILINE)
    found = {}
    for source in sources:
        for ret, templated, plain, params in pattern.findall(source.read_text()):
            types = [] if params.strip() == "void" else [
                re.sub(r"\b(const|restrict)\b|\s+", " ", p.rsplit("*", 1)[0] + "*" if "*" in p else
                       p.rsplit(None, 1)[0]).strip() for p in params.split(",")]
            names = [f"{templated}_f32", f"{templated}_f64"] if templated else [plain]
            found.update({name: (ret, types) for name in names})
    return found


def ctype_of(c_type: str):  # noqa: ANN201 - a ctypes type
    if c_type.endswith("*"):
        base = c_type[:-1].strip()
        return ctypes.POINTER(STRUCTS[base]) if base in STRUCTS else ctypes.c_void_p
    return {"int64_t": ctypes.c_int64, "void": None}[c_type]


STRUCTS = {"struct lif_params": kernels.build.LIFParams, "struct adaptive_params": kernels.build.AdaptiveParams,
           "struct dc_params": diehl_cook_fused.FusedParams}
SPIKERL = Path(kernels.__file__).parent.parent


@pytest.mark.skipif(not kernels.available() or shutil.which("nm") is None, reason="no C compiler or no nm here")
@pytest.mark.parametrize("loader, sources", [
    (kernels.library, ("kernels/kernels.c", "kernels/kernels_impl.h")),
    (diehl_cook_fused.library, ("models/diehl_cook/diehl_cook.c", "models/diehl_cook/diehl_cook_impl.h")),
])
def test_every_c_function_is_declared(loader, sources: tuple[str, ...]) -> None:
    lib = loader()
    prototypes = c_prototypes(*(SPIKERL / s for s in sources))
    assert exported_functions(lib._name) == set(prototypes)  # the parser found every export, nothing else
    for name, (ret, params) in prototypes.items():
        fn = getattr(lib, name)
        assert fn.restype is ctype_of(ret), name
        assert fn.argtypes == [ctype_of(p) for p in params], name


@pytest.mark.skipif(not kernels.available(), reason="no C compiler here")
def test_wrong_argument_raises_instead_of_calling() -> None:
    lib = kernels.library()
    spikes = torch.zeros(8, dtype=torch.bool)
    assert lib.count_spikes(8, spikes.data_ptr()) == 0
    with pytest.raises(ctypes.ArgumentError):
        lib.count_spikes(8, spikes)  # a tensor, not its address
    with pytest.raises(ctypes.ArgumentError):
        lib.count_spikes(8.0, spikes.data_ptr())
    with pytest.raises(ctypes.ArgumentError):
        lib.lif_scan_f32(1, 1, *[None] * 6, ctypes.byref(kernels.build.AdaptiveParams()))  # the wrong struct
    with pytest.raises(TypeError):
        lib.propagate_f64(1, 2, None)  # too few arguments
