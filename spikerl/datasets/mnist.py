"""MNIST handwritten digits, read from the four original gzip'd IDX files.

Where the files are looked for, first match wins:

1. the ``root`` argument;
2. the environment variable ``SPIKERL_MNIST_DIR``;
3. ``$XDG_CACHE_HOME/spikerl/mnist``, by default ``~/.cache/spikerl/mnist``.

Every file is checked against its canonical SHA-256 before it is decoded. Missing files are downloaded (when
``download=True``) from :data:`MNIST_MIRRORS` into that folder, verified, then atomically renamed into place.
A folder that already holds the files is only read, so a read-only folder works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.data import Dataset

from spikerl.datasets.download import ChecksumError, DownloadError, download_verified, sha256_hex
from spikerl.datasets.idx import gunzip, parse_idx_images, parse_idx_labels

MNIST_DIR_ENV = "SPIKERL_MNIST_DIR"
"""Environment variable naming the folder that holds (or receives) the four MNIST .gz files."""

MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
"""SHA-256 of each original .gz file, as published by torchvision, TensorFlow Datasets and others."""

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror (torchvision)
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # CVDF mirror (TensorFlow Datasets)
    "http://yann.lecun.com/exdb/mnist/",  # the original site; often refuses scripts now
)
"""Base URLs tried in order; a file's URL is the base plus its name. Checksums make plain http safe."""


class _SplitFiles(NamedTuple):
    images: str
    labels: str
    count: int


MNIST_SPLITS: dict[str, _SplitFiles] = {
    "train": _SplitFiles("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
    "test": _SplitFiles("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000),
}


class MNISTNotFoundError(FileNotFoundError):
    """MNIST files are missing from the resolved folder and could not be downloaded."""


def _resolve_dir(root: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The folder to use and a phrase saying where it came from."""
    if root is not None:
        return Path(root).expanduser(), "root= argument"
    from_env = os.environ.get(MNIST_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser(), f"${MNIST_DIR_ENV}"
    xdg_cache = os.environ.get("XDG_CACHE_HOME")
    cache = Path(xdg_cache) if xdg_cache and os.path.isabs(xdg_cache) else Path.home() / ".cache"
    return cache / "spikerl" / "mnist", "default cache folder"


def mnist_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder MNIST files are read from: ``root``, else ``$SPIKERL_MNIST_DIR``, else the user cache folder."""
    return _resolve_dir(root)[0]


def _not_found_message(folder: Path, origin: str, missing: list[str], mirrors: tuple[str, ...] | None) -> str:
    lines = [f"MNIST files not found in {folder} (from the {origin}).", f"Missing: {', '.join(missing)}."]
    if mirrors is None:
        lines.append("Nothing was downloaded because download=False.")
    else:
        lines.append(f"Download failed; mirrors tried: {', '.join(mirrors) or '(none)'}.")
    lines += [
        "To supply the files, do one of:",
        f"  - set {MNIST_DIR_ENV} to a folder that holds the four original .gz files;",
        "  - pass root=<folder> to load_mnist;",
        f"  - download the .gz files manually (from one of {', '.join(MNIST_MIRRORS)}) into {folder}.",
        "Expected SHA-256 sums are in spikerl.datasets.mnist.MNIST_SHA256.",
    ]
    return "\n".join(lines)


def _ensure_files(
    names: list[str], root: str | os.PathLike[str] | None, *, download: bool, progress: bool, mirrors: tuple[str, ...]
) -> Path:
    """Return the folder holding ``names``, downloading the missing ones if allowed. Writes nothing otherwise."""
    folder, origin = _resolve_dir(root)
    missing = [name for name in names if not (folder / name).is_file()]
    if not missing:
        return folder
    if not download:
        raise MNISTNotFoundError(_not_found_message(folder, origin, missing, None))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in list(missing):
            download_verified([base + name for base in mirrors], folder / name, MNIST_SHA256[name], progress=progress)
            missing.remove(name)
    except (DownloadError, OSError) as err:
        message = _not_found_message(folder, origin, missing, mirrors)
        raise MNISTNotFoundError(f"{message}\nUnderlying error: {err}") from err
    return folder


def _read_verified(path: Path) -> bytes:
    """Read ``path``, check its SHA-256 against :data:`MNIST_SHA256`, and return the decompressed bytes."""
    data = path.read_bytes()
    actual = sha256_hex(data)
    expected = MNIST_SHA256[path.name]
    if actual != expected:
        hint = "the file is corrupt or not the original; delete or replace it"
        raise ChecksumError(path, expected, actual, hint=hint)
    return gunzip(data, source=str(path))


def download_mnist(
    root: str | os.PathLike[str] | None = None, *, progress: bool = True, mirrors: tuple[str, ...] | None = None
) -> Path:
    """Download whichever of the four MNIST files are missing (verified) and return the folder.

    ``mirrors`` defaults to :data:`MNIST_MIRRORS`; each entry is a base URL ending in ``/``.
    """
    names = [name for split in MNIST_SPLITS.values() for name in (split.images, split.labels)]
    return _ensure_files(names, root, download=True, progress=progress, mirrors=mirrors or MNIST_MIRRORS)


def load_mnist(
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load an MNIST split as tensors.

    Args:
        split: ``"train"`` (60000 samples) or ``"test"`` (10000 samples).
        root: folder holding the .gz files; default ``$SPIKERL_MNIST_DIR`` then ``~/.cache/spikerl/mnist``.
        download: fetch missing files from :data:`MNIST_MIRRORS` (verified by SHA-256).
        progress: show a tqdm progress bar while downloading.

    Returns:
        ``(images, labels)``: ``uint8 [N, 28, 28]`` with 0 background and 255 ink, and ``int64 [N]`` in 0..9.

    Raises:
        ValueError: unknown ``split``.
        MNISTNotFoundError: files missing and not downloadable (names the folder, the files and the fixes).
        ChecksumError: a file present on disk is not the original.
        IDXFormatError: a file is malformed (only possible together with a checksum collision, in practice).
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"expected split to be one of {list(MNIST_SPLITS)}, got {split!r}")
    files = MNIST_SPLITS[split]
    names = [files.images, files.labels]
    folder = _ensure_files(names, root, download=download, progress=progress, mirrors=MNIST_MIRRORS)
    images = parse_idx_images(_read_verified(folder / files.images), source=str(folder / files.images))
    labels = parse_idx_labels(_read_verified(folder / files.labels), source=str(folder / files.labels))
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} images but {len(labels)} labels in split {split!r}")
    return torch.from_numpy(images), torch.from_numpy(labels).long()


class MNIST(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """MNIST split held in memory: ``images`` ``uint8 [N, 28, 28]`` and ``labels`` ``int64 [N]``.

    ``dataset[i]`` is ``(images[i], labels[i])``. Arguments are those of :func:`load_mnist`.
    """

    def __init__(
        self,
        split: str = "train",
        root: str | os.PathLike[str] | None = None,
        download: bool = True,
        progress: bool = True,
    ) -> None:
        self.split = split
        self.images, self.labels = load_mnist(split, root=root, download=download, progress=progress)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]
