"""Datasets for spiking networks: MNIST from the original IDX files, verified and cached.

Light on imports: needs only torch, numpy and tqdm (no gymnasium, cv2, matplotlib or tensorboard).
"""

from spikerl.datasets.download import ChecksumError, DownloadError
from spikerl.datasets.idx import IDXFormatError, parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels
from spikerl.datasets.mnist import (
    MNIST,
    MNIST_DIR_ENV,
    MNIST_MIRRORS,
    MNIST_SHA256,
    MNISTNotFoundError,
    download_mnist,
    load_mnist,
    mnist_dir,
)

__all__ = [
    "MNIST",
    "MNIST_DIR_ENV",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "ChecksumError",
    "DownloadError",
    "IDXFormatError",
    "MNISTNotFoundError",
    "download_mnist",
    "load_mnist",
    "mnist_dir",
    "parse_idx_images",
    "parse_idx_labels",
    "read_idx_images",
    "read_idx_labels",
]
