"""Tutorial 000, "Image Classification From Scratch With KNN": Fashion-MNIST, PCA to 10
components, then k=10 with the Euclidean and the Manhattan distance on the full
60,000 / 10,000 split.

The tutorial finds the components by an eigen-decomposition of the covariance matrix; so does
this recipe (``svd_solver="covariance_eigh"``), and it projects both parts onto the first 10.
"""

from __future__ import annotations

import numpy as np

from ...datasets import load_dataset
from ...neighbors import KNNClassifier
from ...results.recipe import RecipeOptions, RecipeResult, Row, Table
from ...transforms.pca import PCA
from ._recipe import Recipe, Stopwatch, capped, prediction_plots

N_COMPONENTS = 10
N_CURVE = 20  # the tutorial plots the explained variance of the first 20 components
K = 10
METRICS = ("euclidean", "manhattan")
# Ten dimensions are where a kd-tree shines: the full 10,000 x 60,000 search takes seconds.
ALGORITHM = "kd_tree"


def run(options: RecipeOptions) -> RecipeResult:
    watch = Stopwatch()
    with watch.time("loading"):
        data = load_dataset("fashion-mnist", options.data_dir)
        X_train, y_train = capped(data.flat("train"), data.labels, options.max_train, options.seed)
        test_images = data.flat("test")  # Fashion-MNIST ships its official test part
        assert data.test_labels is not None  # a Dataset with test images has their labels
        X_test, y_test = capped(test_images, data.test_labels, options.max_test, options.seed)
    with watch.time("knnvision"):
        ratios, predictions = _knnvision(X_train, y_train, X_test, y_test)
    accuracy = {metric: float(np.mean(found == y_test)) for metric, found in predictions.items()}
    theirs: dict = {}
    if options.check:
        with watch.time("scikit-learn"):
            theirs = _scikit_learn(X_train, y_train, X_test, y_test)
    rows = [
        Row(
            f"variance kept by {N_COMPONENTS} components",
            float(ratios[:N_COMPONENTS].sum()),
            "about 72%",
            theirs.get("variance"),
        ),
        *(
            Row(
                f"test accuracy, k={K}, {metric}",
                accuracy[metric],
                0.8153 if metric == "euclidean" else "“very similar”",
                theirs.get(metric),
            )
            for metric in METRICS
        ),
    ]
    curve = Table(
        f"Explained variance of the first {N_CURVE} components",
        ["component", "share of variance", "cumulative"],
        [
            [str(i + 1), f"{r:.2%}", f"{c:.2%}"]
            for i, (r, c) in enumerate(zip(ratios, np.cumsum(ratios), strict=True))
        ],
    )
    return RecipeResult(
        "fashion-pca",
        RECIPE.title,
        f"Fashion-MNIST, {len(y_train)} training / {len(y_test)} test images; PCA "
        f"(covariance eigen-decomposition) to {N_COMPONENTS} components fitted on the training "
        f"part; k={K} ({ALGORITHM}).",
        rows,
        [curve],
        seconds=watch.seconds,
        plots={
            "explained_variance_ratio": ratios,
            **prediction_plots(
                y_test, predictions["euclidean"], data.class_names, f"k={K}, Euclidean"
            ),
        },
    )


def _knnvision(X_train, y_train, X_test, y_test):
    """Explained variance ratios of the first 20 components, and test predictions per
    metric."""
    pca = PCA(N_CURVE, svd_solver="covariance_eigh").fit(X_train)
    # The first 10 of 20 components are exactly the 10 components (same eigen-decomposition).
    train_factors = pca.transform(X_train)[:, :N_COMPONENTS]
    test_factors = pca.transform(X_test)[:, :N_COMPONENTS]
    predictions = {
        metric: KNNClassifier(K, metric=metric, algorithm=ALGORITHM)
        .fit(train_factors, y_train)
        .predict(test_factors)
        for metric in METRICS
    }
    return pca.explained_variance_ratio_, predictions


def _scikit_learn(X_train, y_train, X_test, y_test) -> dict:
    from sklearn.decomposition import PCA as ScikitPCA  # noqa: PLC0415
    from sklearn.neighbors import KNeighborsClassifier  # noqa: PLC0415

    pca = ScikitPCA(N_COMPONENTS).fit(X_train)
    train_factors, test_factors = pca.transform(X_train), pca.transform(X_test)
    result = {"variance": float(pca.explained_variance_ratio_.sum())}
    for metric in METRICS:
        model = KNeighborsClassifier(K, metric=metric).fit(train_factors, y_train)
        result[metric] = float(model.score(test_factors, y_test))
    return result


RECIPE = Recipe(
    name="fashion-pca",
    title="Tutorial 000: Fashion-MNIST, PCA to 10 components, k=10, Euclidean and Manhattan",
    datasets=("fashion-mnist",),
    quick=False,
    run=run,
)
