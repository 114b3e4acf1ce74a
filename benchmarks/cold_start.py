"""No warm-up: the same job in a first process (empty caches), a second one, scikit-learn, faiss.

The job: fit + predict with k=5 on 5,000 training rows of 784 features and 300 queries, on
uint8 pixels and on the same pixels as float64 / 255 and float32 / 255, with the Euclidean and
Manhattan distances (faiss: IndexFlatL2 and METRIC_L1). Each engine runs the job in a fresh
Python process, including its import, so what a user waits for in a new environment (a new
venv, container or Colab session) is what is measured. knnvision's job runs twice, with a
fresh empty numba cache directory for the first (where numba still compiles anything) and the
same directory for the second. Then `knnvision run` on the bundled digits, first and second.

    python benchmarks/cold_start.py [--markdown benchmarks/cold_start.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOB = r"""
import time, json, sys
started = time.perf_counter()
import numpy as np
engine = sys.argv[1]
rng = np.random.default_rng(0)
train_u8 = rng.integers(0, 256, size=(5000, 784), dtype=np.uint8)
queries_u8 = rng.integers(0, 256, size=(300, 784), dtype=np.uint8)
labels = rng.integers(0, 10, size=5000)
inputs = [(train_u8, queries_u8), (train_u8 / 255.0, queries_u8 / 255.0),
          ((train_u8 / 255.0).astype(np.float32), (queries_u8 / 255.0).astype(np.float32))]
if engine == "knnvision":
    from knnvision import KNNClassifier
    def job(X, Q, metric):
        KNNClassifier(5, metric=metric).fit(X, labels).predict(Q)
elif engine == "sklearn":
    from sklearn.neighbors import KNeighborsClassifier
    def job(X, Q, metric):
        KNeighborsClassifier(5, metric=metric, algorithm="brute").fit(X, labels).predict(Q)
else:
    import faiss
    def job(X, Q, metric):
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        Q32 = np.ascontiguousarray(Q, dtype=np.float32)
        d = X32.shape[1]
        if metric == "euclidean":
            index = faiss.IndexFlatL2(d)
        else:
            index = faiss.IndexFlat(d, faiss.METRIC_L1)
        index.add(X32)
        _, neighbours = index.search(Q32, 5)
        votes = labels[neighbours]
        np.array([np.bincount(row, minlength=10).argmax() for row in votes])
for X, Q in inputs:
    for metric in ("euclidean", "manhattan"):
        job(X, Q, metric)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def timed_job(engine: str, env: dict) -> float:
    result = subprocess.run(
        [sys.executable, "-c", JOB, engine], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def timed_run(env: dict, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "knnvision", "run", "--no-report", "--out", str(out)],
        env=env,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started


def measure() -> list[tuple[str, float | None]]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        env["NUMBA_CACHE_DIR"] = cache  # empty: whatever numba still compiles, it compiles now
        rows: list[tuple[str, float | None]] = [
            ("knnvision job, first process (empty caches)", timed_job("knnvision", env)),
            ("knnvision job, second process", timed_job("knnvision", env)),
            ("scikit-learn job (brute force)", timed_job("sklearn", env)),
        ]
        try:
            rows.append(("faiss job (IndexFlatL2 / METRIC_L1)", timed_job("faiss", env)))
        except subprocess.CalledProcessError:
            rows.append(("faiss job: faiss-cpu not installed", None))
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        env["NUMBA_CACHE_DIR"] = cache
        rows.append(("`knnvision run` on the digits, first process", timed_run(env, Path(out))))
        rows.append(("`knnvision run` on the digits, second process", timed_run(env, Path(out))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    rows = measure()
    first, second = rows[0][1], rows[1][1]
    lines = ["| what | seconds |", "|---|---:|"]
    lines += [f"| {name} | {'-' if s is None else f'{s:.2f}'} |" for name, s in rows]
    if first and second:
        lines.append(f"| first / second process | {first / second:.2f}x |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
