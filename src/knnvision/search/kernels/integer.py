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

NumPy twins: :func:`sad_u8_numpy`, :func:`sqd_u8_numpy`; the loops are tested against
:func:`knnvision.search.reference_kneighbors`.
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
