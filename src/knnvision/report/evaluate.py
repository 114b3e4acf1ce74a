"""The report of ``knnvision evaluate``: a saved model on a test part.

:func:`write_outputs` writes ``results.json`` (with the model file's path, not a copy of it)
and, unless told not to, the report; ``knnvision report DIR`` (:func:`rebuild`) reloads the
model file and the dataset and draws the same page again. The misclassified test images are
shown beside the training rows the model holds (see
:func:`~knnvision.report.evaluation.evaluate_model`).
"""

from __future__ import annotations

from pathlib import Path

from ..results.experiment import ExperimentConfig, final_estimator, software_versions
from .evaluation import (
    Evaluation,
    load_model,
    model_text,
    reload_evaluation,
    scores_page,
    search_algorithm,
    split_settings,
)
from .figures import timing_breakdown
from .files import Drawing, write_page
from .files import write_outputs as write_outputs_of
from .html import ReportPage
from .text import value_text

__all__ = ["rebuild", "write_outputs"]


def write_outputs(
    out_dir: str | Path,
    model_path: str | Path,
    evaluation: Evaluation,
    config: ExperimentConfig,
    command: list[str] | None = None,
    *,
    report: bool = True,
) -> dict[str, str]:
    """Write ``results.json`` and the report of an evaluation, as
    :func:`~knnvision.report.files.write_outputs` does.

    ``model_path`` is the model file evaluated (recorded as an absolute path, to rebuild the
    report); ``evaluation`` its predictions on the test part
    (:func:`~knnvision.report.evaluation.evaluate_model` with ``rows="model"``; ``timings``:
    the seconds of each step); ``config`` the dataset and split; ``command`` the command
    line, shown to reproduce the evaluation.
    """
    params = final_estimator(evaluation.model).get_params(deep=False)
    results = {
        "kind": "evaluate",
        **evaluation.to_json(),
        "model_file": str(Path(model_path).resolve()),
        "model": model_text(evaluation.model),
        "model_params": {key: value for key, value in params.items() if not callable(value)},
        "timings_seconds": evaluation.timings,
        "config": {**split_settings(config), "command": command},
        "versions": software_versions(),
    }
    draw = (lambda recorded: _drawing(recorded, evaluation)) if report else None
    return write_outputs_of(out_dir, results, draw)


def rebuild(results_dir: Path, recorded: dict, data_dir=None) -> dict[str, str]:
    """Write the report of the evaluation in ``results_dir`` again (``knnvision report``)."""
    model = load_model(Path(recorded["model_file"]))
    _, evaluation = reload_evaluation(model, recorded, data_dir, rows="model")
    return write_page(results_dir, *_drawing(recorded, evaluation))


def _drawing(recorded: dict, evaluation: Evaluation) -> Drawing:
    makers = {
        **evaluation.figure_makers(),
        "timings": lambda: timing_breakdown(recorded["timings_seconds"]),
    }
    return makers, _page(recorded, evaluation)


def _page(recorded: dict, evaluation: Evaluation) -> ReportPage:
    name = Path(recorded["model_file"]).name
    model = {
        "model file": recorded["model_file"],
        **{f"model {key}": value_text(value) for key, value in recorded["model_params"].items()},
    }
    return scores_page(
        recorded,
        f"knnvision evaluate: {name} on {recorded['dataset']}",
        {"model": f"{name}: {recorded['model']}"},
        {**model, **search_algorithm(evaluation.model)},
    )
