"""From an experiment to its report: the figures, the PNG files and ``report.html``.

:func:`write_report` is what ``knnvision run`` calls after saving ``results.json``;
:func:`rebuild_report` is ``knnvision report RESULTS_DIR``: it rebuilds the
:class:`~knnvision.pipeline.ExperimentResult` from ``results.json``, ``model.knnv`` and the
dataset, then writes the same report.

PCA figures appear when the model is, or is a pipeline with a step that is, a fitted PCA
(anything with ``explained_variance_ratio_`` and ``transform``: knnvision's or
scikit-learn's). Without one, no projection is computed: the report shows what the model
used, and a PCA the model never saw would suggest otherwise.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shlex
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import progress
from ..datasets import load_dataset
from ..io import load
from ..model_selection import Candidate, CVResult
from ..pipeline import ExperimentConfig, ExperimentResult, software_versions, split_for_experiment
from . import figures
from .html import FigureImage, ReportPage, render_html

__all__ = ["experiment_figures", "find_pca", "load_result", "rebuild_report", "write_report"]

#: Misclassified test images shown, and how many neighbours beside each: the model's k, but
#: at least MIN (with k=1 one neighbour says little) and at most MAX.
MAX_MISCLASSIFIED, MIN_NEIGHBORS_SHOWN, MAX_NEIGHBORS_SHOWN = 8, 5, 10
#: Test images drawn in the PCA scatter (a random subset when there are more).
MAX_SCATTER_POINTS = 2000

_TITLES = {
    "samples": ("Example images", "Randomly chosen training images of each class."),
    "accuracy_vs_k": (
        "Accuracy against k",
        "Cross-validated accuracy on the training part for each k tried (mean, band: ± one "
        "standard deviation over the folds). The star marks the chosen setting, the diamond "
        "its accuracy on the test part.",
    ),
    "confusion": (
        "Confusion matrix",
        "Test images by true class (rows) and predicted class (columns): counts, and each row "
        "as shares of its true class. Empty off-diagonal cells had no errors.",
    ),
    "per_class": (
        "Per-class scores",
        "Precision (of the images predicted as the class, the share that are), recall (of the "
        "class's images, the share found) and F1 (their harmonic mean) on the test part; n is "
        "the number of test images of the class.",
    ),
    "misclassified": (
        "Misclassified test images and their neighbours",
        "The first misclassified test images (in test order), each followed by its nearest "
        "training images, nearest first, with their class and distance; the first k voted.",
    ),
    "pca_variance": (
        "PCA: explained variance",
        "Share of the training data's variance along each principal component, and in total.",
    ),
    "pca_scatter": (
        "PCA: first two components",
        "Test images projected onto the first two principal components, one colour and marker "
        "per class.",
    ),
    "timings": ("Timing", "Wall-clock seconds of each step of the run."),
}


def experiment_figures(result: ExperimentResult) -> dict[str, Figure]:
    """Every figure the report shows for ``result``, by name, in page order.

    The misclassified-images figure needs ``result``'s training and test features (set by
    :func:`~knnvision.pipeline.run_experiment`); PCA figures need a PCA in the model.
    """
    dataset = result.dataset
    names = result.class_names
    made = {
        "samples": lambda: figures.sample_grid(
            dataset.images, dataset.labels, names, max_value=dataset.max_value,
            seed=result.config.seed),
        "accuracy_vs_k": lambda: figures.accuracy_vs_k(result.cv, test_accuracy=result.accuracy),
        "confusion": lambda: figures.confusion_heatmap(result.confusion(), names),
        "per_class": lambda: figures.per_class_scores(result.report(), names),
        "misclassified": lambda: _misclassified_figure(result),
        "pca_variance": lambda: _pca_variance_figure(result),
        "pca_scatter": lambda: _pca_scatter_figure(result),
        "timings": lambda: figures.timing_breakdown(result.timings),
    }
    built = {}
    with progress.track(total=len(made), description="drawing figures") as task:
        for name, make in made.items():
            figure = make()
            if figure is not None:
                built[name] = figure
            task.advance()
    return built


def write_report(
    result: ExperimentResult, out_dir: str | Path, *, versions: dict[str, str] | None = None
) -> dict[str, str]:
    """Write ``figures/*.png`` and the self-contained ``report.html`` into ``out_dir``.

    Parameters
    ----------
    result : ExperimentResult
        The experiment to report.
    out_dir : str or path
        Folder to write into (created if needed).
    versions : dict, optional
        Software versions to show; default the running ones (a rebuilt report passes those
        recorded in ``results.json``).

    Returns
    -------
    dict
        Paths written: ``"report"`` (the HTML page) and ``"figures"`` (the PNG folder).
    """
    out_dir = Path(out_dir)
    figure_dir = out_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    images = []
    built = experiment_figures(result)
    for name, figure in built.items():
        png = _png_bytes(figure)
        (figure_dir / f"{name}.png").write_bytes(png)
        images.append(FigureImage(name, *_TITLES[name], png))
    for name in _TITLES.keys() - built.keys():  # e.g. PCA figures of an earlier run here
        (figure_dir / f"{name}.png").unlink(missing_ok=True)
    page = _page(result, images, versions if versions is not None else software_versions())
    report_path = out_dir / "report.html"
    report_path.write_text(render_html(page), encoding="utf-8")
    return {"report": str(report_path), "figures": str(figure_dir)}


def rebuild_report(results_dir: str | Path, data_dir: str | Path | None = None) -> dict[str, str]:
    """Rebuild ``report.html`` and the figures of a finished run from its folder.

    Parameters
    ----------
    results_dir : str or path
        A folder written by ``knnvision run`` (``results.json`` and ``model.knnv``).
    data_dir : str or path, optional
        Where the dataset's files are now, when not where the run found them.

    Returns
    -------
    dict
        Paths written, as :func:`write_report`.
    """
    results_dir = Path(results_dir)
    result = load_result(results_dir, data_dir)
    # The versions that made the run, not the ones redrawing it.
    recorded = _read_results(results_dir).get("versions") or None
    return write_report(result, results_dir, versions=recorded)


def load_result(results_dir: str | Path, data_dir: str | Path | None = None) -> ExperimentResult:
    """The :class:`ExperimentResult` of a finished run, from ``results.json``, ``model.knnv``
    and the dataset (reloaded and split as the run split it; test predictions recomputed).

    Raises
    ------
    FileNotFoundError
        If the folder lacks ``results.json`` or ``model.knnv``.
    ValueError
        If the recomputed test accuracy differs from the recorded one (the dataset changed).
    """
    results_dir = Path(results_dir)
    recorded = _read_results(results_dir)
    model_path = results_dir / "model.knnv"
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path} not found; the report needs the model of the run.")
    config = _config_from_json(recorded["config"], results_dir, data_dir)
    dataset = load_dataset(config.dataset, config.data_dir)
    X_train, y_train, X_test, y_test = split_for_experiment(dataset, config)
    model = load(model_path)
    predictions = model.predict(X_test)
    accuracy = float(np.mean(predictions == y_test))
    if len(y_train) != recorded["n_train"] or not np.isclose(accuracy, recorded["test_accuracy"]):
        raise ValueError(
            f"the dataset {config.dataset!r} no longer gives the run's results (test accuracy "
            f"{accuracy:.4f}, recorded {recorded['test_accuracy']:.4f}); rerun `knnvision run` "
            "or pass the original data with --data-dir."
        )
    return ExperimentResult(
        config, dataset, model, _cv_from_records(recorded), y_test, predictions,
        timings=dict(recorded.get("timings_seconds", {})),
        train_features=X_train, train_labels=y_train, test_features=X_test,
    )


# --- figures that need more than the result's own numbers --------------------------------


def _misclassified_figure(result: ExperimentResult) -> Figure | None:
    """Needs pixel features: it draws the training rows the neighbour search returned."""
    shape = result.dataset.image_shape
    pixels = shape[0] * shape[1]
    if result.train_features is None or result.test_features is None \
            or result.train_features.shape[1] != pixels or result.test_features.shape[1] != pixels:
        return None
    wrong = np.flatnonzero(result.test_predictions != result.test_labels)[:MAX_MISCLASSIFIED]
    queries = result.test_features[wrong]
    k_model = _final_step(result.model).n_neighbors
    k = min(max(k_model, MIN_NEIGHBORS_SHOWN), MAX_NEIGHBORS_SHOWN, len(result.train_labels))
    if wrong.size:
        distances, indices = _kneighbors(result.model, queries, k)
    else:
        distances, indices = np.zeros((0, k)), np.zeros((0, k), dtype=np.intp)
    return figures.misclassified_neighbors(
        queries.reshape(-1, *shape),
        result.test_labels[wrong],
        result.test_predictions[wrong],
        result.train_features[indices].reshape(len(wrong), k, *shape),
        np.asarray(result.train_labels)[indices],
        distances,
        result.class_names,
        n_voting=k_model,
        max_value=result.dataset.max_value,
    )


def _pca_variance_figure(result: ExperimentResult) -> Figure | None:
    pca = find_pca(result.model)
    return None if pca is None else figures.pca_explained_variance(pca.explained_variance_ratio_)


def _pca_scatter_figure(result: ExperimentResult) -> Figure | None:
    pca = find_pca(result.model)
    if pca is None or result.test_features is None:
        return None
    rows = np.arange(len(result.test_labels))
    if rows.size > MAX_SCATTER_POINTS:
        rng = np.random.default_rng(result.config.seed)
        rows = np.sort(rng.choice(rows, MAX_SCATTER_POINTS, replace=False))
    points = _transform_up_to(result.model, pca, result.test_features[rows])
    if points.shape[1] < 2:
        return None
    return figures.pca_scatter(points[:, :2], result.test_labels[rows], result.class_names,
                               explained_variance_ratio=pca.explained_variance_ratio_)


def find_pca(model):
    """The fitted PCA the model uses (the model itself or a pipeline step), else ``None``."""
    for step in (model, *_steps(model)):
        if hasattr(step, "explained_variance_ratio_") and hasattr(step, "transform"):
            return step
    return None


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


def _kneighbors(model, X: np.ndarray, k: int):
    """The model's neighbours of raw queries ``X``, through a pipeline's transforms if any."""
    steps = _steps(model)
    for step in steps[:-1]:
        X = step.transform(X)
    return _final_step(model).kneighbors(X, n_neighbors=k)


# --- page ---------------------------------------------------------------------------------


def _page(result: ExperimentResult, images: list[FigureImage], versions: dict) -> ReportPage:
    height, width = result.dataset.image_shape
    total_seconds = sum(float(v) for v in result.timings.values())
    headline = {
        "dataset": f"{result.dataset.name}: {_final_step(result.model).n_samples_fit_} train / "
                   f"{len(result.test_labels)} test images, {height}×{width}",
        "model": _model_text(result.model),
        "test accuracy": f"{result.accuracy:.2%}",
        "run time": f"{total_seconds:.2f} s",
    }
    return ReportPage(
        title=f"knnvision report: {result.dataset.name}",
        headline=headline,
        figures=images,
        classification_report=result.report(),
        class_names=result.class_names,
        parameters=_parameters(result),
        versions={name: str(value) for name, value in versions.items()},
        commands=_commands(result.config),
    )


def _model_text(model) -> str:
    """``k-NN, k=5, euclidean, uniform``, after the steps before it (``PCA(40) → ...``)."""
    knn = _final_step(model)
    metric = f"minkowski p={knn.p:g}" if knn.metric == "minkowski" else knn.metric
    steps = [f"PCA({step.n_components_})" if step is find_pca(model) and hasattr(
        step, "n_components_") else type(step).__name__ for step in _steps(model)[:-1]]
    return " → ".join([*steps, f"k-NN, k={knn.n_neighbors}, {metric}, {knn.weights}"])


def _parameters(result: ExperimentResult) -> dict[str, str]:
    best = result.cv.best
    chosen = {f"chosen {key}": str(value) for key, value in best.params().items()}
    final = _final_step(result.model)
    if hasattr(final, "effective_algorithm_"):
        chosen["search algorithm"] = str(final.effective_algorithm_)
    settings = {
        f.name.replace("_", " "): _text(getattr(result.config, f.name))
        for f in dataclasses.fields(result.config) if f.name not in ("command", "report")
    }
    return {**chosen, **settings}


def _commands(config: ExperimentConfig) -> dict[str, str]:
    commands = {}
    if config.command:
        commands["Command line (run from the same folder):"] = shlex.join(config.command)
    arguments = ", ".join(
        f"{f.name}={getattr(config, f.name)!r}"
        for f in dataclasses.fields(config) if f.name not in ("command", "report")
    )
    commands["Python:"] = (
        "from knnvision.pipeline import ExperimentConfig, run_experiment\n"
        f"result = run_experiment(ExperimentConfig({arguments}))"
    )
    return commands


def _text(value) -> str:
    """A setting as a user would type it: lists comma-separated, (metric, p) as metric:p."""
    if isinstance(value, (list, tuple)):
        return ", ".join(":".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
                         for v in value)
    return "—" if value is None else str(value)


# --- files --------------------------------------------------------------------------------


def _png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software"/date metadata: the same run gives the same bytes.
    figure.savefig(buffer, format="png", facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _read_results(results_dir: Path) -> dict:
    path = results_dir / "results.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; give the folder a `knnvision run --out FOLDER` wrote."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); rerun `knnvision run`.") from None


def _config_from_json(values: dict, results_dir: Path, data_dir) -> ExperimentConfig:
    """The run's config; fields added since are left at their defaults."""
    known = {f.name for f in dataclasses.fields(ExperimentConfig)}
    config = ExperimentConfig(**{key: value for key, value in values.items() if key in known})
    config.metrics = [tuple(metric) for metric in config.metrics]
    config.out_dir = str(results_dir)
    if data_dir is not None:
        config.data_dir = str(data_dir)
    return config


def _cv_from_records(recorded: dict) -> CVResult:
    records = recorded["cv_results"]
    candidates = [Candidate(r["n_neighbors"], r["weights"], r["metric"], r["p"]) for r in records]
    scores = np.array([r["fold_accuracies"] for r in records], dtype=float)
    return CVResult(candidates, scores, int(recorded["cv_folds"]))
