"""Tutorial 001, "KNN classifier with scikit-learn": the UCI digits, an 80/20 split with
``random_state=1337``, k=20 with a kd-tree and p=2; then a 5-fold grid search over
``n_neighbors`` 2, 4, ..., 18 and ``p`` 1, 2, 3 on the training part, and the test accuracy
of the best model.

The split is scikit-learn's ``train_test_split(X, y, test_size=0.2, random_state=1337)``
exactly (not stratified), and the grid search gives exactly ``GridSearchCV``'s scores.
"""

from __future__ import annotations

import numpy as np

from ...datasets import load_dataset, train_val_test_split
from ...neighbors import KNNClassifier
from ...results.recipe import RecipeOptions, RecipeResult, Row
from ...selection.search_cv import KNNSearchCV
from ._recipe import Recipe, Stopwatch, prediction_plots

GRID = {"n_neighbors": list(range(2, 20, 2)), "p": [1, 2, 3]}
FOLDS = 5


def run(options: RecipeOptions) -> RecipeResult:
    watch = Stopwatch()
    with watch.time("loading"):
        data = load_dataset("digits")
        X_train, _, X_test, y_train, _, y_test = train_val_test_split(
            data.flat("train"),
            data.labels,
            val_size=0,
            test_size=0.2,
            seed=1337,
            stratify=False,
        )
    with watch.time("knnvision"):
        first = KNNClassifier(20, algorithm="kd_tree", p=2).fit(X_train, y_train)
        first_accuracy = first.score(X_test, y_test)
        search = KNNSearchCV(KNNClassifier(algorithm="kd_tree"), GRID, cv=FOLDS).fit(
            X_train, y_train
        )
        best_predictions = search.predict(X_test)
        best_accuracy = float(np.mean(best_predictions == y_test))
    theirs: dict = {}
    if options.check:
        with watch.time("scikit-learn"):
            theirs = _scikit_learn(X_train, y_train, X_test, y_test)
    best = search.best_params_
    rows = [
        Row("test accuracy, k=20, kd-tree, p=2", first_accuracy, None, theirs.get("first")),
        Row(
            "best parameters (5-fold grid search)",
            f"n_neighbors={best['n_neighbors']}, p={best['p']}",
            None,
            theirs.get("best"),
        ),
        Row("best cross-validated accuracy", search.best_score_, None, theirs.get("cv")),
        Row("test accuracy of the best model", best_accuracy, None, theirs.get("test")),
    ]
    notes = [
        f"{len(search.cv_results_['params'])} candidates x {FOLDS} folds: "
        f"{len(GRID['p'])} searches per fold instead of {len(search.cv_results_['params'])}."
    ]
    plots = {
        "cv_results": search.cv_results_,
        "test_accuracy": best_accuracy,
        **prediction_plots(
            y_test, best_predictions, data.class_names, "the best setting of the grid search"
        ),
    }
    return RecipeResult(
        "digits-grid",
        RECIPE.title,
        f"UCI digits (1,797 images 8x8, values 0..16), {len(y_train)} training / {len(y_test)} "
        "test images (train_test_split, test_size=0.2, random_state=1337).",
        rows,
        notes=notes,
        seconds=watch.seconds,
        plots=plots,
    )


def _scikit_learn(X_train, y_train, X_test, y_test) -> dict:
    from sklearn.model_selection import GridSearchCV  # noqa: PLC0415
    from sklearn.neighbors import KNeighborsClassifier  # noqa: PLC0415

    first = KNeighborsClassifier(20, algorithm="kd_tree", p=2).fit(X_train, y_train)
    search = GridSearchCV(
        KNeighborsClassifier(algorithm="kd_tree"), GRID, cv=FOLDS, scoring="accuracy", n_jobs=-1
    ).fit(X_train, y_train)
    best = search.best_params_
    return {
        "first": float(first.score(X_test, y_test)),
        "best": f"n_neighbors={best['n_neighbors']}, p={best['p']}",
        "cv": float(search.best_score_),
        "test": float(search.score(X_test, y_test)),
    }


RECIPE = Recipe(
    name="digits-grid",
    title="Tutorial 001: UCI digits, k=20 kd-tree, then a grid search over k and p",
    datasets=(),
    quick=True,
    run=run,
)
