"""A report on disk: ``results.json``, ``figures/*.png`` and ``report.html``.

Every kind of report (``run``, ``tune``, ``evaluate``, a recipe) writes its folder through
these functions, so all folders look alike and ``knnvision report DIR`` can rebuild any of
them from its ``results.json``.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import progress
from .html import FigureImage, ReportPage, render_html
from .text import CAPTIONS

__all__ = [
    "Drawing",
    "Makers",
    "draw_figures",
    "read_results",
    "write_outputs",
    "write_page",
    "write_results",
]

#: Figure makers by name, in page order: each returns its figure, or ``None`` when it has
#: nothing to show.
Makers = Mapping[str, Callable[[], Figure | None]]
#: What a report draws: its figure makers and its page (whose figures are filled in).
Drawing = tuple[Makers, ReportPage]


def draw_figures(makers: Makers) -> dict[str, Figure]:
    """Call each figure maker in order; those with nothing to show return ``None``.

    Returns
    -------
    dict
        The figures drawn, by name, in the makers' order.
    """
    built = {}
    with progress.track(total=len(makers), description="drawing figures") as task:
        for name, make in makers.items():
            figure = make()
            if figure is not None:
                built[name] = figure
            task.advance()
    return built


def write_outputs(
    out_dir: str | Path, results: dict, draw: Callable[[dict], Drawing] | None
) -> dict[str, str]:
    """Write ``results.json`` and, when ``draw`` is given, the report drawn from it.

    Parameters
    ----------
    out_dir : str or path
        Folder to write into (created if needed).
    results : dict
        What to record; its ``kind`` names the report that ``knnvision report`` rebuilds.
    draw : callable, optional
        ``draw(recorded)`` gives the figure makers and the page, from ``results`` as read
        back from the file; ``None`` writes no report (``--no-report``).

    Returns
    -------
    dict
        Paths written: ``"results"`` and, with a report, ``"report"`` (the HTML page) and
        ``"figures"`` (the PNG folder).
    """
    path, recorded = write_results(out_dir, results)
    files = {"results": str(path)}
    if draw is not None:
        files.update(write_page(out_dir, *draw(recorded)))
    return files


def write_page(out_dir: str | Path, makers: Makers, page: ReportPage) -> dict[str, str]:
    """Draw the figures, write each as ``figures/NAME.png`` and ``page`` with them as
    ``report.html``.

    Parameters
    ----------
    out_dir : str or path
        Folder to write into (created if needed).
    makers : mapping of str to callable
        Figure makers by name (a key of :data:`~knnvision.report.text.CAPTIONS`), in page
        order, as :func:`draw_figures` takes them.
    page : ReportPage
        Everything else the page shows; its ``figures`` are replaced by those drawn.

    Returns
    -------
    dict
        Paths written: ``"report"`` (the HTML page) and ``"figures"`` (the PNG folder).
    """
    built = draw_figures(makers)
    out_dir = Path(out_dir)
    figure_dir = out_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    images = []
    for name, figure in built.items():
        png = _png_bytes(figure)
        (figure_dir / f"{name}.png").write_bytes(png)
        images.append(FigureImage(name, *CAPTIONS[name], png))
    for name in CAPTIONS.keys() - built.keys():  # e.g. PCA figures of an earlier run here
        (figure_dir / f"{name}.png").unlink(missing_ok=True)
    report_path = out_dir / "report.html"
    report_path.write_text(render_html(dataclasses.replace(page, figures=images)), encoding="utf-8")
    return {"report": str(report_path), "figures": str(figure_dir)}


def write_results(out_dir: str | Path, results: dict) -> tuple[Path, dict]:
    """Write ``results.json`` into ``out_dir`` (created if needed).

    NumPy numbers and arrays become JSON numbers and lists; anything else JSON cannot hold
    (an estimator in a grid's parameters, say) is written as its text.

    Returns
    -------
    path : Path
        The file written.
    recorded : dict
        ``results`` as read back from the file: the report is built from it, so a report
        rebuilt later from the same file is the same page.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    text = json.dumps(results, indent=2, default=_json_value)
    path.write_text(text, encoding="utf-8")
    return path, json.loads(text)


def read_results(results_dir: str | Path) -> dict:
    """The ``results.json`` of a results folder.

    Raises
    ------
    FileNotFoundError
        If the folder has none.
    ValueError
        If it is not valid JSON.
    """
    path = Path(results_dir) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; give the folder a `knnvision run --out FOLDER` (or tune, "
            "evaluate, recipe) wrote."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); rerun the command that wrote it."
        ) from None


def _json_value(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software"/date metadata: the same run gives the same bytes.
    figure.savefig(buffer, format="png", facecolor="white", metadata={"Software": None})
    return buffer.getvalue()
