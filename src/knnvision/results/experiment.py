"""What an experiment records: its settings, what it measured, and their JSON form.

``knnvision run`` (:mod:`knnvision.experiments.run`) fills an :class:`ExperimentResult`;
the report (:mod:`knnvision.report`) draws pages from one, or from the ``results.json`` it
was written to, without running anything.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix
from sklearn.pipeline import Pipeline

from .._version import __version__
from ..datasets import Dataset, subsample, train_val_test_split
from ..neighbors import KNNClassifier
from ..selection.search_cv import CVResult


@dataclass
class ExperimentConfig:
    """What to run. Lists of k, weights and metrics are tuned by cross-validation."""

    dataset: str = "digits"
    data_dir: str | None = None
    n_neighbors: Sequence[int] = (1, 3, 5, 7, 9)
    weights: Sequence[str] = ("uniform",)
    metrics: Sequence[tuple[str, float]] = (("euclidean", 2),)
    cv: int = 5
    test_size: float = 0.2
    #: Keep the class proportions in the test split (False: a plain shuffled split, as
    #: scikit-learn's ``train_test_split`` without ``stratify`` makes it).
    stratify: bool = True
    max_train: int | None = None
    max_test: int | None = None
    seed: int = 0
    n_jobs: int | None = None
    #: A Dask scheduler address (or "local") to tune and search on; None runs in this process.
    scheduler: str | None = None
    out_dir: str | None = "results"
    #: Also write figures/*.png and the self-contained report.html into ``out_dir``.
    report: bool = True
    #: The command line that started the run (the CLI sets it), recorded to reproduce it.
    command: Sequence[str] | None = None
    #: A named recipe of :mod:`knnvision.experiments.presets` (e.g. "best"): replaces the
    #: k/weights/metric grid and the cross-validation by the preset's model, tuned on a
    #: validation split.
    preset: str | None = None
    #: Image folders only: keep the images' colours (RGB features) instead of grayscale.
    color: bool = False


@dataclass
class ExperimentResult:
    """Everything an experiment measured."""

    config: ExperimentConfig
    dataset: Dataset
    model: KNNClassifier
    cv: CVResult
    test_labels: np.ndarray
    test_predictions: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    # The rows the model was fitted on and tested with (the same arrays, not copies), so the
    # report can draw the training images the neighbour search returns.
    train_features: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    test_features: np.ndarray | None = None

    @property
    def accuracy(self) -> float:
        return float(accuracy_score(self.test_labels, self.test_predictions))

    @property
    def class_names(self) -> list[str]:
        return list(self.dataset.class_names)

    def report(self) -> dict:
        """Per-class precision, recall, F1 and support (scikit-learn's classification report)."""
        return class_scores(self.test_labels, self.test_predictions, self.class_names)

    def confusion(self) -> np.ndarray:
        """Rows are true classes, columns predicted classes, in ``class_names`` order."""
        return confusion_counts(self.test_labels, self.test_predictions, len(self.class_names))

    def to_json(self) -> dict:
        best = self.cv.best
        return {
            "kind": "run",
            **evaluation_json(self.dataset, self.model, self.test_labels, self.test_predictions),
            "best_params": best.params(),
            "cv_folds": self.cv.n_folds,
            "cv_results": self.cv.to_records(),
            "timings_seconds": self.timings,
            "config": _config_json(self.config),
            "versions": software_versions(),
        }


def class_scores(labels, predictions, class_names: Sequence[str]) -> dict:
    """Per-class precision, recall, F1 and support of class indices ``0 .. n - 1``
    (scikit-learn's ``classification_report(..., output_dict=True)``, keyed by class name)."""
    return classification_report(
        labels,
        predictions,
        labels=np.arange(len(class_names)),
        target_names=list(class_names),
        output_dict=True,
        zero_division=0,
    )


def confusion_counts(labels, predictions, n_classes: int) -> np.ndarray:
    """Confusion matrix of class indices ``0 .. n_classes - 1``: rows true, columns predicted."""
    return confusion_matrix(labels, predictions, labels=np.arange(n_classes))


def evaluation_json(dataset: Dataset, model, test_labels, test_predictions) -> dict:
    """The ``results.json`` entries of a model's predictions on a test part: dataset, sizes,
    accuracy, per-class scores and confusion matrix (``run``, ``tune`` and ``evaluate``)."""
    names = list(dataset.class_names)
    return {
        "dataset": dataset.name,
        # Where a folder or file dataset is, so `knnvision report` finds it from anywhere.
        "dataset_path": dataset.source,
        "image_shape": list(dataset.image_shape),
        "class_names": names,
        "n_train": int(final_estimator(model).n_samples_fit_),
        "n_test": int(len(test_labels)),
        "test_accuracy": float(accuracy_score(test_labels, test_predictions)),
        "classification_report": class_scores(test_labels, test_predictions, names),
        "confusion_matrix": confusion_counts(test_labels, test_predictions, len(names)).tolist(),
    }


def final_estimator(model):
    """The estimator that predicts: ``model`` itself, or the last step of a Pipeline."""
    return model[-1] if isinstance(model, Pipeline) else model


def split_for_experiment(dataset: Dataset, config: ExperimentConfig):
    """Flattened (X_train, y_train, X_test, y_test): the official split when the dataset has
    one, else a split of ``test_size`` with ``seed`` (stratified unless ``config.stratify``
    is false; then the same rows as ``train_test_split(..., random_state=seed)``); then
    optional caps."""
    if dataset.test_images is not None:
        X_train, y_train = dataset.flat("train"), dataset.labels
        X_test, y_test = dataset.flat("test"), dataset.test_labels
        assert y_test is not None  # a Dataset has test labels exactly when it has test images
    else:
        X_train, _, X_test, y_train, _, y_test = train_val_test_split(
            dataset.flat("train"),
            dataset.labels,
            val_size=0,
            test_size=config.test_size,
            seed=config.seed,
            stratify=config.stratify,
        )
    if config.max_train is not None and config.max_train < len(y_train):
        X_train, y_train = _cap(X_train, y_train, config.max_train, config.seed)
    if config.max_test is not None and config.max_test < len(y_test):
        X_test, y_test = _cap(X_test, y_test, config.max_test, config.seed)
    return X_train, y_train, X_test, y_test


def _cap(X, y, n: int, seed: int):
    """A stratified random subset of ``n`` rows."""
    X_part, _, _, y_part, _, _ = subsample(X, y, n_train=n, seed=seed)
    return X_part, y_part


def model_metadata(dataset: Dataset, config: ExperimentConfig) -> dict:
    """What a saved model needs to treat new images like its training images, and to find
    its data again from any folder (``knnvision evaluate``): the dataset folder's or file's
    absolute path, and the data folder it was read from, when one was given."""
    metadata = {
        "dataset": dataset.name,
        "image_shape": list(dataset.image_shape),
        "max_value": int(dataset.max_value),
        "class_names": list(dataset.class_names),
        "split": {
            "test_size": config.test_size,
            "seed": config.seed,
            "stratify": config.stratify,
            "official": dataset.test_images is not None,
        },
    }
    if dataset.source is not None:
        metadata["dataset_path"] = dataset.source
    if config.data_dir is not None:
        metadata["data_dir"] = absolute_path(config.data_dir)
    if dataset.color:
        metadata["color"] = True
    return metadata


def absolute_path(path: str | Path) -> str:
    """``path`` made absolute (against this working folder), as text for a JSON file."""
    return str(Path(path).expanduser().resolve())


def software_versions() -> dict[str, str]:
    return {
        "knnvision": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": importlib.metadata.version("matplotlib"),
    }


def _config_json(config: ExperimentConfig) -> dict:
    values = dict(vars(config))
    if config.data_dir is not None:  # to be found again from another working folder
        values["data_dir"] = absolute_path(config.data_dir)
    values["n_neighbors"] = list(config.n_neighbors)
    values["weights"] = list(config.weights)
    values["metrics"] = [list(m) for m in config.metrics]
    return values
