"""``knnvision serve``: load or fit a model, then run the web app with uvicorn."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import uvicorn

from ..datasets import load_dataset
from ..io import load
from ..neighbors import KNNClassifier
from ..results.experiment import ExperimentConfig, model_metadata, split_for_experiment
from .app import create_app

#: The model fitted when ``serve`` is given none: five neighbours, closer ones count more.
DEFAULT_PARAMS = {"n_neighbors": 5, "weights": "distance"}


def default_model(say: Callable[[str], None] = print) -> KNNClassifier:
    """Fit the demo model: on MNIST's 60,000 training images if its files are found locally,
    else on the bundled 8x8 digits. Never downloads. ``say`` is told which."""
    try:
        dataset = load_dataset("mnist", download=False)
    except FileNotFoundError:
        dataset = load_dataset("digits")
        note = (
            "MNIST files not found (set KNNVISION_DATA to their folder, or run "
            "`knnvision fit -d mnist` once to download them)"
        )
    else:
        note = "MNIST files found"
    config = ExperimentConfig(dataset=dataset.name)
    X_train, y_train, _, _ = split_for_experiment(dataset, config)
    model = KNNClassifier(**DEFAULT_PARAMS).fit(X_train, y_train)
    model.metadata_ = model_metadata(dataset, config)
    say(
        f"{note}: fitted k={model.n_neighbors} ({model.weights} weights) on {dataset.name}, "
        f"{model.n_samples_fit_:,} training images."
    )
    return model


def serve(
    model_path: str | os.PathLike | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    say: Callable[[str], None] = print,
) -> None:
    """Run the web app until interrupted.

    Parameters
    ----------
    model_path : str or path-like, optional
        A ``.knnv`` model file: a classifier, or a pipeline ending in one (as
        ``knnvision run --preset`` and ``knnvision tune --pca`` save them); without one,
        :func:`default_model` fits one.
    host : str, default="127.0.0.1"
        Address to listen on; the default accepts connections from this machine only.
    port : int, default=8000
        TCP port.
    say : callable, default=print
        Receives one-line messages about the model and the address.
    """
    model = default_model(say) if model_path is None else load(Path(model_path))
    app = create_app(model)
    predictor = app.state.predictor
    if model_path is not None:
        say(f"Loaded {model_path}: {_summary(predictor.describe())}.")
    predictor.warm_up()
    say(f"Serving on http://{host}:{port}/ (API schema: /openapi.json); Ctrl+C stops.")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _summary(info: dict) -> str:
    """One line about a served model, from :meth:`Predictor.describe`."""
    steps = [step["name"] for step in info["steps"][:-1]]
    return (
        " -> ".join([*steps, info["estimator"]]) + f", k={info['params']['n_neighbors']}, "
        f"{info['n_train']:,} training images of "
        f"{info['dataset'] or 'an unnamed dataset'}"
    )
