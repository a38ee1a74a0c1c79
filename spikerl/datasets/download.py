"""Verified downloads: fetch a file from the first mirror that serves the right bytes.

A download streams into a hidden temporary file in the destination folder while hashing it; only when the
SHA-256 matches is the temporary file renamed onto the final name (``os.replace``, atomic within a folder).
A failed, interrupted or corrupt download therefore never leaves a file under the final name, and its
temporary file is removed.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

_CHUNK_BYTES = 1 << 20
_USER_AGENT = "spikerl-datasets"


class ChecksumError(ValueError):
    """A file's SHA-256 differs from the known one. ``path``, ``expected`` and ``actual`` hold the details."""

    def __init__(self, path: str | os.PathLike[str], expected: str, actual: str, hint: str = "") -> None:
        self.path, self.expected, self.actual = str(path), expected, actual
        message = f"SHA-256 mismatch for {self.path}: expected {expected}, got {actual}"
        super().__init__(f"{message}. {hint}" if hint else message)


class DownloadError(RuntimeError):
    """Every URL failed. ``errors`` holds one ``(url, exception)`` pair per attempt, in order."""

    def __init__(self, name: str, errors: Sequence[tuple[str, BaseException]]) -> None:
        self.name, self.errors = name, list(errors)
        tried = "\n".join(f"  {url}: {type(err).__name__}: {err}" for url, err in self.errors)
        super().__init__(f"could not download {name} from any mirror:\n{tried or '  (no mirror given)'}")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def open_url(url: str, timeout_s: float) -> BinaryIO:
    """Open ``url`` for reading (http, https or file). Tests monkeypatch this to simulate the network."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    return urllib.request.urlopen(request, timeout=timeout_s)  # noqa: S310 (URL comes from the mirror list)


def _stream_to(url: str, out: BinaryIO, *, desc: str, progress: bool, timeout_s: float) -> str:
    """Copy ``url`` into ``out`` in chunks with a tqdm bar; return the SHA-256 of the bytes copied."""
    digest = hashlib.sha256()
    with open_url(url, timeout_s) as response:
        length = getattr(response, "headers", {}).get("Content-Length")
        total = int(length) if length and str(length).isdigit() else None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=not progress) as bar:
            while chunk := response.read(_CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()


def _download_once(url: str, dest: Path, sha256: str, *, progress: bool, timeout_s: float) -> None:
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "xb") as out:
            actual = _stream_to(url, out, desc=dest.name, progress=progress, timeout_s=timeout_s)
            out.flush()
            os.fsync(out.fileno())
        if actual != sha256:
            raise ChecksumError(url, sha256, actual, hint="the mirror served different bytes; discarded")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful replace


def download_verified(
    urls: Sequence[str], dest: str | os.PathLike[str], sha256: str, *, progress: bool = True, timeout_s: float = 30.0
) -> str:
    """Download ``dest`` from the first of ``urls`` whose bytes have the given SHA-256.

    The destination folder must exist. Returns the URL that succeeded.

    Raises:
        DownloadError: every URL failed (network error, HTTP error, wrong checksum, unwritable folder);
            the per-URL errors are listed in the message and in ``errors``.
    """
    dest = Path(dest)
    errors: list[tuple[str, BaseException]] = []
    for url in urls:
        try:
            _download_once(url, dest, sha256, progress=progress, timeout_s=timeout_s)
            return url
        except (OSError, ValueError, http.client.HTTPException) as err:  # URLError is an OSError
            errors.append((url, err))
    raise DownloadError(dest.name, errors)
