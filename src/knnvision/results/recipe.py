"""What a recipe (a tutorial's experiment, :mod:`knnvision.experiments.recipes`) records:
its options, its numbers next to the tutorial's, and the data of its report's figures."""

from __future__ import annotations

from dataclasses import dataclass, field


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
