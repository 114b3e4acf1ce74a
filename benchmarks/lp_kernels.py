"""Manhattan and Minkowski p=3 on non-integer pixels: the vectorised estimate kernels.

Fashion-MNIST scaled to float32 [0, 1] (as tutorials scale it), 60,000 training images,
k=5, 2 threads, brute force. Checks the neighbours of sampled queries against the float64
reference and writes ``lp_kernels.md`` beside this script::

    python benchmarks/lp_kernels.py --data-root ../shared/datasets
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from knnvision.datasets import load_dataset
from knnvision.search import build_index, reference_kneighbors, resolve_metric, thread_limit

CASES = (("manhattan", None, 500), ("minkowski", 3.0, 200))  # metric, p, queries timed
K = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="Folder holding fashion-mnist/.")
    args = parser.parse_args()
    data = load_dataset("fashion-mnist", str(Path(args.data_root) / "fashion-mnist"))
    train = data.flat("train").astype(np.float32) / 255
    test = data.flat("test").astype(np.float32) / 255
    lines = [
        "| metric | queries | seconds | ms per query | agreement with the reference |",
        "|---|---|---|---|---|",
    ]
    with thread_limit(2):
        for name, p, n_queries in CASES:
            index = build_index(train, metric=name, p=p, algorithm="brute")
            index.query(test[:4], K)  # compile outside the timing
            started = time.perf_counter()
            _, indices = index.query(test[:n_queries], K)
            seconds = time.perf_counter() - started
            sample = np.arange(0, n_queries, n_queries // 20)
            _, expected = reference_kneighbors(train, test[sample], K, resolve_metric(name, p))
            agreement = float(np.mean(np.all(indices[sample] == expected, axis=1)))
            label = name if p is None else f"{name} p={p:g}"
            lines.append(
                f"| {label} | {n_queries} | {seconds:.2f} | "
                f"{1e3 * seconds / n_queries:.1f} | {agreement:.0%} of 20 sampled |"
            )
            print(lines[-1], flush=True)
    out = Path(__file__).with_name("lp_kernels.md")
    out.write_text(
        "# Manhattan and Minkowski on float32 Fashion-MNIST / 255 (k=5, 2 threads)\n\n"
        + "\n".join(lines)
        + "\n"
    )


if __name__ == "__main__":
    main()
