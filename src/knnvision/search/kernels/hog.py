"""Histograms of oriented gradients, compiled (``_hog.cpp``): the features of
:class:`knnvision.transforms.preprocessing.GradientHistograms`.

:func:`gradient_histograms` computes each image in one pass, without the ``(n, height,
width)`` temporaries of the NumPy formulation, :func:`gradient_histograms_numpy` (its twin,
kept for the tests). The two agree to a few units in the last place of float64: the compiled
kernel adds each block's squares in order where NumPy adds them pairwise, and takes ``atan2``
and ``hypot`` from the C library.
"""

from __future__ import annotations

import numpy as np

from . import _hog


def gradient_histograms(images, cell, n_bins, block, signed, out, n_threads=1):
    """Write the HOG features of each ``(n, height, width)`` image into the rows of ``out``.

    ``out`` is C-contiguous float32 or float64 of shape ``(n, n_features)``; the images are
    read as float64. ``n_threads`` threads share the images.
    """
    images = np.asarray(images)
    n, height, width = images.shape
    _hog.gradient_histograms(
        np.ascontiguousarray(images.reshape(n, height * width), dtype=np.float64),
        height,
        width,
        cell,
        n_bins,
        block,
        bool(signed),
        out,
        n_threads,
    )
    return out


# --- NumPy twin ----------------------------------------------------------------------------


def gradient_histograms_numpy(images, cell, n_bins, block, signed) -> np.ndarray:
    """Twin of :func:`gradient_histograms`: float64 features ``(n, n_features)``."""
    images = np.asarray(images, dtype=np.float64)
    histograms = cell_histograms_numpy(images, cell, n_bins, signed)
    return _normalised_blocks(histograms, block)


def cell_histograms_numpy(images: np.ndarray, cell_size: int, n_bins: int, signed: bool):
    """``(n, cells_y, cells_x, n_bins)`` magnitude-weighted orientation votes, before the
    blocks are formed and normalised."""
    gy, gx = _central_gradients(images)
    magnitude = np.hypot(gy, gx)
    span = 2 * np.pi if signed else np.pi
    angle = np.mod(np.arctan2(gy, gx), span)
    position = angle / span * n_bins - 0.5  # bin centres at integers
    lower = np.floor(position)
    upper_share = position - lower
    n, height, width = images.shape
    cells_y, cells_x = -(-height // cell_size), -(-width // cell_size)
    # Flat index of (image, cell row, cell column) for every pixel; each pixel adds two votes,
    # summed by bincount.
    cell_of_row = np.arange(height) // cell_size
    cell_of_col = np.arange(width) // cell_size
    cell = (cell_of_row[:, None] * cells_x + cell_of_col[None, :])[None]
    cell = cell + (np.arange(n) * cells_y * cells_x)[:, None, None]
    total_bins = n * cells_y * cells_x * n_bins
    histograms = np.zeros(total_bins)
    for bins, share in ((lower, 1.0 - upper_share), (lower + 1, upper_share)):
        index = cell * n_bins + np.mod(bins, n_bins).astype(np.int64)
        histograms += np.bincount(index.ravel(), (magnitude * share).ravel(), total_bins)
    return histograms.reshape(n, cells_y, cells_x, n_bins)


def _normalised_blocks(histograms: np.ndarray, block_size: int) -> np.ndarray:
    n, cells_y, cells_x, _ = histograms.shape
    size_y, size_x = min(block_size, cells_y), min(block_size, cells_x)
    blocks = [
        histograms[:, by : by + size_y, bx : bx + size_x].reshape(n, -1)
        for by in range(cells_y - size_y + 1)
        for bx in range(cells_x - size_x + 1)
    ]
    stacked = np.stack(blocks, axis=1)  # (n, n_blocks, block features)
    stacked = _l2_normalise(stacked)
    stacked = _l2_normalise(np.minimum(stacked, 0.2))
    return stacked.reshape(n, -1)


def _central_gradients(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column derivatives ``(I[y+1] - I[y-1]) / 2``, with zeros outside the image."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    gy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2
    gx = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2
    return gy, gx


def _l2_normalise(vectors: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    norms = np.sqrt((vectors * vectors).sum(axis=-1, keepdims=True))
    return vectors / (norms + eps)
