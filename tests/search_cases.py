"""Test data and checks shared by the search backends' tests: rows full of ties and exact
duplicates, and the comparison with the float64 reference."""

import zlib

import numpy as np

from knnvision.search import reference_kneighbors


def seeded_rng(*key):
    """A generator seeded from ``key``, so every parametrised case draws its own data."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def rows_with_ties(kind, dtype, rng, *, n_features, n_train=150, n_queries=30):
    """Training rows with exact duplicates appended, and queries (five equal training rows).

    ``kind="continuous"``: normal values (non-negative multiples for uint8); ``"integer"``:
    three values only, so distances tie everywhere.
    """
    if kind == "continuous":
        train = rng.normal(size=(n_train, n_features)) * 3
        queries = rng.normal(size=(n_queries, n_features)) * 3
        if dtype == np.uint8:
            train, queries = np.abs(train * 20), np.abs(queries * 20)
    else:
        train = rng.integers(0, 3, size=(n_train, n_features))
        queries = rng.integers(0, 3, size=(n_queries, n_features))
    train = np.vstack([train, train[: n_train // 6], train[: n_train // 30]]).astype(dtype)
    queries = np.vstack([queries, train[::37][:5]]).astype(dtype)
    return train, queries


def assert_matches_reference(index, train, queries, k, metric, *, rtol=1e-12):
    """Indices equal to the float64 reference's; distances within ``rtol`` (0: identical)."""
    distances, indices = index.query(queries, k)
    ref_distances, ref_indices = reference_kneighbors(train, queries, k, metric)
    assert distances.dtype == np.float64 and indices.dtype == np.int64
    assert distances.shape == indices.shape == (len(queries), k)
    np.testing.assert_array_equal(indices, ref_indices)
    if rtol == 0:
        np.testing.assert_array_equal(distances, ref_distances)
    else:
        np.testing.assert_allclose(distances, ref_distances, rtol=rtol, atol=1e-300)
