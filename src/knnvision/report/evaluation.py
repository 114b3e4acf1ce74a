"""A fitted model on a test part, and the figures every such report shares.

``run``, ``tune`` and ``evaluate`` all end with a model's predictions on a test part; an
:class:`Evaluation` holds them with the rows behind them, and draws the confusion matrix, the
per-class scores, the misclassified images beside their nearest training images and, when the
model uses one, the PCA figures.

PCA figures appear when the model is, or is a pipeline with a step that is, a fitted PCA
(anything with ``explained_variance_ratio_`` and ``transform``: knnvision's or
scikit-learn's). Without one, no projection is computed: the report shows what the model
used, and a PCA the model never saw would suggest otherwise.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..datasets import Dataset, load_dataset
from ..io import load
from ..results.experiment import (
    ExperimentConfig,
    absolute_path,
    class_scores,
    confusion_counts,
    evaluation_json,
    split_for_experiment,
)
from . import figures
from .html import ReportPage
from .text import command_lines, dataset_text, settings_table

__all__ = [
    "Evaluation",
    "check_recorded",
    "config_from_json",
    "evaluate_model",
    "find_dataset",
    "find_pca",
    "load_model",
    "model_text",
    "reload_evaluation",
    "scores_page",
    "search_algorithm",
    "split_settings",
    "without_skipped_steps",
]

#: Misclassified test images shown, and how many neighbours beside each: the model's k, but
#: at least MIN (with k=1 one neighbour says little) and at most MAX.
MAX_MISCLASSIFIED, MIN_NEIGHBORS_SHOWN, MAX_NEIGHBORS_SHOWN = 8, 5, 10
#: Test images drawn in the PCA scatter (a random subset when there are more).
MAX_SCATTER_POINTS = 2000


@dataclass
class Evaluation:
    """A fitted model's predictions on a test part, with the rows behind them.

    ``train_features``/``train_labels`` are the rows the model searches, as images (pixel
    rows), in the model's order, so that a neighbour index picks its image; ``None`` when
    they cannot be had as images (then no misclassification figure).
    """

    dataset: Dataset
    model: object
    test_labels: np.ndarray
    test_predictions: np.ndarray
    train_features: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    test_features: np.ndarray | None = None
    seed: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of_experiment(cls, result) -> Evaluation:
        """The test part of an :class:`~knnvision.experiments.run.ExperimentResult`."""
        return cls(
            result.dataset,
            result.model,
            result.test_labels,
            result.test_predictions,
            result.train_features,
            result.train_labels,
            result.test_features,
            result.config.seed,
        )

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.test_predictions == self.test_labels))

    @property
    def class_names(self) -> list[str]:
        return list(self.dataset.class_names)

    def report(self) -> dict:
        """Per-class precision, recall, F1 and support."""
        return class_scores(self.test_labels, self.test_predictions, self.class_names)

    def to_json(self) -> dict:
        """The ``results.json`` entries of the test part (sizes, accuracy, scores, matrix)."""
        return evaluation_json(self.dataset, self.model, self.test_labels, self.test_predictions)

    def dataset_text(self) -> str:
        return dataset_text(
            self.dataset.name,
            _final_step(self.model).n_samples_fit_,
            len(self.test_labels),
            self.dataset.image_shape,
        )

    def figure_makers(self) -> dict[str, Callable[[], Figure | None]]:
        """The shared figures, by name, in page order (see :func:`~.files.draw_figures`)."""
        names = self.class_names
        return {
            "confusion": lambda: figures.confusion_heatmap(
                confusion_counts(self.test_labels, self.test_predictions, len(names)), names
            ),
            "per_class": lambda: figures.per_class_scores(self.report(), names),
            "misclassified": lambda: _misclassified_figure(self),
            "pca_variance": lambda: _pca_variance_figure(self),
            "pca_scatter": lambda: _pca_scatter_figure(self),
        }


def evaluate_model(
    model, config: ExperimentConfig, *, rows: str = "split", recorded_data_dir=None, image_size=None
) -> Evaluation:
    """Find ``config``'s dataset again (:func:`find_dataset`: never downloaded), split it as
    ``config`` says and predict its test part.

    Parameters
    ----------
    model : fitted estimator
        A knnvision classifier or a pipeline ending in one.
    config : ExperimentConfig
        Dataset, data folder, split and caps.
    rows : {"split", "model"}, default="split"
        Where the training images of the misclassification figure come from: the split's
        training part (the model was fitted on it: ``run``, ``tune``), or the rows the model
        holds (any saved model: ``evaluate``).
    recorded_data_dir, image_size
        See :func:`find_dataset`.
    """
    if rows not in ("split", "model"):
        raise ValueError(f"rows must be 'split' or 'model', got {rows!r}")
    started = time.perf_counter()
    dataset = find_dataset(config, recorded_data_dir, image_size)
    X_train, y_train, X_test, y_test = split_for_experiment(dataset, config)
    loaded = time.perf_counter()
    predictions = model.predict(X_test)
    timings = {
        "load_and_split": round(loaded - started, 4),
        "evaluate": round(time.perf_counter() - loaded, 4),
    }
    if rows == "model":
        X_train, y_train = _model_images(model, X_train)
    return Evaluation(
        dataset, model, y_test, predictions, X_train, y_train, X_test, config.seed, timings
    )


def find_dataset(config: ExperimentConfig, recorded_data_dir=None, image_size=None) -> Dataset:
    """The dataset a saved model or a finished run was made from, found again.

    Nothing is downloaded: MNIST and Fashion-MNIST are looked for in ``config.data_dir``
    alone when it is set (the user's ``--data-dir``), else in ``recorded_data_dir`` (the data
    folder the model or run recorded) and then the usual places; missing, they are a one-line
    error naming ``--data-dir``. A folder or ``.npz`` dataset is read from ``config.dataset``
    (an absolute path, as models record it) with ``config.color``, its images resized to
    ``image_size`` (the model's image size) when given.
    """
    path = Path(config.dataset)
    if path.is_absolute() and not path.exists():
        raise FileNotFoundError(
            f"{path} no longer exists, and the model was made from the images there; put them "
            "back, or evaluate on their new place with `knnvision evaluate MODEL --dataset "
            "FOLDER`."
        )
    size: dict[str, tuple[int, int]] = {}
    if image_size is not None:  # the model's (height, width[, 3]): resize to its height, width
        size["image_size"] = (int(image_size[0]), int(image_size[1]))
    return load_dataset(
        config.dataset,
        config.data_dir,
        download=False,
        color=config.color,
        recorded_dir=recorded_data_dir,
        **size,
    )


def check_recorded(evaluation: Evaluation, recorded: dict, *, rows: str = "split") -> None:
    """Raise ValueError when ``evaluation`` is not what ``results.json`` recorded.

    A rebuilt report must show the recorded run; a dataset that changed since gives other
    predictions (and, for a model fitted on the split, other training images).
    """
    same = np.isclose(evaluation.accuracy, recorded["test_accuracy"]) and len(
        evaluation.test_labels
    ) == recorded.get("n_test", len(evaluation.test_labels))
    if rows == "split":
        if evaluation.train_labels is None:
            raise ValueError(
                "the evaluation holds no training labels to compare with the recorded "
                "n_train; check it with rows='model'"
            )
        same = same and len(evaluation.train_labels) == recorded["n_train"]
    if not same:
        raise ValueError(
            f"the dataset {evaluation.dataset.name!r} no longer gives the run's results (test "
            f"accuracy {evaluation.accuracy:.4f}, recorded {recorded['test_accuracy']:.4f}); "
            "rerun the command or pass the original data with --data-dir."
        )


def reload_evaluation(model, recorded: dict, data_dir=None, *, rows: str = "split"):
    """The config and :class:`Evaluation` of a finished run, from what ``results.json``
    recorded: the dataset reloaded and split as then, the test predictions recomputed.

    Raises
    ------
    ValueError
        If they are not what was recorded (the dataset changed).
    """
    config = config_from_json(recorded["config"], data_dir)
    # The dataset where the run found it (an absolute path for folders and files; older
    # folders recorded the name as given), the recorded data folder searched first unless
    # --data-dir names the only place to look.
    lookup = dataclasses.replace(
        config,
        dataset=recorded.get("dataset_path") or config.dataset,
        data_dir=None if data_dir is None else str(data_dir),
    )
    recorded_dir = config.data_dir if data_dir is None else None
    evaluation = evaluate_model(
        model,
        lookup,
        rows=rows,
        recorded_data_dir=recorded_dir,
        image_size=recorded.get("image_shape"),
    )
    check_recorded(evaluation, recorded, rows=rows)
    return config, evaluation


def load_model(path: Path):
    """A saved model the report needs; FileNotFoundError saying so when it is gone."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; the report needs the model of the run.")
    return load(path)


def split_settings(config: ExperimentConfig) -> dict:
    """The settings that pick a test part (dataset, split, caps), for ``results.json``."""
    settings = {
        key: getattr(config, key)
        for key in (
            "dataset",
            "data_dir",
            "test_size",
            "stratify",
            "max_train",
            "max_test",
            "seed",
            "color",
        )
    }
    if config.data_dir is not None:  # to be found again from another working folder
        settings["data_dir"] = absolute_path(config.data_dir)
    return settings


def config_from_json(values: dict, data_dir=None) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from recorded settings; keys it does not know are left
    out and fields added since are left at their defaults."""
    known = {f.name for f in dataclasses.fields(ExperimentConfig)}
    config = ExperimentConfig(**{key: value for key, value in values.items() if key in known})
    # JSON gives each metric as a [name, p] list; the config holds (name, p) pairs.
    config.metrics = [(name, p) for name, p in config.metrics]
    if data_dir is not None:
        config.data_dir = str(data_dir)
    return config


def without_skipped_steps(model):
    """``model`` without a pipeline's skipped steps (``"passthrough"``, ``None``); a pipeline
    left with its classifier alone becomes that classifier.

    A grid search may choose "no PCA"; what it fitted then is a plain classifier, and model
    files and the figures need the steps that do something.
    """
    steps = getattr(model, "steps", None)
    if steps is None:
        return model
    kept = [(name, step) for name, step in steps if step not in (None, "passthrough")]
    if len(kept) == 1:
        return kept[0][1]
    return model if len(kept) == len(steps) else type(model)(kept)


def find_pca(model):
    """The fitted PCA the model uses (the model itself or a pipeline step), else ``None``."""
    for step in (model, *_steps(model)):
        if hasattr(step, "explained_variance_ratio_") and hasattr(step, "transform"):
            return step
    return None


def model_text(model) -> str:
    """``k-NN, k=5, euclidean, uniform``, after the steps before it (``PCA(40) → ...``)."""
    knn = _final_step(model)
    metric = f"minkowski p={knn.p:g}" if knn.metric == "minkowski" else knn.metric
    steps = [
        f"PCA({step.n_components_})"
        if step is find_pca(model) and hasattr(step, "n_components_")
        else type(step).__name__
        for step in _steps(model)[:-1]
    ]
    return " → ".join([*steps, f"k-NN, k={knn.n_neighbors}, {metric}, {knn.weights}"])


def search_algorithm(model) -> dict[str, str]:
    """``{"search algorithm": "kd_tree"}`` when the model says which search it used."""
    final = _final_step(model)
    if hasattr(final, "effective_algorithm_"):
        return {"search algorithm": str(final.effective_algorithm_)}
    return {}


def scores_page(
    recorded: dict, title: str, headline: dict, parameters: dict, tables=()
) -> ReportPage:
    """The page of a model's predictions on a test part, from ``results.json`` contents.

    ``headline`` and ``parameters`` lead; the dataset, test accuracy and time follow in the
    headline, the recorded settings in the parameters; the scores, versions and command line
    are the recorded ones.
    """
    settings = recorded["config"]
    return ReportPage(
        title=title,
        headline={
            **headline,
            "dataset": dataset_text(
                recorded["dataset"],
                recorded["n_train"],
                recorded["n_test"],
                recorded["image_shape"],
            ),
            "test accuracy": f"{recorded['test_accuracy']:.2%}",
            "time": f"{sum(recorded['timings_seconds'].values()):.2f} s",
        },
        figures=[],
        classification_report=recorded["classification_report"],
        class_names=recorded["class_names"],
        parameters={**parameters, **settings_table(settings)},
        versions=recorded["versions"],
        commands=command_lines(settings.get("command")),
        tables=tables,
    )


# --- figures that need more than the evaluation's own numbers -----------------------------


def _misclassified_figure(evaluation: Evaluation) -> Figure | None:
    """Needs pixel features: it draws the training rows the neighbour search returned."""
    shape = evaluation.dataset.image_shape  # (height, width), or (height, width, 3)
    pixels = int(np.prod(shape))
    train, test = evaluation.train_features, evaluation.test_features
    train_labels = evaluation.train_labels
    if train is None or test is None or train_labels is None:
        return None
    if train.shape[1] != pixels or test.shape[1] != pixels:
        return None
    wrong = np.flatnonzero(evaluation.test_predictions != evaluation.test_labels)
    wrong = wrong[:MAX_MISCLASSIFIED]
    queries = test[wrong]
    k_model = _final_step(evaluation.model).n_neighbors
    k = min(max(k_model, MIN_NEIGHBORS_SHOWN), MAX_NEIGHBORS_SHOWN, len(train_labels))
    if wrong.size:
        distances, indices = _kneighbors(evaluation.model, queries, k)
    else:
        distances, indices = np.zeros((0, k)), np.zeros((0, k), dtype=np.intp)
    return figures.misclassified_neighbors(
        queries.reshape(-1, *shape),
        evaluation.test_labels[wrong],
        evaluation.test_predictions[wrong],
        train[indices].reshape(len(wrong), k, *shape),
        np.asarray(train_labels)[indices],
        distances,
        evaluation.class_names,
        n_voting=k_model,
        max_value=evaluation.dataset.max_value,
    )


def _pca_variance_figure(evaluation: Evaluation) -> Figure | None:
    pca = find_pca(evaluation.model)
    return None if pca is None else figures.pca_explained_variance(pca.explained_variance_ratio_)


def _pca_scatter_figure(evaluation: Evaluation) -> Figure | None:
    pca = find_pca(evaluation.model)
    if pca is None or evaluation.test_features is None:
        return None
    rows = np.arange(len(evaluation.test_labels))
    if rows.size > MAX_SCATTER_POINTS:
        rng = np.random.default_rng(evaluation.seed)
        rows = np.sort(rng.choice(rows, MAX_SCATTER_POINTS, replace=False))
    points = _transform_up_to(evaluation.model, pca, evaluation.test_features[rows])
    if points.shape[1] < 2:
        return None
    return figures.pca_scatter(
        points[:, :2],
        evaluation.test_labels[rows],
        evaluation.class_names,
        explained_variance_ratio=pca.explained_variance_ratio_,
    )


# --- the model's steps ----------------------------------------------------------------------


def _model_images(model, X_train: np.ndarray):
    """The rows the model searches, as images, and their labels; ``(None, None)`` if unknown.

    A bare classifier holds its training images. Behind a preprocessing it holds transformed
    rows; then the split's training part stands in when the preprocessing maps it onto exactly
    those rows (the model was fitted on it), so no image is ever drawn for the wrong row.
    """
    final = _final_step(model)
    rows, codes = getattr(final, "_fit_X", None), getattr(final, "_y", None)
    if rows is None or codes is None:
        return None, None
    labels = np.asarray(final.classes_)[codes]
    if len(_steps(model)) <= 1:
        return rows, labels
    if len(X_train) == len(rows):
        transformed = _transform_before_final(model, X_train)
        if transformed.shape == rows.shape and np.allclose(transformed, rows):
            return X_train, labels
    return None, None


def _steps(model) -> list:
    """The estimators of a scikit-learn-style pipeline, in order; ``[]`` for anything else."""
    return [step for _, step in getattr(model, "steps", [])]


def _final_step(model):
    steps = _steps(model)
    return steps[-1] if steps else model


def _transform_up_to(model, target, X: np.ndarray) -> np.ndarray:
    """``X`` passed through the model's steps up to and including ``target``."""
    for step in _steps(model) or [model]:
        X = step.transform(X)
        if step is target:
            break
    return X


def _transform_before_final(model, X: np.ndarray) -> np.ndarray:
    """``X`` as the model's last step sees it: through every step before it."""
    for step in _steps(model)[:-1]:
        X = step.transform(X)
    return X


def _kneighbors(model, X: np.ndarray, k: int):
    """The model's neighbours of raw queries ``X``, through a pipeline's transforms if any."""
    return _final_step(model).kneighbors(_transform_before_final(model, X), n_neighbors=k)
