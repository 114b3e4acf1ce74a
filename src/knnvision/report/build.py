"""``knnvision report RESULTS_DIR``: rebuild any report from its folder.

Each ``results.json`` says which command wrote it (``kind``: ``run``, ``tune``,
``evaluate``, ``recipe``); the report of that kind is drawn again from the file, plus the
model and the dataset where its figures need them.
"""

from __future__ import annotations

from pathlib import Path

from . import evaluate, recipe, run, tune
from .files import read_results

__all__ = ["rebuild_report"]

_REBUILDERS = {
    "run": run.rebuild,
    "tune": tune.rebuild,
    "evaluate": evaluate.rebuild,
    "recipe": recipe.rebuild,
}


def rebuild_report(results_dir: str | Path, data_dir: str | Path | None = None) -> dict[str, str]:
    """Rebuild ``report.html`` and the figures of a finished command from its folder.

    Parameters
    ----------
    results_dir : str or path
        A folder written by ``knnvision run``, ``tune``, ``evaluate`` or ``recipe``.
    data_dir : str or path, optional
        Where the dataset's files are now, when not where the command found them.

    Returns
    -------
    dict
        Paths written: ``"report"`` (the HTML page) and ``"figures"`` (the PNG folder).

    Raises
    ------
    FileNotFoundError
        If the folder lacks ``results.json``, or a model file the report needs.
    ValueError
        If ``results.json`` is of an unknown kind, or the data no longer give its results.
    """
    results_dir = Path(results_dir)
    recorded = read_results(results_dir)
    # Folders written before results.json recorded its kind are all runs.
    kind = recorded.get("kind", "run")
    if kind not in _REBUILDERS:
        raise ValueError(
            f"{results_dir / 'results.json'} is of an unknown kind {kind!r}; "
            f"knnvision reports {', '.join(_REBUILDERS)}."
        )
    return _REBUILDERS[kind](results_dir, recorded, data_dir)
