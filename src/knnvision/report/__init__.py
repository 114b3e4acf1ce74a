"""Plots and a self-contained HTML report of an experiment.

Every figure is a function returning a :class:`matplotlib.figure.Figure` (built without
``pyplot``, on an Agg canvas), usable on its own in a notebook:

>>> from knnvision.report import accuracy_vs_k, confusion_heatmap  # doctest: +SKIP

:func:`write_report` writes ``figures/*.png`` and ``report.html`` for an
:class:`~knnvision.pipeline.ExperimentResult`; :func:`rebuild_report` does it again from a
results folder (``knnvision report RESULTS_DIR``).
"""

from .build import experiment_figures, find_pca, load_result, rebuild_report, write_report
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
from .html import FigureImage, ReportPage, render_html

__all__ = [
    "FigureImage",
    "ReportPage",
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
