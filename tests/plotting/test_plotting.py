"""Plots: each returns a Figure with the expected axes and images, saves to PNG headless, and matplotlib is
imported only when a plot is made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from spikerl import plotting

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402


def save_png(fig: Figure, path: Path) -> None:
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_import_spikerl_does_not_import_matplotlib() -> None:
    code = "import sys, spikerl, spikerl.plotting, spikerl.encoding, spikerl.decoding; " \
           "print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plot_spikes_one_raster_per_layer(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    batched = torch.rand(30, 2, 3, 4, generator=g) < 0.2        # [T, B, *shape], sample 1 shown
    flat = torch.rand(30, 10, generator=g) < 0.1                # [T, n]
    fig = plotting.plot_spikes({"X": batched, "Y": flat}, batch_index=1, dt_ms=0.5)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    # every spike is one point at (t * dt, neuron)
    points = fig.axes[0].collections[0].get_offsets()
    assert len(points) == int(batched[:, 1].sum())
    t, i = np.nonzero(batched[:, 1].reshape(30, -1).numpy())
    assert np.array_equal(np.asarray(points), np.stack([t * 0.5, i], axis=1))
    assert len(fig.axes[1].collections[0].get_offsets()) == int(flat.sum())
    save_png(fig, tmp_path / "spikes.png")


def test_plot_voltages_one_line_per_neuron(tmp_path: Path) -> None:
    v = {"A": torch.randn(20, 5), "B": torch.randn(20, 3, 2, 2)}
    fig = plotting.plot_voltages(v, batch_index=2)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 5 and len(fig.axes[1].lines) == 4
    assert np.allclose(fig.axes[1].lines[0].get_ydata(), v["B"][:, 2, 0, 0].numpy())
    assert len(plotting.plot_voltages(v, max_neurons=2).axes[0].lines) == 2
    save_png(fig, tmp_path / "v.png")


def test_plot_weights_tiles_receptive_fields(tmp_path: Path) -> None:
    w = torch.rand(784, 10)
    fig = plotting.plot_weights(w, input_shape=(28, 28))
    assert len(fig.axes) == 2  # the grid and its colour bar
    images = fig.axes[0].images
    assert len(images) == 1
    image = np.ma.filled(images[0].get_array(), np.nan)
    # ceil(sqrt(10)) = 4 columns, 3 rows, 28-pixel tiles with 1-pixel separators
    assert image.shape == (3 * 29 - 1, 4 * 29 - 1)
    assert np.allclose(image[:28, 29:57], w[:, 1].reshape(28, 28).numpy())  # tile 1: row 0, column 1
    assert np.allclose(image[29:57, :28], w[:, 4].reshape(28, 28).numpy())  # tile 4: row 1, column 0
    assert np.isnan(image[2 * 29:, 2 * 29:]).all()                           # spare tiles are empty
    save_png(fig, tmp_path / "w.png")


def test_plot_conv_filters_grid(tmp_path: Path) -> None:
    w = torch.randn(4, 2, 5, 5)
    fig = plotting.plot_conv_filters(w)
    assert len(fig.axes) == 2 and len(fig.axes[0].images) == 1
    image = np.ma.filled(fig.axes[0].images[0].get_array(), np.nan)
    assert image.shape == (4 * 6 - 1, 2 * 6 - 1)
    assert np.allclose(image[6:11, 6:11], w[1, 1].numpy())  # row = output channel, column = input channel
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi == -float(w.abs().max())
    save_png(fig, tmp_path / "conv.png")


def test_plot_assignments(tmp_path: Path) -> None:
    assignments = torch.tensor([0, 1, 2, -1, 3])
    fig = plotting.plot_assignments(assignments, n_classes=4)
    assert len(fig.axes) == 2 and len(fig.axes[0].images) == 1
    image = np.ma.filled(fig.axes[0].images[0].get_array(), np.nan)
    assert image.shape == (2, 3)  # 3 columns = ceil(sqrt(5)); unassigned and spare cells are empty
    assert np.array_equal(image.reshape(-1)[[0, 1, 2, 4]], [0, 1, 2, 3]) and np.isnan(image.reshape(-1)[[3, 5]]).all()
    assert plotting.plot_assignments(assignments, 4, shape=(1, 5)).axes[0].images[0].get_array().shape == (1, 5)
    save_png(fig, tmp_path / "assign.png")


def test_plot_accuracy(tmp_path: Path) -> None:
    history = {"all activity": [0.1, 0.5, 0.8], "proportion": torch.tensor([0.2, 0.6, 0.85])}
    fig = plotting.plot_accuracy(history)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    assert np.allclose(fig.axes[0].lines[1].get_ydata(), [0.2, 0.6, 0.85])
    save_png(fig, tmp_path / "acc.png")


def test_errors() -> None:
    with pytest.raises(ValueError, match="non-empty dict"):
        plotting.plot_spikes({})
    with pytest.raises(ValueError, match=r"\[T, n\] or \[T, B, \*shape\]"):
        plotting.plot_spikes({"X": torch.zeros(5)})
    with pytest.raises(IndexError, match="batch_index 3"):
        plotting.plot_spikes({"X": torch.zeros(5, 2, 3)}, batch_index=3)
    with pytest.raises(ValueError, match="n_in = prod"):
        plotting.plot_weights(torch.zeros(100, 3), input_shape=(28, 28))
    with pytest.raises(ValueError, match="C_out, C_in, kH, kW"):
        plotting.plot_conv_filters(torch.zeros(3, 3, 3))
    with pytest.raises(ValueError, match=r"in \[0, 2\) or -1"):
        plotting.plot_assignments(torch.tensor([0, 2]), 2)
    with pytest.raises(TypeError, match="torch.Tensor or numpy"):
        plotting.plot_voltages({"v": [[1.0]]})
