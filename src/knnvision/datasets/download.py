"""Verified downloads: stream to a temporary file, check the sha256, rename atomically.

The sha256 is taken over the *decompressed* bytes when the file is gzip-compressed, so a
checksum table stays valid whatever gzip level a mirror used. Nothing half-written or
unverified is ever left under the final name.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import secrets
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from knnvision.progress import track

__all__ = ["download_verified", "content_sha256"]

_CHUNK = 1 << 20
_TIMEOUT_S = 60
_GZIP_MAGIC = b"\x1f\x8b"


def download_verified(url: str, dest: Path, *, nbytes: int, sha256: str) -> Path:
    """Download ``url`` to ``dest`` if its (decompressed) content has the given sha256.

    Parameters
    ----------
    url : str
        Where to fetch the file (``http(s)://`` or ``file://``).
    dest : pathlib.Path
        Final file name. The folder must exist. If the content turns out not to be
        gzip-compressed, a trailing ``.gz`` is dropped from the name.
    nbytes : int
        Size of the (decompressed) content; also bounds how much is read.
    sha256 : str
        Expected hex digest of the (decompressed) content.

    Returns
    -------
    pathlib.Path
        The path the verified file was stored under.

    Raises
    ------
    ConnectionError
        If the file could not be fetched (network error, HTTP error, bad URL).
    ValueError
        If the content does not match ``nbytes``/``sha256``; the partial file is deleted.
    """
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
    try:
        with open(tmp, "xb") as out:
            description = f"{dest.parent.name}/{dest.name}"
            _fetch(url, out, limit=_max_download_size(nbytes), description=description)
        final = _verify(tmp, url, nbytes=nbytes, sha256=sha256, dest=dest)
        os.replace(tmp, final)
        return final
    finally:
        tmp.unlink(missing_ok=True)


def _max_download_size(nbytes: int) -> int:
    """Most bytes a (possibly gzip-compressed) file of ``nbytes`` raw bytes can take."""
    return nbytes + nbytes // 100 + 65536


def _fetch(url: str, out, *, limit: int, description: str) -> None:
    """Stream ``url`` into ``out`` with progress, refusing more than ``limit`` bytes."""
    try:
        response = urllib.request.urlopen(url, timeout=_TIMEOUT_S)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise ConnectionError(f"could not download {url}: {exc}") from exc
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > limit:
            raise ValueError(f"{url} is {total} bytes, more than the expected {limit}; refused")
        try:
            _copy(response, out, limit=limit, total=total, description=description)
        except ConnectionError:
            raise
        except (http.client.HTTPException, OSError) as exc:
            raise ConnectionError(f"download of {url} failed: {exc}") from exc


def _copy(response, out, *, limit: int, total: int | None, description: str) -> None:
    """Copy the response body chunk by chunk, advancing a progress task."""
    received = 0
    with track(total=total, description=f"downloading {description}") as task:
        while chunk := response.read(_CHUNK):
            received += len(chunk)
            if received > limit:
                raise ValueError(f"download of {description} exceeds {limit} bytes; refused")
            out.write(chunk)
            task.advance(len(chunk))
    if total is not None and received != total:
        raise ConnectionError(f"download of {description} ended after {received} of {total} bytes")


def _verify(tmp: Path, url: str, *, nbytes: int, sha256: str, dest: Path) -> Path:
    """Check size and sha256 of the downloaded content; return its final name."""
    compressed = _is_gzip(tmp)
    try:
        size, digest = content_sha256(tmp, limit=nbytes + 1)
    except ValueError as exc:
        raise ValueError(f"downloaded {url} is damaged ({exc}); deleted it, try again") from None
    if size != nbytes or digest != sha256:
        raise ValueError(
            f"checksum mismatch for {url}: expected {nbytes} bytes with sha256 {sha256}, got "
            f"{size} bytes with sha256 {digest}; deleted the download. The mirror may be "
            "serving a different file: try again later or fetch the file another way"
        )
    if not compressed and dest.name.endswith(".gz"):
        return dest.with_name(dest.name[: -len(".gz")])
    return dest


def _is_gzip(path: Path) -> bool:
    """Whether ``path`` starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def content_sha256(path: Path, *, limit: int | None = None) -> tuple[int, str]:
    """Size and sha256 hex digest of a file's content, decompressed if it is gzip.

    Parameters
    ----------
    path : pathlib.Path
        File to hash; gzip is detected from its first two bytes.
    limit : int or None, default=None
        Stop after this many content bytes (guards against decompression bombs); the
        returned size is then ``limit`` and the digest covers only that much.

    Raises
    ------
    ValueError
        If the file is a corrupt gzip stream.
    """
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as raw:
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if _is_gzip(path) else raw
            while limit is None or size < limit:
                chunk = stream.read(_CHUNK if limit is None else min(_CHUNK, limit - size))
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} is a corrupt gzip file ({exc})") from None
    return size, digest.hexdigest()
