"""Exact brute-force search: every query against every training row, in bounded memory.

Three engines, chosen per metric and dtype:

* **Euclidean and cosine** (any dtype): float32 matrix products, tile by tile
  (``||y||^2 - 2 x.y``, or ``-x.y`` on unit rows), folded straight into running top-k lists of
  *estimates*, so no distance matrix is ever kept. Each query then gets a rigorous bound ``B``
  on how far a float32 estimate can sit from the float64 reference (rounding of the inputs
  to float32, of the product's ``d`` multiply-adds, and of the reference itself), and every
  candidate whose estimate is within ``2B`` of the k-th estimate is measured again with the
  exact float64 kernel. The result equals the reference, ties included; when the spare
  candidates might not cover every near-tie, that query is re-scanned exactly.
* **uint8 Manhattan** (and uint8 Euclidean for a handful of queries): exact integer sums of
  byte differences with SIMD ``psadbw`` / ``pmaddwd`` (see :mod:`knnvision.search.kernels.integer`).
* **Floats on an integer grid** (every value exactly ``K / s`` for bytes ``K``, as ``X / 255.0``
  pixels or the digits' ``X / 16``), Euclidean and Manhattan: the bytes ``K`` go through the
  integer engines above; their exact integer distances order the rows as the reference does up
  to a per-query bound (the rounding of ``K / s`` and of the reference's float64 sums), and
  every candidate within it of the k-th is measured again in float64 on the float rows.
* **Cosine on bytes** (uint8 rows, or floats on an integer grid; with AVX-512 VNNI): cosine
  ignores the scale, so the exact integer dot products of the bytes give float64 estimates
  within a tiny rigorous bound of the reference (:meth:`BruteIndex._cosine_codes_bound`), and
  every candidate within twice it of the k-th is measured again in float64.
* **Manhattan on floats and Minkowski**: vectorised sums in any order (float32 where both
  sides are float32 exactly) with an early exit, kept as estimates within a known relative
  error, then every near-tie re-measured with the reference formula
  (:mod:`knnvision.search.recheck`).
* **Chebyshev and Hamming**: compiled loops over query blocks with distances bit-identical
  to the reference.

Radius search (``query_radius``) runs on the same engines: the float32 products keep every
pair whose estimate is within the query's bound of the radius and measure it exactly, uint8
Euclidean collects exact integer distances (VNNI), and the other metrics scan compiled blocks
of exact distances (Minkowski: estimates, re-measured with the reference near the radius).

Memory stays bounded by ``working_memory_mb``: tiles, float32 copies of query chunks and
training blocks are sized from it, and the only arrays that grow with the data are the
``n_queries x k`` results.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import TypedDict

import numpy as np
from threadpoolctl import threadpool_limits

from .. import progress
from .kernels import candidates as candidate_kernels
from .kernels import dot_u8, integer, lp, lp_estimate, metric_kinds, projection, topk
from .metrics import Metric
from .radius import (
    RadiusNeighbors,
    check_radius,
    check_radius_queries,
    reduced_limit,
    reference_pair_distances,
)
from .recheck import (
    check_query,
    no_neighbours,
    query_excluding_self,
    recheck_estimates,
    search_in_chunks,
)
from .threads import get_num_threads

# Queries up to this many take the few-query paths (parallel over training rows).
FEW_QUERIES = 8
# The projection filter for few Euclidean queries: worth it from this size on, with this many
# principal directions estimated from this many sampled rows. Measured on MNIST (1,000
# single queries against 60,000 rows, CPU time per query): 16 directions p50 1.7 ms / p99
# 9.4 ms, 24: 1.2 / 5.1, 32: 1.5 / 3.9, 48: 2.5 / 5.0 (a full scan: about 7 ms).
_FILTER_MIN_ROWS = 2000
_FILTER_MIN_FEATURES = 32
_FILTER_DIRECTIONS = 32
_FILTER_SAMPLE = 4096
# float32 unit roundoff and float64 unit roundoff.
_U32 = 2.0**-24
_U64 = 2.0**-53
# The float32 products are safe (no overflow, no loss to underflow beyond the bound's absolute
# term) while every |value| lies in this range; outside it the exact float64 kernels run.
_F32_SAFE_MAX = 2.0**50
# Queries per chunk of a radius search.
_RADIUS_CHUNK = 4096
_RADIUS_PROBE = 256  # queries in a radius search's first chunk
# Scales of the integer grids recognised on float rows (values K / s, K a byte): pixels / 255,
# the 8x8 digits / 16, whole numbers.
_GRID_SCALES = (255.0, 16.0, 1.0)
# The metrics that look for such a grid, and the layouts of the codes (a multiple of columns, a
# multiple of rows, the shift) for integer.grid_codes.
_GRID_METRICS = ("euclidean", "manhattan", "cosine")
_GRID_LAYOUTS = {
    "pad": (integer.U8_WIDTH, 1, 0),
    "dot": (dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, 128),
}
# Queries per call of the exact re-check (a float64 copy of float32 queries: 6 MB for MNIST).
_RECHECK_BLOCK = 1024
# Spare candidates a query of the byte lower bounds starts with (see _query_quantized).
_QUANTIZED_SPARE = 32
# At most this many queries whose bounds stay wide are scanned exactly; more take the
# float32 products (whose blocks cost up to a quarter of the working memory).
_QUANTIZED_SCANS = 32
_UNIT_ROUNDOFF = {np.dtype(np.float32): _U32, np.dtype(np.float64): _U64}


class _Prepared(TypedDict, total=False):
    """What a ``BruteIndex`` derives from its training rows on first use, by name."""

    abs_max: float  # the largest |value|, for the float32 safety test
    u8_padded: np.ndarray  # uint8 rows padded for the SIMD kernels
    projection: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]  # see _projection
    u8_dot: tuple[np.ndarray, np.ndarray]  # shifted int8 rows and their squared norms
    u8_tiles: tuple[np.ndarray, np.ndarray]  # the same in tiles (dot_u8.tile_rows), int32 norms
    u8_tile_inverse: np.ndarray  # 1 / ||y|| of the tiles' rows, for cosine
    quantized: tuple  # float rows as bytes with a scale per row (dot_u8.quantize_rows)
    norms: np.ndarray  # row norms for the cosine re-check, zero norms as 1
    gemm: tuple[np.ndarray, float]  # per-row offsets and the largest norm
    grid: tuple[float, np.ndarray, float] | None  # see _grid


class BruteIndex:
    """Brute-force search over the stored training rows.

    Parameters
    ----------
    train : ndarray of shape (n_samples, n_features)
        Training rows (float64, float32 or uint8); kept by reference (copied only when not
        C-ordered). Derived arrays (padded or shifted uint8 rows, norms, a projection) are
        made on first use and cost at most about the size of ``train`` again.
    metric : Metric
        Resolved metric.
    working_memory_mb : float
        Budget for temporary blocks in MiB.
    """

    algorithm = "brute"

    def __init__(self, train: np.ndarray, metric: Metric, working_memory_mb: float):
        if working_memory_mb <= 0:
            raise ValueError(f"working_memory_mb must be positive (got {working_memory_mb}).")
        self.train = np.ascontiguousarray(train)  # no copy for the usual C-ordered rows
        self.metric = metric
        self.working_memory_mb = working_memory_mb
        self._kind = metric_kinds.KIND_OF_METRIC[metric.name]
        self._prepared: _Prepared = {}  # lazily derived arrays, cheap to rebuild
        self._radius_pairs_per_query = 128.0  # the last radius chunk's, to size buffers

    # -- public ---------------------------------------------------------------------------

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)`` of the ``k`` nearest training rows, nearest first."""
        queries = check_query(self.train, queries, k)
        if len(queries) == 0:
            return no_neighbours(k)
        reduced, indices = search_in_chunks(
            self._engine(queries), queries, k, self._query_chunk_rows(k)
        )
        return self.metric.to_distance(reduced), indices

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other training rows of every training row (itself excluded)."""
        return query_excluding_self(self, k)

    def query_radius(self, queries: np.ndarray, radius: float) -> RadiusNeighbors:
        """Every training row within ``radius`` of each query, sorted by (distance, index).

        Euclidean and cosine (where float32 is safe): float32 matrix products as in
        ``query``, every pair whose estimate lies within the query's error bound of the
        radius measured exactly. Other metrics: compiled blocks of exact distances
        (Minkowski: estimates, their candidates re-measured with the reference formula).
        """
        radius = check_radius(radius)
        queries = check_radius_queries(queries, self.train.shape[1])
        both_u8 = self.train.dtype == np.uint8 and queries.dtype == np.uint8
        float32 = self.metric.name in ("euclidean", "cosine") and self._float32_safe(queries)
        euclidean_vnni = self.metric.name == "euclidean" and dot_u8.HAVE_VNNI
        if both_u8 and euclidean_vnni:
            engine = self._radius_u8_dot
        elif euclidean_vnni and queries.dtype in _UNIT_ROUNDOFF and self._grid() is not None:
            engine = self._radius_grid
        else:
            engine = self._radius_gemm if float32 else self._radius_blocks
        chunk = self._radius_chunk_rows()
        # A small first chunk measures how many pairs a query has at this radius, so the
        # integer scans size their buffers from it and never scan a whole chunk twice.
        self._radius_pairs_per_query = 128.0
        starts = [0, *range(min(chunk, _RADIUS_PROBE), len(queries), chunk)]
        parts = []
        with progress.track(total=len(queries), description="searching neighbours") as task:
            for q0, q1 in zip(starts, [*starts[1:], len(queries)], strict=True):
                if q1 > q0:
                    parts.append(engine(queries[q0:q1], radius))
                    task.advance(q1 - q0)
        return RadiusNeighbors.concatenate(parts) if parts else RadiusNeighbors.empty(0)

    # -- routing --------------------------------------------------------------------------

    def _engine(self, queries):
        if (
            self.metric.name == "euclidean"
            and len(queries) <= FEW_QUERIES
            and len(self.train) >= _FILTER_MIN_ROWS
            and self.train.shape[1] >= _FILTER_MIN_FEATURES
            and self._float32_safe(queries)
        ):
            return self._query_filtered
        cosine_engine = self._cosine_integer_engine(queries)
        if cosine_engine is not None:
            return cosine_engine
        if (
            self._integer_engine(len(queries)) is not None
            and queries.dtype in _UNIT_ROUNDOFF
            and self._grid() is not None
        ):
            return self._query_grid
        return self._rows_engine(queries)

    def _rows_engine(self, queries):
        """The engine for the rows as they are (no projection filter, no integer grid)."""
        integer_engine = self._integer_engine(len(queries))
        if self.train.dtype == np.uint8 and queries.dtype == np.uint8 and integer_engine:
            return integer_engine
        if self._quantized_applies(queries):
            return self._query_quantized
        if self.metric.name in ("euclidean", "cosine") and self._float32_safe(queries):
            return self._query_gemm
        return self._query_generic

    def _quantized_applies(self, queries) -> bool:
        """Whether Euclidean float rows in bulk take the byte lower bounds (VNNI)."""
        return (
            self.metric.name == "euclidean"
            and dot_u8.HAVE_VNNI
            and len(queries) > FEW_QUERIES
            and queries.shape[1] <= dot_u8.TILE_MAX_WIDTH
            and self.train.dtype in _UNIT_ROUNDOFF
            and queries.dtype in _UNIT_ROUNDOFF
            and self._float32_safe(queries)
        )

    def _integer_engine(self, n_queries):
        """The exact integer engine for uint8 rows and this many queries, or None where the
        float32 products are faster (Euclidean in bulk without VNNI) or the metric has none."""
        euclidean = self.metric.name == "euclidean"
        if self.metric.name == "manhattan" or (euclidean and n_queries <= FEW_QUERIES):
            return self._query_u8
        if euclidean and dot_u8.HAVE_VNNI:
            return self._query_u8_dot
        return None

    def _cosine_integer_engine(self, queries):
        """The exact integer cosine engine (VNNI) for uint8 rows or rows on an integer grid,
        or None where the float32 products run."""
        if self.metric.name != "cosine" or not dot_u8.HAVE_VNNI:
            return None
        if self.train.dtype == np.uint8 and queries.dtype == np.uint8:
            return self._query_u8_cosine
        if queries.dtype in _UNIT_ROUNDOFF and self._grid() is not None:
            return self._query_grid_cosine
        return None

    def _float32_safe(self, queries) -> bool:
        if self.metric.name == "cosine":
            return True  # unit rows: every value lies in [-1, 1]
        if "abs_max" not in self._prepared:
            self._prepared["abs_max"] = _abs_max(self.train)
        largest = max(self._prepared["abs_max"], _abs_max(queries))
        return largest <= _F32_SAFE_MAX

    def _query_chunk_rows(self, k: int) -> int:
        # A chunk's float32 copy and top-k lists take at most half the budget.
        budget = self.working_memory_mb * 2**20 / 2
        per_row = 4 * self.train.shape[1] + (get_num_threads() + 1) * 16 * (2 * k + 8)
        return max(1, int(budget // per_row))

    def _radius_chunk_rows(self) -> int:
        # A chunk's float32 and float64 copies take at most half the budget; at most 4096
        # queries, so that progress moves.
        budget = self.working_memory_mb * 2**20 / 2
        return int(min(_RADIUS_CHUNK, max(1, budget // (12 * self.train.shape[1] + 64))))

    # -- radius search --------------------------------------------------------------------

    def _radius_u8_dot(self, queries, radius):
        """uint8 Euclidean radius search with exact integer dot products (AVX-512 VNNI):
        the squared distances are exact, so the candidates need no re-check."""
        rows, cols, reduced = self._u8_dot_pairs(queries, reduced_limit(self.metric, radius))
        return RadiusNeighbors.from_candidates(
            len(queries), rows, cols, reduced, radius, self.metric, sorted_per_query=True
        )

    def _u8_dot_pairs(self, byte_rows, limit):
        """Every (query, training row) pair whose exact integer squared distance between
        ``byte_rows`` and the training bytes is at most ``limit``; see
        :func:`dot_u8.u8_dot_radius` for the order."""
        train, train_sq = self._u8_dot_rows()
        padded = dot_u8.pad_rows_u8(byte_rows, dot_u8.DOT_WIDTH, dot_u8.DOT_ROWS)
        # Buffers sized from the previous chunk's pairs per query: an overflow costs a second
        # scan of the chunk, so a dense radius must not overflow chunk after chunk.
        n_queries = len(byte_rows)
        capacity = max(1 << 16, int(1.25 * self._radius_pairs_per_query * n_queries))
        pairs = dot_u8.u8_dot_radius(
            padded,
            n_queries,
            train,
            len(self.train),
            train_sq,
            limit,
            self._u8_dot_q_block(n_queries),
            capacity,
        )
        self._radius_pairs_per_query = max(128.0, len(pairs[0]) / max(1, n_queries))
        return pairs

    def _radius_grid(self, queries, radius):
        """Float rows on the training rows' integer grid (see :meth:`_query_grid`): the exact
        integer scan finds every pair whose ``D`` is within the bound of ``s^2`` times the
        reduced radius, and those pairs are measured again in float64. Queries off the grid
        take the float32 products."""
        grid = self._grid()
        assert grid is not None, "routed here only for training rows on a grid"
        scale, _, largest = grid
        found = self._grid_codes(queries, scale)
        if found is None:
            return self._radius_gemm(queries, radius)
        codes, query_norms = found
        bound = float(self._grid_bound(queries, query_norms, largest).max(initial=0.0))
        # The product and the sum round too: a relative 2^-50 is far more than both.
        limit = (scale * scale * reduced_limit(self.metric, radius) + bound) * (1.0 + 2.0**-50)
        rows, cols, _ = self._u8_dot_pairs(codes, limit)
        q_norms, t_norms = self.norm_arrays(queries)
        reduced = candidate_kernels.pair_distances(
            self._kind, queries, self.train, rows, cols, 2.0, q_norms, t_norms
        )
        return RadiusNeighbors.from_candidates(
            len(queries), rows, cols, reduced, radius, self.metric
        )

    def _radius_gemm(self, queries, radius):
        """Radius search on float32 products (Euclidean, cosine): each query's candidates
        are the rows whose estimate is within its bound ``B`` of the radius."""
        cosine = self.metric.name == "cosine"
        stats = self._gemm_train_stats()
        x32, x_norms = _float32_rows(queries, cosine)
        # The estimate is the reduced distance less ||x'||^2 (cosine: less 1); see _gemm_bound.
        shift = 1.0 if cosine else x_norms**2
        limit = reduced_limit(self.metric, radius)
        # Besides B: the rounding of ||x'||^2 (from x_norms) and of this subtraction.
        margin = 2.0 * (queries.shape[1] + 8) * _U64 * (shift + limit)
        limits = (limit - shift) + self._gemm_bound(queries, x_norms, stats) + margin
        limits = np.broadcast_to(limits, (len(queries),))
        workers = 1 if len(queries) <= 4 * FEW_QUERIES else get_num_threads()
        rows, cols = self._gemm_within(x32, limits, workers)
        q_norms, t_norms = self.norm_arrays(queries)
        reduced = candidate_kernels.pair_distances(
            self._kind, queries, self.train, rows, cols, 2.0, q_norms, t_norms
        )
        return RadiusNeighbors.from_candidates(
            len(queries), rows, cols, reduced, radius, self.metric
        )

    def _radius_blocks(self, queries, radius):
        """Radius search on compiled blocks of exact reduced distances (every metric)."""
        limit = reduced_limit(self.metric, radius)
        estimate = self.metric.name == "minkowski"
        if estimate:  # libm powers: every near-boundary pair is re-measured below
            limit *= 1.0 + 3.0 * lp.minkowski_rel_error(queries.shape[1])
        limits = np.full(len(queries), limit)
        queries = _as_float64(queries)
        q_norms, t_norms = self.norm_arrays(queries)
        # A block of distances takes at most a quarter of the budget.
        t_block = max(1, int(self.working_memory_mb * 2**20 / 4 // (8 * len(queries))))
        found_rows, found_cols = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        found_reduced = [np.empty(0)]
        for t0 in range(0, len(self.train), t_block):
            train = self.train[t0 : t0 + t_block]
            block = candidate_kernels.distance_block(
                self._kind, queries, train, self.metric.p, q_norms, t_norms[t0 : t0 + t_block]
            )
            rows, cols = candidate_kernels.scan_within(block, np.zeros(len(train)), 1.0, limits)
            found_rows.append(rows)
            found_cols.append(cols + t0)
            found_reduced.append(block[rows, cols])
        rows, cols = np.concatenate(found_rows), np.concatenate(found_cols)
        reduced = np.concatenate(found_reduced)
        if estimate:
            reduced = reference_pair_distances(queries, self.train, rows, cols, self.metric)
        return RadiusNeighbors.from_candidates(
            len(queries), rows, cols, reduced, radius, self.metric
        )

    # -- few queries: projection filter ---------------------------------------------------

    def _query_filtered(self, queries, k):
        """Exact Euclidean search for a handful of queries, without touching most rows.

        Rows are projected once on a few principal directions (an orthonormal basis, so a
        projected distance never exceeds the true one). Per query, the rows nearest in the
        projection give an upper bound on the k-th distance and only rows whose projected
        distance is below it are measured exactly. Serial on purpose: for one query, waking
        a thread pool costs more than the whole search.
        """
        mean, basis, proj, residuals, radius = self._projection()
        # Squared norms carry rounding far below 1e-11 R^2 (float64 sums of <= d terms and a
        # basis orthonormal to ~1e-15); a residual norm, the square root of a difference of
        # two of them, is then within sqrt(2e-11) R of the truth.
        slack = 2.0 * np.sqrt(2e-11) * radius
        use_u8 = self.train.dtype == np.uint8 and queries.dtype == np.uint8
        train = self._prepared["u8_padded"] if use_u8 else self.train
        rows = integer.pad_u8(queries) if use_u8 else _as_float64(queries)
        reduced = np.empty((len(queries), k))
        indices = np.empty((len(queries), k), dtype=np.int64)
        for qi in range(len(queries)):
            centred = queries[qi].astype(np.float64) - mean
            projected = centred @ basis
            residual = np.sqrt(max(0.0, float(centred @ centred) - float(projected @ projected)))
            bounds = projection.projected_bounds(proj, residuals, projected, residual, slack)
            # The projections are stored in float32 (half the memory to stream per query):
            # each coordinate is off by at most 2^-24 R, which moves a projected squared
            # distance by at most 2^-23 (R + |c|) R <= 1.8e-7 (|c|^2 + R^2); float64
            # rounding elsewhere is far smaller. The margin doubles that.
            margin = 4e-7 * (float(centred @ centred) + radius**2)
            shrink = 1.0 - 1e-9
            # An upper bound of the k-th distance from the k rows nearest in projection...
            first = np.argpartition(bounds, k - 1)[:k].astype(np.int64)
            limit = projection.filtered_euclidean_topk(
                rows, qi, train, bounds, first, k, 0.0, 0.0, use_u8
            )[0][-1]
            # ...then every row that might beat it, nearest bound first.
            candidates = np.flatnonzero(bounds * shrink - margin <= limit)
            candidates = candidates[np.argsort(bounds[candidates], kind="stable")]
            reduced[qi], indices[qi], _ = projection.filtered_euclidean_topk(
                rows, qi, train, bounds, candidates, k, shrink, margin, use_u8
            )
        return reduced, indices

    def _projection(self):
        """Mean, orthonormal basis (d x m), projected rows, residual norms, largest norm."""
        if "projection" not in self._prepared:
            rng = np.random.default_rng(0)
            n, d = self.train.shape
            sample = self.train[np.sort(rng.choice(n, size=min(n, _FILTER_SAMPLE), replace=False))]
            sample = sample.astype(np.float64)
            mean = sample.mean(axis=0)
            centred = sample - mean
            _, vectors = np.linalg.eigh(centred.T @ centred)
            # eigh returns orthonormal vectors to ~1e-15, so ||V^T z|| <= (1 + 1e-14) ||z||.
            basis = np.ascontiguousarray(vectors[:, ::-1][:, : min(_FILTER_DIRECTIONS, d)])
            proj = np.empty((n, basis.shape[1]), dtype=np.float32)  # see _query_filtered
            residuals = np.empty(n)
            radius = 0.0
            block = self._train_block_rows()
            for t0 in range(0, n, block):
                rows = self.train[t0 : t0 + block].astype(np.float64) - mean
                projected = rows @ basis
                squared = (rows * rows).sum(axis=1)
                proj[t0 : t0 + block] = projected
                residuals[t0 : t0 + block] = np.sqrt(
                    np.maximum(squared - (projected * projected).sum(axis=1), 0.0)
                )
                radius = max(radius, float(np.sqrt(squared.max())))
            if self.train.dtype == np.uint8 and "u8_padded" not in self._prepared:
                self._prepared["u8_padded"] = integer.pad_u8(self.train)
            self._prepared["projection"] = (mean, basis, proj, residuals, radius)
        return self._prepared["projection"]

    # -- uint8 ----------------------------------------------------------------------------

    def _query_u8(self, queries, k):
        squared = self.metric.name == "euclidean"
        train = self._u8_padded_rows()
        padded = integer.pad_u8(queries)
        threads = get_num_threads()
        if len(queries) <= FEW_QUERIES:
            return integer.u8_topk_few(squared, padded, train, k, threads)
        q_block = int(min(48, max(2, math.ceil(len(queries) / threads))))
        return integer.u8_topk(squared, padded, train, k, q_block)

    def _query_u8_dot(self, queries, k):
        """uint8 Euclidean with exact integer dot products (AVX-512 VNNI): on training tiles
        (:func:`dot_u8.u8_tiles_topk`, 2.3-3.2x faster on MNIST) up to ``TILE_MAX_WIDTH``
        columns, on the shifted rows beyond."""
        if queries.shape[1] <= dot_u8.TILE_MAX_WIDTH:
            tiles, tile_norms = self._u8_dot_tiles()
            padded = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.PANEL_QUERIES)
            q_block = self._u8_dot_q_block(len(queries), dot_u8.PANEL_QUERIES)
            return dot_u8.u8_tiles_topk(
                padded, len(queries), tiles, len(self.train), tile_norms, k, q_block
            )
        train, train_sq = self._u8_dot_rows()
        padded = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.DOT_ROWS)
        q_block = self._u8_dot_q_block(len(queries), dot_u8.DOT_ROWS)
        return dot_u8.u8_dot_topk(
            padded, len(queries), train, len(self.train), train_sq, k, q_block
        )

    def _u8_dot_tiles(self):
        """The training rows (or grid codes) in :func:`dot_u8.tile_rows`' layout and their
        int32 norms. Built from the shifted rows of grid codes, which are then let go (a
        cosine or radius search makes them again)."""
        if "u8_tiles" not in self._prepared:
            if self.train.dtype == np.uint8:
                norms = dot_u8.squared_norms_u8(self.train)
                self._prepared["u8_tiles"] = dot_u8.tile_rows(self.train, norms)
            else:
                rows, norms = self._u8_dot_rows()
                self._prepared["u8_tiles"] = dot_u8.tile_rows(
                    rows[: len(self.train)], norms, shift=0
                )
                del self._prepared["u8_dot"]
        return self._prepared["u8_tiles"]

    def _u8_tile_inverse_norms(self):
        """``1 / ||y||`` of the training bytes (1 for zero rows), padded like the tiles."""
        if "u8_tile_inverse" not in self._prepared:
            _, tile_norms = self._u8_dot_tiles()
            self._prepared["u8_tile_inverse"] = dot_u8.tile_inverse_norms(
                tile_norms, len(self.train)
            )
        return self._prepared["u8_tile_inverse"]

    def _u8_dot_rows(self):
        """The training rows shifted to int8 and padded, and their exact squared norms (of
        the grid codes ``K`` for float rows on a grid)."""
        if "u8_dot" not in self._prepared:
            if self.train.dtype == np.uint8:
                train = dot_u8.pad_rows_u8(
                    self.train, dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, shift=128, dtype=np.int8
                )
                self._prepared["u8_dot"] = (train, dot_u8.squared_norms_u8(self.train))
            else:
                self._prepared["u8_dot"] = self._train_grid_codes("dot")
        return self._prepared["u8_dot"]

    def _u8_padded_rows(self) -> np.ndarray:
        """The training bytes in :func:`integer.pad_u8`'s layout: the uint8 rows, or the grid
        codes of float rows on a grid."""
        if "u8_padded" not in self._prepared:
            if self.train.dtype == np.uint8:
                self._prepared["u8_padded"] = integer.pad_u8(self.train)
            else:
                self._prepared["u8_padded"] = self._train_grid_codes("pad")[0]
        return self._prepared["u8_padded"]

    @staticmethod
    def _u8_dot_q_block(n_queries: int, multiple: int = dot_u8.DOT_ROWS) -> int:
        """Queries per parallel block: a multiple of ``multiple``, about 256 at most."""
        # Every block of queries streams all training rows from memory once: blocks of up to
        # 256 queries (their rows stay in L2) measured 15-25% faster than 64 on MNIST.
        threads = get_num_threads()
        most = 256 // multiple * multiple
        return int(min(most, max(multiple, multiple * math.ceil(n_queries / (multiple * threads)))))

    # -- floats on an integer grid ----------------------------------------------------------

    def _grid(self) -> tuple[float, np.ndarray, float] | None:
        """``(s, norms, largest)`` when every training value is exactly ``K / s`` in its dtype
        for a byte ``K`` (``s`` from ``_GRID_SCALES``), else None. ``norms`` are the rows'
        ``sum K^2`` (``sum K`` for Manhattan) and ``largest`` their maximum, for
        :meth:`_grid_bound`.

        The test also writes the codes, straight into the layout the bulk engine reads (the
        shifted int8 rows of :meth:`_u8_dot_rows` with VNNI, else :meth:`_u8_padded_rows`'),
        so the other layout is made only if a search needs it."""
        if "grid" not in self._prepared:
            found = None
            if self.train.dtype in _UNIT_ROUNDOFF and self.metric.name in _GRID_METRICS:
                vnni = dot_u8.HAVE_VNNI and self.metric.name != "manhattan"
                layout = "dot" if vnni else "pad"
                for scale in _GRID_SCALES:
                    codes = self._grid_codes(self.train, scale, layout)
                    if codes is not None:
                        self._prepared["u8_dot" if vnni else "u8_padded"] = (
                            codes if vnni else codes[0]
                        )
                        found = (scale, codes[1], float(codes[1].max(initial=0)))
                        break
            self._prepared["grid"] = found
        return self._prepared["grid"]

    def _train_grid_codes(self, layout):
        """:meth:`_grid_codes` of the training rows (on their grid) in ``layout``."""
        grid = self._grid()
        assert grid is not None, "the integer engines run on float rows only on a grid"
        codes = self._grid_codes(self.train, grid[0], layout)
        assert codes is not None, "the training rows are on their grid"
        return codes

    def _grid_codes(self, rows, scale, layout="pad"):
        """``(codes, norms)``: the bytes ``K`` of ``rows`` on the grid of ``scale`` and their
        ``sum K^2`` (``sum K`` for Manhattan) per row, as int64; None when some value is not
        exactly a byte divided by ``scale`` in the rows' dtype (see
        :func:`integer.grid_codes`). ``layout`` "pad": uint8 ``K`` in
        :func:`integer.pad_u8`'s layout; "dot": the training layout of
        :func:`dot_u8.u8_dot_topk` (``K - 128`` as int8, padded rows and columns)."""
        width, row_multiple, shift = _GRID_LAYOUTS[layout]
        squares = self.metric.name != "manhattan"
        return integer.grid_codes(rows, scale, width, row_multiple, shift, squares)

    def _query_grid(self, queries, k):
        """Float rows on the training rows' integer grid: exact integer distances ``D``
        between the codes (``s^2`` or ``s`` times the reference up to :meth:`_grid_bound`)
        pick the candidates, and every one within twice the bound of the k-th is measured
        again in float64. Queries off the grid take the engine for the rows as they are."""
        grid = self._grid()
        assert grid is not None, "routed here only for training rows on a grid"
        scale, _, largest = grid
        found = self._grid_codes(queries, scale)
        if found is None:
            return self._rows_engine(queries)(queries, k)
        codes, query_norms = found
        # Spare candidates for the re-check: for float64 rows the bound is far below 1, so
        # only rows with the k-th integer distance itself can be near-ties.
        k_keep = min(len(self.train), k + 6)
        est_d, est_i = self._integer_engine(len(queries))(codes, k_keep)
        limits = est_d[:, k - 1] + 2.0 * self._grid_bound(queries, query_norms, largest)
        every = np.arange(len(self.train), dtype=np.int64)
        return self._recheck(queries, est_d, est_i, limits, k, lambda row: every)

    def _grid_bound(self, queries, query_norms, largest):
        """Per query, a bound on ``|D - s^m R|`` over every training row (``m`` = 2 for
        Euclidean, 1 for Manhattan; ``R`` the reference's float64 reduced distance).

        Each value is ``K / s (1 + e)`` with ``|e| <= u`` (the dtype's unit roundoff, plus
        float64's for ``K / s`` rounded twice), so ``s (x - y) = (K - L) + r`` with
        ``|r| <= u (K + L)``. Euclidean: ``sum (K-L) r`` and ``sum r^2`` move ``D`` by at most
        ``(2u + 2u^2)(sum K^2 + sum L^2)``, as ``|K - L| (K + L) <= K^2 + L^2``; Manhattan: by
        ``u (sum K + sum L)``. The reference's float64 sums of ``d`` terms add a relative
        ``(d + 2) 2^-53`` at most, of a ``D`` no larger than ``(||K|| + ||L||)^2`` (resp.
        ``sum K + sum L``). The factor ``1.01`` covers the rounding of this bound, the last
        term that of adding it to the k-th ``D``.
        """
        u = max(_UNIT_ROUNDOFF[queries.dtype], _UNIT_ROUNDOFF[self.train.dtype]) + 2 * _U64
        if self.metric.name == "euclidean":
            inputs = (2 * u + 2 * u * u) * (query_norms + largest)
            largest_d = (np.sqrt(query_norms) + np.sqrt(largest)) ** 2
        else:
            inputs = u * (query_norms + largest)
            largest_d = query_norms + largest
        arithmetic = (queries.shape[1] + 3) * _U64 * (largest_d + inputs)
        return 1.01 * (inputs + arithmetic) + 4 * _U64 * largest_d

    # -- cosine on bytes -------------------------------------------------------------------

    def _query_u8_cosine(self, queries, k):
        """uint8 cosine: see :meth:`_query_codes_cosine` (the bytes are the rows)."""
        return self._query_codes_cosine(queries, queries, k)

    def _query_grid_cosine(self, queries, k):
        """Cosine on float rows on the training rows' integer grid: cosine ignores the scale
        ``s``, so the codes ``K`` stand for the rows (:meth:`_query_codes_cosine`). Queries
        off the grid take the engine for the rows as they are."""
        grid = self._grid()
        assert grid is not None, "routed here only for training rows on a grid"
        found = self._grid_codes(queries, grid[0])
        if found is None:
            return self._rows_engine(queries)(queries, k)
        return self._query_codes_cosine(queries, found[0], k)

    def _query_codes_cosine(self, queries, codes, k):
        """Exact cosine via integer dot products (AVX-512 VNNI) of the byte ``codes`` of
        ``queries`` with the training bytes: float64 estimates (:meth:`_u8_cosine_estimates`)
        pick the candidates, and every one within twice :meth:`_cosine_codes_bound` of the
        k-th is measured again in float64."""
        # Spare candidates for the re-check: the bound is far below the gaps between
        # neighbours, so only rows tied with the k-th estimate can be near-ties.
        k_keep = min(len(self.train), k + 6)
        est_e, est_i = self._u8_cosine_estimates(codes, k_keep)
        limits = est_e[:, k - 1] + 2.0 * self._cosine_codes_bound(queries)
        every = np.arange(len(self.train), dtype=np.int64)
        return self._recheck(queries, est_e, est_i, limits, k, lambda row: every)

    def _u8_cosine_estimates(self, codes, k_keep):
        """The ``k_keep`` smallest estimated cosine distances of each row of ``codes``:
        :func:`dot_u8.u8_tiles_cosine_topk` on the tiled training bytes, or
        :func:`dot_u8.u8_dot_cosine_topk` on plain rows for rows wider than
        ``TILE_MAX_WIDTH`` (the tiles hold at most that many columns)."""
        if codes.shape[1] <= dot_u8.TILE_MAX_WIDTH:
            tiles, _ = self._u8_dot_tiles()
            padded = dot_u8.pad_rows_u8(codes, dot_u8.DOT_WIDTH, dot_u8.PANEL_QUERIES)
            q_block = self._u8_dot_q_block(len(codes), dot_u8.PANEL_QUERIES)
            return dot_u8.u8_tiles_cosine_topk(
                padded,
                len(codes),
                tiles,
                len(self.train),
                self._u8_tile_inverse_norms(),
                k_keep,
                q_block,
            )
        train, train_sq = self._u8_dot_rows()
        padded = dot_u8.pad_rows_u8(codes, dot_u8.DOT_WIDTH, dot_u8.DOT_ROWS)
        q_block = self._u8_dot_q_block(len(codes))
        return dot_u8.u8_dot_cosine_topk(
            padded, len(codes), train, len(self.train), train_sq, k_keep, q_block
        )

    def _cosine_codes_bound(self, queries) -> float:
        """A bound on ``|E - R|`` over every pair: ``E`` the estimate from the bytes' exact
        dot product (:func:`dot_u8.u8_dot_cosine_topk`), ``R`` the reference's float64
        cosine distance of the rows (bytes, or floats ``K / s``).

        With ``u = 2^-53``: ``E`` is within ``8.1 u`` of ``1 - cos(K, L)`` (four roundings
        of ``1 / ||K|| 1 / ||L||``, two products, one subtraction, ``|cos| <= 1``). Floats:
        each value is ``K / s (1 + e)`` with ``|e| <= v`` (the dtype's unit roundoff, plus
        ``2u`` for ``K / s`` rounded twice), so ``x = (K + r) / s`` with ``||r|| <= v ||K||``;
        a unit vector moves by at most ``2 v / (1 - v)`` under it, so the cosine by at most
        ``4.01 v``. The reference divides by norms within ``(d / 2 + 1.01) u`` of the exact
        ones, rounds each product of unit values (``3u``), sums ``d`` terms of total size
        ``<= 1`` and subtracts from 1 (``2.01 u``): at most ``(2d + 6.1) u`` from
        ``1 - cos(x, y)``; the clip to ``[0, 2]`` only brings it closer. Zero rows have
        ``E = R = 1``. The factor ``1.01`` covers second-order terms and the rounding of this
        bound, the last term that of adding it to the k-th estimate.
        """
        if queries.dtype == np.uint8 and self.train.dtype == np.uint8:
            inputs = 0.0
        else:
            rounding = max(_UNIT_ROUNDOFF[queries.dtype], _UNIT_ROUNDOFF[self.train.dtype])
            inputs = 4.01 * (rounding + 2 * _U64)
        d = queries.shape[1]
        return 1.01 * (inputs + (2 * d + 6.1 + 8.1) * _U64) + 8 * _U64

    # -- generic compiled loops -----------------------------------------------------------

    def _query_generic(self, queries, k):
        if self.metric.name in ("cosine", "euclidean"):
            return self._query_exact_all(queries, k)
        if self.metric.name in ("manhattan", "minkowski"):
            return self._query_lp(queries, k)
        q_block = int(min(32, max(1, math.ceil(len(queries) / get_num_threads()))))
        # float64 queries: exact either way (the kernels widen every element), and one
        # compiled variant per training dtype instead of one per pair of dtypes.
        return lp.generic_topk(
            self._kind, _as_float64(queries), self.train, k, self.metric.p, q_block
        )

    def _query_lp(self, queries, k):
        """Manhattan (float rows) and Minkowski: fast estimates, then an exact re-check.

        Sums in any order (vectorised, with an early exit once a pair cannot make the top
        ``k``) are within a known relative error of the reference, so every candidate within
        that factor of the k-th estimate is measured again with the reference formula.
        Manhattan sums run in float32 when both sides are float32 (or bytes) exactly.
        """
        queries, float32 = self._lp_query_rows(queries)
        d = queries.shape[1]
        relative = lp_estimate.lp_estimate_rel_error(d, self.metric.p, float32)
        factor = 1.0 + 3.0 * (relative + lp.minkowski_rel_error(d))
        k_keep = min(k + 8, len(self.train))
        threads = get_num_threads()
        q_block, t_block, n_parts = self._lp_blocks(len(queries), queries.itemsize, threads)
        reduced, indices = lp_estimate.lp_estimate_topk(
            self._kind, queries, self.train, k_keep, self.metric.p, q_block, t_block, n_parts
        )
        return recheck_estimates(self.train, queries, reduced, indices, k, self.metric, factor)

    def _lp_query_rows(self, queries):
        """Queries in the dtype the sums run in, and whether that is float32."""
        if (
            self.metric.name == "manhattan"
            and self.train.dtype in (np.float32, np.uint8)
            and self._float32_safe(queries)
        ):  # no overflow in float32 sums
            as32 = queries.astype(np.float32)
            if queries.dtype in (np.float32, np.uint8) or np.array_equal(as32, queries):
                return np.ascontiguousarray(as32), True
        return _as_float64(queries), False

    def _lp_blocks(self, n_queries, itemsize, threads):
        """Queries per block, training rows per tile, and training ranges for the estimates.

        A block of queries fills about 256 KiB (it stays in the core's L2 cache) and a tile
        of training rows about 32 KiB (L1) while the block's queries pass over it. With fewer
        blocks than threads the training rows are split instead.
        """
        row_bytes = max(1, self.train.shape[1] * itemsize)
        q_block = max(1, min(2**18 // row_bytes, math.ceil(n_queries / threads)))
        t_block = max(1, 2**15 // row_bytes)
        n_blocks = math.ceil(n_queries / q_block)
        n_parts = max(1, min(threads // n_blocks, len(self.train) // 1024))
        return int(q_block), int(t_block), int(n_parts)

    def _query_exact_all(self, queries, k):
        """Exact float64 scan for Euclidean/cosine where float32 is unsafe (huge values)."""
        reduced = np.empty((len(queries), k))
        indices = np.empty((len(queries), k), dtype=np.int64)
        every = np.arange(len(self.train), dtype=np.int64)
        for row in range(len(queries)):
            reduced[row], indices[row] = self._exact_one(queries[row : row + 1], every, k)
        return reduced, indices

    def _exact_one(self, query, candidates, k):
        """Exact top-k of one query among ``candidates`` (all rows in the worst case)."""
        q_norms, t_norms = self.norm_arrays(query)
        cand = candidates[None, :]
        zeros = np.zeros(cand.shape)
        reduced, indices = candidate_kernels.recheck_candidates(
            self._kind,
            _as_float64(query),
            self.train,
            zeros,
            cand,
            np.zeros(1),
            k,
            self.metric.p,
            q_norms,
            t_norms,
        )
        return reduced[0], indices[0]

    def norm_arrays(self, queries):
        """Row norms of ``queries`` and of the training rows for the cosine re-check (zero
        norms as 1); empty arrays for other metrics. The training norms are kept."""
        if self.metric.name != "cosine":
            return np.empty(0), np.empty(0)
        if "norms" not in self._prepared:
            self._prepared["norms"] = _row_norms(self.train, zero_to_one=True)
        return _row_norms(queries, zero_to_one=True), self._prepared["norms"]

    # -- float rows as bytes with a scale per row ------------------------------------------

    def _query_quantized(self, queries, k, spare=_QUANTIZED_SPARE):
        """Euclidean on float rows off any byte grid, with VNNI: lower bounds of the distances
        from the rows' bytes (:func:`dot_u8.u8_tiles_quantized_topk`, ``k + spare`` per
        query) pick the candidates; the exact distances of the first ``k`` bound the k-th
        from above, and every candidate whose lower bound is within that is measured again
        in float64. Queries whose spare candidates are all within it run again with four
        times as many spares, then are scanned exactly, or take the float32 products if
        there are many (MNIST standardised: 13 and 4 of 10,000 test queries; in a sample of
        300, 9 candidates a query in the median)."""
        n_train = len(self.train)
        k_keep = min(n_train, k + spare)
        codes = dot_u8.quantize_rows(queries, as_queries=True)
        q_block = self._u8_dot_q_block(len(queries), dot_u8.PANEL_QUERIES)
        bounds, est_i = dot_u8.u8_tiles_quantized_topk(
            codes, len(queries), self._quantized_train(), n_train, k_keep, q_block
        )
        # Squared lower bounds, rounded down, in the reduced distance's units.
        est_e = np.maximum(bounds, 0.0) ** 2 * (1.0 - 4.0 * _U64)
        limits = self._upper_kth(queries, est_e, est_i, k)
        overflow = est_e[:, -1] <= limits if k_keep < n_train else np.zeros(len(queries), bool)
        # A row with one outlying value gets a coarse scale and a wide bound. Such queries
        # try once more with four times the spares; after that a few are scanned exactly
        # (by _recheck), and many take the float32 products.
        first_try = spare == _QUANTIZED_SPARE
        many = overflow.sum() > _QUANTIZED_SCANS
        retry = overflow if first_try or many else np.zeros_like(overflow)
        every = np.arange(n_train, dtype=np.int64)
        # Queries to retry get no candidates here (limit -inf) and are answered below, so
        # that no copy of the other queries is made.
        reduced, indices = self._recheck(
            queries, est_e, est_i, np.where(retry, -np.inf, limits), k, lambda row: every
        )
        if retry.any():
            if first_try:
                retried = self._query_quantized(queries[retry], k, 4 * spare)
            else:
                retried = self._query_gemm(queries[retry], k)
            reduced[retry], indices[retry] = retried
        return reduced, indices

    def _upper_kth(self, queries, est_e, est_i, k):
        """Per query, a limit that every training row whose reference distance can be among
        the k nearest has its squared lower bound within: the largest exact reduced distance
        of the first ``k`` candidates (an upper bound of the k-th), widened by the
        reference's rounding (``(d - 1) u`` for the sum, ``3u`` per term, ``2^-1070`` per term
        for underflow; doubled)."""
        d = queries.shape[1]
        kth = np.empty(len(queries))
        no_limit = np.full(_RECHECK_BLOCK, np.inf)
        for q0 in range(0, len(queries), _RECHECK_BLOCK):
            rows = slice(q0, q0 + _RECHECK_BLOCK)
            first, _ = candidate_kernels.recheck_candidates(
                self._kind,
                _as_float64(queries[rows]),
                self.train,
                est_e[rows, :k],
                est_i[rows, :k],
                no_limit[: len(est_e[rows])],
                k,
                self.metric.p,
                np.empty(0),
                np.empty(0),
            )
            kth[rows] = first[:, k - 1]
        return kth * (1.0 + 2.0 * (d + 4) * _U64) + d * 2.0**-1070

    def _quantized_train(self):
        """The training rows for :meth:`_query_quantized` (:func:`dot_u8.quantize_rows`)."""
        if "quantized" not in self._prepared:
            self._prepared["quantized"] = dot_u8.quantize_rows(self.train, as_queries=False)
        return self._prepared["quantized"]

    # -- float32 matrix products ----------------------------------------------------------

    def _query_gemm(self, queries, k):
        cosine = self.metric.name == "cosine"
        n_train = len(self.train)
        # Spare candidates for the re-check: on MNIST at most k + 3 lie within the bound.
        k_keep = min(n_train, k + 6)
        stats = self._gemm_train_stats()
        x32, x_norms = _float32_rows(queries, cosine)
        workers = 1 if len(queries) <= 4 * FEW_QUERIES else get_num_threads()
        est_e, est_i = self._gemm_candidates(x32, k_keep, workers)
        limits = est_e[:, k - 1] + 2.0 * self._gemm_bound(queries, x_norms, stats)
        return self._recheck(
            queries, est_e, est_i, limits, k, lambda row: self._within_limit(x32[row], limits[row])
        )

    def _recheck(self, queries, est_e, est_i, limits, k, candidates_of):
        """Exact top-``k`` from candidates sorted by an estimate, per query.

        Every candidate whose estimate is at most the query's limit is measured again with
        the float64 kernels (bit-identical to the reference). Where even the last spare
        candidate is within the limit, more rows may be, so that query's candidates are
        ``candidates_of(row)`` (every row whose estimate is within the limit, or all rows),
        measured likewise.
        """
        q_norms, t_norms = self.norm_arrays(queries)
        reduced = np.empty((len(queries), k))
        indices = np.empty((len(queries), k), dtype=np.int64)
        # A block of queries at a time: float32 queries are measured in float64 copies.
        for q0 in range(0, len(queries), _RECHECK_BLOCK):
            rows = slice(q0, q0 + _RECHECK_BLOCK)
            reduced[rows], indices[rows] = candidate_kernels.recheck_candidates(
                self._kind,
                _as_float64(queries[rows]),
                self.train,
                est_e[rows],
                est_i[rows],
                limits[rows],
                k,
                self.metric.p,
                q_norms[rows],
                t_norms,
            )
        spare_left = est_e.shape[1] < len(self.train)
        overflow = np.flatnonzero(est_e[:, -1] <= limits) if spare_left else []
        for row in overflow:
            reduced[row], indices[row] = self._exact_one(
                queries[row : row + 1], candidates_of(row), k
            )
        return reduced, indices

    def _gemm_train_stats(self):
        """Per-row offsets for the estimate and the largest norm, for the error bound."""
        if "gemm" not in self._prepared:
            cosine = self.metric.name == "cosine"
            offsets = np.empty(len(self.train))
            block = self._train_block_rows()
            largest = 0.0
            for t0 in range(0, len(self.train), block):
                _, norms = _float32_rows(self.train[t0 : t0 + block], cosine)
                largest = max(largest, float(norms.max(initial=0.0)))
                offsets[t0 : t0 + block] = 0.0 if cosine else norms**2
            self._prepared["gemm"] = (offsets, largest)
        return self._prepared["gemm"]

    def _gemm_bound(self, queries, x_norms, stats):
        """Per query, a bound on |estimate - reference| over every training row.

        With ``u = 2^-24``, ``g = d u / (1 - d u)``, ``a = ||x'||`` and ``b = max ||y'||``
        (float32 rows): the product's rounding is at most ``g a b`` (any summation order,
        fused or not), so ``-2 x.y`` contributes ``2 g a b``; rounding float64 inputs to
        float32 moves ``||x - y||^2`` by at most ``4.01 u (a^2 + b^2)``; the float64 arithmetic
        here and in the reference adds at most ``2 (d + 8) 2^-53 (a + b)^2``; values that
        underflow in float32 add an absolute ``d 2^-140 (1 + (a + b)^2)``. For cosine the rows
        are unit vectors (``a, b <= 1``) rounded once, so the input term is ``2.01 u``.
        """
        _, largest = stats
        d = queries.shape[1]
        g = d * _U32 / (1.0 - d * _U32)
        a, b = x_norms * (1.0 + 2 * _U32), largest * (1.0 + 2 * _U32)
        tiny = d * 2.0**-140 * (1.0 + (a + b) ** 2)
        arithmetic = 2.0 * (d + 8) * _U64 * (a + b) ** 2
        if self.metric.name == "cosine":
            return g * a * b + 2.01 * _U32 + arithmetic + tiny
        inexact = queries.dtype == np.float64 or self.train.dtype == np.float64
        rounding = 4.01 * _U32 * (a * a + b * b) if inexact else 0.0
        return 2.0 * g * a * b + rounding + arithmetic + tiny

    def _gemm_candidates(self, x32, k_keep, workers):
        """Top ``k_keep`` estimates per query; the training rows are split among workers."""
        offsets, _ = self._gemm_train_stats()
        scale = -1.0 if self.metric.name == "cosine" else -2.0

        def shard_search(tiles):
            best_e = np.full((len(x32), k_keep), np.inf)
            best_i = np.full((len(x32), k_keep), np.iinfo(np.int64).max)
            for q0, t0, products in tiles:
                q1, t1 = q0 + len(products), t0 + products.shape[1]
                candidate_kernels.scan_products(
                    products, offsets[t0:t1], scale, t0, best_e[q0:q1], best_i[q0:q1]
                )
            return best_e, best_i

        results = self._over_gemm_shards(x32, workers, shard_search)
        best_e, best_i = results[0]
        for other_e, other_i in results[1:]:
            topk.merge_topk_into(best_e, best_i, other_e, other_i)
        return best_e, best_i

    def _gemm_within(self, x32, limits, workers):
        """Every ``(query, training row)`` pair whose estimate is at most the query's limit."""
        offsets, _ = self._gemm_train_stats()
        scale = -1.0 if self.metric.name == "cosine" else -2.0

        def shard_search(tiles):
            rows, cols = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
            for q0, t0, products in tiles:
                q1, t1 = q0 + len(products), t0 + products.shape[1]
                hit_rows, hit_cols = candidate_kernels.scan_within(
                    products, offsets[t0:t1], scale, limits[q0:q1]
                )
                rows.append(hit_rows + q0)
                cols.append(hit_cols + t0)
            return np.concatenate(rows), np.concatenate(cols)

        results = self._over_gemm_shards(x32, workers, shard_search)
        return np.concatenate([r for r, _ in results]), np.concatenate([c for _, c in results])

    def _over_gemm_shards(self, x32, workers, shard_search):
        """``shard_search(tiles)`` on each of ``workers`` shards of the training rows, where
        ``tiles`` yields ``(q0, t0, products)``: float32 products of queries from ``q0`` with
        training rows from ``t0``. Returns the results, shard by shard."""
        shards = np.array_split(np.arange(len(self.train)), workers)
        q_tile, t_block = self._tile_sizes(len(x32), workers)
        unit = self.metric.name == "cosine"

        def tiles(rows):
            for t0 in range(rows[0], rows[-1] + 1, t_block) if len(rows) else ():
                y32 = _as_float32(self.train[t0 : min(t0 + t_block, rows[-1] + 1)], unit)
                for q0 in range(0, len(x32), q_tile):
                    yield q0, t0, x32[q0 : q0 + q_tile] @ y32.T

        if workers == 1:
            return [shard_search(tiles(shards[0]))]
        # One thread per shard, each with a single-threaded BLAS: tiles stay in that core's
        # cache between the product and the scan.
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda rows: shard_search(tiles(rows)), shards))

    def _within_limit(self, x32_row, limit):
        """Indices of every training row whose estimate is at most ``limit``."""
        offsets, _ = self._gemm_train_stats()
        scale = -1.0 if self.metric.name == "cosine" else -2.0
        found = []
        block = self._train_block_rows()
        for t0 in range(0, len(self.train), block):
            y32 = _as_float32(self.train[t0 : t0 + block], self.metric.name == "cosine")
            estimate = offsets[t0 : t0 + block] + scale * (y32 @ x32_row).astype(np.float64)
            found.append(t0 + np.flatnonzero(estimate <= limit))
        return np.concatenate(found).astype(np.int64)

    def _train_block_rows(self) -> int:
        budget = self.working_memory_mb * 2**20 / 4
        return max(1, int(budget // (8 * max(1, self.train.shape[1]))))

    def _tile_sizes(self, n_queries: int, workers: int) -> tuple[int, int]:
        """Query rows per product and training rows per block, per worker.

        512 x 2048 tiles (4 MiB of products) measured fastest here; both shrink, the larger
        first, until every worker's tile and float32 training block fit a quarter of the
        budget.
        """
        d = max(1, self.train.shape[1])
        q_tile, t_block = min(512, n_queries), min(2048, len(self.train))
        budget = self.working_memory_mb * 2**20 / 4 / workers
        while 4 * (q_tile * t_block + t_block * d) + 16 * t_block > budget:
            if q_tile == 1 and t_block == 1:
                break
            if q_tile >= t_block and q_tile > 1:
                q_tile = max(1, q_tile // 2)
            else:
                t_block = max(1, t_block // 2)
        return q_tile, t_block


def _as_float64(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows, dtype=np.float64)


def _abs_max(rows: np.ndarray) -> float:
    if rows.size == 0:
        return 0.0
    if rows.dtype == np.uint8:
        return float(rows.max())
    return float(max(abs(float(rows.max())), abs(float(rows.min()))))


def _row_norms(rows: np.ndarray, zero_to_one: bool) -> np.ndarray:
    """Euclidean norms exactly as the reference computes them (float64, pairwise sums per
    row), a block of rows at a time so no float64 copy of all rows is made."""
    norms = np.empty(len(rows))
    for r0 in range(0, len(rows), 4096):
        x = np.asarray(rows[r0 : r0 + 4096], dtype=np.float64)
        norms[r0 : r0 + len(x)] = np.sqrt((x * x).sum(axis=1))
    if zero_to_one:
        norms[norms == 0] = 1.0
    return norms


def _as_float32(rows: np.ndarray, unit: bool) -> np.ndarray:
    """Rows as C-contiguous float32; for cosine, the reference's unit rows rounded to float32."""
    if not unit:
        return np.ascontiguousarray(rows, dtype=np.float32)
    out = np.empty(rows.shape, dtype=np.float32)
    norms = _row_norms(rows, zero_to_one=True)
    for r0 in range(0, len(rows), 4096):
        x = np.asarray(rows[r0 : r0 + 4096], dtype=np.float64)
        out[r0 : r0 + len(x)] = x / norms[r0 : r0 + len(x), None]
    return out


def _float32_rows(rows: np.ndarray, unit: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_as_float32` and the float64 norms of those float32 rows."""
    x32 = _as_float32(rows, unit)
    # Accumulated in float64 without a float64 copy; these norms only feed the error bound,
    # which already allows for their rounding.
    return x32, np.sqrt(np.einsum("ij,ij->i", x32, x32, dtype=np.float64))
