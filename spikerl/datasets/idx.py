"""Decoding of gzip'd IDX files, the format the MNIST database is distributed in.

An IDX file is a header of 32-bit big-endian integers followed by a flat payload of unsigned bytes:

- images: ``magic = 2051``, ``count``, ``rows``, ``cols``, then ``count * rows * cols`` bytes, row-major
  (image ``i``, row ``r``, column ``c`` sits at byte ``16 + (i * rows + r) * cols + c``);
- labels: ``magic = 2049``, ``count``, then ``count`` bytes.

Decoding is one ``gzip.decompress`` and one ``numpy.frombuffer``: no Python loop over samples or pixels.
Every header field and the exact payload length are checked, and a bad file raises :class:`IDXFormatError`
that names the file, the field, what was expected and what was found.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
"""IDX magic number of an unsigned-byte, 3-dimensional array (``0x00000803``): images."""

LABELS_MAGIC = 2049
"""IDX magic number of an unsigned-byte, 1-dimensional array (``0x00000801``): labels."""

_IMAGES_HEADER = struct.Struct(">IIII")  # magic, count, rows, cols
_LABELS_HEADER = struct.Struct(">II")  # magic, count


class IDXFormatError(ValueError):
    """An IDX file (or its gzip wrapper) is malformed: wrong magic, wrong size, truncated, not gzip."""


def gunzip(data: bytes, *, source: str = "<bytes>") -> bytes:
    """Decompress a whole gzip stream held in memory.

    Raises:
        IDXFormatError: ``data`` is not gzip, or the gzip stream is truncated or corrupt.
    """
    try:
        return gzip.decompress(data)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise IDXFormatError(f"{source}: not a valid gzip file ({type(err).__name__}: {err})") from err


def _check_magic(found: int, expected: int, *, kind: str, source: str) -> None:
    if found != expected:
        raise IDXFormatError(
            f"{source}: expected IDX {kind} magic number {expected} (0x{expected:08x}), "
            f"got {found} (0x{found:08x})"
        )


def _check_payload(payload: int, expected: int, *, what: str, source: str) -> None:
    if payload != expected:
        problem = "truncated" if payload < expected else "has trailing bytes"
        raise IDXFormatError(f"{source}: payload {problem}: header announces {what} = {expected} bytes, got {payload}")


def parse_idx_images(
    raw: bytes, *, source: str = "<bytes>", image_shape: tuple[int, int] | None = (28, 28)
) -> np.ndarray:
    """Decode an uncompressed IDX image file.

    Args:
        raw: the whole decompressed file, header included.
        source: name used in error messages (usually the file path).
        image_shape: the ``(rows, cols)`` the header must announce; ``None`` accepts any.

    Returns:
        A writable ``uint8`` array of shape ``[count, rows, cols]``.
    """
    if len(raw) < _IMAGES_HEADER.size:
        raise IDXFormatError(
            f"{source}: file too short for an IDX image header: expected at least {_IMAGES_HEADER.size} bytes, "
            f"got {len(raw)}"
        )
    magic, count, rows, cols = _IMAGES_HEADER.unpack_from(raw)
    _check_magic(magic, IMAGES_MAGIC, kind="image", source=source)
    if image_shape is not None and (rows, cols) != tuple(image_shape):
        raise IDXFormatError(
            f"{source}: expected images of shape {tuple(image_shape)}, header announces ({rows}, {cols})"
        )
    payload = len(raw) - _IMAGES_HEADER.size
    _check_payload(payload, count * rows * cols, what=f"{count} x {rows} x {cols}", source=source)
    images = np.frombuffer(raw, dtype=np.uint8, offset=_IMAGES_HEADER.size)
    return images.reshape(count, rows, cols).copy()  # copy: frombuffer on bytes is read-only


def parse_idx_labels(raw: bytes, *, source: str = "<bytes>", num_classes: int | None = 10) -> np.ndarray:
    """Decode an uncompressed IDX label file.

    Args:
        raw: the whole decompressed file, header included.
        source: name used in error messages (usually the file path).
        num_classes: every label must lie in ``[0, num_classes)``; ``None`` accepts any byte.

    Returns:
        A writable ``uint8`` array of shape ``[count]``.
    """
    if len(raw) < _LABELS_HEADER.size:
        raise IDXFormatError(
            f"{source}: file too short for an IDX label header: expected at least {_LABELS_HEADER.size} bytes, "
            f"got {len(raw)}"
        )
    magic, count = _LABELS_HEADER.unpack_from(raw)
    _check_magic(magic, LABELS_MAGIC, kind="label", source=source)
    _check_payload(len(raw) - _LABELS_HEADER.size, count, what=f"{count} labels", source=source)
    labels = np.frombuffer(raw, dtype=np.uint8, offset=_LABELS_HEADER.size).copy()
    if num_classes is not None and count > 0 and int(labels.max()) >= num_classes:
        raise IDXFormatError(
            f"{source}: expected labels in [0, {num_classes}), found {int(labels.max())} "
            f"at index {int(labels.argmax())}"
        )
    return labels


def _read_maybe_gzip(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    path = Path(path)
    data = path.read_bytes()
    source = str(path)
    return (gunzip(data, source=source) if path.suffix == ".gz" else data), source


def read_idx_images(path: str | os.PathLike[str], *, image_shape: tuple[int, int] | None = (28, 28)) -> np.ndarray:
    """Read an IDX image file (gunzipped on the fly if its name ends in ``.gz``) as ``uint8 [N, rows, cols]``."""
    raw, source = _read_maybe_gzip(path)
    return parse_idx_images(raw, source=source, image_shape=image_shape)


def read_idx_labels(path: str | os.PathLike[str], *, num_classes: int | None = 10) -> np.ndarray:
    """Read an IDX label file (gunzipped on the fly if its name ends in ``.gz``) as ``uint8 [N]``."""
    raw, source = _read_maybe_gzip(path)
    return parse_idx_labels(raw, source=source, num_classes=num_classes)
