"""Tutorial 003, the IPython Cookbook's "recognize handwritten digits with K-NN": the UCI
digits, a 75/25 split, the default k=5; then a hand-drawn "1" (an 8x8 array) classified.

The tutorial's split is unseeded (its accuracy changes from run to run); this recipe seeds it
with the ``seed`` option.
"""

from __future__ import annotations

import numpy as np

from ...datasets import load_dataset, train_val_test_split
from ...neighbors import KNNClassifier
from ...results.recipe import RecipeOptions, RecipeResult, Row
from ._recipe import Recipe, Stopwatch, prediction_plots


def hand_drawn_one() -> np.ndarray:
    """The tutorial's "1": a vertical stroke in column 4 with a serif at (2, 3), values 0..16."""
    one = np.zeros((8, 8))
    one[1:-1, 4] = 16
    one[2, 3] = 16
    return one


def run(options: RecipeOptions) -> RecipeResult:
    watch = Stopwatch()
    with watch.time("loading"):
        data = load_dataset("digits")
        X_train, _, X_test, y_train, _, y_test = train_val_test_split(
            data.flat("train"),
            data.labels,
            val_size=0,
            test_size=0.25,
            seed=options.seed,
            stratify=False,
        )
    drawing = hand_drawn_one().reshape(1, -1)
    with watch.time("knnvision"):
        model = KNNClassifier().fit(X_train, y_train)
        predictions = model.predict(X_test)
        accuracy = float(np.mean(predictions == y_test))
        drawn_label = int(model.predict(drawing)[0])
    theirs: dict = {}
    if options.check:
        with watch.time("scikit-learn"):
            from sklearn.neighbors import KNeighborsClassifier  # noqa: PLC0415

            reference = KNeighborsClassifier().fit(X_train, y_train)
            theirs = {
                "accuracy": float(reference.score(X_test, y_test)),
                "drawn": int(reference.predict(drawing)[0]),
            }
    rows = [
        Row("test accuracy, k=5", accuracy, None, theirs.get("accuracy")),
        Row("class of the hand-drawn 1", drawn_label, 1, theirs.get("drawn"), form="{}"),
    ]
    return RecipeResult(
        "digits-quickstart",
        RECIPE.title,
        f"UCI digits, {len(y_train)} training / {len(y_test)} test images (75/25 split, "
        f"seed {options.seed}; the tutorial's split is unseeded).",
        rows,
        seconds=watch.seconds,
        plots=prediction_plots(y_test, predictions, data.class_names, "k=5"),
    )


RECIPE = Recipe(
    name="digits-quickstart",
    title="Tutorial 003: UCI digits, 75/25 split, k=5, and a hand-drawn 1",
    datasets=(),
    quick=True,
    run=run,
)
