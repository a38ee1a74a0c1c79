"""Building and loading the kernels: compiled once into the per-user cache, keyed by the sources; without a
compiler (or with SPIKERL_NO_KERNELS=1) everything falls back to torch, with one warning at most."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from spikerl import kernels
from spikerl.neurons import LIF, NeuronLayer

# Runs a LIF scan twice in a fresh interpreter and reports whether the kernels were used, the warnings, and
# whether the result equals the generic loop.
SCRIPT = """
import json, warnings, torch
from spikerl import kernels
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
