"""Few queries: a projection lower bound filters the training rows.

:func:`projected_bounds` bounds the squared Euclidean distance from below through an
orthonormal projection and the residual norms; :func:`filtered_euclidean_topk` then measures
rows exactly in order of their bound and stops at the first bound above the k-th distance.
The loops are C++ (``_projection.cpp``); the functions here allocate the outputs.
NumPy twin: :func:`projected_bounds_numpy`; the filtered search is tested against
:func:`knnvision.search.reference_kneighbors` through the brute force.
"""

from __future__ import annotations

import numpy as np

from . import _projection


def projected_bounds(proj, residuals, query_proj, query_residual, slack):
    """Lower bounds of the squared Euclidean distance from one query to every row.

    With an orthonormal basis ``V`` and residual norms ``r(y) = ||y - V V^T y||``,
    ``||x - y||^2 = ||V^T (x - y)||^2 + ||(x - y) - V V^T (x - y)||^2
    >= ||V^T (x - y)||^2 + (r(x) - r(y))^2``. ``slack`` is subtracted from the residual gap
    first: residual norms come from a difference of squares and carry that much error.
    ``proj`` is float32 or float64; the projected sum is added in NumPy's pairwise order.
    """
    proj = np.ascontiguousarray(proj, dtype=np.float32 if proj.dtype == np.float32 else np.float64)
    out = np.empty(proj.shape[0])
    _projection.projected_bounds(
        proj,
        np.ascontiguousarray(residuals, dtype=np.float64),
        np.ascontiguousarray(query_proj, dtype=np.float64),
        float(query_residual),
        float(slack),
        out,
    )
    return out


def projected_bounds_numpy(proj, residuals, query_proj, query_residual, slack):
    """NumPy twin of :func:`projected_bounds`."""
    gap = np.maximum(np.abs(residuals - query_residual) - slack, 0.0)
    return ((proj - query_proj) ** 2).sum(axis=1) + gap**2


def filtered_euclidean_topk(queries, qi, train, bounds, candidates, k, shrink, margin, use_u8):
    """Exact k nearest rows of ``queries[qi]`` by squared Euclidean distance, measuring only
    ``candidates`` (row numbers sorted by their lower bound ``bounds``).

    ``candidates`` must hold every row whose bound, shrunk by ``shrink`` and ``margin`` for
    rounding, does not exceed some upper bound of the k-th distance. Rows are measured in
    order of their bound and the loop stops at the first bound above the current k-th
    distance: no later row can come closer, nor tie. With ``use_u8`` rows are padded uint8
    and distances exact integers; otherwise float64 queries against rows of any dtype,
    bit-identical to the reference. Returns ``(reduced, indices)`` of shape ``(k,)`` and the
    number of rows measured.
    """
    best_d = np.full(k, np.inf)
    best_i = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    measured = _projection.filtered_euclidean_topk(
        np.ascontiguousarray(queries),
        int(qi),
        np.ascontiguousarray(train),
        np.ascontiguousarray(bounds, dtype=np.float64),
        np.ascontiguousarray(candidates, dtype=np.int64),
        float(shrink),
        float(margin),
        bool(use_u8),
        best_d,
        best_i,
    )
    return best_d, best_i, measured
