"""Cosine on bytes through exact integer dot products (AVX-512 VNNI): uint8 rows and float
rows on an integer grid (``X / 255``, ``X / 16``) take :func:`dot_u8.u8_dot_cosine_topk`'s
estimates and a float64 re-check, and must return the float64 reference's neighbours and
distances bit for bit: duplicates, rows that are multiples of each other (cosine distance 0,
ties to the smaller index), zero rows (distance 1) and more ties than spare candidates."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from knnvision.search import resolve_metric
from knnvision.search.brute import BruteIndex
from knnvision.search.kernels import dot_u8
from search_cases import assert_matches_reference, scaled_pixels, seeded_rng

COSINE = resolve_metric("cosine")
FORMS = ["uint8", "float64", "float32-after", "float32-before"]


def _tied_pixels(rng, n_features=64):
    """Byte rows full of cosine ties: random rows, duplicates, multiples of one row (all at
    distance 0 from each other), constant rows (multiples of each other too) and zero rows;
    the queries include a zero row, a constant row and some training rows."""
    base = rng.integers(1, 64, size=n_features)
    multiples = np.array([base * m for m in (3, 1, 4, 2)])
    constant = np.array([np.full(n_features, c) for c in (9, 200, 1)])
    random = rng.integers(0, 256, size=(40, n_features))
    zero = np.zeros((2, n_features), dtype=int)
    train = np.vstack([random, multiples, constant, zero, random[:5], multiples[:2]])
    queries = np.vstack(
        [rng.integers(0, 256, size=(10, n_features)), zero[:1], constant[:1] * 5, train[::7]]
    )
    return train.astype(np.uint8), queries.astype(np.uint8)


def _check(train, queries, k):
    index = BruteIndex(train, COSINE, working_memory_mb=64)
    if dot_u8.HAVE_VNNI:
        integer = index._query_u8_cosine if train.dtype == np.uint8 else index._query_grid_cosine
        assert index._engine(queries) == integer
    assert_matches_reference(index, train, queries, k, COSINE, rtol=0)
    return index


@pytest.mark.parametrize("form", FORMS)
def test_pixels_match_the_reference(form):
    train, queries = _tied_pixels(seeded_rng("cosine", form))
    for k in (1, 4, 9):
        _check(scaled_pixels(train, form), scaled_pixels(queries, form), k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_digits_over_16_match_the_reference(dtype):
    digits = load_digits().data
    train, queries = (digits[::3] / 16).astype(dtype), (digits[1::25] / 16).astype(dtype)
    index = _check(train, queries, 4)
    if dot_u8.HAVE_VNNI:
        assert index._grid()[0] == 16.0


def test_wide_float32_rows():
    # d = 784: the float32 rounding of K / 255 moves the cosine by up to about 4 * 2^-24.
    rng = seeded_rng("cosine wide")
    train = rng.integers(0, 256, size=(120, 784))
    train[60:] = np.where(rng.random((60, 784)) < 0.5, train[:60], train[60:])
    queries = np.vstack([train[:5], rng.integers(0, 256, size=(10, 784))]).astype(np.uint8)
    train = train.astype(np.uint8)
    _check(scaled_pixels(train, "float32-after"), scaled_pixels(queries, "float32-after"), 3)
    _check(scaled_pixels(train, "float32-after"), scaled_pixels(queries, "float64"), 3)


@pytest.mark.parametrize("form", ["uint8", "float32-after"])
def test_more_ties_than_spare_candidates(form):
    # Thirty multiples of the query: all at cosine distance 0 (the reference's float64 values
    # differ in the last bits), beyond the k + 6 spare candidates, so the query is re-scanned.
    rng = seeded_rng("cosine overflow", form)
    base = rng.integers(1, 8, size=100)
    far = rng.integers(0, 256, size=(10, 100))
    train = np.vstack([far, [base * m for m in range(30, 0, -1)]]).astype(np.uint8)
    queries = np.vstack([base * 2, far[:2]]).astype(np.uint8)
    train, queries = scaled_pixels(train, form), scaled_pixels(queries, form)
    index = BruteIndex(train, COSINE, working_memory_mb=64)
    rescans = []
    exact_one = index._exact_one
    index._exact_one = lambda *args: rescans.append(1) or exact_one(*args)
    assert_matches_reference(index, train, queries, 3, COSINE, rtol=0)
    assert bool(rescans) == dot_u8.HAVE_VNNI  # the integer engine overflowed its spares


def test_k_near_the_number_of_rows():
    train, queries = _tied_pixels(seeded_rng("cosine k near n"))
    for k in (14, 19, 20):
        _check(train[:20], queries, k)


def test_queries_off_the_grid_take_the_float_products():
    train, queries = _tied_pixels(seeded_rng("cosine off grid"))
    train, queries = scaled_pixels(train, "float64"), scaled_pixels(queries, "float64")
    queries[4, 7] += 1e-3
    index = BruteIndex(train, COSINE, working_memory_mb=64)
    assert_matches_reference(index, train, queries, 5, COSINE, rtol=0)
    assert index._grid_codes(queries, 255.0) is None


@pytest.mark.skipif(not dot_u8.HAVE_VNNI, reason="CPU without AVX-512 VNNI")
def test_kernel_matches_twin_with_zero_rows():
    train, queries = _tied_pixels(seeded_rng("cosine twin"), n_features=100)
    padded_t = dot_u8.pad_rows_u8(train, dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, 128, np.int8)
    padded_q = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.DOT_ROWS)
    want_d, want_i = dot_u8.u8_dot_cosine_topk_numpy(queries, train, 7)
    for q_block in (4, 12):
        got_d, got_i = dot_u8.u8_dot_cosine_topk(
            padded_q, len(queries), padded_t, len(train), dot_u8.squared_norms_u8(train), 7, q_block
        )
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_array_equal(got_d, want_d)
    assert (got_d[queries.sum(axis=1) == 0] == 1.0).all()  # a zero row's estimates are 1


def test_without_vnni_the_float32_products_run(monkeypatch):
    # The plain loops of the kernel are checked on every CPU path in test_kernels_dot_u8.py;
    # here the routing: without VNNI, cosine keeps the float32 products, still exact.
    monkeypatch.setattr(dot_u8, "HAVE_VNNI", False)
    train, queries = _tied_pixels(seeded_rng("cosine no vnni"))
    for form in ("uint8", "float32-after"):
        rows, query_rows = scaled_pixels(train, form), scaled_pixels(queries, form)
        index = BruteIndex(rows, COSINE, working_memory_mb=64)
        assert index._engine(query_rows) == index._query_gemm
        assert_matches_reference(index, rows, query_rows, 6, COSINE, rtol=0)
