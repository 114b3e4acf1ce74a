"""What every recipe shares: how it is described, a stopwatch, and the tables and plots
its result holds (the result types themselves are :mod:`knnvision.results.recipe`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from ...datasets import subsample
from ...results.experiment import class_scores, confusion_counts
from ...results.recipe import RecipeOptions, RecipeResult, Table
from ...selection.search_cv import ValidationCurve


class Stopwatch:
    """Adds up wall-clock seconds per label (``"knnvision"``, ``"scikit-learn"``, ...)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def time(self, label: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started


@dataclass(frozen=True)
class Recipe:
    """A tutorial's experiment.

    Attributes
    ----------
    name : str
        What ``knnvision recipe NAME`` takes.
    title : str
        One line: the tutorial and what it does.
    datasets : tuple of str
        Datasets it loads (``"mnist"``, ``"fashion-mnist"``; the bundled digits need nothing).
    quick : bool
        Whether a full run takes well under a minute on a two-core machine.
    run : callable
        ``run(options) -> RecipeResult``.
    """

    name: str
    title: str
    datasets: tuple[str, ...]
    quick: bool
    run: Callable[[RecipeOptions], RecipeResult]


def capped(X: np.ndarray, y: np.ndarray, limit: int | None, seed: int):
    """``(X, y)``, or a stratified random ``limit`` of their rows when ``limit`` is smaller."""
    if limit is None or limit >= len(y):
        return X, y
    X_part, _, _, y_part, _, _ = subsample(X, y, n_train=limit, seed=seed)
    return X_part, y_part


def report_table(title: str, report: dict, class_names: list[str]) -> Table:
    """A scikit-learn ``classification_report(output_dict=True)`` as a table."""
    rows = [
        [
            name,
            *(f"{report[name][key]:.3f}" for key in ("precision", "recall", "f1-score")),
            str(int(report[name]["support"])),
        ]
        for name in [*class_names, "macro avg", "weighted avg"]
    ]
    return Table(title, ["class", "precision", "recall", "F1", "support"], rows)


def matrix_table(title: str, matrix: np.ndarray, class_names: list[str]) -> Table:
    """A confusion matrix: rows are true classes, columns predicted ones."""
    rows = [
        [name, *(str(int(count)) for count in row)]
        for name, row in zip(class_names, matrix, strict=True)
    ]
    return Table(title, ["true \\ predicted", *class_names], rows)


def prediction_plots(y_test, predictions, class_names, model: str) -> dict:
    """The ``plots`` entries of predictions on a test part: confusion matrix and per-class
    scores, and which ``model`` predicted (``"k=5"``), for the report to say."""
    return {
        "predicted_by": model,
        "class_names": list(class_names),
        "confusion_matrix": confusion_counts(y_test, predictions, len(class_names)),
        "classification_report": class_scores(y_test, predictions, class_names),
    }


def curve_plots(curve: ValidationCurve, test_accuracy: float) -> dict:
    """The ``plots`` entries of a validation curve: its accuracies shaped like the
    ``cv_results_`` of a search with one split, and the chosen k's test accuracy."""
    accuracy = np.asarray(curve.accuracy, dtype=float)
    return {
        "cv_results": {
            "params": [{"n_neighbors": int(k)} for k in curve.n_neighbors],
            "split0_test_score": accuracy,
            "mean_test_score": accuracy,
            "std_test_score": np.zeros_like(accuracy),
            "rank_test_score": rankdata(-accuracy, method="min").astype(int),
        },
        "test_accuracy": float(test_accuracy),
    }
