"""Tutorial 004, "Implementing KNN from Scratch": regression on two Gaussian blobs in ten
dimensions (30 points around 1 with label 0, 20 points around 5 with label 1, standard
deviation 3), k=5; four new points with every feature 1, 2, 4 and 5 get predictions that
should rise from 0 towards 1.

The tutorial draws its blobs unseeded; this recipe seeds them with the ``seed`` option.
"""

from __future__ import annotations

import numpy as np

from ...datasets import make_blobs
from ...neighbors import KNNRegressor
from ...results.recipe import RecipeOptions, RecipeResult, Row
from ._recipe import Recipe, Stopwatch

NEW_VALUES = (1, 2, 4, 5)


def run(options: RecipeOptions) -> RecipeResult:
    watch = Stopwatch()
    X, y = make_blobs(
        sizes=(30, 20), centers=(1.0, 5.0), n_features=10, scale=3.0, seed=options.seed
    )
    X_new = np.repeat(np.array(NEW_VALUES, dtype=np.float64)[:, None], 10, axis=1)
    with watch.time("knnvision"):
        predictions = KNNRegressor(5).fit(X, y).predict(X_new)
    theirs = None
    if options.check:
        with watch.time("scikit-learn"):
            from sklearn.neighbors import KNeighborsRegressor  # noqa: PLC0415

            theirs = KNeighborsRegressor(5).fit(X, y).predict(X_new)
    rows = [
        Row(
            f"prediction for a point of all {value}s",
            float(ours),
            None,
            None if theirs is None else float(theirs[i]),
            form="{:.1f}",
        )
        for i, (value, ours) in enumerate(zip(NEW_VALUES, predictions, strict=True))
    ]
    rising = bool(np.all(np.diff(predictions) >= 0))
    rows.append(
        Row(
            "predictions rise with the feature values",
            "yes" if rising else "no",
            "yes",
            None if theirs is None else ("yes" if np.all(np.diff(theirs) >= 0) else "no"),
        )
    )
    return RecipeResult(
        "toy-regression",
        RECIPE.title,
        f"Gaussian blobs: 30 points around 1 (label 0), 20 around 5 (label 1), 10 features, "
        f"standard deviation 3, seed {options.seed}; KNNRegressor(k=5).",
        rows,
        seconds=watch.seconds,
    )


RECIPE = Recipe(
    name="toy-regression",
    title="Tutorial 004: k=5 regression on two Gaussian blobs, four new points",
    datasets=(),
    quick=True,
    run=run,
)
