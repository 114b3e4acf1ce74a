"""Strict reader and writer for IDX files, the format of the original MNIST distribution.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian ``uint32`` per dimension, then the values in C order, big-endian.
Files may be gzip-compressed; compression is detected from the content (bytes ``1f 8b``),
never from the file name.

The reader refuses anything that does not match its header exactly (a truncated file,
trailing bytes, an unknown type code, a corrupt gzip stream) with a :class:`ValueError`
that names the file, so it never returns a wrong array.
"""

from __future__ import annotations

import gzip
import os
import secrets
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = ["read_idx", "write_idx", "IDX_DTYPES"]

#: IDX type code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_MAX_DIMS = 4
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# Everything the stdlib raises for a damaged gzip stream.
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class _ByteReader(Protocol):
    """What the reader needs of a stream: an open file or a ``GzipFile`` both fit."""

    def read(self, size: int, /) -> bytes: ...


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    Parameters
    ----------
    path : str or path-like
        The file to read. Gzip compression is detected from the first two bytes.

    Returns
    -------
    numpy.ndarray
        A writable array in native byte order with the dtype and shape of the header.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a well-formed IDX file: bad magic number, unknown type code,
        unsupported number of dimensions, a payload shorter or longer than the header
        announces, or a corrupt gzip stream.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            return _read_raw(raw, path)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_stream(stream, path, compressed=True)
        except _GZIP_ERRORS as exc:
            raise ValueError(
                f"{path} is a corrupt gzip file ({exc}); download or copy it again"
            ) from None


def _read_raw(stream: _ByteReader, path: Path) -> np.ndarray:
    """Read an uncompressed IDX file, checking its size before reading the payload."""
    dtype, shape, header_size = _read_header(stream, path)
    expected = header_size + _payload_size(dtype, shape)
    actual = path.stat().st_size
    if actual != expected:
        raise ValueError(_size_message(path, expected - header_size, actual - header_size))
    return _read_stream(stream, path, compressed=False, header=(dtype, shape))


def _read_stream(
    stream: _ByteReader,
    path: Path,
    *,
    compressed: bool,
    header: tuple[np.dtype, tuple[int, ...]] | None = None,
) -> np.ndarray:
    """Read header (unless given) and payload from ``stream``; refuse any size mismatch."""
    if header is None:
        dtype, shape, _ = _read_header(stream, path)
    else:
        dtype, shape = header
    expected = _payload_size(dtype, shape)
    payload = _read_at_most(stream, expected)
    extra = sum(len(chunk) for chunk in _chunks(stream))
    if len(payload) != expected or extra:
        where = "decompressed data" if compressed else "file"
        raise ValueError(_size_message(path, expected, len(payload) + extra, where))
    array = np.frombuffer(payload, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _read_header(stream: _ByteReader, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse the magic number and dimensions; return (dtype, shape, header size in bytes)."""
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(f"{path} is too short to be an IDX file ({len(magic)} bytes)")
    zero1, zero2, code, ndim = magic
    if zero1 or zero2:
        raise ValueError(
            f"{path} is not an IDX file: bad magic number 0x{magic.hex()} "
            "(an IDX file starts with two zero bytes, a type code and the number of dimensions)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{path} has an unknown IDX type code 0x{code:02X} (known: {known})")
    if not 1 <= ndim <= _MAX_DIMS:
        raise ValueError(
            f"{path} declares {ndim} dimensions; knnvision reads IDX files with 1 to {_MAX_DIMS}"
        )
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{path} is truncated inside its header ({ndim} dimensions declared)")
    shape = struct.unpack(f">{ndim}I", dims)
    return IDX_DTYPES[code], shape, 4 + 4 * ndim


def _payload_size(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    """Bytes of data the header announces (exact Python integer, no overflow)."""
    size = dtype.itemsize
    for dim in shape:
        size *= dim
    return size


def _size_message(path: Path, expected: int, actual: int, where: str = "file") -> str:
    """Explain a payload size mismatch (truncated file or trailing bytes)."""
    problem = "truncated" if actual < expected else "followed by unexpected trailing bytes"
    return (
        f"{path}: the IDX header announces {expected} bytes of data but the {where} holds "
        f"{actual} ({problem}); the file is damaged, download or copy it again"
    )


def _read_at_most(stream: _ByteReader, nbytes: int) -> bytearray:
    """Read up to ``nbytes`` in chunks, so a lying header cannot force a huge allocation."""
    buffer = bytearray()
    while len(buffer) < nbytes:
        chunk = stream.read(min(_CHUNK, nbytes - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    return buffer


def _chunks(stream: _ByteReader) -> Iterator[bytes]:
    """Yield what is left in ``stream`` chunk by chunk (reading a gzip stream to its end)."""
    while chunk := stream.read(_CHUNK):
        yield chunk


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file, atomically (a temporary file renamed into place).

    Parameters
    ----------
    path : str or path-like
        Destination file.
    array : array-like
        Values to write; dtype one of uint8, int8, int16, int32, float32, float64 and
        1 to 4 dimensions.
    compress : bool or None, default=None
        Gzip-compress the file. ``None`` compresses when ``path`` ends with ``.gz``.

    Raises
    ------
    ValueError
        If the dtype or the number of dimensions cannot be stored in an IDX file.
    """
    path = Path(path)
    data = _encode(np.asarray(array))
    if compress is None:
        compress = path.name.endswith(".gz")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as out:
            if compress:
                with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as zout:
                    zout.write(data)
            else:
                out.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _encode(array: np.ndarray) -> bytes:
    """Header plus big-endian payload of ``array``."""
    code = _type_code(array.dtype)
    if not 1 <= array.ndim <= _MAX_DIMS:
        raise ValueError(
            f"IDX files hold 1 to {_MAX_DIMS} dimensions, got an array of shape {array.shape}"
        )
    if any(dim >= 2**32 for dim in array.shape):
        raise ValueError(f"array shape {array.shape} has a dimension too large for IDX (>= 2**32)")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = IDX_DTYPES[code]
    return header + np.ascontiguousarray(array, dtype=big_endian).tobytes()


def _type_code(dtype: np.dtype) -> int:
    """IDX type code for ``dtype``, ignoring byte order."""
    for code, idx_dtype in IDX_DTYPES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    raise ValueError(
        f"cannot store dtype {dtype} in an IDX file; cast the array to one of "
        "uint8, int8, int16, int32, float32, float64 first"
    )
