"""Exact search on PyTorch matrix products: 8-bit and bfloat16 products on CPU, or a GPU.

Optional backend (``pip install "knnvision[torch]"``), chosen with ``algorithm="torch"``
and never by ``"auto"``. It runs on the GPU when ``torch.cuda.is_available()`` and on the CPU
otherwise; the environment variable ``KNNVISION_TORCH_DEVICE`` (``"cpu"``, ``"cuda:1"``, ...)
overrides the choice. The neighbours are those of the float64 reference, ties included:

* **uint8 Euclidean** (both sides uint8, the MNIST case): rows are shifted by 128 into int8
  (a shift of both sides leaves distances unchanged), padded with zero features to a multiple
  of 8 and multiplied with ``torch._int_mm``, whose int32 products are exact. Then
  ``||x - y||^2 = ||x'||^2 + ||y'||^2 - 2 x'.y'`` is an exact integer: the running top-k lists
  are the answer, with nothing to re-check. int32 cannot overflow below 131,072 features.
* **Euclidean and cosine on anything else**: bfloat16 products give *estimates*. Euclidean
  rows are first centred on the training mean (distances are unchanged, and the error bound is
  proportional to the norms: on 500 MNIST test images scaled to [0, 1], k=3, centring cuts the
  rows within the bound of a query from 40 to 18 on average, on Fashion-MNIST from 300 to 52);
  cosine rows are scaled to unit length. Each query gets a rigorous bound ``B`` on
  ``|estimate - reference|`` (:func:`bf16_bound`; it covers the rounding of the output to
  bfloat16, which the CPU cannot avoid: bfloat16 products return bfloat16 there) and every row
  whose estimate is within ``2 B`` of the k-th estimate is measured again with the exact
  float64 kernel of the brute force. 16 spare candidates per query are kept; where all of them
  lie within ``2 B`` (17% of MNIST test queries at k=3; 47% with 8 spares, 9% with 32, for
  about the same total time), a second pass of products collects every row within that
  query's limit, so the result stays exact without a float64 scan. bfloat16 was measured
  against int8 quantisation of the centred rows (exact int32 products, error only from the
  quantisation): the int8 bound admits more rows (MNIST 30 a query, Fashion-MNIST 133), so
  bfloat16 it is.

Measured on the 2-core development machine (Xeon with AMX, shared with other work, so times
vary by 2x between runs; ratios are from one run). One thread reaches about 1,300 GOP/s for
int8 (``torch._int_mm``) and 1,400 GFLOP/s for bfloat16 products against 175 GFLOP/s for
float32; two threads multiply no faster than one (the cores seem to share one matrix unit), so
the workers overlap one core's products with the other's folding of tiles into the top-k
lists (the compiled :func:`kernels.candidates.scan_products`, about a quarter of the work).
MNIST 60,000 x 10,000 x 784, k=3, 2 threads,
``benchmarks/search.py --cases mnist_euclidean --repeat 2``:

=====================  =========  ===========================  ====================
uint8 images           torch      brute (VNNI integer kernel)  faiss ``IndexFlatL2``
=====================  =========  ===========================  ====================
seconds                0.76       1.61                         3.45
=====================  =========  ===========================  ====================

On the same images scaled to float32 [0, 1] (another run): torch 1.49 s (bfloat16 candidates
and the exact re-check), brute force 3.42 s (float32 products and its re-check), faiss 3.27 s.
For a handful of queries (up to ``FEW_QUERIES``) on the CPU the brute force's projection filter
answers (0.7 ms a query on MNIST against 8 ms for a pass of products), as it does for float
values beyond ``2^50``, where low-precision products are unsafe.

Devices: on the CPU, worker threads (``get_num_threads()``, which
:func:`knnvision.search.thread_limit` sets) each take a share of the training rows with
single-threaded torch, and fold their tiles with the compiled scan; the shares are merged with the
tie rule. On a GPU the same products run on device tensors and the tiles are folded with
``torch.topk`` on the device (exact integer estimates are packed with the training index into
one int64 key, so equal distances keep the smaller index); TF32 and reduced-precision
reductions are switched off during the search and restored after. The topk fold also runs on
the CPU (the tests use it there), but the scan is faster on the CPU (see ``_candidates``).

Memory: the training rows are kept once more on the device (int8 or bfloat16, features padded
to a multiple of 8); tiles and query chunks are sized from ``working_memory_mb``.
"""

from __future__ import annotations

import contextlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from .brute import FEW_QUERIES, BruteIndex, _row_norms
from .kernels import candidates as candidate_kernels
from .kernels import metric_kinds, topk
from .metrics import Metric
from .radius import RadiusNeighbors
from .recheck import check_query, no_neighbours, query_excluding_self, search_in_chunks
from .threads import get_num_threads

try:
    import torch
except ImportError:  # optional dependency: build_index turns this into a clear message
    # No type holds "a module or None"; without torch installed mypy types it Any, hence
    # the unused-ignore too.
    torch = None  # type: ignore[assignment, unused-ignore]

METRICS = ("euclidean", "cosine")
DEVICE_ENV = "KNNVISION_TORCH_DEVICE"
INSTALL_HINT = 'pip install "knnvision[torch]"'

# torch._int_mm on CUDA needs more than 16 rows on the left and multiples of 8 for the other
# dimensions; the CPU accepts any shape, but one layout for both keeps one code path. The right
# operand is always a transposed row-major block, the usual ``x @ w.t()`` layout (PyTorch's own
# tests expect the layout with both operands row-major to fail on CUDA 13).
_MIN_ROWS = 17
_ALIGN = 8
# |x'.y'| <= d * 128^2 must stay below 2^31 for exact int32 products.
_INT8_MAX_FEATURES = 2**31 // 2**14 - 1
# Spare candidates per query for the bfloat16 estimates (see the module docstring).
_SPARE = 16
# Beyond this magnitude the brute force's exact float64 path answers (as in BruteIndex).
_SAFE_MAX = 2.0**50
_U_BF16 = 2.0**-8  # unit roundoff of bfloat16 (8 significant bits)
_U32 = 2.0**-24
_U64 = 2.0**-53
_MIN_NORMAL = 2.0**-126  # bfloat16 and float32 share it; below, values may flush to zero
# Largest tiles per worker: CPU 512 x 2048 measured fastest for both products (256 x 4096,
# 1024 x 2048 and 512 x 4096 within 10%); a GPU wants far larger ones.
_CPU_TILE = (512, 2048)
_GPU_TILE = (4096, 16384)


def require_torch():
    """Raise ``ValueError`` with the install command when PyTorch is not importable."""
    if torch is None:
        raise ValueError(
            f"algorithm='torch' needs PyTorch, which is not installed here: {INSTALL_HINT} "
            "(or use algorithm='brute', which returns the same neighbours)."
        )


def check_metric(metric: Metric) -> None:
    """Raise ``ValueError`` naming the supported metrics unless ``metric`` is one of them."""
    if metric.name not in METRICS:
        raise ValueError(
            f"algorithm='torch' cannot search with metric {metric.name!r}; it supports "
            f"{', '.join(METRICS)}. Use algorithm='brute' or 'auto'."
        )


def default_device() -> str:
    """``$KNNVISION_TORCH_DEVICE`` if set, else ``"cuda"`` when a GPU is usable, else ``"cpu"``."""
    require_torch()
    chosen = os.environ.get(DEVICE_ENV)
    if chosen:
        return chosen
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class _Side:
    """The training rows prepared for one kind of product."""

    rows: object  # torch tensor (n_train rounded up to 8, d_pad) on the device
    offsets: np.ndarray  # float64 per training row: ||y'||^2 (Euclidean) or 0 (cosine)
    offsets_device: object  # the same, on the device
    scale: float  # estimate = offsets + scale * product
    exact: bool  # integer products: estimates are exact reduced distances minus ||x'||^2
    largest: float  # the largest ||y'||, for the error bound
    mean: np.ndarray | None  # subtracted from both sides before the bfloat16 products


class _Prepared(TypedDict, total=False):
    """What a ``TorchIndex`` derives from its training rows on first use, by name."""

    abs_max: float  # the largest |value|, checked against _SAFE_MAX
    brute: BruteIndex  # the CPU engine for few queries and values out of range
    int8: _Side  # shifted int8 rows (uint8 Euclidean)
    bf16: _Side  # bfloat16 rows (everything else)


class TorchIndex:
    """Exact search over the stored training rows with PyTorch matrix products.

    Parameters
    ----------
    train : ndarray of shape (n_samples, n_features)
        Training rows (float64, float32 or uint8); kept by reference.
    metric : Metric
        Resolved metric, ``"euclidean"`` or ``"cosine"``.
    working_memory_mb : float
        Budget for temporary blocks in MiB (host memory, and device memory on a GPU).
    device : str, optional
        Torch device, default :func:`default_device`.

    Attributes
    ----------
    device : torch.device
        Where the products run.
    """

    algorithm = "torch"

    def __init__(
        self, train: np.ndarray, metric: Metric, working_memory_mb: float, device: str | None = None
    ):
        check_metric(metric)
        require_torch()
        if working_memory_mb <= 0:
            raise ValueError(f"working_memory_mb must be positive (got {working_memory_mb}).")
        self.train = np.ascontiguousarray(train)
        self.metric = metric
        self.working_memory_mb = working_memory_mb
        self.device = torch.device(device or default_device())
        if self.device.type not in ("cpu", "cuda"):
            # The error bound relies on float32 sums, known for oneDNN and cuBLAS only.
            raise ValueError(
                f"algorithm='torch' runs on 'cpu' or 'cuda' devices, not {str(self.device)!r} "
                f"(set {DEVICE_ENV} to one of them)."
            )
        # How tiles are folded into the top-k lists: None chooses (see _candidates); tests
        # force True (torch.topk, the GPU's way) or False (the compiled scan) on the CPU.
        self._topk_fold: bool | None = None
        self._kind = metric_kinds.KIND_OF_METRIC[metric.name]
        self._prepared: _Prepared = {}

    # -- public ---------------------------------------------------------------------------

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)`` of the ``k`` nearest training rows, nearest first."""
        queries = check_query(self.train, queries, k)
        if len(queries) == 0:
            return no_neighbours(k)
        if self._use_brute(queries):
            return self._brute().query(queries, k)
        engine = self._query_int8 if self._int8_applies(queries) else self._query_bf16
        with _search_settings(self.device):
            reduced, indices = search_in_chunks(engine, queries, k, self._query_chunk_rows(k))
        return self.metric.to_distance(reduced), indices

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other training rows of every training row (itself excluded)."""
        return query_excluding_self(self, k)

    def query_radius(self, queries: np.ndarray, radius: float) -> RadiusNeighbors:
        """Every training row within ``radius`` of each query, sorted by (distance, index).

        Answered by the brute force over the same rows (its float32 products and exact
        re-check): a radius keeps no top-k lists for low-precision products to fill.
        """
        return self._brute().query_radius(queries, radius)

    # -- routing --------------------------------------------------------------------------

    def _int8_applies(self, queries) -> bool:
        return (
            self.metric.name == "euclidean"
            and self.train.dtype == np.uint8
            and queries.dtype == np.uint8
            and self.train.shape[1] <= _INT8_MAX_FEATURES
            # The device fold's int64 keys hold |estimate| <= 3 d 2^14 times n_train.
            and self.train.shape[1] * len(self.train) < 2**63 // (3 * 2**14)
        )

    def _use_brute(self, queries) -> bool:
        if self.device.type == "cpu" and len(queries) <= FEW_QUERIES:
            return True
        if self.metric.name == "cosine" or self._int8_applies(queries):
            return False  # unit rows, or bytes: every value is safe
        if "abs_max" not in self._prepared:
            self._prepared["abs_max"] = _abs_max(self.train)
        return max(self._prepared["abs_max"], _abs_max(queries)) > _SAFE_MAX

    def _brute(self) -> BruteIndex:
        if "brute" not in self._prepared:
            self._prepared["brute"] = BruteIndex(self.train, self.metric, self.working_memory_mb)
        return self._prepared["brute"]

    def _query_chunk_rows(self, k: int) -> int:
        # A chunk's float64 copies (centred, and the queries for the re-check), its bfloat16
        # rows and the top-k lists take at most half the budget.
        budget = self.working_memory_mb * 2**20 / 2
        per_row = 20 * self.train.shape[1] + (_workers() + 1) * 16 * (k + _SPARE + 8)
        return max(1, int(budget // per_row))

    # -- uint8 Euclidean: exact int8 products ---------------------------------------------

    def _query_int8(self, queries, k):
        side = self._int8_side()
        rows = self._padded_tensor(_shift_u8(queries), torch.int8)
        best_e, best_i = self._candidates(side, rows, len(queries), k)
        return best_e + _squared_norms(queries, shift=128)[:, None], best_i

    def _int8_side(self) -> _Side:
        if "int8" not in self._prepared:
            rows = torch.zeros(_padded_shape(self.train.shape), dtype=torch.int8)
            offsets = np.empty(len(self.train))
            for r0 in range(0, len(self.train), 4096):
                block = self.train[r0 : r0 + 4096]
                rows[r0 : r0 + len(block), : block.shape[1]] = torch.from_numpy(_shift_u8(block))
                offsets[r0 : r0 + len(block)] = _squared_norms(block, shift=128)
            self._prepared["int8"] = _Side(
                rows.to(self.device),
                offsets,
                self._to_device(offsets),
                -2.0,
                True,
                float(np.sqrt(offsets.max(initial=0.0))),
                None,
            )
        return self._prepared["int8"]

    # -- everything else: bfloat16 estimates, exact re-check ------------------------------

    def _query_bf16(self, queries, k):
        side = self._bf16_side()
        cosine = self.metric.name == "cosine"
        n_train = len(self.train)
        k_keep = min(n_train, k + _SPARE)
        x = _bf16_rows(queries, side.mean, cosine)
        norms = np.sqrt(np.einsum("ij,ij->i", x, x))
        rows = self._padded_tensor(x, torch.bfloat16)
        est_e, est_i = self._candidates(side, rows, len(queries), k_keep)
        limits = est_e[:, k - 1] + 2.0 * bf16_bound(norms, side.largest, x.shape[1], cosine)
        q64 = np.ascontiguousarray(queries, dtype=np.float64)
        q_norms, t_norms = self._brute().norm_arrays(queries)
        reduced, indices = candidate_kernels.recheck_candidates(
            self._kind, q64, self.train, est_e, est_i, limits, k, 2.0, q_norms, t_norms
        )
        overflow = np.flatnonzero(est_e[:, -1] <= limits) if k_keep < n_train else []
        if len(overflow):
            # Every spare candidate is a near-tie: collect all rows within the limit.
            found = self._within_limits(side, rows, overflow, limits[overflow])
            for group in _groups_by_size(found, self._recheck_cap()):
                rows_here = overflow[group]
                reduced[rows_here], indices[rows_here] = _exact_among(
                    self._kind,
                    q64[rows_here],
                    self.train,
                    [found[g] for g in group],
                    k,
                    q_norms[rows_here] if len(q_norms) else q_norms,
                    t_norms,
                )
        return reduced, indices

    def _recheck_cap(self) -> int:
        """Candidates per re-check call: a sixteenth of the budget at 16 bytes each, and at
        least every training row once."""
        return max(len(self.train), int(self.working_memory_mb * 2**20 / 16 / 16))

    def _bf16_side(self) -> _Side:
        if "bf16" not in self._prepared:
            cosine = self.metric.name == "cosine"
            mean = None if cosine else _mean_rows(self.train)
            rows = torch.zeros(_padded_shape(self.train.shape), dtype=torch.bfloat16)
            offsets = np.empty(len(self.train))
            for r0 in range(0, len(self.train), 4096):
                y = _bf16_rows(self.train[r0 : r0 + 4096], mean, cosine)
                rows[r0 : r0 + len(y), : y.shape[1]] = torch.from_numpy(y)
                offsets[r0 : r0 + len(y)] = np.einsum("ij,ij->i", y, y)
            largest = float(np.sqrt(offsets.max(initial=0.0)))
            if cosine:
                offsets[:] = 0.0
            self._prepared["bf16"] = _Side(
                rows.to(self.device),
                offsets,
                self._to_device(offsets),
                -1.0 if cosine else -2.0,
                False,
                largest,
                mean,
            )
        return self._prepared["bf16"]

    def _within_limits(self, side, rows, which, limits):
        """Per row in ``which``, the training rows whose estimate is at most its limit."""
        picked = _pad_rows(rows[torch.as_tensor(which, device=self.device)])
        bounds = torch.as_tensor(limits, device=self.device)[:, None]

        def collect(start, stop, workers):
            found_rows, found_cols = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
            for q0, q1, t0, width, tile in self._tiles(
                side, picked, len(which), start, stop, workers
            ):
                est = side.offsets_device[t0 : t0 + width] + side.scale * tile.double()
                r, c = torch.nonzero(est <= bounds[q0:q1], as_tuple=True)
                found_rows.append((r + q0).cpu().numpy())
                found_cols.append((c + t0).cpu().numpy())
            return np.concatenate(found_rows), np.concatenate(found_cols)

        parts = self._over_shares(collect)
        r = np.concatenate([part[0] for part in parts])
        c = np.concatenate([part[1] for part in parts])
        order = np.argsort(r, kind="stable")
        return np.split(c[order], np.searchsorted(r[order], np.arange(1, len(which))))

    # -- candidates: products folded into running top-k lists -----------------------------

    def _candidates(self, side, rows, n_rows, k_keep):
        """Top ``k_keep`` estimates (float64, ascending) and their training indices.

        ``rows`` holds the encoded queries padded with at least 16 zero rows, so every tile
        can take the 17 rows ``torch._int_mm`` needs on a GPU.
        """
        topk = self._topk_fold
        if topk is None:
            # On the CPU the compiled scan is faster: MNIST scaled to [0, 1], 4,000 queries, k=3,
            # 2 threads: 1.25 s against 2.2 s with torch.topk (cosine 2.0 against 4.0 s).
            topk = self.device.type != "cpu"
        if topk:
            return self._fold_with_topk(side, rows, n_rows, k_keep)
        return self._fold_with_scan(side, rows, n_rows, k_keep)

    def _fold_with_scan(self, side, rows, n_rows, k_keep):
        """The compiled scan folds each tile into its share's lists with the tie rule."""

        def search_share(start, stop, workers):
            best_e, best_i = topk.empty_topk(n_rows, k_keep)
            for q0, q1, t0, width, tile in self._tiles(side, rows, n_rows, start, stop, workers):
                # int32 products go to the scan as they are; bfloat16 has no NumPy type.
                products = (tile if side.exact else tile.float()).numpy()
                candidate_kernels.scan_products(
                    products,
                    side.offsets[t0 : t0 + width],
                    side.scale,
                    t0,
                    best_e[q0:q1],
                    best_i[q0:q1],
                )
            return best_e, best_i

        results = self._over_shares(search_share)
        best_e, best_i = results[0]
        for other_e, other_i in results[1:]:
            topk.merge_topk_into(best_e, best_i, other_e, other_i)
        return best_e, best_i

    def _fold_with_topk(self, side, rows, n_rows, k_keep):
        """Fold tiles with ``torch.topk``, on the device.

        Exact (integer) estimates are packed with the training index into one int64 key,
        ``estimate * n_train + index``, so the smallest keys follow the tie rule. Inexact
        estimates need no tie rule: the re-check settles ties, and a query whose last spare
        candidate is within its limit is collected again in full.
        """
        n_train = len(self.train)

        def search_share(start, stop, workers):
            best = _empty_lists(n_rows, k_keep, side.exact, n_train, self.device)
            for q0, q1, t0, width, tile in self._tiles(side, rows, n_rows, start, stop, workers):
                est = side.offsets_device[t0 : t0 + width] + side.scale * tile.double()
                index = torch.arange(t0, t0 + width, device=self.device)
                if side.exact:
                    tile_lists = (est.long() * n_train + index, None)
                else:
                    tile_lists = (est, index.expand(q1 - q0, -1))
                _merge_lists(best, tile_lists, q0, q1, k_keep)
            return best

        results = self._over_shares(search_share)
        best = results[0]
        for other in results[1:]:
            _merge_lists(best, other, 0, n_rows, k_keep)
        values, labels = best
        if side.exact:
            values, labels = torch.div(values, n_train, rounding_mode="floor"), values % n_train
        return values.double().cpu().numpy(), labels.cpu().numpy()

    # -- tiles and shares -----------------------------------------------------------------

    def _over_shares(self, work):
        """``work(start, stop, workers)`` over shares of the training rows, one per worker
        thread on the CPU (torch runs single-threaded in each), a single share on a GPU."""
        n_train = len(self.train)
        workers = max(1, min(_workers(), n_train // _ALIGN)) if self.device.type == "cpu" else 1
        share = _round_up(-(-n_train // workers), _ALIGN)  # tiles start at multiples of 8
        starts = range(0, n_train, share)
        if len(starts) == 1:
            return [work(0, n_train, 1)]
        with ThreadPoolExecutor(len(starts)) as pool:
            return list(
                pool.map(
                    lambda start: work(start, min(start + share, n_train), len(starts)), starts
                )
            )

    def _tiles(self, side, rows, n_rows, start, stop, workers):
        """``(q0, q1, t0, width, products)`` for every tile of the first ``n_rows`` encoded
        queries against training rows ``start:stop`` (``start`` a multiple of 8)."""
        q_tile, t_block = self._tile_sizes(n_rows, workers)
        for t0 in range(start, stop, t_block):
            width = min(t0 + t_block, stop) - t0
            block = side.rows[t0 : t0 + _round_up(width, _ALIGN)].T
            for q0 in range(0, n_rows, q_tile):
                q1 = min(q0 + q_tile, n_rows)
                tile = _product(rows[q0 : q0 + max(q1 - q0, _MIN_ROWS)], block)
                yield q0, q1, t0, width, tile[: q1 - q0, :width]

    def _tile_sizes(self, n_rows: int, workers: int) -> tuple[int, int]:
        """Query rows and training rows per tile, halved (the larger first) until every
        worker's tile fits a quarter of the budget."""
        q_tile, t_block = _CPU_TILE if self.device.type == "cpu" else _GPU_TILE
        q_tile = min(q_tile, max(n_rows, _MIN_ROWS))
        t_block = min(t_block, _round_up(len(self.train), _ALIGN))
        budget = self.working_memory_mb * 2**20 / 4 / workers
        per_element = 8 if self.device.type == "cpu" else 40  # products, float copy, keys
        while per_element * q_tile * t_block > budget and (q_tile > _MIN_ROWS or t_block > _ALIGN):
            if (q_tile >= t_block and q_tile > _MIN_ROWS) or t_block <= _ALIGN:
                q_tile = max(_MIN_ROWS, q_tile // 2)
            else:
                t_block = max(_ALIGN, _round_up(t_block // 2, _ALIGN))
        return q_tile, t_block

    def _to_device(self, array):
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def _padded_tensor(self, rows: np.ndarray, dtype):
        """``rows`` as ``dtype`` on the device, with zero features up to a multiple of 8 and
        16 zero rows appended, so that every tile start has the 17 rows ``torch._int_mm``
        needs on a GPU."""
        out = torch.zeros((len(rows) + _MIN_ROWS - 1, _padded_shape(rows.shape)[1]), dtype=dtype)
        out[: len(rows), : rows.shape[1]] = torch.from_numpy(rows)
        return out.to(self.device)


# -- the error bound ----------------------------------------------------------------------


def bf16_bound(norms: np.ndarray, largest: float, n_features: int, cosine: bool) -> np.ndarray:
    """Per query, a bound on ``|estimate - reference|`` for the bfloat16 estimates.

    ``a = ||x'||`` (the query's centred or unit row, in float64) and ``b = max ||y'||``.
    The inputs are rounded to bfloat16 from float64 values that carry the float64 rounding of
    centring or scaling: relative ``t = 1.01 * 2^-8`` per element (the 1.01 also covers a
    rounding through float32 on the way), so ``x.y`` moves by at most ``(2t + t^2) a b``. The
    products of bfloat16 values are exact in float32 and summed in float32 in any order
    (oneDNN on the CPU, cuBLAS with reduced-precision reductions off): at most
    ``g a b (1 + t)^2`` with ``g = d 2^-24 / (1 - d 2^-24)``. The sum is rounded to bfloat16
    on output: ``2^-8 (1 + g) a b (1 + t)^2`` more. The estimate uses ``-2 x.y`` for Euclidean
    (``-x.y`` for cosine); the float64 arithmetic here and in the reference adds at most
    ``2 (d + 8) 2^-53 (a + b)^2``, and values that underflow bfloat16 or float32 (which share
    the smallest normal, ``2^-126``) add ``4 (d + 1) 2^-126 (1 + a + b)^2``.
    """
    d = n_features
    t = 1.01 * _U_BF16
    g = d * _U32 / (1.0 - d * _U32)
    coefficient = 2 * t + t * t + (g + _U_BF16 * (1.0 + g)) * (1.0 + t) ** 2
    a = np.asarray(norms, dtype=np.float64)
    arithmetic = 2.0 * (d + 8) * _U64 * (a + largest) ** 2
    tiny = 4.0 * (d + 1) * _MIN_NORMAL * (1.0 + a + largest) ** 2
    factor = 1.0 if cosine else 2.0
    return factor * coefficient * a * largest + arithmetic + tiny


# -- helpers ------------------------------------------------------------------------------


@contextlib.contextmanager
def _search_settings(device):
    """Single-threaded torch on the CPU (the workers are the threads); on a GPU, float32
    products without TF32 and bfloat16 sums without reduced-precision reductions, which the
    error bound assumes. Everything is restored on exit."""
    threads = torch.get_num_threads()
    matmul = torch.backends.cuda.matmul
    cuda = device.type == "cuda"
    saved = (matmul.allow_tf32, matmul.allow_bf16_reduced_precision_reduction) if cuda else None
    if cuda:
        matmul.allow_tf32 = False
        matmul.allow_bf16_reduced_precision_reduction = False
    else:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if cuda:
            matmul.allow_tf32, matmul.allow_bf16_reduced_precision_reduction = saved
        else:
            torch.set_num_threads(threads)


def _empty_lists(n_rows, k_keep, exact, n_train, device):
    """Empty top-k lists as tensors: int64 keys (and no labels), or estimates and labels."""
    if exact:
        return [torch.full((n_rows, k_keep), torch.iinfo(torch.int64).max, device=device), None]
    return [
        torch.full((n_rows, k_keep), math.inf, dtype=torch.float64, device=device),
        torch.full((n_rows, k_keep), n_train, dtype=torch.int64, device=device),
    ]


def _merge_lists(best, other, q0, q1, k_keep):
    """Keep in rows ``q0:q1`` of the lists ``best`` the ``k_keep`` smallest of them and of
    ``other`` (lists for those rows: a tile's estimates, or another share's lists)."""
    values, labels = best
    top = torch.cat([values[q0:q1], other[0]], dim=1).topk(k_keep, dim=1, largest=False)
    values[q0:q1] = top.values
    if labels is not None:
        labels[q0:q1] = torch.cat([labels[q0:q1], other[1]], dim=1).gather(1, top.indices)


def _workers() -> int:
    return max(1, get_num_threads())


def _product(left, right):
    """``left @ right``: exact int32 for int8 operands, bfloat16 otherwise."""
    if left.dtype == torch.int8:
        return torch._int_mm(left, right)
    return torch.mm(left, right)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _padded_shape(shape: tuple[int, int]) -> tuple[int, int]:
    return _round_up(shape[0], _ALIGN), max(_ALIGN, _round_up(shape[1], _ALIGN))


def _pad_rows(tensor):
    """A tensor with the 16 zero rows of :meth:`TorchIndex._padded_tensor` appended."""
    extra = torch.zeros((_MIN_ROWS - 1, tensor.shape[1]), dtype=tensor.dtype, device=tensor.device)
    return torch.cat([tensor, extra])


def _shift_u8(rows: np.ndarray) -> np.ndarray:
    """uint8 rows minus 128 as int8 (flipping the top bit is that subtraction)."""
    return (rows ^ np.uint8(0x80)).view(np.int8)


def _squared_norms(rows: np.ndarray, shift: int) -> np.ndarray:
    """Exact ``||row - shift||^2`` of uint8 rows, as float64 (integers below 2^53)."""
    shifted = rows.astype(np.int32) - shift
    return np.einsum("ij,ij->i", shifted, shifted, dtype=np.int64).astype(np.float64)


def _mean_rows(rows: np.ndarray) -> np.ndarray:
    """Column means in float64, a block of rows at a time (no float64 copy of all rows)."""
    total = np.zeros(rows.shape[1])
    for r0 in range(0, len(rows), 4096):
        total += rows[r0 : r0 + 4096].sum(axis=0, dtype=np.float64)
    return total / max(1, len(rows))


def _bf16_rows(rows: np.ndarray, mean: np.ndarray | None, unit: bool) -> np.ndarray:
    """float64 rows as the bfloat16 products see them before rounding: centred on ``mean``,
    or scaled to unit length exactly as the reference scales them (cosine)."""
    x = rows.astype(np.float64)
    if unit:
        return x / _row_norms(rows, zero_to_one=True)[:, None]
    assert mean is not None, "only unit (cosine) rows are made without a mean"
    return x - mean


def _abs_max(rows: np.ndarray) -> float:
    if rows.size == 0:
        return 0.0
    return float(max(abs(float(rows.max())), abs(float(rows.min()))))


def _groups_by_size(found: list[np.ndarray], cap: int) -> list[np.ndarray]:
    """Positions in ``found``, grouped so that a group's rows times its widest row stay within
    ``cap`` (a group has at least one row); rows are taken narrowest first."""
    order = np.argsort([len(c) for c in found], kind="stable")
    groups, start = [], 0
    for end in range(1, len(order) + 1):
        # Sorted by size: the next row is the widest of the group if it joins.
        if end == len(order) or (end + 1 - start) * len(found[order[end]]) > cap:
            groups.append(order[start:end])
            start = end
    return groups


def _exact_among(kind, queries, train, found, k, q_norms, t_norms):
    """Exact top-``k`` of each query among its candidates in ``found`` (ties to the smaller
    index), in one call of the parallel re-check kernel."""
    width = max(len(c) for c in found)
    cand_i = np.zeros((len(found), width), dtype=np.int64)
    cand_e = np.full((len(found), width), np.inf)  # beyond a row's candidates: stop there
    for row, candidates in enumerate(found):
        cand_i[row, : len(candidates)] = candidates
        cand_e[row, : len(candidates)] = 0.0
    return candidate_kernels.recheck_candidates(
        kind, queries, train, cand_e, cand_i, np.zeros(len(found)), k, 2.0, q_norms, t_norms
    )
