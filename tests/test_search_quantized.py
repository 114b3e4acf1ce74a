"""Float rows off any byte grid as bytes with a scale per row (VNNI): lower bounds from the
bytes pick the candidates, and the result is still the float64 reference's."""

from fractions import Fraction

import numpy as np
import pytest

from knnvision.search import resolve_metric
from knnvision.search.brute import FEW_QUERIES, BruteIndex
from knnvision.search.kernels import dot_u8
from search_cases import assert_matches_reference, seeded_rng

pytestmark = pytest.mark.skipif(not dot_u8.HAVE_VNNI, reason="the byte bounds need VNNI")

EUCLIDEAN = resolve_metric("euclidean")


def test_quantize_rows_bounds_each_rows_residual():
    rng = seeded_rng("quantize")
    rows = rng.standard_normal((9, 37)) * 10.0 ** rng.uniform(-5, 5, (9, 1))
    rows[3] = 0.0
    rows[4, 5] = 1e4 * np.abs(rows[4]).max()  # one outlying value: a coarse scale
    codes, scale, norm_sq, residual, _ = dot_u8.quantize_rows(rows, as_queries=True)
    q = codes[:9, :37].astype(np.int64) - 128
    assert (np.abs(q) <= 127).all() and (codes[:, 37:] == 0).all()
    for row in range(9):
        # The residual against x^ = s q, in exact rational arithmetic.
        s = Fraction(scale[row])
        exact = sum((Fraction(v) - s * int(c)) ** 2 for v, c in zip(rows[row], q[row], strict=True))
        assert exact <= Fraction(residual[row]) ** 2
        assert norm_sq[row] == pytest.approx(float(s * s * int((q[row] ** 2).sum())), rel=1e-15)
    assert residual[3] < 1e-300  # a zero row is stored exactly
    assert (scale[9:] == 1.0).all() and len(scale) % dot_u8.PANEL_QUERIES == 0


def test_kernel_bounds_are_below_the_distances_and_keep_the_nearest():
    rng = seeded_rng("quantized kernel")
    train = rng.standard_normal((150, 70)) * 10.0 ** rng.uniform(-3, 3, (150, 1))
    train[7::13] = train[2]  # ties across panels
    queries = rng.standard_normal((20, 70))
    queries[0] = train[2]
    k, k_keep = 5, 40
    bounds, indices = dot_u8.u8_tiles_quantized_topk(
        dot_u8.quantize_rows(queries, as_queries=True),
        len(queries),
        dot_u8.quantize_rows(train, as_queries=False),
        len(train),
        k_keep,
        dot_u8.PANEL_QUERIES,
    )
    distances = np.sqrt(((queries[:, None] - train[None]) ** 2).sum(axis=2))
    assert (bounds <= np.take_along_axis(distances, indices, axis=1)).all()
    assert (np.diff(bounds, axis=1) >= 0).all()
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
    for row in range(len(queries)):
        assert set(nearest[row]) <= set(indices[row])


def _adversarial(name, rng, dtype):
    """Training and query rows of one hard kind."""
    n, d = 200, 48
    if name == "near ties":
        base = np.repeat(rng.standard_normal((20, d)), 10, axis=0)
        train = base + 1e-13 * rng.standard_normal((n, d))
    elif name == "duplicates and zeros":
        train = rng.standard_normal((n, d))
        train[1::9], train[5::23] = train[0], 0.0
    elif name == "constant rows":
        train = np.repeat(rng.uniform(-2, 2, (n, 1)), d, axis=1)
        train[::3] = 1.5
    elif name == "huge":
        train = rng.standard_normal((n, d)) * 1e12
    elif name == "tiny":
        train = rng.standard_normal((n, d)) * (1e-200 if dtype == np.float64 else 1e-30)
    elif name == "subnormal":
        train = rng.standard_normal((n, d)) * (1e-310 if dtype == np.float64 else 1e-40)
    elif name == "outlying values":  # coarse scales: wide bounds, the fallbacks run
        train = rng.standard_normal((n, d))
        train[rng.random((n, d)) < 0.01] = 300.0
    train = train.astype(dtype)
    picks = rng.integers(0, n, FEW_QUERIES + 16)
    queries = train[picks].astype(np.float64)
    queries[::2] += 1e-9 * np.abs(train).max() * rng.standard_normal((len(picks[::2]), d))
    return train, queries.astype(dtype)


CASES = [
    "near ties",
    "duplicates and zeros",
    "constant rows",
    "huge",
    "tiny",
    "subnormal",
    "outlying values",
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", CASES)
def test_brute_force_on_bytes_with_a_scale_matches_the_reference(name, dtype):
    train, queries = _adversarial(name, seeded_rng("quantized", name, dtype), dtype)
    index = BruteIndex(train, EUCLIDEAN, 256)
    for k in (1, 4, 15):
        assert_matches_reference(index, train, queries, k, EUCLIDEAN)
    assert "quantized" in index._prepared


@pytest.mark.parametrize("n_coarse", [3, 40])
def test_queries_with_wide_bounds_retry_then_are_scanned_or_take_the_products(
    monkeypatch, n_coarse
):
    # One huge value gives a query a coarse scale: every training row is within its bound.
    # A few such queries are scanned exactly; more than _QUANTIZED_SCANS take the products.
    rng = seeded_rng("quantized fallback")
    train = rng.standard_normal((400, 64))
    queries = rng.standard_normal((FEW_QUERIES + 50, 64))
    queries[:n_coarse, 0] = 1e5
    calls = []
    gemm = BruteIndex._query_gemm

    def spy(self, rows, k):
        calls.append(len(rows))
        return gemm(self, rows, k)

    monkeypatch.setattr(BruteIndex, "_query_gemm", spy)
    index = BruteIndex(train, EUCLIDEAN, 256)
    assert_matches_reference(index, train, queries, 3, EUCLIDEAN)
    assert calls == ([] if n_coarse < 32 else [n_coarse])
