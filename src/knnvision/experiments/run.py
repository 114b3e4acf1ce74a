"""A whole experiment: load -> split -> tune -> evaluate -> save.

:func:`run_experiment` is what ``knnvision run`` does; it returns an
:class:`ExperimentResult` with every number the CLI prints and ``results.json`` holds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import progress
from ..datasets import load_dataset
from ..io import save
from ..neighbors import KNNClassifier
from ..results.experiment import (
    ExperimentConfig,
    ExperimentResult,
    model_metadata,
    split_for_experiment,
)
from ..selection.search_cv import cross_validate_grid


def run_experiment(config: ExperimentConfig) -> ExperimentResult:
    """Load the data, tune on the training part, evaluate once on the test part, save."""
    timings: dict[str, float] = {}
    preset = _preset_of(config)
    with progress.track(total=4, description="experiment") as steps:
        started = time.perf_counter()
        dataset = load_dataset(config.dataset, config.data_dir, color=config.color)
        X_train, y_train, X_test, y_test = split_for_experiment(dataset, config)
        timings["load_and_split"] = _lap(started)
        steps.advance()

        started = time.perf_counter()
        if preset is not None:
            cv = preset.tune(X_train, y_train, seed=config.seed, n_jobs=config.n_jobs)
        else:
            cv = cross_validate_grid(
                X_train,
                y_train,
                n_neighbors=config.n_neighbors,
                weights=config.weights,
                metrics=config.metrics,
                cv=config.cv,
                seed=config.seed,
                n_jobs=config.n_jobs,
                scheduler=config.scheduler,
            )
        timings["tune"] = _lap(started)
        steps.advance()

        started = time.perf_counter()
        if preset is not None:
            model = preset.fit(cv.best, X_train, y_train, n_jobs=config.n_jobs)
        else:
            model = KNNClassifier(
                **cv.best.params(),
                n_jobs=config.n_jobs,
                scheduler=config.scheduler,
                backend="local" if config.scheduler is None else "dask",
            ).fit(X_train, y_train)
        timings["fit"] = _lap(started)
        started = time.perf_counter()
        predictions = model.predict(X_test)
        timings["evaluate"] = _lap(started)
        steps.advance()

        result = ExperimentResult(
            config,
            dataset,
            model,
            cv,
            y_test,
            predictions,
            timings,
            train_features=X_train,
            train_labels=y_train,
            test_features=X_test,
        )
        if config.out_dir is not None:
            result.files = write_outputs(result, Path(config.out_dir))
        steps.advance()
    return result


def _preset_of(config: ExperimentConfig):
    """The config's preset (checked before any data is loaded), or ``None``."""
    if config.preset is None:
        return None
    from .presets import get_preset  # noqa: PLC0415  (presets pull in the compiled re-rank)

    if config.scheduler is not None:
        raise ValueError("--preset runs in this process; drop --scheduler to use a preset.")
    return get_preset(config.dataset, config.preset)


def write_outputs(result: ExperimentResult, out_dir: Path) -> dict[str, str]:
    """Save the model and ``results.json`` into ``out_dir``, and the report unless
    ``config.report`` is false; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = save(
        result.model, out_dir / "model.knnv", metadata=model_metadata(result.dataset, result.config)
    )
    results_path = out_dir / "results.json"
    results_path.write_text(json.dumps(result.to_json(), indent=2))
    files = {"model": str(model_path), "results": str(results_path)}
    if result.config.report:
        from ..report import write_report  # matplotlib is imported only when a report is made

        files.update(write_report(result, out_dir))
    return files


def _lap(started: float) -> float:
    return round(time.perf_counter() - started, 4)
