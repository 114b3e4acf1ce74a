"""Few queries: a projection lower bound filters the training rows.

:func:`projected_bounds` bounds the squared Euclidean distance from below through an
orthonormal projection and the residual norms; :func:`filtered_euclidean_topk` then measures
rows exactly in order of their bound and stops at the first bound above the k-th distance.
NumPy twin: :func:`projected_bounds_numpy`; the filtered search is tested against
:func:`knnvision.search.reference_kneighbors` through the brute force.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .integer import sqd_u8
from .lp import SCRATCH_SIZE, sqeuclidean
from .topk import empty_topk, topk_push

# Only reassociation, as in :mod:`.lp_estimate` and for the same reason: the sums vectorise,
# and no flag assumes away NaN or infinity.
_REASSOC = {"reassoc"}


@njit(cache=True, fastmath=_REASSOC)
def projected_bounds(proj, residuals, query_proj, query_residual, slack):
    """Lower bounds of the squared Euclidean distance from one query to every row.

    With an orthonormal basis ``V`` and residual norms ``r(y) = ||y - V V^T y||``,
    ``||x - y||^2 = ||V^T (x - y)||^2 + ||(x - y) - V V^T (x - y)||^2
    >= ||V^T (x - y)||^2 + (r(x) - r(y))^2``. ``slack`` is subtracted from the residual gap
    first: residual norms come from a difference of squares and carry that much error.
    """
    n, m = proj.shape
    out = np.empty(n)
    for j in range(n):
        acc = 0.0
        # Vectorised (any summation order: its rounding is far below the caller's margin);
        # unsigned indices for the reason given at _LP_CHUNK.
        for f in range(np.uint64(0), np.uint64(m)):
            diff = proj[j, f] - query_proj[f]
            acc += diff * diff
        gap = max(abs(residuals[j] - query_residual) - slack, 0.0)
        out[j] = acc + gap * gap
    return out


def projected_bounds_numpy(proj, residuals, query_proj, query_residual, slack):
    """NumPy twin of :func:`projected_bounds`."""
    gap = np.maximum(np.abs(residuals - query_residual) - slack, 0.0)
    return ((proj - query_proj) ** 2).sum(axis=1) + gap**2


@njit(cache=True)
def filtered_euclidean_topk(queries, qi, train, bounds, candidates, k, shrink, margin, use_u8):
    """Exact k nearest rows of ``queries[qi]`` by squared Euclidean distance, measuring only
    ``candidates`` (row numbers sorted by their lower bound ``bounds``).

    ``candidates`` must hold every row whose bound, shrunk by ``shrink`` and ``margin`` for
    rounding, does not exceed some upper bound of the k-th distance. Rows are measured in
    order of their bound and the loop stops at the first bound above the current k-th
    distance: no later row can come closer, nor tie. With ``use_u8`` rows are padded uint8
    and distances exact integers (:func:`sqd_u8`); otherwise :func:`sqeuclidean`,
    bit-identical to the reference. Returns ``(reduced, indices)`` of shape ``(k,)`` and the
    number of rows measured.
    """
    best_d, best_i = empty_topk(1, k)
    scratch = np.empty(SCRATCH_SIZE)
    measured = 0
    for c in range(candidates.shape[0]):
        j = candidates[c]
        if bounds[j] * shrink - margin > best_d[0, k - 1]:
            break
        d = (
            np.float64(sqd_u8(queries, qi, train, j))
            if use_u8
            else sqeuclidean(queries, qi, train, j, scratch)
        )
        measured += 1
        topk_push(best_d, best_i, 0, d, j)
    return best_d[0], best_i[0], measured
