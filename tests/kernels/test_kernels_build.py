"""Building and loading the kernels: compiled once into the per-user cache, keyed by the sources; without a
compiler (or with SPIKERL_NO_KERNELS=1) the "auto" backend falls back to torch, with one warning at most, and
the "c" backend asked for by name says why it cannot serve. A cache that others could write is not loaded
from; every C function is declared, so wrong arguments raise. The package ships every source, and
``spikerl.kernels`` imports nothing else from spikerl (plain numbers and tensors in, no engine types)."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from fnmatch import fnmatch
from pathlib import Path

import pytest
import torch

from spikerl import kernels
from spikerl.kernels import BackendUnavailable
from spikerl.models.diehl_cook import fused as diehl_cook_fused
from spikerl.neurons import LIF, NeuronLayer

# Runs a LIF scan twice in a fresh interpreter and reports whether the kernels were used, the warnings,
# whether the result equals the generic loop, and what the "c" backend asked for by name says.
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
    try:
        layer.scan(x, layer.initial_state(2), backend="c")
        c_error = None
    except kernels.BackendUnavailable as err:
        c_error = str(err)
print(json.dumps({"available": kernels.available(), "same": all(same), "c_error": c_error,
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
    assert report == {"available": True, "same": True, "c_error": None, "warnings": []}
    built = list((tmp_path / "cache" / "spikerl" / "kernels").glob("spikerl_kernels_*.so"))
    assert len(built) == 1
    assert run_fresh(tmp_path)["available"] and list(built[0].parent.iterdir()) == built  # reused, not rebuilt


def test_missing_compiler_warns_once_and_falls_back(tmp_path: Path) -> None:
    report = run_fresh(tmp_path, CC=str(tmp_path / "no-such-compiler"))
    assert report["available"] is False and report["same"] is True
    assert len(report["warnings"]) == 1 and "no C compiler" in report["warnings"][0]
    assert report["c_error"].startswith("the 'c' backend cannot serve this call: the C kernels could not be built")
    assert "no C compiler found" in report["c_error"]


def test_env_var_forces_fallback_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    layer = LIF(5)
    x = torch.full((4, 1, 5), 5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not kernels.available()
        spikes, _, _ = layer.scan(x, layer.initial_state(1))  # "auto": the step loop, silently
    assert torch.equal(spikes, NeuronLayer.scan(layer, x, layer.initial_state(1))[0])
    off = "the 'c' backend cannot serve this call: SPIKERL_NO_KERNELS=1 turns the C kernels off"
    with pytest.raises(BackendUnavailable, match=off):
        layer.scan(x, layer.initial_state(1), backend="c")
    with pytest.raises(BackendUnavailable, match=off):
        kernels.lif_scan(x, *layer.initial_state(1), v_rest=-65.0, v_reset=-65.0, v_thresh=-52.0, decay=0.99,
                         refractory_steps=5)
    with pytest.raises(BackendUnavailable, match=off):
        kernels.propagate(torch.ones(2, 3, dtype=torch.bool), torch.ones(3, 2))


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
    (kernels.library, kernels.build.SOURCES),
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


def test_package_data_ships_every_kernel_source() -> None:
    """An installed package compiles from its own files: each source of each C library, including the C of the
    neuron models beside their Python, matches a package-data pattern of pyproject.toml."""
    pyproject = tomllib.loads((SPIKERL.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["spikerl"]
    sources = [*kernels.build.SOURCES, "models/diehl_cook/diehl_cook.c", "models/diehl_cook/diehl_cook_impl.h"]
    assert {"neurons/lif_scan.h", "neurons/adaptive_lif_scan.h", "neurons/phases.h"} <= set(sources)
    for source in sources:
        assert (SPIKERL / source).is_file(), source
        assert any(fnmatch(source, pattern) for pattern in patterns), f"{source} is not in package-data"
    assert (SPIKERL / "neurons" / "lif.py").is_file() and (SPIKERL / "neurons" / "adaptive_lif.py").is_file()


# Imports spikerl.kernels without running spikerl/__init__.py (which imports the whole engine), runs every
# kernel, and lists the spikerl modules that got imported.
ISOLATED = """
import json, sys, types, torch
package = types.ModuleType("spikerl")
package.__path__ = [sys.argv[1]]
sys.modules["spikerl"] = package
import spikerl.kernels as k
v, r = torch.full((2, 3), -60.0), torch.zeros(2, 3)
x = torch.full((4, 2, 3), 4.0)
numbers = dict(v_rest=-65.0, v_reset=-65.0, v_thresh=-52.0, decay=0.99, refractory_steps=2, v_min=None)
served = [k.lif_scan(x, v, r, record=("v",), **numbers)[0].any().item(),
          k.adaptive_lif_scan(x, v, r, torch.zeros(3), theta_plus=0.1, theta_decay=1.0, one_spike=True, adapt=True,
                              **numbers)[0].any().item(),
          k.propagate(torch.ones(2, 3, dtype=torch.bool), torch.ones(3, 2)).sum().item() == 12]
try:
    k.lif_scan(x.half(), v.half(), r.half(), **numbers)
except k.BackendUnavailable as err:
    served.append(err.reason)
print(json.dumps({"modules": sorted(m for m in sys.modules if m.split(".")[0] == "spikerl"), "served": served}))
"""


@pytest.mark.skipif(not kernels.available(), reason="no C compiler here")
def test_kernels_import_nothing_else_from_spikerl() -> None:
    """No cycle: ``spikerl.kernels`` and its kernels (imports inside functions included) need no other part of
    spikerl, in particular not ``spikerl.neurons``; it takes plain numbers and tensors."""
    out = subprocess.run([sys.executable, "-c", ISOLATED, str(SPIKERL)], capture_output=True, text=True,
                         timeout=300, env={k: v for k, v in os.environ.items() if k != "SPIKERL_NO_KERNELS"})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["served"] == [True, True, True, "the C kernels take float32 or float64 tensors, got torch.float16"]
    assert all(m == "spikerl" or m == "spikerl.kernels" or m.startswith("spikerl.kernels.") for m in report["modules"])
    assert "spikerl.kernels.scan" in report["modules"]
