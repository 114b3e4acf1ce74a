"""Tutorial 002, CommonLounge's "Digit classification with K-Nearest Neighbors": MNIST with
10,000 training, 2,000 validation and 2,000 test images; validation accuracy for K in
{1, 3, 5, 9, 15, 25}, test accuracy for the best K with the per-class report and the
confusion matrix; then 1,000 training (200 validation, 200 test) images with K=5, checked
against scikit-learn's predictions.

The tutorial ships its subsets as pickles; this recipe draws subsets of the same sizes from
MNIST's 60,000 training images (stratified, seeded), so its numbers are close to, not equal
to, the tutorial's. Pixels stay 0..255 integers: scaling them to 0..1 as the tutorial does
changes no Euclidean neighbour.
"""

from __future__ import annotations

import numpy as np

from ...datasets import load_dataset, subsample
from ...neighbors import KNNClassifier
from ...results.recipe import RecipeOptions, RecipeResult, Row
from ...selection.search_cv import validation_curve
from ._recipe import Recipe, Stopwatch, curve_plots, matrix_table, prediction_plots, report_table

KS = (1, 3, 5, 9, 15, 25)
BIG = (10_000, 2_000, 2_000)  # training, validation, test
SMALL = (1_000, 200, 200)
SMALL_K = 5


def run(options: RecipeOptions) -> RecipeResult:
    watch = Stopwatch()
    with watch.time("loading"):
        data = load_dataset("mnist", options.data_dir)
        big = _draw(data, BIG, options)
        small = _draw(data, SMALL, options)
    with watch.time("knnvision"):
        curve, best_model, test_predictions = _big_experiment(*big)
        small_predictions = KNNClassifier(SMALL_K).fit(small[0], small[3]).predict(small[2])
    theirs: dict = {}
    if options.check:
        with watch.time("scikit-learn"):
            theirs = _scikit_learn(big, small, curve.best_k)
    X_train, _, X_test, y_train, y_val, y_test = big
    names = list(data.class_names)
    rows = [
        *(
            Row(f"validation accuracy, K={k}", float(a), None, theirs.get(("val", int(k))))
            for k, a in zip(curve.n_neighbors, curve.accuracy, strict=True)
        ),
        Row("best K", curve.best_k, None, theirs.get("best_k"), form="{}"),
        Row(
            f"test accuracy, K={curve.best_k}",
            _accuracy(test_predictions, y_test),
            None,
            theirs.get("test"),
        ),
        Row(
            f"{len(small[3])} training images, K={SMALL_K}: test accuracy",
            _accuracy(small_predictions, small[5]),
            None,
            theirs.get("small_test"),
        ),
    ]
    if options.check:
        agree = int(np.sum(small_predictions == theirs["small_predictions"]))
        rows.append(
            Row("… predictions equal to scikit-learn's", f"{agree}/{len(small[5])}", None, None)
        )
    plots = {
        **curve_plots(curve, _accuracy(test_predictions, y_test)),
        **prediction_plots(y_test, test_predictions, names, f"K={curve.best_k}"),
    }
    tables = [
        report_table(
            f"Per-class report, test images, K={curve.best_k}",
            plots["classification_report"],
            names,
        ),
        matrix_table("Confusion matrix, test images", plots["confusion_matrix"], names),
    ]
    return RecipeResult(
        "mnist-subset",
        RECIPE.title,
        f"MNIST: {len(y_train)} training, {len(y_val)} validation, {len(y_test)} test images "
        f"drawn from the 60,000 training images (seed {options.seed}); then "
        f"{len(small[3])}/{len(small[4])}/{len(small[5])}. Euclidean distance.",
        rows,
        tables,
        seconds=watch.seconds,
        plots=plots,
    )


def _draw(data, sizes, options: RecipeOptions):
    """(X_train, X_val, X_test, y_train, y_val, y_test) of the wanted sizes (or capped)."""
    n_train, n_val, n_test = sizes
    return subsample(
        data.flat("train"),
        data.labels,
        n_train=options.cap(n_train, "train"),
        n_val=options.cap(n_val, "test"),
        n_test=options.cap(n_test, "test"),
        seed=options.seed,
    )


def _big_experiment(X_train, X_val, X_test, y_train, y_val, y_test):
    # One search at K=25 scores all six values of K on the validation images.
    curve = validation_curve(KNNClassifier(), X_train, y_train, X_val, y_val, n_neighbors=KS)
    model = KNNClassifier(curve.best_k).fit(X_train, y_train)
    return curve, model, model.predict(X_test)


def _accuracy(predictions, truth) -> float:
    return float(np.mean(predictions == truth))


def _scikit_learn(big, small, best_k: int) -> dict:
    from sklearn.neighbors import KNeighborsClassifier  # noqa: PLC0415

    X_train, X_val, X_test, y_train, y_val, y_test = big
    result: dict = {}
    for k in KS:
        result[("val", k)] = float(
            KNeighborsClassifier(k).fit(X_train, y_train).score(X_val, y_val)
        )
    result["best_k"] = max(KS, key=lambda k: (result[("val", k)], -k))
    model = KNeighborsClassifier(best_k).fit(X_train, y_train)
    result["test"] = float(model.score(X_test, y_test))
    predictions = KNeighborsClassifier(SMALL_K).fit(small[0], small[3]).predict(small[2])
    result["small_predictions"] = predictions
    result["small_test"] = _accuracy(predictions, small[5])
    return result


RECIPE = Recipe(
    name="mnist-subset",
    title="Tutorial 002: MNIST subsets, validation accuracy for six K, test report",
    datasets=("mnist",),
    quick=True,
    run=run,
)
