"""Splits (stratified, disjoint, reproducible) and the toy blob generator."""

from __future__ import annotations

import numpy as np
import pytest

from knnvision.datasets import make_blobs, subsample, train_val_test_split


@pytest.fixture
def pool():
    """1,000 rows, 10 classes of 100; X[i] holds i so parts can be traced back."""
    y = np.repeat(np.arange(10), 100)
    X = np.arange(1000)[:, None, None] * np.ones((1, 2, 2), dtype=np.int64)
    return X, y


def _check_parts(parts, X, y, sizes, per_class=None):
    """Check a split's (train, val, test) parts against ``sizes`` (and, if given, the
    ``per_class`` rows of each of the 10 classes in each part); return the pool rows of each."""
    X_parts, y_parts = parts[:3], parts[3:]
    assert [len(p) for p in X_parts] == [len(p) for p in y_parts] == list(sizes)
    rows = [p[:, 0, 0] for p in X_parts]
    for r, labels in zip(rows, y_parts, strict=True):
        np.testing.assert_array_equal(y[r], labels)  # labels travel with their rows
        assert X_parts[0].shape[1:] == X.shape[1:]
    joined = np.concatenate(rows)
    assert len(np.unique(joined)) == len(joined)  # disjoint
    if per_class is not None:
        for labels, count in zip(y_parts, per_class, strict=True):
            assert np.all(np.bincount(labels, minlength=10) == count)
    return rows


def _assert_same_parts(parts, others):
    for left, right in zip(parts, others, strict=True):
        np.testing.assert_array_equal(left, right)


def test_split_sizes_are_stratified_and_disjoint(pool):
    X, y = pool
    parts = train_val_test_split(X, y)
    rows = _check_parts(parts, X, y, (700, 100, 200), per_class=(70, 10, 20))
    assert sorted(np.concatenate(rows)) == list(range(1000))


def test_split_is_reproducible_per_seed(pool):
    X, y = pool
    a = train_val_test_split(X, y, seed=3)
    b = train_val_test_split(X, y, seed=3)
    c = train_val_test_split(X, y, seed=4)
    _assert_same_parts(a, b)
    assert not np.array_equal(a[2], c[2])


def test_split_accepts_counts_and_empty_parts(pool):
    X, y = pool
    parts = train_val_test_split(X, y, val_size=0, test_size=150)
    _check_parts(parts, X, y, (850, 0, 150))
    assert parts[1].shape == (0, 2, 2) and parts[4].shape == (0,)
    parts = train_val_test_split(X, y, val_size=50, test_size=0, stratify=False)
    _check_parts(parts, X, y, (950, 50, 0))


@pytest.mark.parametrize(
    "sizes, message",
    [
        ({"val_size": 0.5, "test_size": 0.5}, r"leave none for training"),
        ({"test_size": 1000}, r"leave none for training"),
        ({"test_size": 1001}, r"test_size=1001 must be between 0 and the 1000 rows"),
        ({"val_size": -0.1}, r"val_size=-0.1 as a fraction must be in \[0, 1\)"),
        ({"val_size": 1.5}, r"must be in \[0, 1\)"),
        ({"test_size": True}, r"test_size must be a fraction"),
        ({"test_size": "10%"}, r"test_size must be a fraction"),
        ({"val_size": 5}, r"stratified validation part of 5 rows.*stratify=False"),
    ],
)
def test_split_errors(pool, sizes, message):
    X, y = pool
    with pytest.raises(ValueError, match=message):
        train_val_test_split(X, y, **sizes)


def test_split_checks_lengths():
    with pytest.raises(ValueError, match=r"X has 3 rows but y has 2"):
        train_val_test_split(np.zeros((3, 2)), [0, 1])


def test_subsample_draws_disjoint_stratified_parts(pool):
    X, y = pool
    parts = subsample(X, y, n_train=100, n_val=50, n_test=200)
    _check_parts(parts, X, y, (100, 50, 200), per_class=(10, 5, 20))
    _assert_same_parts(parts, subsample(X, y, n_train=100, n_val=50, n_test=200))
    other = subsample(X, y, n_train=100, n_val=50, n_test=200, seed=1)
    assert not np.array_equal(parts[0], other[0])


def test_subsample_whole_pool_and_unstratified(pool):
    X, y = pool
    rows = _check_parts(subsample(X, y, n_train=900, n_test=100), X, y, (900, 0, 100))
    assert sorted(np.concatenate(rows)) == list(range(1000))
    _check_parts(subsample(X, y, n_train=3, stratify=False), X, y, (3, 0, 0))


@pytest.mark.parametrize(
    "sizes, message",
    [
        ({"n_train": 600, "n_val": 200, "n_test": 201}, r"600 \+ 200 \+ 201 = 1001 .* only 1000"),
        ({"n_train": 0}, r"n_train must be at least 1"),
        ({"n_train": 10, "n_val": -1}, r"n_val must be a non-negative integer"),
        ({"n_train": 10.0}, r"n_train must be a non-negative integer"),
        ({"n_train": 3}, r"stratified sample of 3 of 1000 rows.*stratify=False"),
    ],
)
def test_subsample_errors(pool, sizes, message):
    X, y = pool
    with pytest.raises(ValueError, match=message):
        subsample(X, y, **sizes)


# --------------------------------------------------------------------- toy blobs


def test_blobs_of_the_tutorial():
    X, y = make_blobs(sizes=(30, 20), centers=(1.0, 5.0), n_features=10, scale=1.0, seed=0)
    assert X.shape == (50, 10) and X.dtype == np.float64
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [0] * 30 + [1] * 20)
    assert abs(X[:30].mean() - 1.0) < 0.3 and abs(X[30:].mean() - 5.0) < 0.3


def test_blobs_are_deterministic_per_seed():
    a, _ = make_blobs(seed=7)
    b, _ = make_blobs(seed=7)
    c, _ = make_blobs(seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_blob_targets_for_regression():
    X, center = make_blobs(target="center", seed=1)
    np.testing.assert_array_equal(center, [1.0] * 30 + [5.0] * 20)
    X2, mean = make_blobs(target="value", seed=1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_allclose(mean, X.mean(axis=1))


def test_blobs_with_center_vectors_and_scales():
    centers = np.array([[0.0, 0.0], [10.0, -10.0], [5.0, 5.0]])
    X, y = make_blobs(sizes=(5, 6, 7), centers=centers, scale=(0.0, 1.0, 2.0), seed=0)
    assert X.shape == (18, 2)
    np.testing.assert_array_equal(X[:5], 0.0)  # zero spread sits on the center
    np.testing.assert_array_equal(np.bincount(y), [5, 6, 7])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sizes": (10,), "centers": (1.0, 2.0)}, r"one number or one vector per blob \(1 blobs\)"),
        ({"sizes": (-1, 2)}, r"sizes must be non-negative integers"),
        ({"target": "mean"}, r"target must be one of"),
        ({"scale": -1.0}, r"scale must be finite and non-negative"),
    ],
)
def test_blob_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_blobs(**kwargs)
