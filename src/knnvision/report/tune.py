"""The report of ``knnvision tune``: a grid search's scores, and its best model on the test part.

:func:`write_outputs` saves the best model (``model.knnv``), ``results.json`` (the search's
``cv_results_`` included) and, unless told not to, the report. The page is drawn from what
``results.json`` holds plus the reloaded model and test part, so ``knnvision report DIR``
(:func:`rebuild`) draws the same page again.
"""

from __future__ import annotations

from pathlib import Path

from ..io import save
from ..results.experiment import ExperimentConfig, model_metadata, software_versions
from . import figures
from .evaluation import (
    Evaluation,
    load_model,
    reload_evaluation,
    scores_page,
    search_algorithm,
    split_settings,
)
from .files import Drawing, write_page
from .files import write_outputs as write_outputs_of
from .html import ReportPage, TextTable
from .text import count_text, params_text, top_settings

__all__ = ["rebuild", "write_outputs"]


def write_outputs(
    out_dir: str | Path,
    search,
    evaluation: Evaluation,
    config: ExperimentConfig,
    settings: dict,
    *,
    report: bool = True,
) -> dict[str, str]:
    """Save the best model as ``model.knnv``, then ``results.json`` and the report as
    :func:`~knnvision.report.files.write_outputs` does.

    ``search`` is the fitted :class:`~knnvision.KNNSearchCV`; ``evaluation`` its best model
    on the test part (``timings``: the seconds of each step); ``config`` the dataset and
    split; ``settings`` the grid and other options as given, with the ``command`` line.
    Returns the paths written, ``"model"`` included.
    """
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    model_path = save(
        evaluation.model,
        Path(out_dir) / "model.knnv",
        metadata=model_metadata(evaluation.dataset, config),
    )
    results = {
        "kind": "tune",
        **evaluation.to_json(),
        "best_params": search.best_params_,
        "best_index": search.best_index_,
        "cv_folds": search.n_splits_,
        # param_* repeat params as masked arrays: left out.
        "cv_results": {
            key: value for key, value in search.cv_results_.items() if not key.startswith("param_")
        },
        "timings_seconds": evaluation.timings,
        "config": {**split_settings(config), **settings},
        "versions": software_versions(),
    }
    draw = (lambda recorded: _drawing(recorded, evaluation)) if report else None
    return {"model": str(model_path), **write_outputs_of(out_dir, results, draw)}


def rebuild(results_dir: Path, recorded: dict, data_dir=None) -> dict[str, str]:
    """Write the report of the tuning in ``results_dir`` again (``knnvision report``)."""
    model = load_model(results_dir / "model.knnv")
    _, evaluation = reload_evaluation(model, recorded, data_dir)
    return write_page(results_dir, *_drawing(recorded, evaluation))


def _drawing(recorded: dict, evaluation: Evaluation) -> Drawing:
    makers = {
        "accuracy_vs_k": lambda: figures.accuracy_vs_k(
            recorded["cv_results"], test_accuracy=recorded["test_accuracy"]
        ),
        **evaluation.figure_makers(),
        "timings": lambda: figures.timing_breakdown(recorded["timings_seconds"]),
    }
    return makers, _page(recorded, evaluation)


def _page(recorded: dict, evaluation: Evaluation) -> ReportPage:
    cv, best, settings = recorded["cv_results"], recorded["best_index"], recorded["config"]
    rows = top_settings(cv, int(settings.get("top", 10)))
    mean, spread = cv["mean_test_score"][best], cv["std_test_score"][best]
    table = TextTable(
        "top_settings",
        "Best settings",
        ["rank", "setting", "CV accuracy (mean ± std)"],
        rows,
        f"The best {count_text(len(rows))} of {count_text(len(cv['params']))} settings by "
        f"{recorded['cv_folds']}-fold cross-validation on the training part (stratified, "
        "unshuffled folds, as GridSearchCV). Settings whose accuracy reads the same here share "
        "a rank; among them the higher unrounded accuracy comes first, then the grid's order.",
    )
    chosen = {f"chosen {key}": str(value) for key, value in recorded["best_params"].items()}
    return scores_page(
        recorded,
        f"knnvision tune: {recorded['dataset']}",
        {
            "best setting": params_text(recorded["best_params"]),
            "CV accuracy": f"{mean:.2%} ± {spread:.2%}",
        },
        {**chosen, **search_algorithm(evaluation.model)},
        [table],
    )
