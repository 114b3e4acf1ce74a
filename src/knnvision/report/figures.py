"""The figures of a knnvision report, one function each, every one returning a ``Figure``.

They take plain arrays (and, for the tuning curve, a
:class:`~knnvision.selection.search_cv.CVResult`), so they work in a notebook as well as in the
report:

>>> from knnvision.report import confusion_heatmap
>>> figure = confusion_heatmap([[5, 1], [0, 6]], ["cat", "dog"])
>>> figure.savefig("confusion.png")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter, StrMethodFormatter

from ..selection.search_cv import CVResult
from .style import (
    AGREES,
    CONTEXT,
    DISAGREES,
    HEATMAP,
    MAX_PANELS,
    class_color,
    class_marker,
    new_figure,
    styled,
)
from .text import count_text, params_text

__all__ = [
    "accuracy_vs_k",
    "confusion_heatmap",
    "misclassified_neighbors",
    "pca_explained_variance",
    "pca_scatter",
    "per_class_scores",
    "sample_grid",
    "timing_breakdown",
]

# Beyond this many classes, cell annotations would be too small to read.
_MAX_ANNOTATED_CLASSES = 20


@styled
def sample_grid(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    per_class: int = 8,
    max_value: float | None = None,
    max_classes: int = 30,
    seed: int = 0,
    title: str = "Example images per class",
) -> Figure:
    """A row of randomly chosen example images for each class, labelled with the class name.

    Parameters
    ----------
    images : ndarray of shape (n, height, width)
        Grayscale images.
    labels : ndarray of shape (n,)
        Class index of each image, ``0 .. len(class_names) - 1``.
    class_names : sequence of str
        Name of each class.
    per_class : int, default=8
        Examples shown per class (fewer when a class has fewer images).
    max_value : float, optional
        Brightest pixel value; default the largest value in ``images``.
    max_classes : int, default=30
        Show at most this many classes (the first ones), to keep the figure readable.
    seed : int, default=0
        Seed of the random choice of examples.
    title : str, default="Example images per class"
        Title above the images (say where they come from: "Example training images ...").
    """
    images, labels = np.asarray(images), np.asarray(labels)
    shown = list(range(min(len(class_names), max_classes)))
    rng = np.random.default_rng(seed)
    rows = [_random_members(labels, c, per_class, rng) for c in shown]
    mosaic = _mosaic([[images[i] for i in row] for row in rows], per_class)
    height, width = images.shape[1:3]

    cell = 0.55 * max(1.0, min(height, width) / 16) ** 0.25  # inches per image
    figure = new_figure(1.6 + per_class * cell, 0.8 + len(shown) * cell)
    axes = figure.add_subplot()
    _show_mosaic(axes, mosaic, max_value if max_value is not None else _brightest(images))
    axes.set_yticks(
        [(r + 0.5) * (height + 1) - 0.5 for r in range(len(shown))], [class_names[c] for c in shown]
    )
    axes.set_xticks([])
    axes.tick_params(length=0)
    for side in axes.spines.values():
        side.set_visible(False)
    if len(shown) < len(class_names):
        title += f" (first {count_text(len(shown))} of {count_text(len(class_names))} classes)"
    axes.set_title(title)
    return figure


@styled
def accuracy_vs_k(cv, *, test_accuracy: float | None = None) -> Figure:
    """Held-out accuracy against k, with its spread, the chosen setting marked.

    The band is the mean plus or minus one standard deviation over the folds; with a single
    split (a validation split) the line is that split's accuracy. When the grid has other
    parameters (distance, weighting, PCA size, ...), each setting of them gets its own panel,
    all on the same axes, with the other settings' lines in grey behind: overlapping bands in
    one panel cannot be told apart. Beyond ``MAX_PANELS`` settings, the best ones are shown
    (the figure's title says how many of how many).

    Parameters
    ----------
    cv : CVResult or mapping
        What :func:`~knnvision.selection.search_cv.cross_validate_grid` returned, or the
        ``cv_results_`` of :class:`~knnvision.KNNSearchCV` or scikit-learn's ``GridSearchCV``
        (``params``, ``mean_test_score``, ``std_test_score``, ``split<i>_test_score`` and,
        when present, ``rank_test_score``; arrays or lists).
    test_accuracy : float, optional
        Test accuracy of the chosen setting, drawn at the chosen k when given.
    """
    scores = _ScoresByK.of(cv)
    series = scores.series()
    if len(series) == 1:
        figure = new_figure(7.5, 4.2)
        axes = figure.add_subplot()
        _draw_accuracy_curve(axes, scores, next(iter(series.values())), scores.label)
        _mark_chosen(axes, scores, test_accuracy)
        axes.set_xlabel("k (number of neighbours)")
        axes.set_ylabel("accuracy")
        axes.set_title("Accuracy against k")
        panels = [axes]
    else:
        figure, panels = _accuracy_panels(scores, series, test_accuracy)
    _format_accuracy_axes(panels, scores)
    figure.legend(loc="outside lower center", ncols=2, frameon=False)
    return figure


def _accuracy_panels(scores: _ScoresByK, series: dict[str, np.ndarray], test_accuracy):
    """One panel per grid setting (the best ``MAX_PANELS``), sharing both axes."""
    shown = _best_series(scores, series, MAX_PANELS)
    columns = 2 if len(shown) <= 4 else 3
    rows = math.ceil(len(shown) / columns)
    figure = new_figure(3.8 * columns + 0.4, 2.4 * rows + 1.2)
    grid = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
    chosen_setting = scores.settings[scores.best]
    for number, (name, members) in enumerate(shown.items()):
        axes = grid.flat[number]
        # The panel's own line first, so the legend lists it before the grey context.
        _draw_accuracy_curve(axes, scores, members, scores.label if number == 0 else None)
        others = [rows for other, rows in series.items() if other != name]
        for count, other in enumerate(others):
            axes.plot(
                scores.ks[other],
                scores.means[other],
                color=CONTEXT,
                linewidth=1,
                zorder=1,
                label="other settings" if number == count == 0 else None,
            )
        chosen = name == chosen_setting
        if chosen:
            _mark_chosen(axes, scores, test_accuracy)
        axes.set_title(
            f"{name} (chosen)" if chosen else name,
            fontsize=10,
            fontweight="bold" if chosen else "normal",
        )
    for axes in grid.flat[len(shown) :]:
        axes.remove()
    for column in range(min(columns, len(shown))):
        # The lowest panel of each column carries the k axis (sharing hid it on the others).
        bottom = grid[(len(shown) - 1 - column) // columns, column]
        bottom.xaxis.set_tick_params(labelbottom=True)
        bottom.set_xlabel("k (number of neighbours)")
    for row in range(rows):
        grid[row, 0].set_ylabel("accuracy")
    title = "Accuracy against k, one panel per setting"
    if len(shown) < len(series):
        title = f"Accuracy against k: the best {len(shown)} of {count_text(len(series))} settings"
    figure.suptitle(title, fontsize=11)
    return figure, list(grid.flat[: len(shown)])


def _best_series(scores: _ScoresByK, series: dict[str, np.ndarray], most: int):
    """At most ``most`` settings, those with the highest best accuracy (the chosen one always),
    kept in grid order so that panels read in the order the grid was given."""
    if len(series) <= most:
        return series
    names = list(series)
    chosen = scores.settings[scores.best]
    # Stable sort: equal best accuracies keep grid order.
    by_best = sorted(names, key=lambda name: (name != chosen, -scores.means[series[name]].max()))
    kept = set(by_best[:most])
    return {name: series[name] for name in names if name in kept}


def _draw_accuracy_curve(axes, scores: _ScoresByK, members: np.ndarray, label) -> None:
    ks, mean = scores.ks[members], scores.means[members]
    spread = scores.spreads[members]
    color = class_color(0)
    # An accuracy is within 0 .. 100%: a band past it would draw an impossible accuracy.
    axes.fill_between(
        ks,
        np.clip(mean - spread, 0, 1),
        np.clip(mean + spread, 0, 1),
        color=color,
        alpha=0.2,
        linewidth=0,
        zorder=2,
    )
    # Unclipped: a point at 100% sits on the top edge, which the axis does not pass.
    axes.plot(ks, mean, marker=class_marker(0), color=color, label=label, zorder=3, clip_on=False)


def _mark_chosen(axes, scores: _ScoresByK, test_accuracy) -> None:
    best_k, best_mean = scores.ks[scores.best], scores.means[scores.best]
    axes.axvline(best_k, color="black", linestyle=":", linewidth=1)
    axes.plot(
        [best_k],
        [best_mean],
        marker="*",
        markersize=16,
        color="black",
        linestyle="none",
        label=f"chosen: k={best_k}, {scores.short} {best_mean:.2%}",
        zorder=4,
        clip_on=False,
    )
    if test_accuracy is not None:
        # Hollow: no line of the grid is drawn white, whatever its colour and marker.
        axes.plot(
            [best_k],
            [test_accuracy],
            marker="D",
            markersize=8,
            color="white",
            markeredgecolor="black",
            markeredgewidth=1.5,
            linestyle="none",
            label=f"test accuracy at k={best_k}: {test_accuracy:.2%}",
            zorder=5,
            clip_on=False,
        )


def _format_accuracy_axes(panels, scores: _ScoresByK) -> None:
    """k ticks, percent ticks, and an accuracy axis that does not pass 100%."""
    all_ks = sorted(set(scores.ks.tolist()))
    for axes in panels:
        axes.yaxis.set_major_formatter(_PercentTicks())
        if len(all_ks) <= 15:
            axes.set_xticks(all_ks)
        else:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, axis="y")
    bottom, top = panels[0].get_ylim()  # shared by all panels
    if top > 1.0:
        panels[0].set_ylim(bottom, 1.0)


@styled
def confusion_heatmap(matrix, class_names: Sequence[str]) -> Figure:
    """The confusion matrix twice: counts, and each row as shares of its true class.

    Parameters
    ----------
    matrix : array-like of shape (n_classes, n_classes)
        Counts; rows are true classes, columns predicted classes.
    class_names : sequence of str
        Name of each class, in matrix order.
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or len(counts) != len(class_names):
        raise ValueError(
            f"matrix must be square with one row per class name ({len(class_names)}), "
            f"got shape {counts.shape}"
        )
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n = len(class_names)
    side = min(6.0, 1.8 + 0.36 * n)  # inches per panel
    figure = new_figure(2 * side + 1.2, side + 0.6)
    left, right = figure.subplots(1, 2)
    image = _heatmap(left, counts, max(int(counts.max()), 1), class_names, count_text)
    left.set_title("Counts")
    figure.colorbar(
        image,
        ax=left,
        shrink=0.8,
        label="test images",
        ticks=MaxNLocator(integer=True),
        format=StrMethodFormatter("{x:,.0f}"),
    )
    image = _heatmap(right, shares * 100, 100, class_names, _percent_text)
    right.set_title("Share of each true class (%)")
    figure.colorbar(image, ax=right, shrink=0.8, format=PercentFormatter(100, decimals=0))
    figure.suptitle(f"Confusion matrix ({count_text(counts.sum())} test images)")
    return figure


@styled
def per_class_scores(
    report: Mapping[str, Mapping[str, float]], class_names: Sequence[str]
) -> Figure:
    """Precision, recall and F1 of each class as a dot plot, with the macro-average F1.

    Parameters
    ----------
    report : mapping
        scikit-learn's ``classification_report(..., output_dict=True)``: per class name a
        mapping with ``precision``, ``recall``, ``f1-score`` and ``support``.
    class_names : sequence of str
        The classes to show, top to bottom.
    """
    missing = [name for name in class_names if name not in report]
    if missing:
        raise ValueError(f"the report has no scores for classes {missing}")
    scores = {
        metric: np.array([report[name][key] for name in class_names])
        for metric, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1-score"))
    }
    rows = np.arange(len(class_names))
    figure = new_figure(7.0, 1.3 + 0.32 * len(class_names))
    axes = figure.add_subplot()
    for number, (metric, values) in enumerate(scores.items()):
        # Offset vertically so equal scores of one class do not hide each other.
        # Unclipped: a score of 100% sits on the right edge, which the axis does not pass.
        axes.plot(
            values,
            rows + (number - 1) * 0.22,
            linestyle="none",
            marker=class_marker(number),
            color=class_color(number),
            markersize=6,
            label=metric,
            clip_on=False,
        )
    macro = report.get("macro avg", {}).get("f1-score")
    if macro is not None:
        axes.axvline(
            macro, color="black", linestyle=":", linewidth=1, label=f"macro-average F1 {macro:.3f}"
        )
    supports = [int(report[name].get("support", 0)) for name in class_names]
    axes.set_yticks(
        rows,
        [
            f"{name}  (n={count_text(support)})"
            for name, support in zip(class_names, supports, strict=True)
        ],
    )
    axes.set_ylim(len(class_names) - 0.5, -0.5)  # first class on top
    axes.set_xlim(*_score_limits(min(float(v.min()) for v in scores.values())))
    axes.xaxis.set_major_formatter(_PercentTicks())
    axes.grid(True, axis="x")
    axes.set_axisbelow(True)
    axes.set_xlabel("score on the test part")
    axes.set_title("Per-class precision, recall and F1")
    figure.legend(loc="outside lower center", ncols=4, frameon=False)
    return figure


@styled
def misclassified_neighbors(
    query_images: np.ndarray,
    true_labels: Sequence[int] | np.ndarray,
    predicted_labels: Sequence[int] | np.ndarray,
    neighbor_images: np.ndarray,
    neighbor_labels: np.ndarray,
    neighbor_distances: np.ndarray,
    class_names: Sequence[str],
    *,
    n_voting: int | None = None,
    max_value: float | None = None,
) -> Figure:
    """Misclassified test images, each beside the training images nearest to it.

    Row ``i`` shows test image ``i`` with its true and predicted class, then its nearest
    training images, nearest first, each with its class and distance. A neighbour framed in
    blue has the test image's true class; one framed in vermillion has another class. The
    first ``n_voting`` (the model's k) voted; later ones are drawn with a dashed frame.

    Parameters
    ----------
    query_images : ndarray of shape (m, height, width)
        The misclassified test images.
    true_labels, predicted_labels : sequence of int, length m
        Their true and predicted class indices.
    neighbor_images : ndarray of shape (m, n, height, width)
        Their n nearest training images, nearest first.
    neighbor_labels : ndarray of shape (m, n)
        Class index of each neighbour.
    neighbor_distances : ndarray of shape (m, n)
        Distance of each neighbour, in the model's metric.
    class_names : sequence of str
        Name of each class.
    n_voting : int, optional
        How many of the neighbours voted (the model's k); default all of them.
    max_value : float, optional
        Brightest pixel value; default the largest value among the images.
    """
    query_images, neighbor_images = np.asarray(query_images), np.asarray(neighbor_images)
    m = len(query_images)
    if m == 0:
        return _message_figure("No test image was misclassified.")
    n = neighbor_images.shape[1]
    if (
        neighbor_images.shape[0] != m
        or np.shape(neighbor_labels) != (m, n)
        or np.shape(neighbor_distances) != (m, n)
    ):
        raise ValueError(
            "neighbour images, labels and distances must have one row per query "
            f"image ({m}) and the same number of neighbours"
        )
    voting = n if n_voting is None else min(int(n_voting), n)
    decimals = _distance_decimals(neighbor_distances)  # one format for the whole figure
    brightest = (
        max_value
        if max_value is not None
        else max(_brightest(query_images), _brightest(neighbor_images))
    )
    # One image axes holding every thumbnail: a grid of 100 small axes takes seconds to lay out.
    height, width = query_images.shape[1:3]
    layout = _ThumbnailLayout(height, width, n)
    # Colour images keep their channel axis: (..., 3).
    mosaic = np.full((m * layout.row_height, layout.total_width, *query_images.shape[3:]), np.nan)
    figure = new_figure(
        max(7.0, layout.total_width * layout.inches_per_pixel + 0.3),
        m * layout.row_height * layout.inches_per_pixel + 0.8,
    )
    axes = figure.add_subplot()
    for row in range(m):
        truth, guess = int(true_labels[row]), int(predicted_labels[row])
        caption = f"true: {_short(class_names[truth])}\npredicted: {_short(class_names[guess])}"
        layout.place(axes, mosaic, row, 0, query_images[row], "black", False, caption)
        for j in range(n):
            label = int(neighbor_labels[row, j])
            layout.place(
                axes,
                mosaic,
                row,
                j + 1,
                neighbor_images[row, j],
                AGREES if label == truth else DISAGREES,
                j >= voting,
                f"{_short(class_names[label])}\n"
                f"d = {_distance_text(neighbor_distances[row, j], decimals)}",
            )
    _show_mosaic(axes, mosaic, brightest)
    axes.set_axis_off()
    if voting == n:
        voted = f"all {n} voted"
    else:
        nearest = "only the nearest" if voting == 1 else f"the nearest {voting}"
        voted = f"{nearest} voted (k={voting}), dashed did not"
    figure.suptitle(
        f"Misclassified test images (left) and their {n} nearest training images\n"
        f"frame: blue = the true class, vermillion = another class; {voted}",
        fontsize=10,
    )
    return figure


@styled
def pca_explained_variance(
    explained_variance_ratio, *, thresholds: Sequence[float] = (0.9, 0.95)
) -> Figure:
    """Share of the variance each principal component explains, and the running total.

    Parameters
    ----------
    explained_variance_ratio : array-like of shape (n_components,)
        A fitted PCA's ``explained_variance_ratio_`` (any PCA: knnvision's, scikit-learn's).
    thresholds : sequence of float, default=(0.9, 0.95)
        Shares of variance marked on the cumulative curve, with the components they need.
    """
    ratio = np.asarray(explained_variance_ratio, dtype=float).ravel()
    if ratio.size == 0 or np.any(ratio < 0):
        raise ValueError("explained_variance_ratio must be a non-empty array of shares >= 0")
    components = np.arange(1, ratio.size + 1)
    cumulative = np.cumsum(ratio)
    figure = new_figure(10.0, 3.8)
    each, total = figure.subplots(1, 2)
    if ratio.size <= 60:
        each.bar(components, ratio, color=class_color(0), width=0.8)
    else:
        each.plot(components, ratio, color=class_color(0))
    each.set_title("Per component")
    each.set_ylabel("share of variance")
    total.plot(
        components, cumulative, color=class_color(0), marker="o" if ratio.size <= 30 else None
    )
    for number, threshold in enumerate(thresholds):
        reached = np.flatnonzero(cumulative >= threshold - 1e-12)
        if reached.size:
            needed = int(reached[0]) + 1
            color = class_color(number + 1)
            total.axhline(threshold, color=color, linestyle=":", linewidth=1)
            total.plot(
                [needed],
                [cumulative[needed - 1]],
                marker="o",
                color=color,
                linestyle="none",
                label=f"{threshold:.0%} with {needed} components",
            )
    total.set_title("Cumulative")
    total.set_ylabel("share of variance")
    total.set_ylim(0, 1.02)
    for axes in (each, total):
        axes.set_xlabel("principal component")
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, axis="y")
    if total.get_legend_handles_labels()[0]:
        total.legend(loc="lower right", frameon=False)
    figure.suptitle(
        f"PCA: explained variance ({count_text(ratio.size)} components, "
        f"{cumulative[-1]:.1%} in all)"
    )
    return figure


@styled
def pca_scatter(
    points,
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    *,
    explained_variance_ratio=None,
) -> Figure:
    """The first two principal components of some images, one colour and marker per class.

    Parameters
    ----------
    points : array-like of shape (n, 2) or wider
        Projected images; the first two columns are drawn.
    labels : sequence of int, length n
        Class index of each point.
    class_names : sequence of str
        Name of each class (the legend).
    explained_variance_ratio : array-like, optional
        When given, the axis labels say how much variance each component explains.
    """
    points = np.asarray(points, dtype=float)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1] < 2 or len(points) != len(labels):
        raise ValueError(
            f"points must be (n, 2) with one label each, got {points.shape} and {labels.shape}"
        )
    figure = new_figure(7.5, 6.0)
    axes = figure.add_subplot()
    size = 18 if len(points) <= 2000 else 8
    for c, name in enumerate(class_names):
        member = labels == c
        if member.any():
            axes.scatter(
                points[member, 0],
                points[member, 1],
                s=size,
                alpha=0.75,
                color=class_color(c),
                marker=class_marker(c),
                linewidths=0,
                label=name,
            )
    ratio = None if explained_variance_ratio is None else np.asarray(explained_variance_ratio)
    for axis, number in ((axes.xaxis, 0), (axes.yaxis, 1)):
        share = ""
        if ratio is not None and ratio.size > number:
            share = f" ({ratio[number]:.1%} of variance)"
        axis.set_label_text(f"principal component {number + 1}{share}")
    axes.set_title(f"First two principal components ({count_text(len(points))} images)")
    figure.legend(
        loc="outside right center",
        frameon=False,
        markerscale=1.8,
        ncols=1 if len(class_names) <= 20 else 2,
    )
    return figure


@styled
def timing_breakdown(timings: Mapping[str, float]) -> Figure:
    """Where the time of a run went: one bar per step, in seconds and as a share.

    Parameters
    ----------
    timings : mapping of str to float
        Seconds per step, in the order the steps ran (``ExperimentResult.timings``).
    """
    if not timings:
        return _message_figure("No timings were recorded.")
    names = [name.replace("_", " ") for name in timings]
    seconds = np.array([float(v) for v in timings.values()])
    total = float(seconds.sum())
    figure = new_figure(7.5, 1.2 + 0.45 * len(names))
    axes = figure.add_subplot()
    rows = np.arange(len(names))
    axes.barh(rows, seconds, color=class_color(0), height=0.6)
    for row, value in zip(rows, seconds, strict=True):
        share = value / total if total > 0 else 0.0
        axes.annotate(
            f"{value:.2f} s ({share:.0%})",
            (value, row),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
        )
    axes.set_yticks(rows, names)
    axes.set_ylim(len(names) - 0.5, -0.5)  # first step on top
    axes.set_xlim(0, max(float(seconds.max()), 1e-3) * 1.3)  # room for the value labels
    axes.set_axisbelow(True)
    axes.set_xlabel("seconds")
    axes.grid(True, axis="x")
    axes.set_title(f"Where the time went ({total:.2f} s in all)")
    return figure


# --- helpers -------------------------------------------------------------------------------


def _random_members(labels: np.ndarray, label: int, count: int, rng) -> np.ndarray:
    members = np.flatnonzero(labels == label)
    chosen = rng.choice(members, size=min(count, len(members)), replace=False)
    return np.sort(chosen)


def _mosaic(rows: list[list[np.ndarray]], columns: int) -> np.ndarray:
    """One float image of the rows of images, one pixel of NaN (drawn white) between them;
    colour images keep their channel axis."""
    shape = next(image.shape for row in rows for image in row) if any(rows) else (1, 1)
    (height, width), channels = shape[:2], shape[2:]
    mosaic = np.full((len(rows) * (height + 1) - 1, columns * (width + 1) - 1, *channels), np.nan)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            top, left = r * (height + 1), c * (width + 1)
            mosaic[top : top + height, left : left + width] = image
    return mosaic


def _show_mosaic(axes, mosaic: np.ndarray, brightest: float) -> None:
    """Draw a mosaic of grayscale (2-D) or RGB (3-D) images, its NaN gaps white, pixel values
    ``0 .. brightest``."""
    if mosaic.ndim == 2:
        axes.imshow(mosaic, cmap=_gray_with_white_gaps(), vmin=0, vmax=brightest)
        return
    # RGB has no colour map to give NaN a colour: the gaps are transparent over white.
    gaps = np.isnan(mosaic).any(axis=-1)
    rgb = np.clip(np.nan_to_num(mosaic) / brightest, 0.0, 1.0)
    axes.imshow(np.dstack([rgb, (~gaps).astype(float)]))


def _gray_with_white_gaps():
    return colormaps["gray"].with_extremes(bad="white")


def _brightest(images: np.ndarray) -> float:
    return float(images.max()) if images.size and images.max() > 0 else 1.0


class _ScoresByK:
    """Held-out accuracy of every candidate of a grid, whatever search measured it.

    ``settings[i]`` are candidate ``i``'s parameters other than k, ``ks[i]`` its k;
    ``means``/``spreads`` its mean accuracy and standard deviation over ``n_folds`` folds;
    ``best`` the chosen candidate.
    """

    def __init__(self, params: Sequence[Mapping], means, spreads, n_folds: int, best: int):
        self.ks = np.array([_k_of(p) for p in params])
        # A parameter with one value in the whole grid tells the lines nothing apart.
        varying = {
            key
            for p in params
            for key in p
            if not key.endswith("n_neighbors") and _differs(params, key)
        }
        self.settings = [
            params_text({key: value for key, value in p.items() if key in varying}) for p in params
        ]
        self.means = np.asarray(means, dtype=float)
        self.spreads = np.asarray(spreads, dtype=float)
        self.n_folds, self.best = n_folds, best
        # One split is a validation split: no spread, and its accuracy is not a CV mean.
        self.short = "validation" if n_folds == 1 else "CV"
        self.label = (
            "validation accuracy"
            if n_folds == 1
            else f"cross-validation mean ± 1 std ({n_folds} folds)"
        )

    @classmethod
    def of(cls, cv) -> _ScoresByK:
        if isinstance(cv, CVResult):
            return cls(
                [c.params() for c in cv.candidates],
                cv.mean_scores,
                cv.std_scores,
                cv.n_folds,
                cv.best_index,
            )
        means = np.asarray(cv["mean_test_score"], dtype=float)
        n_folds = sum(1 for key in cv if _FOLD_KEY.fullmatch(key))
        # GridSearchCV's best_index_ is the first candidate ranked 1.
        best = (
            int(np.argmin(cv["rank_test_score"]))
            if "rank_test_score" in cv
            else int(np.argmax(means))
        )
        return cls(list(cv["params"]), means, cv["std_test_score"], n_folds, best)

    def series(self) -> dict[str, np.ndarray]:
        """Candidate indices grouped by their setting other than k, each in increasing k."""
        groups: dict[str, list[int]] = {}
        for i, setting in enumerate(self.settings):
            groups.setdefault(setting, []).append(i)
        return {
            name: np.array(sorted(members, key=lambda i: self.ks[i]))
            for name, members in groups.items()
        }


_FOLD_KEY = re.compile(r"split\d+_test_score")


def _differs(params: Sequence[Mapping], key: str) -> bool:
    """Whether ``key`` takes more than one value over the candidates (or is missing in some)."""
    first = params[0].get(key, _MISSING)
    return any(p.get(key, _MISSING) != first for p in params)


_MISSING = object()


def _k_of(params: Mapping) -> int:
    """The k of a grid candidate (``n_neighbors``, or a pipeline's ``<step>__n_neighbors``)."""
    keys = [key for key in params if key.endswith("n_neighbors")]
    if len(keys) != 1:
        raise ValueError(
            f"a candidate of an accuracy-against-k curve needs one n_neighbors "
            f"parameter; got {dict(params)}"
        )
    return int(params[keys[0]])


def _heatmap(axes, values: np.ndarray, top: float, class_names, text: Callable[[float], str]):
    """Draw ``values`` (0 .. ``top``) as colours, and write them in the cells."""
    n = len(class_names)
    image = axes.imshow(values, cmap=HEATMAP, vmin=0, vmax=top)
    ticks = np.arange(n)
    rotate = max(len(name) for name in class_names) > 3
    axes.set_xticks(
        ticks,
        class_names,
        rotation=45 if rotate else 0,
        ha="right" if rotate else "center",
        rotation_mode="anchor",
    )
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    for side in axes.spines.values():
        side.set_visible(False)
    if n <= _MAX_ANNOTATED_CLASSES:
        size = 9 if n <= 12 else 7
        for (i, j), value in np.ndenumerate(values):
            if value == 0 and i != j:
                continue  # empty off-diagonal cells stay blank, so the errors stand out
            # cividis is dark at 0 and light at the top: pick the text colour that contrasts.
            color = "white" if value < 0.55 * top else "black"
            axes.text(j, i, text(value), ha="center", va="center", color=color, fontsize=size)
    return image


class _ThumbnailLayout:
    """Where each thumbnail of the misclassification figure goes, in mosaic pixels.

    Each row leaves room above its images for a two-line label; the test image (column 0)
    is set apart from its neighbours by a wider gap, which also takes its longer label.
    """

    inches_per_pixel: float

    def __init__(self, height: int, width: int, n_neighbors: int):
        self.height, self.width = height, width
        self.gap = max(1, round(0.12 * width))
        self.margin = max(1, round(0.3 * width))  # left of the test image, for its label
        self.separation = max(2, round(0.4 * width))
        self.label_room = max(2, round(0.45 * height))
        # The row's label room plus a pixel below, so the frames' lines are not cut off.
        self.row_height = height + self.label_room + 1
        self.total_width = (
            self.margin + (n_neighbors + 1) * width + n_neighbors * self.gap + self.separation + 1
        )
        self.inches_per_pixel = 1.05 / width  # a thumbnail is 1.05 inches wide

    def place(
        self, axes, mosaic, row: int, column: int, image, frame: str, dashed: bool, label: str
    ) -> None:
        """Copy ``image`` into the mosaic, frame it, and write its label above it."""
        from matplotlib.patches import Rectangle

        left = self.margin + column * (self.width + self.gap)
        if column > 0:
            left += self.separation
        top = row * self.row_height + self.label_room
        mosaic[top : top + self.height, left : left + self.width] = image
        # Pixel centres are at integer coordinates, so the image spans -0.5 .. size - 0.5.
        axes.add_patch(
            Rectangle(
                (left - 0.5, top - 0.5),
                self.width,
                self.height,
                fill=False,
                edgecolor=frame,
                linewidth=2.5,
                linestyle=(0, (2, 2)) if dashed else "solid",
            )
        )
        axes.text(
            left - 0.5 + self.width / 2,
            top - 0.5 - 0.08 * self.height,
            label,
            ha="center",
            va="bottom",
            fontsize=8,
        )


def _percent_text(percent: float) -> str:
    """Whole percents, with one decimal below 10 and just under 100, so that one error in
    1,000 reads neither 0 nor a perfect 100."""
    return f"{percent:.1f}" if 0 < percent < 9.95 or 99.5 <= percent < 100 else f"{percent:.0f}"


def _distance_decimals(distances) -> int:
    """Decimals of every distance label of a figure, from the data's scale: none when all are
    whole numbers (Manhattan distances of integer pixels), else three significant digits for
    the largest (``24.0 .. 29.7``, ``1,205 .. 2,310``, ``0.412 .. 0.655``).

    One count for the whole figure: ``d = 28`` beside ``d = 28.1`` reads as two precisions.
    """
    values = np.abs(np.asarray(distances, dtype=float))
    values = values[np.isfinite(values)]
    if values.size == 0 or np.all(values == np.round(values)):
        return 0
    return int(min(6, max(0, 2 - math.floor(math.log10(values.max())))))


def _distance_text(distance: float, decimals: int) -> str:
    return f"{distance:,.{decimals}f}"


def _score_limits(lowest: float) -> tuple[float, float]:
    """The score axis of the per-class figure: a little room left of the lowest score, at
    least 5 points wide, and 100% at the right edge (no score can pass it)."""
    left = max(0.0, lowest - 0.05 * max(1 - lowest, 0.1))
    return min(left, 0.95), 1.0


def _decimals_needed(values: Sequence[float], most: int = 4) -> int:
    """The fewest decimals that write each of ``values`` exactly (up to ``most``)."""
    for decimals in range(most + 1):
        if all(abs(round(value, decimals) - value) < 1e-6 for value in values):
            return decimals
    return most


class _PercentTicks(PercentFormatter):
    """Percent tick labels (of shares 0 .. 1) with the decimals the ticks need, the same for
    all of them: 92%, 94%, ... or 99.25%, 99.50%, ... (matplotlib's own choice follows the
    axis range, and writes 92.0% for ticks on whole percents)."""

    def __init__(self):
        super().__init__(1.0, decimals=0)

    def set_locs(self, locs):
        super().set_locs(locs)
        self.decimals = _decimals_needed([100 * loc for loc in locs])


def _short(name: str, width: int = 12) -> str:
    """A class name shortened to fit under a thumbnail."""
    return name if len(name) <= width else name[: width - 1].rstrip() + "…"


@styled
def _message_figure(message: str) -> Figure:
    figure = new_figure(6.0, 1.2)
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    return figure
