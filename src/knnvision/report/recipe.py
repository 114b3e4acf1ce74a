"""The report of ``knnvision recipe NAME``: a tutorial's numbers next to knnvision's.

Everything the page shows is in ``results.json`` (the numbers, the recipe's tables and the data of
its figures, :attr:`~knnvision.experiments.recipes.RecipeResult.plots`), so ``knnvision report DIR``
(:func:`rebuild`) redraws it without running the recipe again or reading any dataset.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..results.experiment import software_versions
from ..results.recipe import RecipeOptions, RecipeResult, Row
from . import figures
from .files import Drawing, write_page
from .files import write_outputs as write_outputs_of
from .html import ReportPage, TextTable
from .text import command_lines, settings_table

__all__ = ["rebuild", "write_outputs"]

#: Numbers shown in the headline, those the tutorial states first.
HEADLINE_ROWS = 3
#: What the "tutorial" column's dash means.
NO_NUMBER = "— : the tutorial's text states no number for it."


def write_outputs(
    out_dir: str | Path,
    result: RecipeResult,
    options: RecipeOptions,
    command: list[str] | None = None,
    *,
    report: bool = True,
) -> dict[str, str]:
    """Write ``results.json`` and the report of a recipe's ``result``, run with ``options``
    by ``command``, as :func:`~knnvision.report.files.write_outputs` does."""
    results = {
        "kind": "recipe",
        "recipe": dataclasses.asdict(result),
        "options": dataclasses.asdict(options),
        "command": command,
        "versions": software_versions(),
    }
    return write_outputs_of(out_dir, results, _drawing if report else None)


def rebuild(results_dir: Path, recorded: dict, data_dir=None) -> dict[str, str]:
    """Write the report of the recipe run in ``results_dir`` again (``knnvision report``);
    ``data_dir`` is not needed."""
    return write_page(results_dir, *_drawing(recorded))


def _drawing(recorded: dict) -> Drawing:
    plots = recorded["recipe"]["plots"]
    makers = {}  # what the recipe's plots allow, in page order
    if "cv_results" in plots:
        makers["accuracy_vs_k"] = lambda: figures.accuracy_vs_k(
            plots["cv_results"], test_accuracy=plots.get("test_accuracy")
        )
    if "explained_variance_ratio" in plots:
        makers["pca_variance"] = lambda: figures.pca_explained_variance(
            plots["explained_variance_ratio"]
        )
    if "confusion_matrix" in plots:
        makers["confusion"] = lambda: figures.confusion_heatmap(
            plots["confusion_matrix"], plots["class_names"]
        )
        makers["per_class"] = lambda: figures.per_class_scores(
            plots["classification_report"], plots["class_names"]
        )
    makers["timings"] = lambda: figures.timing_breakdown(recorded["recipe"]["seconds"])
    return makers, _page(recorded)


def _page(recorded: dict) -> ReportPage:
    recipe, options = recorded["recipe"], recorded["options"]
    rows = [Row(**row) for row in recipe["rows"]]
    # Rows with the tutorial's own number first: those are what the recipe reproduces.
    first = sorted(rows, key=lambda row: row.tutorial is None)[:HEADLINE_ROWS]
    headline = {
        "recipe": recipe["name"],
        **{
            row.quantity: row.shown(row.knnvision)
            + (f" (tutorial: {row.shown(row.tutorial)})" if row.tutorial is not None else "")
            for row in first
        },
        "time": f"{sum(recipe['seconds'].values()):.2f} s",
    }
    numbers = TextTable(
        "numbers",
        "The tutorial's numbers and knnvision's",
        ["", "tutorial", "knnvision", "scikit-learn"],
        [
            [row.quantity, *(row.shown(v) for v in (row.tutorial, row.knnvision, row.scikit_learn))]
            for row in rows
        ],
    )
    details = [
        TextTable(f"table-{i + 1}", table["title"], table["header"], table["rows"])
        for i, table in enumerate(recipe["tables"])
    ]
    notes = [*recipe["notes"], *([NO_NUMBER] if any(r.tutorial is None for r in rows) else [])]
    if "predicted_by" in recipe["plots"]:
        notes.append(
            "The confusion matrix and per-class scores are those of "
            f"{recipe['plots']['predicted_by']} on the test images."
        )
    return ReportPage(
        title=f"knnvision recipe: {recipe['name']}",
        headline=headline,
        figures=[],
        parameters={
            "experiment": recipe["title"],
            "setup": recipe["setup"],
            **settings_table(options),
        },
        versions=recorded["versions"],
        commands=_commands(recorded),
        tables=[numbers, *details],
        notes=notes,
    )


def _commands(recorded: dict) -> dict[str, str]:
    arguments = ", ".join(f"{key}={value!r}" for key, value in recorded["options"].items())
    return {
        **command_lines(recorded.get("command")),
        "Python:": "from knnvision.experiments.recipes import RecipeOptions, run_recipe\n"
        f"result = run_recipe({recorded['recipe']['name']!r}, "
        f"RecipeOptions({arguments}))",
    }
