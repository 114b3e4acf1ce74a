"""knnvision.neighbors against sklearn.neighbors: the same calls, timed in one run.

Each case runs the scikit-learn code a user would write, once with ``from sklearn.neighbors
import ...`` and once with the import pointed at ``knnvision.neighbors``, on the same rows
and threads, checks that the answers agree, and reports the times and their ratio:

- ``kneighbors_graph`` of the training set, k=10, distance mode;
- ``NearestNeighbors(radius=r).radius_neighbors`` of the test queries (r: the median
  distance of a query's 10th neighbour, measured on 200 queries);
- ``LocalOutlierFactor(novelty=True)``: ``fit`` + ``score_samples`` of the test queries;
- ``Pipeline([KNeighborsTransformer(mode="distance"), DBSCAN(metric="precomputed")])``;
- ``kneighbors`` on SciPy CSR rows (both brute force on the same sparse matrix).

Agreement: graphs and radius sets are compared row by row; a row may differ only where
neighbours tie in distance (scikit-learn's order there is unspecified), and then its sorted
distances must be equal. MNIST rows as loaded (uint8 pixels) by default, or ``--scale`` for
``X / 255.0`` as the tutorials do::

    python benchmarks/sklearn_api.py                    # full MNIST, writes sklearn_api.md
    python benchmarks/sklearn_api.py --train 10000 --queries 2000 --out /tmp/quick.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy.sparse
from sklearn import neighbors as sk
from sklearn.cluster import DBSCAN
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from knnvision import neighbors as kv
from knnvision.datasets import load_dataset

HERE = Path(__file__).parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "datasets" / "mnist"


def timed(call):
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def rows_agree(d_ours, i_ours, d_theirs, i_theirs) -> bool:
    """Same neighbours, or the same sorted distances where they differ (ties)."""
    if np.array_equal(i_ours, i_theirs):
        return True
    return len(d_ours) == len(d_theirs) and np.allclose(
        np.sort(d_ours), np.sort(d_theirs), rtol=1e-9, atol=1e-6
    )


def graphs_agree(ours, theirs) -> tuple[int, int]:
    """(rows identical, rows differing only among tied distances) of two CSR graphs."""
    ours, theirs = ours.tocsr(), theirs.tocsr()
    identical = tied = 0
    for row in range(ours.shape[0]):
        a, b = slice(ours.indptr[row], ours.indptr[row + 1]), slice(*theirs.indptr[row : row + 2])
        if np.array_equal(np.sort(ours.indices[a]), np.sort(theirs.indices[b])):
            identical += 1
        elif rows_agree(ours.data[a], ours.indices[a], theirs.data[b], theirs.indices[b]):
            tied += 1
    return identical, tied


def case_kneighbors_graph(lib, X, Q, n_jobs):
    return lib.kneighbors_graph(X, 10, mode="distance", n_jobs=n_jobs)


def case_radius(lib, X, Q, n_jobs, radius):
    model = lib.NearestNeighbors(radius=radius, n_jobs=n_jobs).fit(X)
    return model.radius_neighbors(Q, sort_results=True)


def case_lof(lib, X, Q, n_jobs):
    model = lib.LocalOutlierFactor(n_neighbors=20, novelty=True, n_jobs=n_jobs).fit(X)
    return model.score_samples(Q)


def case_transformer(lib, X, Q, n_jobs):
    pipeline = Pipeline(
        [
            ("knn", lib.KNeighborsTransformer(n_neighbors=10, mode="distance", n_jobs=n_jobs)),
            ("dbscan", DBSCAN(eps=_EPS[0], min_samples=5, metric="precomputed")),
        ]
    )
    return pipeline.fit_predict(X)


def case_sparse(lib, X, Q, n_jobs):
    model = lib.NearestNeighbors(n_neighbors=5, algorithm="brute", n_jobs=n_jobs)
    return model.fit(scipy.sparse.csr_matrix(X)).kneighbors(scipy.sparse.csr_matrix(Q))


_EPS = [0.0]  # DBSCAN's eps, set from the data in main


def check(name, ours, theirs) -> str:
    if name == "kneighbors_graph":
        identical, tied = graphs_agree(ours, theirs)
        return f"{identical} rows identical, {tied} differ only among ties, of {ours.shape[0]}"
    if name == "radius_neighbors":
        (d_o, i_o), (d_t, i_t) = ours, theirs
        same = sum(rows_agree(a, b, c, e) for a, b, c, e in zip(d_o, i_o, d_t, i_t, strict=True))
        counts = np.mean([len(row) for row in i_o])
        return f"{same} of {len(i_o)} queries agree; {counts:.1f} neighbours per query"
    if name == "lof_score_samples":
        same = int(np.sum(np.isclose(ours, theirs, rtol=1e-9, atol=0)))
        return (
            f"{same} of {len(ours)} scores equal (rtol 1e-9), max |difference| "
            f"{np.max(np.abs(ours - theirs)):.2e}"
        )
    if name == "transformer_dbscan":
        return f"labels equal: {bool(np.array_equal(ours, theirs))}"
    (d_o, i_o), (d_t, i_t) = ours, theirs
    same = sum(rows_agree(*rows) for rows in zip(d_o, i_o, d_t, i_t, strict=True))
    return f"{same} of {len(i_o)} queries agree"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("KNNVISION_DATA", DEFAULT_DATA))
    parser.add_argument("--train", type=int, default=60000, help="training rows")
    parser.add_argument("--queries", type=int, default=10000, help="query rows")
    parser.add_argument("--sparse-queries", type=int, default=2000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--scale", action="store_true", help="X / 255.0 (float64)")
    parser.add_argument("--cases", nargs="+", default=None)
    parser.add_argument("--out", default=str(HERE / "sklearn_api.md"))
    args = parser.parse_args()

    data = load_dataset("mnist", data_dir=args.data_dir, download=False)
    X = data.images.reshape(len(data.images), -1)[: args.train]
    Q = data.test_images.reshape(len(data.test_images), -1)[: args.queries]
    if args.scale:
        X, Q = X / 255.0, Q / 255.0
    tenth = kv.NearestNeighbors(n_neighbors=10).fit(X).kneighbors(Q[:200])[0][:, -1]
    radius = float(np.median(tenth))
    _EPS[0] = float(np.median(kv.NearestNeighbors(n_neighbors=5).fit(X).kneighbors()[0][:, -1]))
    cases = {
        "kneighbors_graph": lambda lib: case_kneighbors_graph(lib, X, Q, args.n_jobs),
        "radius_neighbors": lambda lib: case_radius(lib, X, Q, args.n_jobs, radius),
        "lof_score_samples": lambda lib: case_lof(lib, X, Q, args.n_jobs),
        "transformer_dbscan": lambda lib: case_transformer(lib, X, Q, args.n_jobs),
        "sparse_kneighbors": lambda lib: case_sparse(lib, X, Q[: args.sparse_queries], args.n_jobs),
    }
    rows = []
    with threadpool_limits(limits=args.n_jobs):
        for name, run in cases.items():
            if args.cases and name not in args.cases:
                continue
            t_ours, ours = timed(lambda run=run: run(kv))
            t_theirs, theirs = timed(lambda run=run: run(sk))
            agreement = check(name, ours, theirs)
            rows.append((name, t_ours, t_theirs, agreement))
            print(
                f"{name}: knnvision {t_ours:.2f} s, scikit-learn {t_theirs:.2f} s "
                f"({t_theirs / t_ours:.1f}x); {agreement}",
                flush=True,
            )
    write_table(args, rows, radius, X.dtype)


def write_table(args, rows, radius, dtype) -> None:
    lines = [
        "# knnvision.neighbors against sklearn.neighbors",
        "",
        f"`python benchmarks/sklearn_api.py{' --scale' if args.scale else ''}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, n_jobs={args.n_jobs}; MNIST "
        f"{args.train} training x {args.queries} test rows ({dtype}), sparse case "
        f"{args.sparse_queries} queries; radius {radius:.4g}; DBSCAN eps {_EPS[0]:.4g}.",
        "",
        "| case | knnvision | scikit-learn | speed-up | agreement |",
        "|---|---|---|---|---|",
    ]
    for name, t_ours, t_theirs, agreement in rows:
        lines.append(
            f"| {name} | {t_ours:.2f} s | {t_theirs:.2f} s | {t_theirs / t_ours:.1f}x | "
            f"{agreement} |"
        )
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
