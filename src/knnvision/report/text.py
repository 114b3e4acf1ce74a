"""The words of every report: figure titles and captions, and settings written as a user
types them. Shared by the pages of ``run``, ``tune``, ``evaluate`` and the recipes, so the
same figure reads the same everywhere."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

import numpy as np

from .style import MAX_PANELS

__all__ = [
    "CAPTIONS",
    "command_lines",
    "count_text",
    "dataset_text",
    "params_text",
    "settings_table",
    "shown_ranks",
    "top_settings",
    "value_text",
]

#: Heading and caption of each figure, by its file name (``figures/NAME.png``).
CAPTIONS: dict[str, tuple[str, str]] = {
    "samples": (
        "Example images",
        "Randomly chosen images of each class from the training part (the images the model "
        "searches for neighbours).",
    ),
    "accuracy_vs_k": (
        "Accuracy against k",
        "Accuracy on held-out data for each k tried: the mean over the cross-validation folds "
        "with a band of ± one standard deviation (or the accuracy on one validation split). "
        "When the grid has other settings, each has its own panel on the same axes (the best "
        f"{MAX_PANELS} when there are more), with the other settings' lines in grey behind "
        "it. The star marks the chosen setting, the diamond its accuracy on the test part.",
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
    "timings": ("Timing", "Wall-clock seconds of each step."),
}


def params_text(params: Mapping) -> str:
    """A grid setting as one line: ``metric=euclidean, weights=uniform, pca=20``.

    Pipeline prefixes go (``knn__weights`` reads ``weights``; ``pca__n_components`` reads ``pca``),
    ``p`` is shown for the Minkowski distance only (the others ignore it), and a skipped
    step (``"passthrough"``) reads ``none``.
    """
    shown = {key.removeprefix("knn__"): value for key, value in params.items()}
    if shown.get("metric", "minkowski") != "minkowski":
        shown.pop("p", None)
    shown = {("pca" if key == "pca__n_components" else key): value for key, value in shown.items()}
    return ", ".join(
        f"{key}={'none' if value == 'passthrough' else value}" for key, value in shown.items()
    )


def value_text(value) -> str:
    """A setting as a user would type it: lists comma-separated, (metric, p) as metric:p."""
    if isinstance(value, (list, tuple)) and value:
        return ", ".join(
            ":".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for v in value
        )
    return "—" if value is None or value in ([], ()) else str(value)


def settings_table(settings: Mapping) -> dict[str, str]:
    """Recorded settings as the page's parameter rows (the command line has its own block)."""
    return {
        key.replace("_", " "): value_text(value)
        for key, value in settings.items()
        if key not in ("command", "report")
    }


def count_text(count: float) -> str:
    """A count as the reports show every count: with thousands separators (``60,000``).

    A whole float is accepted too: scikit-learn's reports record supports as floats.
    """
    return f"{int(count):,}"


def dataset_text(name: str, n_train: int, n_test: int, image_shape: Sequence[int]) -> str:
    """``mnist: 60,000 train / 10,000 test images, 28×28``."""
    height, width = image_shape[:2]
    return (
        f"{name}: {count_text(n_train)} train / {count_text(n_test)} test images, {height}×{width}"
    )


def command_lines(command: Sequence[str] | None) -> dict[str, str]:
    """The page's "reproduce" block for a recorded command line (none when not recorded)."""
    if not command:
        return {}
    return {"Command line (run from the same folder):": shlex.join(command)}


def top_settings(cv_results: Mapping, top: int) -> list[list[str]]:
    """The ``top`` best settings of a grid search, best first: rank, setting, accuracy.

    ``cv_results`` is a ``cv_results_`` of :class:`~knnvision.KNNSearchCV` (or as recorded in
    ``results.json``). The rank is that of the accuracy as shown (:func:`shown_ranks`), so
    settings that read the same share it; among them the search's own rank, then grid order,
    decide the order, so the first row is the search's ``best_index_``.
    """
    means, stds = cv_results["mean_test_score"], cv_results["std_test_score"]
    shown = [f"{mean:.2%}" for mean in means]
    ranks = shown_ranks(shown)
    order = np.lexsort((np.arange(len(ranks)), np.asarray(cv_results["rank_test_score"]), ranks))[
        :top
    ]
    return [
        [str(ranks[i]), params_text(cv_results["params"][i]), f"{shown[i]} ± {stds[i]:.2%}"]
        for i in order
    ]


def shown_ranks(scores_shown: Sequence[str]) -> np.ndarray:
    """Rank 1 for the best of some scores as the page shows them (``"98.68%"``), higher is
    better; scores that read the same share the smallest rank of their group (1, 1, 3).

    Ranking the unrounded numbers would put 1 and 2 beside two equal-looking scores.
    """
    values = np.array([float(text.rstrip("%").replace(",", "")) for text in scores_shown])
    # The rank of a score is one more than the number of scores that read higher.
    return np.array([1 + int(np.sum(values > value)) for value in values], dtype=int)
