"""Tests of the MNIST loader: the real files, IDX parsing, checksums, folder resolution and verified downloads.

The real files come from ``$SPIKERL_MNIST_DIR`` or the project's shared copy next to the repository; no test
touches the network (downloads are served from ``file://`` URLs or a monkeypatched ``open_url``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

import spikerl.datasets.download as download_module
import spikerl.datasets.mnist as mnist_module
from spikerl.datasets import (
    MNIST,
    MNIST_DIR_ENV,
    MNIST_MIRRORS,
    MNIST_SHA256,
    ChecksumError,
    DownloadError,
    IDXFormatError,
    MNISTNotFoundError,
    download_mnist,
    load_mnist,
    mnist_dir,
    read_idx_images,
    read_idx_labels,
)

SHARED_MNIST = Path(
    os.environ.get(MNIST_DIR_ENV) or Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
)
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
ALL_FILES = tuple(MNIST_SHA256)

# Facts about the original files, from the shared README (label counts; MD5 of each decompressed file).
LABEL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
RAW_MD5 = {
    ("train", "images"): "6bbc9ace898e44ae57da46a324031adb",
    ("train", "labels"): "a25bea736e30d166cdddb491f175f624",
    ("test", "images"): "2646ac647ad5339dbf082846283269ea",
    ("test", "labels"): "27ae3e4e09519cfbb04c329615203637",
}

needs_shared = pytest.mark.skipif(
    not all((SHARED_MNIST / name).is_file() for name in ALL_FILES),
    reason=f"MNIST files not found in {SHARED_MNIST}; set {MNIST_DIR_ENV}",
)


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Isolate every test from the user's env var and cache folder."""
    monkeypatch.delenv(MNIST_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="module")
def mnist_splits() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    if not all((SHARED_MNIST / name).is_file() for name in ALL_FILES):
        pytest.skip(f"MNIST files not found in {SHARED_MNIST}")
    return {split: load_mnist(split, root=SHARED_MNIST, download=False) for split in ("train", "test")}


def _copy(names: tuple[str, ...], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(SHARED_MNIST / name, dest / name)
    return dest


def _forbid_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every fetch fail like an offline machine; return the list of URLs that were attempted."""
    attempted: list[str] = []

    def offline(url: str, timeout_s: float) -> io.BytesIO:
        attempted.append(url)
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(download_module, "open_url", offline)
    return attempted


# ---------------------------------------------------------------------------------------------------------------
# The real files


@needs_shared
@pytest.mark.parametrize("split, count", [("train", 60_000), ("test", 10_000)])
def test_shapes_dtypes_and_label_counts(mnist_splits, split: str, count: int) -> None:
    images, labels = mnist_splits[split]
    assert images.shape == (count, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (count,) and labels.dtype == torch.int64
    assert torch.bincount(labels, minlength=10).tolist() == LABEL_COUNTS[split]
    assert sum(LABEL_COUNTS[split]) == count
    assert images.min().item() == 0 and images.max().item() == 255  # 0 background, 255 ink


@needs_shared
@pytest.mark.parametrize("split", ["train", "test"])
def test_decoded_bytes_equal_the_original_files(mnist_splits, split: str) -> None:
    """Re-encoding header + tensors reproduces each decompressed file byte for byte (MD5 from the README)."""
    images, labels = mnist_splits[split]
    n = len(labels)
    raw_images = struct.pack(">IIII", 2051, n, 28, 28) + images.numpy().tobytes()
    raw_labels = struct.pack(">II", 2049, n) + labels.to(torch.uint8).numpy().tobytes()
    assert hashlib.md5(raw_images).hexdigest() == RAW_MD5[(split, "images")]
    assert hashlib.md5(raw_labels).hexdigest() == RAW_MD5[(split, "labels")]


@needs_shared
def test_hardcoded_sums_match_shared_sha256sums() -> None:
    listed = dict(reversed(line.split()) for line in (SHARED_MNIST / "SHA256SUMS").read_text().splitlines() if line)
    assert listed == MNIST_SHA256


@needs_shared
def test_training_set_decodes_in_well_under_a_few_seconds() -> None:
    start = time.perf_counter()
    images, _ = load_mnist("train", root=SHARED_MNIST, download=False)
    elapsed = time.perf_counter() - start
    assert len(images) == 60_000
    assert elapsed < 3.0, f"loading 60000 images took {elapsed:.2f} s"


@needs_shared
def test_mnist_dataset_indexes_the_loaded_tensors(mnist_splits) -> None:
    dataset = MNIST("test", root=SHARED_MNIST, download=False)
    images, labels = mnist_splits["test"]
    assert len(dataset) == 10_000
    image, label = dataset[123]
    assert torch.equal(image, images[123]) and label.item() == labels[123].item()
    assert image.shape == (28, 28) and label.dtype == torch.int64


def test_unknown_split_is_rejected() -> None:
    with pytest.raises(ValueError, match="'train', 'test'.*'validation'"):
        load_mnist("validation", download=False)


# ---------------------------------------------------------------------------------------------------------------
# Folder resolution


def test_folder_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist_dir() == tmp_path / "home" / ".cache" / "spikerl" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist_dir() == tmp_path / "xdg" / "spikerl" / "mnist"
    monkeypatch.setenv(MNIST_DIR_ENV, str(tmp_path / "from-env"))
    assert mnist_dir() == tmp_path / "from-env"
    assert mnist_dir(tmp_path / "from-arg") == tmp_path / "from-arg"
    assert mnist_dir(str(tmp_path / "from-arg")) == tmp_path / "from-arg"


def test_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec says: ignore relative paths
    assert mnist_dir() == tmp_path / ".cache" / "spikerl" / "mnist"


@needs_shared
def test_env_var_folder_is_used(monkeypatch: pytest.MonkeyPatch, mnist_splits) -> None:
    monkeypatch.setenv(MNIST_DIR_ENV, str(SHARED_MNIST))
    _forbid_network(monkeypatch)
    images, labels = load_mnist("test")
    assert torch.equal(images, mnist_splits["test"][0]) and torch.equal(labels, mnist_splits["test"][1])


@needs_shared
def test_read_only_folder_with_files_is_only_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = _copy(TEST_FILES, tmp_path / "ro")
    folder.chmod(0o555)
    attempted = _forbid_network(monkeypatch)
    try:
        before = sorted(os.listdir(folder))
        monkeypatch.setenv(MNIST_DIR_ENV, str(folder))
        images, _ = load_mnist("test", download=True)
        assert len(images) == 10_000
        assert sorted(os.listdir(folder)) == before and attempted == []
    finally:
        folder.chmod(0o755)


# ---------------------------------------------------------------------------------------------------------------
# IDX parsing of hand-made files


def _write_gz(path: Path, raw: bytes) -> Path:
    path.write_bytes(gzip.compress(raw))
    return path


def _images_raw(n: int, rows: int = 28, cols: int = 28, magic: int = 2051) -> tuple[bytes, np.ndarray]:
    pixels = (np.arange(n * rows * cols) % 251).astype(np.uint8)
    return struct.pack(">IIII", magic, n, rows, cols) + pixels.tobytes(), pixels


def test_tiny_image_file_decodes_row_major(tmp_path: Path) -> None:
    raw, pixels = _images_raw(3)
    images = read_idx_images(_write_gz(tmp_path / "tiny-images.gz", raw))
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8 and images.flags.writeable
    i, r, c = 2, 5, 17
    assert images[i, r, c] == pixels[(i * 28 + r) * 28 + c]
    np.testing.assert_array_equal(images.ravel(), pixels)


def test_tiny_label_file_decodes(tmp_path: Path) -> None:
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.uint8)
    path = _write_gz(tmp_path / "tiny-labels.gz", struct.pack(">II", 2049, len(labels)) + labels.tobytes())
    np.testing.assert_array_equal(read_idx_labels(path), labels)


def test_uncompressed_idx_file_is_read_too(tmp_path: Path) -> None:
    raw, pixels = _images_raw(2)
    path = tmp_path / "tiny-images-idx3-ubyte"
    path.write_bytes(raw)
    np.testing.assert_array_equal(read_idx_images(path).ravel(), pixels)


@pytest.mark.parametrize(
    "raw, message",
    [
        (_images_raw(2, magic=2049)[0], r"expected IDX image magic number 2051 \(0x00000803\), got 2049"),
        (_images_raw(2, magic=0x1234)[0], r"magic number 2051 .* got 4660"),
        (_images_raw(2)[0][:-1], r"payload truncated: header announces 2 x 28 x 28 = 1568 bytes, got 1567"),
        (_images_raw(2)[0] + b"\x00", r"payload has trailing bytes: .* = 1568 bytes, got 1569"),
        (_images_raw(2, rows=32, cols=32)[0], r"expected images of shape \(28, 28\), header announces \(32, 32\)"),
        (b"\x00\x00\x08\x03\x00", r"too short for an IDX image header: expected at least 16 bytes, got 5"),
    ],
    ids=["labels-magic", "bad-magic", "truncated", "trailing", "wrong-size", "short-header"],
)
def test_bad_image_files_raise_clear_errors(tmp_path: Path, raw: bytes, message: str) -> None:
    path = _write_gz(tmp_path / "bad-images.gz", raw)
    with pytest.raises(IDXFormatError, match=message) as info:
        read_idx_images(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "raw, message",
    [
        (struct.pack(">II", 2051, 2) + b"\x01\x02", r"expected IDX label magic number 2049 .* got 2051"),
        (struct.pack(">II", 2049, 5) + b"\x01\x02", r"payload truncated: header announces 5 labels = 5 bytes, got 2"),
        (struct.pack(">II", 2049, 3) + b"\x01\x0a\x02", r"expected labels in \[0, 10\), found 10 at index 1"),
    ],
    ids=["bad-magic", "truncated", "out-of-range"],
)
def test_bad_label_files_raise_clear_errors(tmp_path: Path, raw: bytes, message: str) -> None:
    with pytest.raises(IDXFormatError, match=message):
        read_idx_labels(_write_gz(tmp_path / "bad-labels.gz", raw))


def test_file_that_is_not_gzip_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "plain-images.gz"
    path.write_bytes(_images_raw(1)[0])  # valid IDX, but not compressed although named .gz
    with pytest.raises(IDXFormatError, match="not a valid gzip file"):
        read_idx_images(path)


def test_truncated_gzip_stream_is_rejected(tmp_path: Path) -> None:
    compressed = gzip.compress(_images_raw(4)[0])
    path = tmp_path / "cut-images.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IDXFormatError, match="not a valid gzip file"):
        read_idx_images(path)


# ---------------------------------------------------------------------------------------------------------------
# Checksums and missing files


@needs_shared
def test_checksum_mismatch_names_file_expected_and_actual(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = _copy(TEST_FILES, tmp_path / "corrupt")
    target = folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    attempted = _forbid_network(monkeypatch)
    with pytest.raises(ChecksumError) as info:
        load_mnist("test", root=folder)
    message = str(info.value)
    assert str(target) in message
    assert MNIST_SHA256[target.name] in message and hashlib.sha256(data).hexdigest() in message
    assert target.read_bytes() == bytes(data) and attempted == []  # the user's file is neither replaced nor deleted


def test_offline_error_names_folder_missing_files_mirrors_and_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "empty"
    attempted = _forbid_network(monkeypatch)
    with pytest.raises(MNISTNotFoundError) as info:
        load_mnist("train", root=folder, progress=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(folder) in message
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert "t10k" not in message.split("To supply")[0]  # only the files this split needs are reported missing
    assert MNIST_DIR_ENV in message and "root=" in message and "manually" in message
    assert all(base in message for base in MNIST_MIRRORS)
    assert "no network in this test" in message
    assert attempted == [base + "train-images-idx3-ubyte.gz" for base in MNIST_MIRRORS]
    assert isinstance(info.value.__cause__, DownloadError)
    assert os.listdir(folder) == []  # nothing half-written left behind


def test_missing_files_without_download_say_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "nowhere"
    attempted = _forbid_network(monkeypatch)
    monkeypatch.setenv(MNIST_DIR_ENV, str(folder))
    with pytest.raises(MNISTNotFoundError, match="download=False") as info:
        load_mnist("test", download=False)
    assert str(folder) in str(info.value) and f"${MNIST_DIR_ENV}" in str(info.value)
    assert attempted == [] and not folder.exists()  # download=False writes nothing, not even the folder


# ---------------------------------------------------------------------------------------------------------------
# Downloads, served from file:// URLs


@needs_shared
def test_download_from_file_mirror_lands_verified_files(tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    folder = download_mnist(root=dest, progress=False, mirrors=(SHARED_MNIST.as_uri() + "/",))
    assert folder == dest
    assert sorted(os.listdir(dest)) == sorted(ALL_FILES)  # no temporary files left over
    for name in ALL_FILES:
        assert hashlib.sha256((dest / name).read_bytes()).hexdigest() == MNIST_SHA256[name]
    images, labels = load_mnist("test", root=dest, download=False)
    assert images.shape == (10_000, 28, 28) and torch.bincount(labels).tolist() == LABEL_COUNTS["test"]


@needs_shared
def test_load_downloads_only_the_missing_files_of_its_split(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = _copy(TEST_FILES[:1], tmp_path / "half")  # images present, labels missing
    missing_mirror = (tmp_path / "no-such-mirror").as_uri() + "/"
    monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", (missing_mirror, SHARED_MNIST.as_uri() + "/"))
    images, labels = load_mnist("test", root=dest, progress=True)
    assert len(images) == len(labels) == 10_000
    assert sorted(os.listdir(dest)) == sorted(TEST_FILES)
    assert "t10k-labels-idx1-ubyte.gz" in capsys.readouterr().err  # the tqdm bar names the file


@needs_shared
def test_corrupt_download_leaves_no_file(tmp_path: Path) -> None:
    bad_mirror = tmp_path / "bad-mirror"
    bad_mirror.mkdir()
    for name in ALL_FILES:
        (bad_mirror / name).write_bytes(b"\x1f\x8b" + b"not the real bytes")
    dest = tmp_path / "cache"
    with pytest.raises(MNISTNotFoundError) as info:
        download_mnist(root=dest, progress=False, mirrors=(bad_mirror.as_uri() + "/",))
    message = str(info.value)
    assert "SHA-256 mismatch" in message and MNIST_SHA256["train-images-idx3-ubyte.gz"] in message
    assert os.listdir(dest) == []


@needs_shared
def test_corrupt_mirror_falls_back_to_a_good_one(tmp_path: Path) -> None:
    bad_mirror = tmp_path / "bad-mirror"
    bad_mirror.mkdir()
    for name in TEST_FILES:
        (bad_mirror / name).write_bytes((SHARED_MNIST / name).read_bytes()[:-10])  # truncated transfer
    dest = tmp_path / "cache"
    download_mnist(root=dest, progress=False, mirrors=(bad_mirror.as_uri() + "/", SHARED_MNIST.as_uri() + "/"))
    assert all(hashlib.sha256((dest / n).read_bytes()).hexdigest() == MNIST_SHA256[n] for n in ALL_FILES)
    assert sorted(os.listdir(dest)) == sorted(ALL_FILES)


def test_interrupted_download_leaves_no_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class DroppedConnection(io.BytesIO):
        def read(self, size: int = -1) -> bytes:
            if self.tell() > 0:
                raise ConnectionResetError("connection dropped mid-transfer")
            return super().read(4096)

    monkeypatch.setattr(download_module, "open_url", lambda url, timeout_s: DroppedConnection(b"\x00" * 10_000))
    dest = tmp_path / "cache"
    with pytest.raises(MNISTNotFoundError, match="connection dropped mid-transfer"):
        load_mnist("test", root=dest, progress=False)
    assert os.listdir(dest) == []


# ---------------------------------------------------------------------------------------------------------------
# Imports


def test_import_pulls_in_no_heavy_optional_modules() -> None:
    heavy = ("gymnasium", "cv2", "matplotlib", "tensorboard")
    code = f"import sys, spikerl.datasets; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
