"""uint8 rows: exact integer distances with SIMD byte instructions, and their top-k loops.

The loops are compiled C++ (``_integer.cpp``, row sums in ``integer.hpp``). The x86
instructions made for this job work on 32 bytes at once: ``psadbw`` sums absolute byte
differences, ``pmaddwd`` sums products of 16-bit pairs. They run when the CPU has AVX2 and
``KNNVISION_CPU`` does not ask for less (``HAVE_SIMD_U8``); plain loops stand in elsewhere.
Rows must be C-contiguous; padding them with zeros to a multiple of ``U8_WIDTH`` bytes
(:func:`pad_u8`; padding adds nothing to either sum) keeps every byte on the SIMD path.

The sums of absolute or squared byte differences are exact integers, so their float64 value
equals the reference whatever the order of summation, and every code path gives the same
answer. ``u8_topk`` and ``u8_topk_few`` are the brute-force loops over them.

Float rows whose every value is exactly ``K / s`` for a byte ``K`` (``X / 255.0`` pixels) go
through the same engines as the bytes ``K``: :func:`grid_codes` checks and converts them in one
compiled pass.

NumPy twins: :func:`sad_u8_numpy`, :func:`sqd_u8_numpy`, :func:`grid_codes_numpy`; the loops
are tested against :func:`knnvision.search.reference_kneighbors`.
"""

from __future__ import annotations

import numpy as np

from ..threads import get_num_threads
from . import _integer

U8_WIDTH = _integer.U8_WIDTH
# Whether the compiled loops take the AVX2 path (the CPU has it, KNNVISION_CPU allows it).
HAVE_SIMD_U8 = bool(_integer.simd_path())

_INT64_MAX = np.iinfo(np.int64).max


def sad_u8(Q, i, T, j):
    """``sum |Q[i] - T[j]|`` for uint8 rows (C-contiguous, same width), exact."""
    return _integer.sad_u8(Q, i, T, j)


def sqd_u8(Q, i, T, j):
    """``sum (Q[i] - T[j])^2`` for uint8 rows (C-contiguous, same width), exact."""
    return _integer.sqd_u8(Q, i, T, j)


def sad_u8_x2(Q, i, T, j):
    """``(sum |Q[i] - T[j]|, sum |Q[i+1] - T[j]|)``, loading ``T[j]`` once."""
    return _integer.sad_u8_x2(Q, i, T, j)


def sad_u8_numpy(q, t):
    """NumPy twin of :func:`sad_u8` for two 1-D rows."""
    return int(np.abs(q.astype(np.int64) - t.astype(np.int64)).sum())


def sqd_u8_numpy(q, t):
    """NumPy twin of :func:`sqd_u8` for two 1-D rows."""
    diff = q.astype(np.int64) - t.astype(np.int64)
    return int((diff * diff).sum())


def padded_width(n_features: int) -> int:
    """Columns of :func:`pad_u8`'s layout: ``n_features`` up to a multiple of ``U8_WIDTH``."""
    return max(U8_WIDTH, -(-n_features // U8_WIDTH) * U8_WIDTH)


def pad_u8(rows: np.ndarray) -> np.ndarray:
    """C-contiguous uint8 ``rows`` with zero columns up to a multiple of ``U8_WIDTH``.

    Returns ``rows`` itself when it already qualifies.
    """
    width = padded_width(rows.shape[1])
    if width == rows.shape[1] and rows.flags.c_contiguous:
        return rows
    padded = np.zeros((rows.shape[0], width), dtype=np.uint8)
    padded[:, : rows.shape[1]] = rows
    return padded


def _empty_topk(n_rows: int, k: int):
    return np.full((n_rows, k), np.inf), np.full((n_rows, k), _INT64_MAX, dtype=np.int64)


def u8_topk(squared, queries, train, k, q_block):
    """Exact k nearest padded uint8 rows by sum of absolute (or squared) byte differences.

    Parallel over blocks of ``q_block`` queries; each block stays in L1/L2 while every
    training row streams past it once, and each training chunk is loaded once per two
    queries. Returns integer-valued float64 distances and int64 indices, ties to the smaller
    index (rows are visited in index order and only a strictly smaller distance displaces).
    """
    queries, train = np.ascontiguousarray(queries), np.ascontiguousarray(train)
    best_d, best_i = _empty_topk(len(queries), k)
    _integer.u8_topk(bool(squared), queries, train, int(q_block), best_d, best_i, get_num_threads())
    return best_d, best_i


def u8_topk_few(squared, queries, train, k, n_parts):
    """:func:`u8_topk` for a handful of queries: parallel over ``n_parts`` training ranges.

    Each range keeps its own top-k per query; merging the ranges keeps the tie rule. This is
    the single-query fast path (one image against all training images).
    """
    queries, train = np.ascontiguousarray(queries), np.ascontiguousarray(train)
    best_d, best_i = _empty_topk(len(queries), k)
    _integer.u8_topk_few(
        bool(squared), queries, train, int(n_parts), best_d, best_i, get_num_threads()
    )
    return best_d, best_i


def grid_codes(rows, scale, width=U8_WIDTH, row_multiple=1, shift=0, squares=True):
    """The bytes ``K`` of float rows whose every value is exactly ``K / scale``, or None.

    A value ``v`` (float32 or float64) passes when ``K = rint(v * scale)`` (in float64) is a
    byte and ``K / scale`` rounded to the rows' dtype equals ``v`` (-0.0 passes as 0); one
    compiled pass, parallel over rows, checks every value and stops soon after one fails.

    Parameters
    ----------
    rows : ndarray of shape (n_rows, n_features), float32 or float64
    scale : float
        The grid's ``s`` (255 for pixels scaled to [0, 1]); positive.
    width, row_multiple : int
        The codes are zero-padded to a multiple of ``width`` columns (at least one) and of
        ``row_multiple`` rows, as by :func:`knnvision.search.kernels.dot_u8.pad_rows_u8`.
    shift : {0, 128}
        0: ``K`` as uint8 (with the default width and row multiple, :func:`pad_u8`'s layout);
        128: ``K - 128`` as int8 (``pad_rows_u8(..., shift=128, dtype=np.int8)``).
    squares : bool
        Whether ``norms`` are ``sum K^2`` (else ``sum K``).

    Returns
    -------
    (codes, norms) or None
        ``codes`` as described, ``norms`` (int64) per row; None when some value is off the
        grid.
    """
    if shift not in (0, 128):
        raise ValueError(f"shift must be 0 or 128 (got {shift}).")
    rows = np.ascontiguousarray(rows)
    n_rows = -(-rows.shape[0] // row_multiple) * row_multiple
    n_cols = max(width, -(-rows.shape[1] // width) * width)
    codes = np.empty((n_rows, n_cols), dtype=np.uint8 if shift == 0 else np.int8)
    norms = np.empty(rows.shape[0], dtype=np.int64)
    flip = 0x80 if shift else 0  # K ^ 0x80 is K - 128 as int8
    found = _integer.grid_codes(
        rows, float(scale), flip, bool(squares), codes.view(np.uint8), norms, get_num_threads()
    )
    return (codes, norms) if found else None


def grid_codes_numpy(rows, scale, squares=True):
    """NumPy twin of :func:`grid_codes`: ``(K as uint8, norms)`` unpadded, or None."""
    grid = np.rint(rows.astype(np.float64) * scale)
    if not (grid.min(initial=0.0) >= 0.0 and grid.max(initial=0.0) <= 255.0):
        return None
    if not np.array_equal((grid / scale).astype(rows.dtype), rows):
        return None
    norms = (grid * grid if squares else grid).sum(axis=1).astype(np.int64)
    return grid.astype(np.uint8), norms
