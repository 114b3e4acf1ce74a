"""The report of ``knnvision run``: an experiment's figures, PNG files and ``report.html``.

:func:`write_report` is what ``knnvision run`` calls after saving ``results.json``;
``knnvision report RESULTS_DIR`` rebuilds the :class:`~knnvision.experiments.run.ExperimentResult`
from ``results.json``, ``model.knnv`` and the dataset (:func:`load_result`), then writes the
same report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..results.experiment import ExperimentConfig, ExperimentResult, software_versions
from ..selection.search_cv import Candidate, CVResult
from . import figures
from .evaluation import Evaluation, load_model, model_text, reload_evaluation, search_algorithm
from .files import Makers, draw_figures, read_results, write_page
from .html import ReportPage
from .text import command_lines, settings_table

__all__ = ["experiment_figures", "load_result", "rebuild", "write_report"]


def experiment_figures(result: ExperimentResult) -> dict[str, Figure]:
    """Every figure the report shows for ``result``, by name, in page order.

    The misclassified-images figure needs ``result``'s training and test features (set by
    :func:`~knnvision.experiments.run.run_experiment`); PCA figures need a PCA in the model.
    """
    return draw_figures(_makers(result))


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
    page = _page(result, versions if versions is not None else software_versions())
    return write_page(out_dir, _makers(result), page)


def rebuild(results_dir: Path, recorded: dict, data_dir=None) -> dict[str, str]:
    """Write the report of the run in ``results_dir`` again (``knnvision report``)."""
    result = _result_from(results_dir, recorded, data_dir)
    # The versions that made the run, not the ones redrawing it.
    return write_report(result, results_dir, versions=recorded.get("versions") or None)


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
    return _result_from(results_dir, read_results(results_dir), data_dir)


def _makers(result: ExperimentResult) -> Makers:
    return {
        "samples": lambda: _samples_figure(result),
        "accuracy_vs_k": lambda: figures.accuracy_vs_k(result.cv, test_accuracy=result.accuracy),
        **Evaluation.of_experiment(result).figure_makers(),
        "timings": lambda: figures.timing_breakdown(result.timings),
    }


def _samples_figure(result: ExperimentResult) -> Figure | None:
    """Examples of the training part, the images the model searches (the whole dataset would
    show test images too). ``None`` when the result does not hold the training rows as pixels
    (an :class:`ExperimentResult` built by hand without them)."""
    train, labels = result.train_features, result.train_labels
    image_shape = result.dataset.images.shape[1:]
    if train is None or labels is None or train.shape[1] != np.prod(image_shape):
        return None
    return figures.sample_grid(
        train.reshape(-1, *image_shape),
        labels,
        result.class_names,
        max_value=result.dataset.max_value,
        seed=result.config.seed,
        title="Example training images per class",
    )


def _result_from(results_dir: Path, recorded: dict, data_dir) -> ExperimentResult:
    model = load_model(results_dir / "model.knnv")
    config, evaluation = reload_evaluation(model, recorded, data_dir)
    config.out_dir = str(results_dir)
    return ExperimentResult(
        config,
        evaluation.dataset,
        model,
        _cv_from_records(recorded),
        evaluation.test_labels,
        evaluation.test_predictions,
        timings=dict(recorded.get("timings_seconds", {})),
        train_features=evaluation.train_features,
        train_labels=evaluation.train_labels,
        test_features=evaluation.test_features,
    )


def _cv_from_records(recorded: dict) -> CVResult:
    records = recorded["cv_results"]
    candidates = [Candidate(r["n_neighbors"], r["weights"], r["metric"], r["p"]) for r in records]
    scores = np.array([r["fold_accuracies"] for r in records], dtype=float)
    return CVResult(candidates, scores, int(recorded["cv_folds"]))


# --- page ---------------------------------------------------------------------------------


def _page(result: ExperimentResult, versions: dict) -> ReportPage:
    total_seconds = sum(float(v) for v in result.timings.values())
    headline = {
        "dataset": Evaluation.of_experiment(result).dataset_text(),
        "model": model_text(result.model),
        "test accuracy": f"{result.accuracy:.2%}",
        "run time": f"{total_seconds:.2f} s",
    }
    return ReportPage(
        title=f"knnvision report: {result.dataset.name}",
        headline=headline,
        figures=[],
        classification_report=result.report(),
        class_names=result.class_names,
        parameters=_parameters(result),
        versions={name: str(value) for name, value in versions.items()},
        commands=_commands(result.config),
    )


def _parameters(result: ExperimentResult) -> dict[str, str]:
    chosen = result.cv.best.params()
    if chosen.get("metric") != "minkowski":
        chosen.pop("p", None)  # the other distances ignore it
    chosen = {f"chosen {key}": str(value) for key, value in chosen.items()}
    return {**chosen, **search_algorithm(result.model), **settings_table(vars(result.config))}


def _commands(config: ExperimentConfig) -> dict[str, str]:
    arguments = ", ".join(
        f"{f.name}={getattr(config, f.name)!r}"
        for f in dataclasses.fields(config)
        if f.name not in ("command", "report")
    )
    return {
        **command_lines(config.command),
        "Python:": "from knnvision.experiments.run import ExperimentConfig, run_experiment\n"
        f"result = run_experiment(ExperimentConfig({arguments}))",
    }
