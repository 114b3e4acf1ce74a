"""Reproducible train / validation / test splits, stratified by class by default.

Both functions return ``(X_train, X_val, X_test, y_train, y_val, y_test)``; the three parts
never share a row, and the same ``seed`` gives the same split.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import train_test_split as _sk_split

__all__ = ["train_val_test_split", "subsample"]

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def train_val_test_split(
    X,
    y,
    *,
    val_size: float | int = 0.1,
    test_size: float | int = 0.2,
    seed: int = 0,
    stratify: bool = True,
) -> Split:
    """Split one labelled set into training, validation and test parts.

    Parameters
    ----------
    X : array-like of shape (n, ...)
        Samples (images or feature rows).
    y : array-like of shape (n,)
        Labels.
    val_size : float or int, default=0.1
        Validation part: a fraction of ``n`` (``0 <= val_size < 1``, rounded up) or a count.
        0 gives empty validation arrays.
    test_size : float or int, default=0.2
        Test part, as a fraction of ``n`` or a count; may be 0.
    seed : int, default=0
        Seed of the shuffle; the same seed gives the same split.
    stratify : bool, default=True
        Keep the class proportions of ``y`` in every part.

    Returns
    -------
    X_train, X_val, X_test, y_train, y_val, y_test : numpy.ndarray
        The training part gets every row not in the other two.

    Raises
    ------
    ValueError
        If the sizes are negative, do not leave at least one training row, or a class is
        too small to be spread over the parts when ``stratify=True``.
    """
    X, y = _check_xy(X, y)
    n = len(y)
    n_val = _count(val_size, n, "val_size")
    n_test = _count(test_size, n, "test_size")
    if n_val + n_test >= n:
        raise ValueError(
            f"val_size={val_size} and test_size={test_size} take {n_val} + {n_test} of the "
            f"{n} rows and leave none for training; ask for smaller parts"
        )
    train, val, test = _split(np.arange(n), y, n_val, n_test, seed, stratify)
    return _take(X, y, train, val, test)


def subsample(
    X,
    y,
    *,
    n_train: int,
    n_val: int = 0,
    n_test: int = 0,
    seed: int = 0,
    stratify: bool = True,
) -> Split:
    """Draw disjoint training, validation and test parts of given sizes from one pool.

    For quick experiments, e.g. 1,000 training images plus 2,000 validation and 2,000 test
    images drawn from MNIST's 60,000 training images.

    Parameters
    ----------
    X : array-like of shape (n, ...)
        The pool of samples.
    y : array-like of shape (n,)
        Labels of the pool.
    n_train : int
        Number of training rows (at least 1).
    n_val, n_test : int, default=0
        Number of validation and test rows (0 gives empty arrays).
    seed : int, default=0
        Seed of the draw; the same seed gives the same parts.
    stratify : bool, default=True
        Keep the class proportions of ``y`` in every part.

    Returns
    -------
    X_train, X_val, X_test, y_train, y_val, y_test : numpy.ndarray

    Raises
    ------
    ValueError
        If a size is not a non-negative integer, the sizes add up to more than ``n``, or a
        part is too small to hold every class when ``stratify=True``.
    """
    X, y = _check_xy(X, y)
    sizes = {"n_train": n_train, "n_val": n_val, "n_test": n_test}
    for key, value in sizes.items():
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
    if n_train < 1:
        raise ValueError("n_train must be at least 1")
    total = n_train + n_val + n_test
    if total > len(y):
        raise ValueError(
            f"asked for {n_train} + {n_val} + {n_test} = {total} rows but the data holds only "
            f"{len(y)}; ask for fewer"
        )
    pool = np.arange(len(y))
    if total < len(y):
        pool = _draw(pool, y, total, seed, stratify)
    train, val, test = _split(pool, y[pool], n_val, n_test, seed, stratify)
    return _take(X, y, train, val, test)


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    """X and y as arrays of the same length, y one-dimensional."""
    X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}")
    if X.ndim == 0 or len(X) != len(y):
        rows = len(X) if X.ndim else 0
        raise ValueError(f"X has {rows} rows but y has {len(y)}; they must match")
    return X, y


def _count(size: float | int, n: int, name: str) -> int:
    """A size as a number of rows: fractions of ``n`` are rounded up."""
    if isinstance(size, bool) or not isinstance(size, Real):
        raise ValueError(f"{name} must be a fraction in [0, 1) or a count, got {size!r}")
    if isinstance(size, Integral):
        if not 0 <= size <= n:
            raise ValueError(f"{name}={size} must be between 0 and the {n} rows of the data")
        return int(size)
    if not 0.0 <= size < 1.0:
        raise ValueError(f"{name}={size} as a fraction must be in [0, 1); or give a count")
    return math.ceil(size * n)


def _split(
    indices: np.ndarray, y: np.ndarray, n_val: int, n_test: int, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``indices`` (with labels ``y``) into train, val and test index arrays."""
    rest, test, rest_y = _holdout(indices, y, n_test, seed, stratify, "test")
    train, val, _ = _holdout(rest, rest_y, n_val, seed, stratify, "validation")
    return train, val, test


def _holdout(
    indices: np.ndarray, y: np.ndarray, n_out: int, seed: int, stratify: bool, part: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Take ``n_out`` indices out; return (kept, taken, labels of kept)."""
    if n_out == 0:
        return indices, indices[:0], y
    try:
        kept, taken, kept_y, _ = _sk_split(
            indices, y, test_size=n_out, random_state=seed, stratify=y if stratify else None
        )
    except ValueError as exc:
        raise ValueError(
            f"cannot draw a stratified {part} part of {n_out} rows: {exc} "
            "Use larger parts, or stratify=False"
        ) from None
    return kept, taken, kept_y


def _draw(indices: np.ndarray, y: np.ndarray, n_keep: int, seed: int, stratify: bool) -> np.ndarray:
    """Keep ``n_keep`` of the indices, drawn at random (stratified by ``y``)."""
    try:
        kept, _ = _sk_split(
            indices, train_size=n_keep, random_state=seed, stratify=y if stratify else None
        )
    except ValueError as exc:
        raise ValueError(
            f"cannot draw a stratified sample of {n_keep} of {len(y)} rows: {exc} "
            "Ask for other sizes, or stratify=False"
        ) from None
    return kept


def _take(X: np.ndarray, y: np.ndarray, *parts: np.ndarray) -> Split:
    """Index X and y by each part: (X parts..., y parts...)."""
    return (*(X[p] for p in parts), *(y[p] for p in parts))
