"""Side-by-side timings of knnvision's exact search against the peers a user would pick.

One call runs knnvision, scikit-learn (``algorithm="brute"`` and ``"kd_tree"``) and faiss-cpu
(``IndexFlatL2``; ``IndexFlat`` with ``METRIC_L1``) in this process, on the same threads and
the same data, checks that they return the same neighbours, and reports seconds, ratios to
each peer, effective GFLOP/s next to a float32 matrix product timed in the same run, and the
peak resident memory each engine added.

Cases (``--quick`` runs each on small subsets):

* ``mnist_euclidean``: MNIST, 60,000 training x 10,000 test images, 784 features, k=3; with
  PyTorch installed, knnvision's optional ``algorithm="torch"`` backend gets a row of its own.
* ``fashion_manhattan``: Fashion-MNIST, Manhattan distance, k=5.
* ``fashion_pca10``: Fashion-MNIST projected on its first 10 principal components, k=10,
  trees against trees.
* ``single_query``: latency of one MNIST image against the 60,000 training images.
* ``scaling``: MNIST Euclidean with 10k/30k/60k training rows and 1k/10k queries.

Only when asked (``EXTRA_CASES``):

* ``auto_table``: brute force against kd-tree over PCA dimensions, the measurements behind
  ``algorithm="auto"``.
* ``mnist_float64``, ``mnist_float32``: MNIST Euclidean as the tutorials feed it, pixels / 255.
* ``mnist_cosine_float64``, ``mnist_cosine_float32``: the same rows, cosine distance; faiss
  answers with ``IndexFlatIP`` on rows it was given normalised (its cosine recipe).
* ``fashion_manhattan_float32``: Fashion-MNIST / 255 in float32, Manhattan, k=5, 2,000 queries.
* ``pca_output``: MNIST projected on 10, 20, 50 and 100 principal components (float64),
  Euclidean, k=3: every knnvision backend against what ``"auto"`` picks.

faiss is a benchmark-only dependency (``pip install knnvision[bench]``) and PyTorch an optional
one (``pip install knnvision[torch]``): both are imported lazily; a missing one is named, with
its install command, in one line of the log and of the table, and its rows are left out.
scikit-learn is a dependency anyway.

Data: the MNIST and Fashion-MNIST IDX files, never downloaded (a benchmark times the files the
user has). Without them a full run stops with one line naming the folders searched and the
``--data-dir`` option; a ``quick`` run uses generated MNIST-shaped images instead and says so.

Memory: "peak +MB" is the largest resident-memory growth while an engine is built, warmed
up and timed (sampled every 2 ms), beyond the data already loaded; the knnvision figure
includes the lazily prepared copies its index keeps (padded or shifted uint8 rows).

Conventions: "effective GFLOP/s" counts ``2 * n_queries * n_train * n_features`` for every
brute-force search whatever the metric (one multiply-add, or subtract-abs-add, per feature
pair). Agreement with a peer counts a query as agreeing when the distances match within
float32 precision and the neighbours strictly closer than the k-th distance are the same
set (peers may break exact ties differently); further knnvision rows must be *identical* to
the first (same indices, same float64 distances). Agreement with the float64 reference is
checked on a random sample of queries with :func:`knnvision.search.reference_kneighbors`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import cache_dir, load_mnist
from ..datasets.mnist import SYSTEM_DIRS
from ..search import build_index, reference_kneighbors, resolve_metric, thread_limit

CASES = ("mnist_euclidean", "fashion_manhattan", "fashion_pca10", "single_query", "scaling")
# The float inputs of the tutorials (issue 16's targets), and the data behind "auto".
FLOAT_CASES = (
    "mnist_float64",
    "mnist_float32",
    "mnist_cosine_float64",
    "mnist_cosine_float32",
    "fashion_manhattan_float32",
    "mnist_standardized",
    "pca_output",
)
EXTRA_CASES = ("auto_table", *FLOAT_CASES)

#: Optional peers: module name -> (what to call it, how to install it, cases that use it).
OPTIONAL_PEERS = {
    "faiss": ("faiss-cpu", 'pip install "knnvision[bench]"', set(CASES)),
    "torch": ("PyTorch", 'pip install "knnvision[torch]"', {"mnist_euclidean"}),
}


@dataclass
class Sizes:
    """How much of each dataset a run uses."""

    n_train: int = 60_000
    n_queries: int = 10_000
    single_queries: int = 1_000
    sklearn_slow_queries: int = 1_000  # sklearn Manhattan brute is timed on this many, scaled
    reference_sample: int = 30
    scaling_train: tuple[int, ...] = (10_000, 30_000, 60_000)
    scaling_queries: tuple[int, ...] = (1_000, 10_000)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(6_000, 300, 50, 300, 20, (2_000, 6_000), (100, 300))


@dataclass
class Data:
    """Flattened uint8 train/test images of one dataset."""

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass
class Context:
    sizes: Sizes
    threads: int
    data_dir: Path | None
    synthetic: bool
    repeat: int
    log: Callable[[str], None]
    quick: bool = False
    cache: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # said in the log and above the tables


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def run(
    *,
    quick: bool = False,
    cases: tuple[str, ...] | None = None,
    data_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    repeat: int = 1,
    synthetic: bool = False,
    sizes: Sizes | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run the benchmark cases and return the results as a JSON-ready dict.

    Parameters
    ----------
    quick : bool, default=False
        Use small subsets (a smoke test that finishes in seconds), and generated images
        where the IDX files are not found.
    cases : tuple of str, optional
        Which cases to run, default every one in ``CASES``; ``EXTRA_CASES`` on request.
    data_dir : path-like, optional
        Folder holding ``mnist/`` and ``fashion-mnist/`` IDX files (or one dataset's files);
        when given, nothing else is searched. Default: the ``KNNVISION_DATA`` environment
        variable, then ``../shared/datasets`` next to the project, then the user cache and
        the system folders of :func:`knnvision.datasets.load_mnist`. Nothing is downloaded.
    n_jobs : int, optional
        Threads for every engine (BLAS, OpenMP, the compiled kernels); default all cores.
    repeat : int, default=1
        Time each engine this many times and keep the fastest run.
    synthetic : bool, default=False
        Use random MNIST-shaped images instead of the real files (for tests).
    sizes : Sizes, optional
        Explicit sizes, overriding ``quick``.
    log : callable, default=print
        Where progress lines and the final table go.
    """
    chosen = tuple(cases) if cases else CASES
    unknown = set(chosen) - set(CASES) - set(EXTRA_CASES)
    if unknown:
        raise ValueError(
            f"Unknown benchmark case(s) {sorted(unknown)}; choose from "
            f"{', '.join(CASES + EXTRA_CASES)}."
        )
    sizes = sizes or (Sizes.quick() if quick else Sizes())
    with thread_limit(n_jobs) as threads:
        folder = Path(data_dir) if data_dir is not None else None
        ctx = Context(sizes, threads, folder, synthetic, repeat, log, quick=quick)
        _set_faiss_threads(threads)
        report: dict[str, Any] = {  # becomes the JSON file: values of every kind
            "machine": _machine(threads),
            "quick": quick,
            "sizes": sizes.__dict__,
            "missing_peers": _missing_peers(chosen),
            "cases": [],
        }
        for peer, install in report["missing_peers"].items():
            _note(ctx, f"{peer} is not installed, so it has no rows here ({install})")
        needed = (CASE_DATASETS[name] for name in chosen)
        for dataset in dict.fromkeys(d for names in needed for d in names.split()):
            _dataset(ctx, dataset)  # found (or refused) before anything is timed
        # A smaller yardstick for small runs (it is a rate: size barely matters).
        report["sgemm_gflops"] = _sgemm_gflops(2048 if sizes.n_train >= 10_000 else 512)
        log(f"float32 matrix product: {report['sgemm_gflops']:.0f} GFLOP/s on {threads} threads")
        for name in chosen:
            log(f"-- {name}")
            report["cases"].append(CASE_FUNCTIONS[name](ctx))
        report["machine"]["load_after"] = _load_average()
        report["notes"] = ctx.notes
    log(markdown_table(report))
    return report


def save(report: dict, json_path: str | os.PathLike, markdown_path: str | os.PathLike | None):
    """Write ``report`` as JSON and, optionally, its markdown table."""
    Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
    if markdown_path:
        Path(markdown_path).write_text(markdown_table(report) + "\n")


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


def _case_mnist_euclidean(ctx: Context) -> dict:
    data = _dataset(ctx, "mnist")
    train, queries = data.train[: ctx.sizes.n_train], data.test[: ctx.sizes.n_queries]
    case = _case_header("mnist_euclidean", data.name, train, queries, "euclidean", 3)
    engines = [("knnvision", "brute", _knnvision(train, "euclidean", "brute"))]
    engines += _torch_engines(train, "euclidean")
    engines += _faiss_engines(train, "euclidean")
    engines.append(("sklearn", "brute", _sklearn(train, "euclidean", "brute", ctx.threads)))
    return _run_engines(ctx, case, train, queries, engines)


def _case_scaled(ctx: Context, name: str, dataset: str, dtype, metric: str, k: int, n_queries):
    """Images as the tutorials feed them: pixels / 255.0, in float64 or float32."""
    data = _dataset(ctx, dataset)
    train = (data.train[: ctx.sizes.n_train] / 255.0).astype(dtype)
    queries = (data.test[: min(n_queries, ctx.sizes.n_queries)] / 255.0).astype(dtype)
    label = f"{data.name} / 255 ({np.dtype(dtype).name})"
    case = _case_header(name, label, train, queries, metric, k)
    engines = [("knnvision", "brute", _knnvision(train, metric, "brute"))]
    engines += _faiss_engines(train, metric)
    engines.append(("sklearn", "brute", _sklearn(train, metric, "brute", ctx.threads)))
    # scikit-learn's Manhattan brute force needs minutes: a subset, scaled linearly.
    slow = {"sklearn": ctx.sizes.sklearn_slow_queries} if metric == "manhattan" else None
    return _run_engines(ctx, case, train, queries, engines, subset=slow)


def _case_standardized(ctx: Context) -> dict:
    """Pixels standardised as scikit-learn's StandardScaler does (float64, off any byte grid:
    the rows take the bytes-with-a-scale lower bounds, not the integer grid)."""
    data = _dataset(ctx, "mnist")
    train = data.train[: ctx.sizes.n_train].astype(np.float64)
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    train = (train - mean) / std
    queries = (data.test[: ctx.sizes.n_queries].astype(np.float64) - mean) / std
    case = _case_header(
        "mnist_standardized", f"{data.name} standardised (float64)", train, queries, "euclidean", 3
    )
    engines = [("knnvision", "brute", _knnvision(train, "euclidean", "brute"))]
    engines += _faiss_engines(train, "euclidean")
    engines.append(("sklearn", "brute", _sklearn(train, "euclidean", "brute", ctx.threads)))
    return _run_engines(ctx, case, train, queries, engines)


def _case_pca_output(ctx: Context) -> dict:
    """PCA outputs (float64, 10-100 dimensions): which exact backend is fastest, and what
    ``"auto"`` picks."""
    data = _dataset(ctx, "mnist")
    rows = []
    for dim in (10, 20, 50, 100):
        train, queries = _pca(
            data.train[: ctx.sizes.n_train], data.test[: ctx.sizes.n_queries], dim
        )
        case = _case_header(
            "pca_output", f"{data.name} (PCA {dim})", train, queries, "euclidean", 3
        )
        engines = [("knnvision", "auto", _knnvision(train, "euclidean", "auto"))]
        engines += [
            ("knnvision", algorithm, _knnvision(train, "euclidean", algorithm))
            for algorithm in ("brute", "kd_tree", "ball_tree")
        ]
        engines += _faiss_engines(train, "euclidean")
        engines.append(("sklearn", "auto", _sklearn(train, "euclidean", "auto", ctx.threads)))
        case["auto_picked"] = build_index(train, metric="euclidean", algorithm="auto").algorithm
        subset = {"sklearn": ctx.sizes.sklearn_slow_queries}
        rows.append(_run_engines(ctx, case, train, queries, engines, subset=subset, flops=False))
    return {"name": "pca_output", "rows": rows}


def _case_fashion_manhattan(ctx: Context) -> dict:
    data = _dataset(ctx, "fashion-mnist")
    train, queries = data.train[: ctx.sizes.n_train], data.test[: ctx.sizes.n_queries]
    case = _case_header("fashion_manhattan", data.name, train, queries, "manhattan", 5)
    engines = [("knnvision", "brute", _knnvision(train, "manhattan", "brute"))]
    engines += _faiss_engines(train, "manhattan")
    engines.append(("sklearn", "brute", _sklearn(train, "manhattan", "brute", ctx.threads)))
    # scikit-learn needs minutes for the full test set: time a subset, scale linearly
    # (brute force is linear in the number of queries).
    return _run_engines(
        ctx, case, train, queries, engines, subset={"sklearn": ctx.sizes.sklearn_slow_queries}
    )


def _case_fashion_pca10(ctx: Context) -> dict:
    data = _dataset(ctx, "fashion-mnist")
    train, queries = _pca(data.train[: ctx.sizes.n_train], data.test[: ctx.sizes.n_queries], 10)
    case = _case_header("fashion_pca10", data.name + " (PCA 10)", train, queries, "euclidean", 10)
    engines = [
        ("knnvision", "kd_tree", _knnvision(train, "euclidean", "kd_tree")),
        ("knnvision", "ball_tree", _knnvision(train, "euclidean", "ball_tree")),
        ("knnvision", "auto", _knnvision(train, "euclidean", "auto")),
        ("sklearn", "kd_tree", _sklearn(train, "euclidean", "kd_tree", ctx.threads)),
        ("sklearn", "ball_tree", _sklearn(train, "euclidean", "ball_tree", ctx.threads)),
    ]
    engines += _faiss_engines(train, "euclidean")
    return _run_engines(ctx, case, train, queries, engines, flops=False)


def _case_single_query(ctx: Context) -> dict:
    data = _dataset(ctx, "mnist")
    train = data.train[: ctx.sizes.n_train]
    queries = data.test[: ctx.sizes.single_queries]
    case = _case_header("single_query", data.name, train, queries, "euclidean", 3)
    engines = [("knnvision", "brute", _knnvision(train, "euclidean", "brute"))]
    engines += _faiss_engines(train, "euclidean")
    engines.append(("sklearn", "brute", _sklearn(train, "euclidean", "brute", ctx.threads)))
    for engine, algorithm, factory in engines:
        index = factory()
        search = index if callable(index) else index.query
        n = len(queries) if engine != "sklearn" else min(len(queries), 100)
        for row in range(min(5, n)):  # warm up (compilation, first-touch)
            search(queries[row : row + 1], 3)
        latencies, cpu = [], []
        for row in range(n):
            start, start_cpu = time.perf_counter(), time.thread_time()
            search(queries[row : row + 1], 3)
            cpu.append(time.thread_time() - start_cpu)
            latencies.append(time.perf_counter() - start)
        ms, cpu_ms = np.array(latencies) * 1e3, np.array(cpu) * 1e3
        result = {
            "engine": engine,
            "algorithm": algorithm,
            "queries_timed": n,
            "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean()),
        }
        if engine == "knnvision":
            # knnvision's single-query path runs on the calling thread, so its CPU time is
            # the latency an idle machine would show; wall time includes waiting for a core.
            result["cpu_p50_ms"] = float(np.percentile(cpu_ms, 50))
            result["cpu_p99_ms"] = float(np.percentile(cpu_ms, 99))
        case["results"].append(result)
        ctx.log(
            f"   {engine:9s} {algorithm:9s} p50 {np.percentile(ms, 50):7.2f} ms  "
            f"p99 {np.percentile(ms, 99):7.2f} ms"
        )
    ours = case["results"][0]
    case["ratios"] = {_peer_key(r): ours["p99_ms"] / r["p99_ms"] for r in case["results"][1:]}
    return case


def _case_scaling(ctx: Context) -> dict:
    data = _dataset(ctx, "mnist")
    rows = []
    for n_train in ctx.sizes.scaling_train:
        for n_queries in ctx.sizes.scaling_queries:
            train, queries = data.train[:n_train], data.test[:n_queries]
            case = _case_header("scaling", data.name, train, queries, "euclidean", 3)
            engines = [("knnvision", "brute", _knnvision(train, "euclidean", "brute"))]
            engines += _faiss_engines(train, "euclidean")
            rows.append(_run_engines(ctx, case, train, queries, engines, reference=False))
    return {"name": "scaling", "rows": rows}


def _case_auto_table(ctx: Context) -> dict:
    """Brute force against kd-tree over PCA dimensions of both datasets: the data behind
    ``"auto"``."""
    n_queries = min(3000, ctx.sizes.n_queries)
    rows = []
    for dataset in ("mnist", "fashion-mnist"):
        data = _dataset(ctx, dataset)
        for metric in ("euclidean", "manhattan"):
            for dim in (12, 16, 20, 24, 32, 48):
                train, queries = _pca(data.train[: ctx.sizes.n_train], data.test[:n_queries], dim)
                row: dict[str, Any] = {
                    "dataset": data.name,
                    "metric": metric,
                    "n_features": dim,
                    "n_train": len(train),
                }
                for algorithm in ("brute", "kd_tree"):
                    index = build_index(train, metric=metric, algorithm=algorithm)
                    index.query(queries[:10], 3)
                    row[algorithm] = _best_time(ctx, lambda i=index, q=queries: i.query(q, 3))
                row["kd_over_brute"] = row["kd_tree"] / row["brute"]
                ctx.log(
                    f"   {data.name:13s} {metric:9s} d={dim:2d} brute {row['brute']:.3f}s "
                    f"kd {row['kd_tree']:.3f}s ratio {row['kd_over_brute']:.2f}"
                )
                rows.append(row)
    return {"name": "auto_table", "n_queries": n_queries, "rows": rows}


#: The datasets each case reads (space-separated), found before anything is timed.
CASE_DATASETS = {
    "mnist_euclidean": "mnist",
    "fashion_manhattan": "fashion-mnist",
    "fashion_pca10": "fashion-mnist",
    "single_query": "mnist",
    "scaling": "mnist",
    "auto_table": "mnist fashion-mnist",
    "mnist_float64": "mnist",
    "mnist_float32": "mnist",
    "mnist_cosine_float64": "mnist",
    "mnist_cosine_float32": "mnist",
    "fashion_manhattan_float32": "fashion-mnist",
    "mnist_standardized": "mnist",
    "pca_output": "mnist",
}

CASE_FUNCTIONS = {
    "mnist_euclidean": _case_mnist_euclidean,
    "fashion_manhattan": _case_fashion_manhattan,
    "fashion_pca10": _case_fashion_pca10,
    "single_query": _case_single_query,
    "scaling": _case_scaling,
    "auto_table": _case_auto_table,
    "mnist_float64": lambda ctx: _case_scaled(
        ctx, "mnist_float64", "mnist", np.float64, "euclidean", 3, ctx.sizes.n_queries
    ),
    "mnist_float32": lambda ctx: _case_scaled(
        ctx, "mnist_float32", "mnist", np.float32, "euclidean", 3, ctx.sizes.n_queries
    ),
    "mnist_cosine_float64": lambda ctx: _case_scaled(
        ctx, "mnist_cosine_float64", "mnist", np.float64, "cosine", 3, ctx.sizes.n_queries
    ),
    "mnist_cosine_float32": lambda ctx: _case_scaled(
        ctx, "mnist_cosine_float32", "mnist", np.float32, "cosine", 3, ctx.sizes.n_queries
    ),
    "fashion_manhattan_float32": lambda ctx: _case_scaled(
        ctx, "fashion_manhattan_float32", "fashion-mnist", np.float32, "manhattan", 5, 2000
    ),
    "mnist_standardized": _case_standardized,
    "pca_output": _case_pca_output,
}


# ---------------------------------------------------------------------------------------------
# Engines: factories returning an object with ``query(queries, k)`` or a callable
# ---------------------------------------------------------------------------------------------


def _knnvision(train, metric, algorithm):
    return lambda: build_index(train, metric=metric, algorithm=algorithm)


def _optional_module(name: str):
    """The module ``name`` when it is installed, else None."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _missing_peers(cases) -> dict[str, str]:
    """The optional peers that the chosen cases would time but that are not installed,
    each with its install command."""
    return {
        label: install
        for module, (label, install, used_by) in OPTIONAL_PEERS.items()
        if used_by & set(cases) and _optional_module(module) is None
    }


def _torch_engines(train, metric):
    """knnvision's optional torch backend, when PyTorch is installed."""
    if _optional_module("torch") is None:
        return []
    return [("knnvision", "torch", _knnvision(train, metric, "torch"))]


def _sklearn(train, metric, algorithm, threads):
    def factory():
        from sklearn.neighbors import NearestNeighbors

        model = NearestNeighbors(algorithm=algorithm, metric=metric, n_jobs=threads)
        model.fit(train.astype(np.float64) if algorithm != "brute" else train)
        return lambda queries, k: model.kneighbors(queries, n_neighbors=k)

    return factory


def _faiss_engines(train, metric):
    faiss = _optional_module("faiss")
    if faiss is None:
        return []

    def rows(values):
        rows = np.ascontiguousarray(values, dtype=np.float32)
        if metric == "cosine":  # faiss's cosine: inner products of normalised rows
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows = rows / np.where(norms == 0, 1, norms)
        return rows

    def factory():
        dim = train.shape[1]
        if metric == "euclidean":
            index = faiss.IndexFlatL2(dim)
        elif metric == "cosine":
            index = faiss.IndexFlatIP(dim)
        else:
            index = faiss.IndexFlat(dim, faiss.METRIC_L1)
        index.add(rows(train))

        def search(queries, k):
            distances, indices = index.search(rows(queries), k)
            if metric == "euclidean":  # faiss returns squared L2
                distances = np.sqrt(np.maximum(distances, 0))
            elif metric == "cosine":  # and similarities for inner products
                distances = 1.0 - distances
            return distances.astype(np.float64), indices.astype(np.int64)

        return search

    return [("faiss", _FAISS_INDEX_NAMES[metric], factory)]


_FAISS_INDEX_NAMES = {
    "euclidean": "IndexFlatL2",
    "cosine": "IndexFlatIP (normalised)",
    "manhattan": "IndexFlat(METRIC_L1)",
}


def _peer_key(result: dict) -> str:
    return f"{result['engine']}:{result['algorithm']}"


# ---------------------------------------------------------------------------------------------
# Running, timing, checking
# ---------------------------------------------------------------------------------------------


def _case_header(name, dataset, train, queries, metric, k):
    return {
        "name": name,
        "dataset": dataset,
        "metric": metric,
        "k": k,
        "n_train": int(train.shape[0]),
        "n_queries": int(queries.shape[0]),
        "n_features": int(train.shape[1]),
        "results": [],
    }


def _run_engines(ctx, case, train, queries, engines, *, subset=None, flops=True, reference=True):
    k = case["k"]
    subset = subset or {}
    answers = {}
    for engine, algorithm, factory in engines:
        n_timed = min(len(queries), subset.get(engine, len(queries)))
        timed_queries = queries[:n_timed]
        # Memory counts everything the engine adds: its index, lazy preparation, the search.
        with _RssSampler() as memory:
            start = time.perf_counter()
            index = factory()
            build_seconds = time.perf_counter() - start
            search = index if callable(index) else index.query
            search(queries[: min(20, n_timed)], k)  # warm up: compilation, lazy preparation
            seconds, _, answer = _timed(ctx, lambda s=search, q=timed_queries: s(q, k))
        peak_mb = memory.peak_mb
        scale = len(queries) / n_timed
        result = {
            "engine": engine,
            "algorithm": algorithm,
            "seconds": seconds * scale,
            "build_seconds": build_seconds,
            "queries_timed": n_timed,
            "scaled": n_timed != len(queries),
            "peak_rss_mb": peak_mb,
        }
        if flops:
            work = 2.0 * n_timed * train.shape[0] * train.shape[1]
            result["gflops"] = work / seconds / 1e9
        case["results"].append(result)
        answers[_peer_key(result)] = answer
        note = f" (timed on {n_timed} queries, scaled)" if result["scaled"] else ""
        ctx.log(
            f"   {engine:9s} {algorithm:22s} {result['seconds']:8.3f} s  "
            f"build {build_seconds:6.3f} s  +{peak_mb:6.0f} MB{note}"
        )
    ours_key = _peer_key(case["results"][0])
    ours = case["results"][0]["seconds"]
    case["ratios"] = {_peer_key(r): ours / r["seconds"] for r in case["results"][1:]}
    case["agreement"] = {
        key: _agreement(answers[ours_key], answer)
        for key, answer in answers.items()
        if key != ours_key
    }
    if reference:
        case["agreement"]["reference_float64"] = _reference_agreement(
            ctx, train, queries, answers[ours_key], case["metric"], k
        )
    return case


def _timed(ctx, fn):
    """Fastest of ``ctx.repeat`` runs, the peak RSS it added (MB) and its result."""
    best, peak, answer = np.inf, 0.0, None
    for _ in range(max(1, ctx.repeat)):
        with _RssSampler() as sampler:
            start = time.perf_counter()
            answer = fn()
            elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        peak = max(peak, sampler.peak_mb)
    return best, peak, answer


def _best_time(ctx, fn):
    return _timed(ctx, fn)[0]


def _agreement(ours, theirs) -> dict:
    """Fraction of queries where a peer agrees (see the module docstring)."""
    their_d, their_i = np.asarray(theirs[0], np.float64), np.asarray(theirs[1], np.int64)
    n = min(len(ours[0]), len(their_d))  # a peer timed on a subset answers fewer queries
    our_d, our_i = ours[0][:n], ours[1][:n]
    scale = np.maximum(np.abs(our_d), 1.0)
    distance_ok = np.all(np.abs(their_d - our_d) <= 1e-4 * scale, axis=1)
    index_ok = np.ones(n, dtype=bool)
    for row in range(n):
        strict = our_d[row] < our_d[row, -1]  # neighbours not tied with the k-th
        index_ok[row] = set(our_i[row, strict]) == set(their_i[row, strict[: their_i.shape[1]]])
    # Exactly the same answer (what two knnvision backends must give).
    identical = np.all(our_i == their_i[:n], axis=1) & np.all(our_d == their_d[:n], axis=1)
    return {
        "queries": int(n),
        "distance": float(distance_ok.mean()),
        "index": float(index_ok.mean()),
        "both": float((distance_ok & index_ok).mean()),
        "identical": float(identical.mean()),
    }


def _reference_agreement(ctx, train, queries, ours, metric, k) -> dict:
    """Exact agreement with the float64 reference on a random sample of queries."""
    rng = np.random.default_rng(0)
    n = min(ctx.sizes.reference_sample, len(queries))
    rows = np.sort(rng.choice(len(queries), size=n, replace=False))
    ref_d, ref_i = reference_kneighbors(train, queries[rows], k, resolve_metric(metric))
    our_d, our_i = ours[0][rows], ours[1][rows]
    return {
        "queries": int(n),
        "index": float(np.all(our_i == ref_i, axis=1).mean()),
        "distance_max_rel": float(np.max(np.abs(our_d - ref_d) / np.maximum(ref_d, 1e-300))),
    }


class _RssSampler:
    """Peak resident memory added while the block runs, sampled every 2 ms (Linux)."""

    def __init__(self):
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def __enter__(self):
        self._base = _rss_bytes()
        self._peak = self._base
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, _rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes())
        self.peak_mb = (self._peak - self._base) / 2**20
        return False


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def _shared_datasets() -> Path:
    """The project's shared datasets beside the repository (of an editable install)."""
    return Path(__file__).resolve().parents[3] / "shared" / "datasets"


def _dataset(ctx: Context, name: str) -> Data:
    if name not in ctx.cache:
        ctx.cache[name] = _synthetic(name) if ctx.synthetic else _real_or_generated(ctx, name)
    return ctx.cache[name]


def _note(ctx: Context, line: str) -> None:
    ctx.notes.append(line)
    ctx.log(line)


def _real_or_generated(ctx: Context, name: str) -> Data:
    """The real files; for a quick run without them, generated images (a smoke test must
    run offline on a fresh machine)."""
    try:
        return _load_images(name, ctx.data_dir)
    except FileNotFoundError as missing:
        if not ctx.quick:
            raise
        _note(ctx, f"{missing} (--quick runs on generated MNIST-shaped images instead)")
        return _synthetic(name)


def _data_folders(name: str, data_dir: Path | None) -> list[Path]:
    """Where the IDX files of ``name`` may be, in order (each folder or its ``name/``)."""
    if data_dir is not None:
        return [data_dir]
    env = os.environ.get("KNNVISION_DATA")
    folders = [Path(env)] if env else []
    folders.append(_shared_datasets())
    folders.append(cache_dir())
    return folders + list(SYSTEM_DIRS.get(name, ()))


def _load_images(name: str, data_dir: Path | None) -> Data:
    """Train and test images of ``name``, read and checked by :func:`load_mnist` (through
    :func:`knnvision.datasets.read_idx`); never downloaded."""
    folders = _data_folders(name, data_dir)
    for folder in folders:
        try:
            ds = load_mnist(name, folder, download=False)
        except FileNotFoundError:
            continue
        assert ds.test_images is not None  # the four IDX files hold the official test part
        return Data(name, _flat(ds.images), _flat(ds.test_images))
    searched = ", ".join(str(folder) for folder in folders)
    raise FileNotFoundError(
        f"{name} IDX files not found in {searched} (nor in a {name}/ sub-folder of them); "
        f"pass --data-dir FOLDER holding {name}/ with its four IDX files, or set KNNVISION_DATA"
    )


def _flat(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.uint8)


def _synthetic(name: str) -> Data:
    """Random sparse MNIST-shaped images, for smoke tests without the files."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))

    def images(n):
        dense = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
        return np.where(rng.random((n, 784)) < 0.2, dense, 0).astype(np.uint8)

    return Data(name + " (synthetic)", images(12_000), images(2_000))


def _pca(train: np.ndarray, test: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Project on the top principal components (eigenvectors of the covariance)."""
    x = train.astype(np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    covariance = centred.T @ centred / max(1, len(x) - 1)
    _, vectors = np.linalg.eigh(covariance)
    components = vectors[:, ::-1][:, :n_components]
    return (
        np.ascontiguousarray(centred @ components),
        np.ascontiguousarray((test.astype(np.float64) - mean) @ components),
    )


# ---------------------------------------------------------------------------------------------
# Machine description and the matrix-product yardstick
# ---------------------------------------------------------------------------------------------


def _sgemm_gflops(size: int = 2048, rounds: int = 3) -> float:
    rng = np.random.default_rng(0)
    a = rng.random((size, 784), dtype=np.float32)
    b = rng.random((784, 4 * size), dtype=np.float32)
    a @ b  # warm up
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * size * 784 * 4 * size / best / 1e9


def _set_faiss_threads(threads: int) -> None:
    faiss = _optional_module("faiss")
    if faiss is not None:
        faiss.omp_set_num_threads(threads)


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _machine(threads: int) -> dict:
    import sklearn

    from ..search.kernels import _topk

    info = {
        "processor": _cpu_name(),
        "cores": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "kernels": _topk.cpu_level(),  # the SIMD path the compiled kernels took
        "scikit-learn": sklearn.__version__,
        "load_before": _load_average(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    for name in OPTIONAL_PEERS:
        module = _optional_module(name)
        info[name] = module.__version__ if module is not None else None
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def markdown_table(report: dict) -> str:
    """The report as markdown: one table of engines per case, ratios to knnvision's row."""
    m = report["machine"]
    lines = [
        (
            f"Machine: {m['processor']}, {m['threads']} threads; load before/after "
            f"{m.get('load_before')} / {m.get('load_after')}; float32 matrix product "
            f"{report['sgemm_gflops']:.0f} GFLOP/s."
        ),
        "",
    ]
    # Missing peers and generated data, said once here rather than as empty columns.
    lines += [f"Note: {note}." for note in report.get("notes", [])]
    if report.get("notes"):
        lines.append("")
    targets = _targets_table(report)
    if targets:
        lines += [*targets, ""]
    for case in report["cases"]:
        if case["name"] == "scaling":
            lines += _scaling_table(case)
        elif case["name"] == "pca_output":
            lines += _pca_output_table(case)
        elif case["name"] == "auto_table":
            lines += _auto_table(case)
        elif case["name"] == "single_query":
            lines += _single_table(case)
        else:
            lines += _case_table(case)
        lines.append("")
    return "\n".join(lines)


#: The most knnvision's time may be of each peer's, per case: the project's targets.
TARGETS = {
    "mnist_euclidean": {"faiss": 0.2},
    "mnist_float64": {"faiss": 0.5, "sklearn": 0.1},
    "mnist_float32": {"faiss": 0.5, "sklearn": 0.1},
    "mnist_cosine_float64": {"faiss": 0.5},
    "mnist_cosine_float32": {"faiss": 0.5},
    "fashion_manhattan_float32": {"faiss": 0.2},
    "mnist_standardized": {},  # no target: shown for its ratios and exactness
}


def _targets_table(report) -> list[str]:
    """One row per case with a target: knnvision's time over each peer's, against the target,
    and exactness against the float64 reference on the sampled queries."""
    cases = [case for case in report["cases"] if case["name"] in TARGETS]
    if not cases:
        return []
    lines = [
        "| case | knnvision s | / faiss | target | / scikit-learn | target | "
        "exact (sampled queries) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        cells = [case["name"], f"{case['results'][0]['seconds']:.3f}"]
        for peer in ("faiss", "sklearn"):
            ratios = [v for key, v in case["ratios"].items() if key.startswith(peer + ":")]
            target = TARGETS[case["name"]].get(peer)
            met = (
                ""
                if target is None or not ratios
                else (" met" if ratios[0] <= target else " missed")
            )
            cells += [f"{ratios[0]:.3f}" if ratios else "-", f"<= {target}{met}" if target else "-"]
        ref = case["agreement"].get("reference_float64")
        exact = ref and ref["index"] == 1.0 and ref["distance_max_rel"] == 0.0
        cells.append(
            f"{'yes' if exact else 'NO'}, {ref['queries']} queries" if ref else "not checked"
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _pca_output_table(case):
    lines = [
        "**pca_output**: MNIST projected on its principal components (float64), Euclidean, k=3",
        "",
        "| d | auto picks | auto s | brute s | kd_tree s | ball_tree s | faiss s | sklearn s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in case["rows"]:
        seconds = {_peer_key(r): r["seconds"] for r in row["results"]}
        keys = ["knnvision:auto", "knnvision:brute", "knnvision:kd_tree", "knnvision:ball_tree"]
        keys += [key for key in seconds if key.startswith("faiss:")] or ["faiss:-"]
        keys.append("sklearn:auto")
        times = [f"{seconds[key]:.3f}" if key in seconds else "-" for key in keys]
        lines.append(f"| {row['n_features']} | {row['auto_picked']} | " + " | ".join(times) + " |")
    return lines


def _case_table(case):
    lines = [
        (
            f"**{case['name']}**: {case['dataset']}, {case['n_train']} x {case['n_queries']} x "
            f"{case['n_features']}, {case['metric']}, k={case['k']}"
        ),
        "",
        "| engine | algorithm | seconds | knnvision / this | GFLOP/s | peak +MB | agreement |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    first = case["results"][0]
    for r in case["results"]:
        key = _peer_key(r)
        ratio = "-" if r is first else f"{case['ratios'][key]:.3f}"
        flops = f"{r['gflops']:.0f}" if "gflops" in r else "-"
        agree = "-" if r is first else f"{case['agreement'][key]['both']:.4f}"
        scaled = " (scaled)" if r["scaled"] else ""
        lines.append(
            f"| {r['engine']} | {r['algorithm']} | {r['seconds']:.3f}{scaled} | "
            f"{ratio} | {flops} | {r['peak_rss_mb']:.0f} | {agree} |"
        )
    for r in case["results"][1:]:
        if r["engine"] == first["engine"]:
            same = case["agreement"][_peer_key(r)]["identical"]
            lines.append(
                f"\nknnvision {r['algorithm']} vs knnvision {first['algorithm']}: "
                f"identical neighbours and distances on {same:.4f} of the queries"
            )
    ref = case["agreement"].get("reference_float64")
    if ref:
        lines.append(
            f"\nknnvision vs float64 reference on {ref['queries']} sampled queries: "
            f"index agreement {ref['index']:.4f}, max relative distance error "
            f"{ref['distance_max_rel']:.1e}"
        )
    return lines


def _single_table(case):
    lines = [
        f"**single_query**: one image against {case['n_train']} training images, k=3",
        "",
        "| engine | algorithm | queries | p50 ms | p99 ms | CPU p50 ms | CPU p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in case["results"]:
        cpu = f"{r['cpu_p50_ms']:.2f} | {r['cpu_p99_ms']:.2f}" if "cpu_p50_ms" in r else "- | -"
        lines.append(
            f"| {r['engine']} | {r['algorithm']} | {r['queries_timed']} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {cpu} |"
        )
    lines.append(
        "\nCPU columns: CPU time of the calling thread (knnvision's single-query "
        "path is serial), i.e. the latency without waiting for a free core."
    )
    return lines


def _scaling_table(case):
    # faiss columns only when faiss ran (it is the only peer here; see the notes otherwise).
    with_faiss = any(r["engine"] == "faiss" for row in case["rows"] for r in row["results"])
    columns = ["train", "queries", "knnvision s"]
    columns += ["faiss s", "knnvision / faiss"] if with_faiss else []
    dataset = case["rows"][0]["dataset"] if case["rows"] else "mnist"
    lines = [
        f"**scaling**: {dataset}, Euclidean, k=3",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---:|" * len(columns),
    ]
    for row in case["rows"]:
        ours = row["results"][0]["seconds"]
        cells = [str(row["n_train"]), str(row["n_queries"]), f"{ours:.3f}"]
        faiss_seconds = [r["seconds"] for r in row["results"] if r["engine"] == "faiss"]
        if with_faiss:
            cells += (
                [f"{faiss_seconds[0]:.3f}", f"{ours / faiss_seconds[0]:.3f}"]
                if faiss_seconds
                else ["-", "-"]
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _auto_table(case):
    lines = [
        f"**auto_table**: PCA-d of each dataset (float64), {case['n_queries']} queries, k=3",
        "",
        "| dataset | metric | d | brute s | kd_tree s | kd / brute |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in case["rows"]:
        lines.append(
            f"| {row.get('dataset', 'fashion-mnist')} | {row['metric']} | {row['n_features']} | "
            f"{row['brute']:.3f} | {row['kd_tree']:.3f} | {row['kd_over_brute']:.2f} |"
        )
    return lines
