"""kd-tree and ball tree: exact against the float64 reference, ties and duplicates included."""

import numpy as np
import pytest

from knnvision.search import build_index, resolve_metric
from knnvision.search.metrics import TREE_METRICS
from knnvision.search.trees import build_tree
from search_cases import assert_matches_reference, rows_with_ties, seeded_rng

METRICS = [
    ("euclidean", None),
    ("manhattan", None),
    ("chebyshev", None),
    ("minkowski", 3.0),
    ("hamming", None),
]


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
@pytest.mark.parametrize("metric_name,p", METRICS)
@pytest.mark.parametrize("kind", ["continuous", "integer"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_tree_matches_reference(algorithm, metric_name, p, kind, dtype):
    if metric_name not in TREE_METRICS[algorithm]:
        pytest.skip("metric not supported by this tree")
    rng = seeded_rng(algorithm, metric_name, kind, dtype)
    train, queries = rows_with_ties(kind, dtype, rng, n_features=5, n_train=400, n_queries=40)
    metric = resolve_metric(metric_name, p)
    index = build_tree(train, metric, algorithm, leaf_size=6)
    for k in (1, 3, 5, 20):
        assert_matches_reference(index, train, queries, k, metric)


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
@pytest.mark.parametrize("leaf_size", [1, 2, 40, 1000])
def test_tree_leaf_sizes_and_tiny_sets(algorithm, leaf_size):
    rng = np.random.default_rng(leaf_size)
    metric = resolve_metric("euclidean")
    for n in (1, 2, 3, 17):
        train = rng.integers(0, 2, size=(n, 3)).astype(np.float64)
        queries = rng.integers(0, 2, size=(7, 3)).astype(np.float64)
        index = build_tree(train, metric, algorithm, leaf_size=leaf_size)
        for k in sorted({1, n}):
            assert_matches_reference(index, train, queries, k, metric)


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
def test_tree_all_rows_identical(algorithm):
    # Every distance ties: the answer is simply the first k indices.
    train = np.ones((50, 4))
    queries = np.zeros((3, 4))
    index = build_index(train, algorithm=algorithm)
    distances, indices = index.query(queries, 7)
    np.testing.assert_array_equal(indices, np.tile(np.arange(7), (3, 1)))
    np.testing.assert_allclose(distances, 2.0)


def test_tree_minkowski_near_ties_recheck():
    # Rows whose Minkowski sums are equal in exact arithmetic but are summed from permuted
    # terms: rounding decides the order, and it must be the reference's rounding.
    rng = np.random.default_rng(7)
    base = rng.random(6) * 10
    train = np.array([rng.permutation(base) for _ in range(60)])
    queries = np.zeros((4, 6))
    metric = resolve_metric("minkowski", 3.5)
    for algorithm in ("kd_tree", "ball_tree"):
        tree = build_tree(train, metric, algorithm, leaf_size=4)
        assert_matches_reference(tree, train, queries, 5, metric)


def test_tree_rejects_bad_requests():
    train = np.zeros((5, 2))
    with pytest.raises(ValueError, match="cannot search"):
        build_index(train, metric="cosine", algorithm="kd_tree")
    with pytest.raises(ValueError, match="cannot search"):
        build_index(train, metric="hamming", algorithm="kd_tree")
    index = build_index(train, algorithm="kd_tree")
    with pytest.raises(ValueError, match="only 5 training rows"):
        index.query(train, 6)
    with pytest.raises(ValueError, match="positive integer"):
        index.query(train, 0)
