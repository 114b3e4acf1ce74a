"""What every recipe shares: its options, its result, and a stopwatch for the timings."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from ..datasets import subsample
from ..model_selection import ValidationCurve
from ..pipeline import class_scores, confusion_counts


@dataclass(frozen=True)
class RecipeOptions:
    """How to run a recipe.

    Parameters
    ----------
    data_dir : str, optional
        Folder of the MNIST / Fashion-MNIST IDX files (else they are searched for as
        :func:`~knnvision.datasets.load_dataset` does, then downloaded).
    check : bool, default=True
        Also run scikit-learn on the same data and show its numbers alongside.
    max_train, max_test : int, optional
        Cap the training / test (and validation) rows, for a quick run; the tutorial's own
        sizes are used when ``None``. Capped runs do not reproduce the tutorial's numbers.
    seed : int, default=0
        Seed of every random draw the tutorial leaves unseeded.
    """

    data_dir: str | None = None
    check: bool = True
    max_train: int | None = None
    max_test: int | None = None
    seed: int = 0

    def cap(self, wanted: int, part: str = "train") -> int:
        """``wanted`` rows, or fewer when this part is capped."""
        limit = self.max_train if part == "train" else self.max_test
        return wanted if limit is None else min(wanted, limit)


@dataclass
class Row:
    """One number of the experiment, next to the tutorial's and scikit-learn's.

    ``None`` means "not available": the tutorial's text does not state it, or scikit-learn
    was not run. ``form`` formats numbers (``"{:.2%}"`` for accuracies).
    """

    quantity: str
    knnvision: object
    tutorial: object = None
    scikit_learn: object = None
    form: str = "{:.2%}"

    def shown(self, value) -> str:
        if value is None:
            return "—"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.form.format(value)
        return str(value)


@dataclass
class Table:
    """A block of detail (a per-class report, a confusion matrix, a variance curve)."""

    title: str
    header: list[str]
    rows: list[list[str]]


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


@dataclass
class RecipeResult:
    """What a recipe measured, ready to print.

    ``plots`` holds what the recipe's report draws, each entry optional:
    ``"cv_results"`` (accuracy of a grid, shaped like ``GridSearchCV.cv_results_``) with
    ``"test_accuracy"`` of the chosen setting; ``"explained_variance_ratio"`` of a PCA;
    ``"class_names"``, ``"confusion_matrix"``, ``"classification_report"`` and
    ``"predicted_by"`` of the predictions on a test part (:func:`prediction_plots`).
    """

    name: str
    title: str
    setup: str
    rows: list[Row]
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    plots: dict = field(default_factory=dict)

    def row(self, quantity: str) -> Row:
        """The row named ``quantity`` (KeyError if absent)."""
        for row in self.rows:
            if row.quantity == quantity:
                return row
        raise KeyError(quantity)


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
        [name, *(f"{report[name][key]:.3f}" for key in ("precision", "recall", "f1-score")),
         str(int(report[name]["support"]))]
        for name in [*class_names, "macro avg", "weighted avg"]
    ]
    return Table(title, ["class", "precision", "recall", "F1", "support"], rows)


def matrix_table(title: str, matrix: np.ndarray, class_names: list[str]) -> Table:
    """A confusion matrix: rows are true classes, columns predicted ones."""
    rows = [[name, *(str(int(count)) for count in row)] for name, row in zip(class_names, matrix)]
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
