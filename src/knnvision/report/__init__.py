"""Plots and a self-contained HTML report of an experiment.

Every figure is a function returning a :class:`matplotlib.figure.Figure` (built without
``pyplot``, on an Agg canvas), usable on its own in a notebook:

>>> from knnvision.report import accuracy_vs_k, confusion_heatmap  # doctest: +SKIP

Every command that measures something writes, next to its ``results.json``, the figures as
``figures/*.png`` and one self-contained ``report.html``: ``knnvision run``
(:func:`write_report`), ``tune`` (:mod:`.tune`), ``evaluate`` (:mod:`.evaluate`) and the
recipes (:mod:`.recipe`). :func:`rebuild_report` does it again from a results folder
(``knnvision report RESULTS_DIR``), whichever command wrote it.
"""

from .build import rebuild_report
from .evaluation import find_pca
from .figures import (
    accuracy_vs_k,
    confusion_heatmap,
    misclassified_neighbors,
    pca_explained_variance,
    pca_scatter,
    per_class_scores,
    sample_grid,
    timing_breakdown,
)
from .html import FigureImage, ReportPage, TextTable, render_html
from .run import experiment_figures, load_result, write_report

__all__ = [
    "FigureImage",
    "ReportPage",
    "TextTable",
    "accuracy_vs_k",
    "confusion_heatmap",
    "experiment_figures",
    "find_pca",
    "load_result",
    "misclassified_neighbors",
    "pca_explained_variance",
    "pca_scatter",
    "per_class_scores",
    "rebuild_report",
    "render_html",
    "sample_grid",
    "timing_breakdown",
    "write_report",
]
