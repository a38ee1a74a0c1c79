"""Plots of spike rasters, voltages, weights, conv filters, label assignments and accuracy curves.

Every function builds a :class:`matplotlib.figure.Figure` with the object API (no ``pyplot``, no global state,
no display needed: it works headless) and returns it; save it with ``fig.savefig("out.png")``. matplotlib is
imported inside the functions, so ``import spikerl`` does not import it.

Tensors may live on any device; they are copied to the CPU for drawing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _new_figure(figsize: tuple[float, float] | None) -> "Figure":
    from matplotlib.figure import Figure
    return Figure(figsize=figsize, layout="constrained")


def _as_numpy(x: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32 if x.dtype == torch.bool else None).numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")


def _time_by_neuron(x: torch.Tensor | np.ndarray, name: str, batch_index: int) -> np.ndarray:
    """``[T, n]`` as is, ``[T, B, *shape]`` -> ``[T, prod(shape)]`` of sample ``batch_index``."""
    a = _as_numpy(x, name)
    if a.ndim == 2:
        return a
    if a.ndim < 2:
        raise ValueError(f"{name} must be [T, n] or [T, B, *shape], got shape {list(a.shape)}")
    if not -a.shape[1] <= batch_index < a.shape[1]:
        raise IndexError(f"batch_index {batch_index} is out of range for {name} with batch size {a.shape[1]}")
    return a[:, batch_index].reshape(a.shape[0], -1)


def _check_mapping(data: Mapping, what: str) -> None:
    if not isinstance(data, Mapping) or not data:
        raise ValueError(f"{what} must be a non-empty dict of name -> tensor")


def plot_spikes(trains: Mapping[str, torch.Tensor], batch_index: int = 0, dt_ms: float = 1.0,
                figsize: tuple[float, float] | None = None) -> "Figure":
    """Spike raster, one panel per layer: a dot at ``(t * dt_ms, i)`` for every spike of neuron ``i``.

    Args:
        trains: ``{name: train}`` with ``train`` either ``[T, n]`` or ``[T, B, *shape]`` (the neurons of
            sample ``batch_index`` are then flattened).
        batch_index: the sample shown for batched trains.
        dt_ms: time step, for the time axis in ms.
        figsize: matplotlib figure size in inches (default: 8 wide, 2 per panel).
    """
    _check_mapping(trains, "trains")
    fig = _new_figure(figsize or (8.0, 2.0 * len(trains) + 0.5))
    axes = fig.subplots(len(trains), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, train) in zip(axes, trains.items()):
        a = _time_by_neuron(train, f"trains[{name!r}]", batch_index)
        t, i = np.nonzero(a)
        ax.scatter(t * dt_ms, i, s=12, marker="|", linewidths=1.0, color="black")
        ax.set_xlim(0, a.shape[0] * dt_ms)
        ax.set_ylim(-0.5, a.shape[1] - 0.5)
        ax.set_ylabel(f"{name}\nneuron")
        ax.set_title(f"{name}: {len(t)} spikes", fontsize="small")
    axes[-1].set_xlabel("time (ms)")
    return fig


def plot_voltages(voltages: Mapping[str, torch.Tensor], batch_index: int = 0, dt_ms: float = 1.0,
                  max_neurons: int | None = None, figsize: tuple[float, float] | None = None) -> "Figure":
    """Membrane voltage traces, one panel per layer, one line per neuron.

    Args:
        voltages: ``{name: v}`` with ``v`` either ``[T, n]`` or ``[T, B, *shape]`` (sample ``batch_index``).
        batch_index: the sample shown for batched records.
        dt_ms: time step, for the time axis in ms.
        max_neurons: draw only the first ``max_neurons`` neurons of each layer (default: all).
        figsize: matplotlib figure size in inches.
    """
    _check_mapping(voltages, "voltages")
    fig = _new_figure(figsize or (8.0, 2.0 * len(voltages) + 0.5))
    axes = fig.subplots(len(voltages), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, v) in zip(axes, voltages.items()):
        a = _time_by_neuron(v, f"voltages[{name!r}]", batch_index)[:, :max_neurons]
        ax.plot(np.arange(a.shape[0]) * dt_ms, a, linewidth=0.8)
        ax.set_ylabel(f"{name}\nv (mV)")
    axes[-1].set_xlabel("time (ms)")
    return fig


def _tile(fields: np.ndarray, n_cols: int) -> np.ndarray:
    """Tile ``fields [k, h, w]`` into one image of ``ceil(k / n_cols)`` rows, separated by 1-pixel NaN lines."""
    k, h, w = fields.shape
    n_rows = math.ceil(k / n_cols)
    padded = np.full((n_rows * n_cols, h + 1, w + 1), np.nan, dtype=np.float32)
    padded[:k, :h, :w] = fields
    image = padded.reshape(n_rows, n_cols, h + 1, w + 1).transpose(0, 2, 1, 3)
    return image.reshape(n_rows * (h + 1), n_cols * (w + 1))[:-1, :-1]


def _show(fig: "Figure", image: np.ndarray, cmap: str, title: str, vmin: float | None = None,
          vmax: float | None = None) -> None:
    import matplotlib
    ax = fig.add_subplot()
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="lightgray")  # the separators between tiles
    im = ax.imshow(image, cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.colorbar(im, ax=ax)


def plot_weights(w: torch.Tensor, input_shape: Sequence[int] = (28, 28), n_cols: int | None = None,
                 cmap: str = "hot_r", figsize: tuple[float, float] | None = None) -> "Figure":
    """Receptive fields of a dense connection as a grid of images (as in Diehl & Cook 2015, figure 2).

    Column ``j`` of ``w [n_in, n_out]`` is reshaped to ``input_shape`` (``prod(input_shape) == n_in``; a 1-D
    shape is drawn as one row) and
    drawn as tile ``j``, row by row, ``n_cols`` tiles per row (default ``ceil(sqrt(n_out))``). One image, one
    colour bar; the colour range is the weights' ``[min, max]``.
    """
    a = _as_numpy(w, "w")
    dims = tuple(input_shape)
    if len(dims) not in (1, 2):
        raise ValueError(f"input_shape must be (n_in,) or (height, width), got {dims}")
    h, wd = (1, dims[0]) if len(dims) == 1 else dims
    if a.ndim != 2 or h * wd != a.shape[0]:
        raise ValueError(f"expected w of shape [n_in, n_out] with n_in = prod(input_shape) = {h * wd}, "
                         f"got {list(a.shape)}")
    n_out = a.shape[1]
    n_cols = n_cols or math.ceil(math.sqrt(n_out))
    fields = a.T.reshape(n_out, h, wd)
    fig = _new_figure(figsize or (6.0, 5.0))
    _show(fig, _tile(fields, n_cols), cmap, f"{n_out} receptive fields of {h}x{wd}",
          float(np.nanmin(a)), float(np.nanmax(a)))
    return fig


def plot_conv_filters(w: torch.Tensor, cmap: str = "RdBu_r", figsize: tuple[float, float] | None = None
                      ) -> "Figure":
    """Convolution kernels ``w [C_out, C_in, kH, kW]`` as a grid: row ``o``, column ``c`` shows ``w[o, c]``.

    One image and one colour bar, symmetric around 0 (``[-max|w|, max|w|]``).
    """
    a = _as_numpy(w, "w")
    if a.ndim != 4:
        raise ValueError(f"expected conv weights [C_out, C_in, kH, kW], got shape {list(a.shape)}")
    c_out, c_in, kh, kw = a.shape
    bound = float(np.nanmax(np.abs(a))) or 1.0
    fig = _new_figure(figsize or (max(3.0, 0.6 * c_in + 1.5), max(3.0, 0.6 * c_out)))
    _show(fig, _tile(a.reshape(c_out * c_in, kh, kw), c_in), cmap,
          f"{c_out} filters x {c_in} channels ({kh}x{kw})", -bound, bound)
    return fig


def plot_assignments(assignments: torch.Tensor, n_classes: int, shape: Sequence[int] | None = None,
                     figsize: tuple[float, float] | None = None) -> "Figure":
    """Class assigned to each neuron (from :func:`spikerl.decoding.assign_labels`) as a coloured grid.

    ``assignments [n]`` (``-1``: unassigned, drawn white) is laid out in ``shape`` (default: a near-square grid
    of ``ceil(sqrt(n))`` columns, spare cells white). One image, with a colour bar of one tick per class.
    """
    import matplotlib
    a = _as_numpy(assignments, "assignments").reshape(-1).astype(np.float32)
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes <= 0:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    if a.size and (a.min() < -1 or a.max() >= n_classes):
        raise ValueError(f"assignments must be in [0, {n_classes}) or -1")
    n = a.size
    rows, cols = tuple(shape) if shape is not None else (math.ceil(n / math.ceil(math.sqrt(n))),
                                                          math.ceil(math.sqrt(n)))
    if rows * cols < n:
        raise ValueError(f"shape {tuple(shape)} has fewer cells than the {n} neurons")
    grid = np.full(rows * cols, np.nan, dtype=np.float32)
    grid[:n] = np.where(a < 0, np.nan, a)
    fig = _new_figure(figsize or (5.0, 4.0))
    ax = fig.add_subplot()
    base = matplotlib.colormaps["tab10" if n_classes <= 10 else "tab20"]
    colormap = base.resampled(n_classes).with_extremes(bad="white")
    im = ax.imshow(grid.reshape(rows, cols), cmap=colormap, vmin=-0.5, vmax=n_classes - 0.5,
                   interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"assigned classes ({int((a >= 0).sum())}/{n} neurons)")
    fig.colorbar(im, ax=ax, ticks=np.arange(n_classes))
    return fig


def plot_accuracy(history: Mapping[str, Sequence[float]], xlabel: str = "evaluation",
                  ylabel: str = "accuracy", figsize: tuple[float, float] | None = None) -> "Figure":
    """Accuracy curves: one line per entry of ``history`` (e.g. ``{"all activity": [...], "proportion": [...]}``),
    against the index of the evaluation. One axes with a legend."""
    _check_mapping(history, "history")
    fig = _new_figure(figsize or (6.0, 4.0))
    ax = fig.add_subplot()
    for name, values in history.items():
        y = np.asarray(_as_numpy(values, name) if isinstance(values, torch.Tensor) else values, dtype=float)
        ax.plot(np.arange(len(y)), y, marker="o", markersize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig
