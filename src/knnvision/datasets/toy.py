"""Toy data: Gaussian blobs for small classification and regression demos.

The classic from-scratch KNN demo draws 30 points around 1 and 20 points around 5 in ten
dimensions and predicts which blob a new point belongs to::

    X, y = make_blobs(sizes=(30, 20), centers=(1.0, 5.0), n_features=10, scale=3.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["make_blobs"]

_TARGETS = ("label", "center", "value")


def make_blobs(
    sizes: Sequence[int] = (30, 20),
    centers: Sequence[float] | np.ndarray = (1.0, 5.0),
    *,
    n_features: int = 10,
    scale: float | Sequence[float] = 1.0,
    target: str = "label",
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw points from isotropic Gaussian blobs, blob after blob (not shuffled).

    Parameters
    ----------
    sizes : sequence of int, default=(30, 20)
        Number of points in each blob.
    centers : sequence of float or array of shape (n_blobs, n_features), default=(1.0, 5.0)
        Center of each blob: a number (the same value on every feature) or a full vector.
    n_features : int, default=10
        Number of features; ignored when ``centers`` are full vectors.
    scale : float or sequence of float, default=1.0
        Standard deviation of every feature, for all blobs or one value per blob.
    target : {"label", "center", "value"}, default="label"
        What ``y`` holds: ``"label"`` the blob index (int64, for classification);
        ``"center"`` the blob's center value as a float (mean of the center vector);
        ``"value"`` the mean of each point's own features, a continuous float target for
        regression demos.
    seed : int or None, default=0
        Seed of the random generator; the same seed gives the same data.

    Returns
    -------
    X : numpy.ndarray of float64, shape (sum(sizes), n_features)
    y : numpy.ndarray of shape (sum(sizes),)
    """
    sizes = _check_sizes(sizes)
    center_rows = _center_rows(centers, len(sizes), n_features)
    scales = np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(sizes),))
    if np.any(scales < 0) or not np.all(np.isfinite(scales)):
        raise ValueError(f"scale must be finite and non-negative, got {scale}")
    if target not in _TARGETS:
        raise ValueError(f"target must be one of {_TARGETS}, got {target!r}")
    rng = np.random.default_rng(seed)
    X = np.concatenate(
        [
            rng.normal(row, s, size=(n, len(row)))
            for n, row, s in zip(sizes, center_rows, scales, strict=True)
        ]
    )
    labels = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    return X, _target(target, X, labels, center_rows)


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    """Blob sizes as a non-empty list of non-negative ints."""
    sizes = list(sizes)
    if not sizes or any(isinstance(n, bool) or int(n) != n or n < 0 for n in sizes):
        raise ValueError(f"sizes must be non-negative integers, one per blob; got {sizes}")
    return [int(n) for n in sizes]


def _center_rows(centers, n_blobs: int, n_features: int) -> np.ndarray:
    """Centers as an (n_blobs, n_features) float array."""
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim == 1:
        if n_features < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
        centers = np.repeat(centers[:, None], n_features, axis=1)
    if centers.ndim != 2 or len(centers) != n_blobs:
        raise ValueError(
            f"centers must hold one number or one vector per blob ({n_blobs} blobs), "
            f"got shape {np.shape(centers)}"
        )
    return centers


def _target(kind: str, X: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """The requested target for every point."""
    if kind == "label":
        return labels
    if kind == "center":
        return centers.mean(axis=1)[labels]
    return X.mean(axis=1)
