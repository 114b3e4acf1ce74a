"""Which PCA route is fastest on MNIST (60,000 x 784)? Feeds ``PCA(svd_solver="auto")``.

Fits knnvision's PCA with each route, and scikit-learn's PCA with the same route for
reference, for a few sizes, on all 60,000 training images and on the first 6,000, and prints
the best of ``--repeat`` wall-clock times::

    python benchmarks/pca.py --data-dir ../shared/datasets/mnist

The printed table is saved beside this script as ``pca.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from sklearn.decomposition import PCA as ScikitPCA

from knnvision import PCA
from knnvision.datasets import load_dataset

ROUTES = ("covariance_eigh", "randomized", "full")
SIZES = (10, 50, 0.95, None)
# The full training set (76 rows per column), its first 6,000 rows (7.7 rows per column)
# and its first 800 (about one row per column): where does the covariance route stop winning?
ROWS = (60_000, 6_000, 800)


def fit_seconds(make, X) -> float:
    started = time.perf_counter()
    make().fit(X)
    return time.perf_counter() - started


def measure(X, size, repeat: int) -> dict:
    """Best time per (route, library), the routes taking turns so load spikes spread out."""
    routes = [r for r in ROUTES if r != "randomized" or isinstance(size, int)]
    makers = {}
    for route in routes:
        makers[(route, "knnvision")] = lambda r=route: PCA(size, svd_solver=r, random_state=0)
        makers[(route, "scikit-learn")] = lambda r=route: ScikitPCA(
            size, svd_solver=r, random_state=0
        )
    best = dict.fromkeys(makers, float("inf"))
    for _ in range(repeat):
        for key, make in makers.items():
            best[key] = min(best[key], fit_seconds(make, X))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("KNNVISION_DATA"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).with_name("pca.md")))
    args = parser.parse_args()
    pixels = load_dataset("mnist", args.data_dir).flat("train")
    lines = [
        f"# PCA fits on MNIST training images (uint8 pixels), best of {args.repeat}",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores; the machine was shared with other "
        "jobs, so timings are noisy. Routes take turns within each repeat.",
        "",
        "| rows x pixels | n_components | route | knnvision (s) | scikit-learn (s) | auto picks |",
        "|---|---|---|---|---|---|",
    ]
    for rows in ROWS:
        X = pixels[:rows]
        for size in SIZES:
            auto = PCA(size)._choose_solver(*X.shape)
            best = measure(X, size, args.repeat)
            for route in dict.fromkeys(route for route, _ in best):
                line = (
                    f"| {rows} x {X.shape[1]} | {size} | {route} | "
                    f"{best[(route, 'knnvision')]:.2f} | "
                    f"{best[(route, 'scikit-learn')]:.2f} | "
                    f"{'yes' if route == auto else ''} |"
                )
                print(line, flush=True)
                lines.append(line)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
