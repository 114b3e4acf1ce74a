"""KNNSearchCV against scikit-learn's GridSearchCV on the grid of tutorial 001.

The UCI digits, 80/20 split with ``random_state=1337``; on the 1,437 training images a
5-fold grid search over ``n_neighbors`` 2, 4, ..., 18 and ``p`` 1, 2, 3 (27 candidates),
as the tutorial runs it: ``GridSearchCV(KNeighborsClassifier(algorithm="kd_tree"), grid,
scoring="accuracy", n_jobs=-1)``. Measured in the same run:

- scikit-learn's GridSearchCV with its KNeighborsClassifier (the tutorial's call),
- knnvision's KNNSearchCV (one search per fold and distance, at k=18),
- GridSearchCV with knnvision's KNNClassifier inside: the scores KNNSearchCV must equal
  exactly (same folds, same tie rules).

Each timing is the best of ``--repeat`` runs after one warm-up run (which compiles
knnvision's kernels and starts scikit-learn's process pool)::

    python benchmarks/model_selection.py            # writes benchmarks/model_selection.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier

from knnvision import KNNClassifier, KNNSearchCV

GRID = {"n_neighbors": list(range(2, 20, 2)), "p": [1, 2, 3]}


def timed(make, X, y, repeat: int):
    """(first-run seconds, best of ``repeat`` later runs, the fitted search)."""
    started = time.perf_counter()
    search = make().fit(X, y)
    first = time.perf_counter() - started
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        search = make().fit(X, y)
        best = min(best, time.perf_counter() - started)
    return first, best, search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).with_name("model_selection.md")))
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=1337)

    runs = {
        "scikit-learn GridSearchCV(KNeighborsClassifier(algorithm='kd_tree'), n_jobs=-1)": lambda: (
            GridSearchCV(
                KNeighborsClassifier(algorithm="kd_tree"), GRID, scoring="accuracy", n_jobs=-1
            )
        ),
        (
            "scikit-learn GridSearchCV(KNeighborsClassifier(algorithm='kd_tree')), one process"
        ): lambda: GridSearchCV(
            KNeighborsClassifier(algorithm="kd_tree"), GRID, scoring="accuracy"
        ),
        "knnvision KNNSearchCV(KNNClassifier())": lambda: KNNSearchCV(KNNClassifier(), GRID, cv=5),
        "knnvision KNNSearchCV(KNNClassifier(algorithm='kd_tree'))": lambda: KNNSearchCV(
            KNNClassifier(algorithm="kd_tree"), GRID, cv=5
        ),
        "scikit-learn GridSearchCV(knnvision KNNClassifier()), one process": lambda: GridSearchCV(
            KNNClassifier(), GRID, scoring="accuracy"
        ),
    }
    results = {}
    for name, make in runs.items():
        results[name] = timed(make, X_train, y_train, args.repeat)
        print(f"{name}: first {results[name][0]:.3f} s, best {results[name][1]:.3f} s", flush=True)

    names = list(runs)
    sklearn_best = results[names[0]][1]
    lines = [
        "# Grid search of tutorial 001 (digits, 1,437 training images, 27 candidates x 5 folds)",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "the machine was shared with other jobs, so timings are noisy. Best of "
        f"{args.repeat} runs after a warm-up run.",
        "",
        "| search | first run (s) | best run (s) | speed-up vs the tutorial's call |",
        "|---|---|---|---|",
    ]
    for name in names:
        first, best, _ = results[name]
        lines.append(f"| {name} | {first:.3f} | {best:.3f} | {sklearn_best / best:.1f}x |")
    lines += ["", *_agreement(results, names)]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _agreement(results, names) -> list[str]:
    """Score checks: KNNSearchCV equals GridSearchCV(KNNClassifier) exactly, and how it
    compares with scikit-learn's own classifier."""
    ours = results[names[2]][2].cv_results_
    ours_tree = results[names[3]][2].cv_results_
    reference = results[names[4]][2].cv_results_
    sklearn = results[names[0]][2].cv_results_
    splits = [f"split{i}_test_score" for i in range(5)]
    identical = all(
        np.array_equal(ours[key], reference[key]) and np.array_equal(ours_tree[key], reference[key])
        for key in [*splits, "mean_test_score", "std_test_score", "rank_test_score"]
    )
    differing = int(np.sum(ours["mean_test_score"] != sklearn["mean_test_score"]))
    best = results[names[2]][2]
    return [
        f"- Scores of KNNSearchCV (both backends) identical to GridSearchCV(KNNClassifier()) on "
        f"every split, mean, std and rank: {'yes' if identical else 'NO'}.",
        f"- Mean scores different from scikit-learn's KNeighborsClassifier: {differing} of "
        f"{len(ours['params'])} candidates (ties among equal distances on these integer "
        "pixels are ordered by training index in knnvision).",
        f"- Best: {best.best_params_}, mean accuracy {best.best_score_:.4f} (scikit-learn: "
        f"{results[names[0]][2].best_params_}, {results[names[0]][2].best_score_:.4f}).",
    ]


if __name__ == "__main__":
    main()
