"""Which PCA route is fastest on MNIST (60,000 x 784)? Feeds ``PCA(svd_solver="auto")``.

Fits knnvision's PCA with each route, and scikit-learn's PCA with the same route for
reference, for a few sizes, and prints the best of ``--repeat`` wall-clock times::

    python benchmarks/pca.py --data-dir ../shared/datasets/mnist

The printed table is saved beside this script as ``pca.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA as ScikitPCA

from knnvision import PCA
from knnvision.datasets import load_dataset

ROUTES = ("covariance_eigh", "randomized", "full")
SIZES = (10, 50, 0.95, None)


def best_time(make, X, repeat: int) -> tuple[float, object]:
    times, model = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        model = make().fit(X)
        times.append(time.perf_counter() - started)
    return min(times), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("KNNVISION_DATA"))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).with_name("pca.md")))
    args = parser.parse_args()
    X = load_dataset("mnist", args.data_dir).flat("train")
    lines = [
        f"# PCA on MNIST {X.shape[0]} x {X.shape[1]} (uint8), best of {args.repeat}",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; shared machine, "
        "timings noisy.",
        "",
        "| n_components | route | knnvision (s) | scikit-learn (s) | kept | auto picks |",
        "|---|---|---|---|---|---|",
    ]
    for size in SIZES:
        auto = PCA(size)._choose_solver(*X.shape)
        for route in ROUTES:
            if route == "randomized" and not isinstance(size, int):
                continue
            ours, model = best_time(lambda: PCA(size, svd_solver=route, random_state=0), X,
                                    args.repeat)
            theirs, _ = best_time(lambda: ScikitPCA(size, svd_solver=route, random_state=0), X,
                                  args.repeat)
            line = (f"| {size} | {route} | {ours:.2f} | {theirs:.2f} | {model.n_components_} "
                    f"| {'yes' if route == auto else ''} |")
            print(line, flush=True)
            lines.append(line)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
