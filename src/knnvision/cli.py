"""The ``knnvision`` command line: run, fit, predict, evaluate, info.

User errors (a missing file, a bad option value, an unknown dataset) print one line and
exit with status 1, never a traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import progress
from ._version import __version__
from .datasets import load_dataset
from .estimators import KNNClassifier
from .io import load, read_header, save
from .pipeline import (
    ExperimentConfig, confusion_counts, final_estimator, model_metadata, run_experiment,
    split_for_experiment,
)

app = typer.Typer(
    help="Fast, exact k-nearest-neighbours image classification.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


class RichReporter:
    """Renders knnvision's progress announcements as rich progress bars."""

    def __init__(self, bars: Progress):
        self.bars = bars

    def start(self, description: str, total: float | None):
        return _RichTask(self.bars, self.bars.add_task(description, total=total))

    def stop(self, task) -> None:
        self.bars.remove_task(task.task_id)


class _RichTask:
    def __init__(self, bars: Progress, task_id):
        self.bars, self.task_id = bars, task_id

    def advance(self, amount: float = 1) -> None:
        self.bars.advance(self.task_id, amount)


def _with_progress(work):
    """Run ``work()`` with progress bars on the terminal (transient: they vanish when done)."""
    bars = Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        console=errors, transient=True,
    )
    with bars, progress.reporting(RichReporter(bars)):
        return work()


# --- option parsing ----------------------------------------------------------------------


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option} takes whole numbers separated by commas, got {text!r}.") from None
    if not values or min(values) < 1:
        raise ValueError(f"{option} takes positive whole numbers, got {text!r}.")
    return values


def _metric_list(text: str) -> list[tuple[str, float]]:
    """``"euclidean,manhattan,minkowski:3"`` -> [("euclidean", 2), ("manhattan", 2), ...]."""
    from .search import resolve_metric

    metrics = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, power = part.partition(":")
        try:
            p = float(power) if power else 2.0
        except ValueError:
            raise ValueError(f"--metric: bad Minkowski power in {part!r} (write minkowski:3).") from None
        resolve_metric(name, p)  # validates, with a message listing the valid names
        metrics.append((name, int(p) if p.is_integer() else p))
    if not metrics:
        raise ValueError("--metric needs at least one metric name.")
    return metrics


def _weights_list(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    for value in values:
        if value not in ("uniform", "distance"):
            raise ValueError(f"--weights takes uniform and/or distance, got {value!r}.")
    return values or ["uniform"]


# --- commands ------------------------------------------------------------------------------

DatasetOption = Annotated[
    str,
    typer.Option(
        "--dataset", "-d",
        help="digits (bundled), mnist, fashion-mnist, a folder of class sub-folders, or an .npz.",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(help="Folder holding the MNIST/Fashion-MNIST IDX files (else they are searched "
                 "for, then downloaded)."),
]
ReportOption = Annotated[
    bool,
    typer.Option("--report/--no-report", help="Write report.html and figures/*.png next to "
                 "results.json."),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(metavar="ADDRESS", help="Tune and search on a Dask cluster: its scheduler "
                 "address (tcp://HOST:8786), or 'local' to start one on this machine. Needs the "
                 "dask extra."),
]


KListOption = Annotated[str, typer.Option("--k", help="Values of k to try, e.g. 1,3,5,7,9.")]
MetricListOption = Annotated[str, typer.Option(help="Distances to try: euclidean, manhattan, "
                             "chebyshev, cosine, hamming, minkowski:P; comma-separated.")]
WeightsListOption = Annotated[str, typer.Option(help="uniform and/or distance, comma-separated.")]
TestSizeOption = Annotated[float, typer.Option(help="Test share when the dataset has no official "
                           "test part.", min=0.01, max=0.9)]
MaxTrainOption = Annotated[int | None, typer.Option(help="Use at most this many training images.",
                           min=1)]
MaxTestOption = Annotated[int | None, typer.Option(help="Use at most this many test images.",
                          min=1)]
NJobsOption = Annotated[int | None, typer.Option(help="Threads (default: all cores).")]


@app.command()
def run(
    dataset: DatasetOption = "digits",
    data_dir: DataDirOption = None,
    k: KListOption = "1,3,5,7,9",
    metric: MetricListOption = "euclidean",
    weights: WeightsListOption = "uniform",
    cv: Annotated[int, typer.Option(help="Cross-validation folds for tuning.", min=2)] = 5,
    test_size: TestSizeOption = 0.2,
    max_train: MaxTrainOption = None,
    max_test: MaxTestOption = None,
    seed: Annotated[int, typer.Option(help="Seed of every split.")] = 0,
    stratify: Annotated[bool, typer.Option("--stratify/--no-stratify", help="Keep the class "
                        "proportions in the test split; --no-stratify gives scikit-learn's "
                        "train_test_split(test_size=..., random_state=SEED) rows.")] = True,
    n_jobs: NJobsOption = None,
    scheduler: SchedulerOption = None,
    out: Annotated[Path, typer.Option(help="Folder for model.knnv, results.json and the "
                   "report.")] = Path("results"),
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write report.html and "
                      "figures/*.png next to results.json.")] = True,
    preset: Annotated[str | None, typer.Option(help="A named recipe for the dataset, e.g. best "
                      "(preprocessing, augmentation, re-ranked distance; k and weights tuned on a "
                      "validation split of the training part). Replaces --k/--metric/--weights/"
                      "--cv.")] = None,
) -> None:
    """The main job: load, tune k by cross-validation, evaluate once on the test part, save."""
    config = ExperimentConfig(
        dataset=dataset, data_dir=str(data_dir) if data_dir else None,
        n_neighbors=_int_list(k, "--k"), weights=_weights_list(weights),
        metrics=_metric_list(metric), cv=cv, test_size=test_size, stratify=stratify,
        max_train=max_train, max_test=max_test, seed=seed, n_jobs=n_jobs, scheduler=scheduler,
        out_dir=str(out),
        report=report, command=["knnvision", *sys.argv[1:]], preset=preset,
    )
    result = _with_progress(lambda: run_experiment(config))
    _print_cv(result.cv)
    best = result.cv.best
    console.print(
        f"\n[bold]{result.dataset.name}[/]: {final_estimator(result.model).n_samples_fit_} training, "
        f"{len(result.test_labels)} test images; chosen k={best.n_neighbors}, "
        f"metric={_metric_text(best.metric, best.p)}, weights={best.weights}"
    )
    console.print(f"[bold green]Test accuracy: {result.accuracy:.2%}[/]\n")
    _print_report(result.report(), result.class_names)
    _print_confusion(result.confusion(), result.class_names)
    timings = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.timings.items())
    console.print(f"Time: {timings}")
    console.print(f"Saved {result.files['model']} and {result.files['results']}")
    if "report" in result.files:
        console.print(f"Report: {result.files['report']} (figures in {result.files['figures']})")


@app.command()
def fit(
    dataset: DatasetOption = "digits",
    data_dir: DataDirOption = None,
    k: Annotated[int, typer.Option("--k", help="Number of neighbours.", min=1)] = 5,
    metric: Annotated[str, typer.Option(help="euclidean, manhattan, chebyshev, cosine, "
                      "hamming or minkowski:P.")] = "euclidean",
    weights: Annotated[str, typer.Option(help="uniform or distance.")] = "uniform",
    test_size: Annotated[float, typer.Option(help="Share held out for `evaluate` when the "
                         "dataset has no official test part.", min=0.01, max=0.9)] = 0.2,
    max_train: Annotated[int | None, typer.Option(min=1, help="Use at most this many "
                         "training images.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    out: Annotated[Path, typer.Option(help="Model file to write.")] = Path("model.knnv"),
) -> None:
    """Fit a classifier on the training part of a dataset and save it, without tuning."""
    (metric_name, p), *rest = _metric_list(metric)
    if rest:
        raise ValueError("fit takes one metric; use `knnvision run` to compare several.")
    (weighting,) = _weights_list(weights)[:1]
    config = ExperimentConfig(dataset=dataset, data_dir=str(data_dir) if data_dir else None,
                              test_size=test_size, max_train=max_train, seed=seed)

    def work():
        data = load_dataset(dataset, config.data_dir)
        X_train, y_train, _, _ = split_for_experiment(data, config)
        model = KNNClassifier(k, metric=metric_name, p=p, weights=weighting).fit(X_train, y_train)
        return save(model, out, metadata=model_metadata(data, config)), model

    path, model = _with_progress(work)
    console.print(f"Saved {path}: k={k}, {_metric_text(metric_name, p)}, "
                  f"{model.n_samples_fit_} training images")


@app.command()
def predict(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .knnv model file.")],
    inputs: Annotated[list[Path], typer.Argument(help="Image files (PNG/JPEG/...), IDX image "
                      "files or .npz files with an X array.")],
    invert: Annotated[str, typer.Option(help="auto: make light-background images dark like "
                      "the training images; yes; no.")] = "auto",
) -> None:
    """Predict the class of each input image; prints label and probability."""
    from .images import read_inputs, to_features

    model = load(model_path)
    meta = model.metadata_
    shape = tuple(meta.get("image_shape", ()))
    if len(shape) != 2:
        raise ValueError(f"{model_path} does not record an image shape; it cannot read images.")
    names, images = read_inputs(inputs, shape)
    features = to_features(images, meta.get("max_value", 255), invert)
    probabilities = _with_progress(lambda: model.predict_proba(features))
    class_names = meta.get("class_names") or [str(c) for c in model.classes_]
    table = Table("input", "label", "probability")
    for name, row in zip(names, probabilities):
        best = int(np.argmax(row))
        table.add_row(name, str(class_names[best]), f"{row[best]:.2f}")
    console.print(table)


@app.command()
def evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .knnv model file.")],
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Dataset to evaluate "
                       "on (default: the one the model was trained on).")] = None,
    data_dir: DataDirOption = None,
    out: Annotated[Path, typer.Option(help="Folder for results.json and the report.")] = Path(
        "results/evaluate"),
    report: ReportOption = True,
) -> None:
    """Accuracy, per-class report and confusion matrix of a saved model on a test part.

    The test part is the dataset's official one, or the held-out split recorded in the model.
    """
    from .report.evaluate import write_outputs
    from .report.evaluation import evaluate_model

    model = load(model_path)
    meta = model.metadata_
    name = dataset or meta.get("dataset")
    if not name:
        raise ValueError("The model does not record its dataset; pass --dataset.")
    split = meta.get("split", {})
    config = ExperimentConfig(dataset=name, data_dir=str(data_dir) if data_dir else None,
                              test_size=split.get("test_size", 0.2), seed=split.get("seed", 0),
                              stratify=split.get("stratify", True))

    def work():
        evaluation = evaluate_model(model, config, rows="model")
        return evaluation, write_outputs(out, model_path, evaluation, config, _command(),
                                         report=report)

    evaluation, files = _with_progress(work)
    names = evaluation.class_names
    console.print(f"[bold green]Test accuracy on {evaluation.dataset.name}: "
                  f"{evaluation.accuracy:.2%}[/] ({len(evaluation.test_labels)} images)\n")
    _print_report(evaluation.report(), names)
    _print_confusion(confusion_counts(evaluation.test_labels, evaluation.test_predictions,
                                      len(names)), names)
    _print_saved(files)


@app.command()
def info(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .knnv model file.")],
) -> None:
    """What a model file holds: estimator, parameters, training size, classes, versions."""
    header = read_header(model_path)
    description = header["model"]
    table = Table(show_header=False)
    table.add_row("file", str(model_path))
    table.add_row("estimator", description.get("class", "?"))
    for key, value in description.get("params", {}).items():
        table.add_row(key, str(value))
    shapes = [entry["shape"] for entry in header.get("arrays", [])]
    if shapes:
        table.add_row("training samples", str(max(s[0] for s in shapes if s)))
    for key, value in header.get("metadata", {}).items():
        table.add_row(key, str(value))
    table.add_row("written by", f"knnvision {header.get('library_version', '?')}")
    console.print(table)


@app.command()
def version() -> None:
    """Print the knnvision version."""
    console.print(__version__)


@app.command()
def serve(
    model_path: Annotated[Path | None, typer.Argument(
        metavar="MODEL", help="A .knnv model file (default: fit one on MNIST if its files "
        "are found locally, else on the bundled digits).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the draw-a-digit page and the prediction API (needs the web extra)."""
    try:
        from .web import serve as serve_web
    except ImportError as error:
        raise ValueError(str(error)) from None
    serve_web(model_path, host=host, port=port,
              say=lambda text: console.print(text, highlight=False))


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="Small subsets: a smoke test in seconds.")] = False,
    cases: Annotated[str | None, typer.Option(help="Comma-separated cases (default: all): "
                     "mnist_euclidean, fashion_manhattan, fashion_pca10, single_query, "
                     "scaling.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding mnist/ and "
                        "fashion-mnist/ IDX files.")] = None,
    n_jobs: Annotated[int | None, typer.Option(help="Threads for every engine.")] = None,
    repeat: Annotated[int, typer.Option(help="Keep the fastest of N runs.", min=1)] = 1,
    out: Annotated[Path, typer.Option(help="JSON results file (a .md table is written "
                   "beside it).")] = Path("bench_results.json"),
) -> None:
    """Time knnvision's search against scikit-learn and faiss-cpu (if installed) on the same
    data and threads, check they return the same neighbours, and write a table and JSON."""
    from . import benchmark

    chosen = tuple(c.strip() for c in cases.split(",") if c.strip()) if cases else None
    report = benchmark.run(quick=quick, cases=chosen, data_dir=data_dir, n_jobs=n_jobs,
                           repeat=repeat, log=lambda text: console.print(text, highlight=False))
    benchmark.save(report, out, out.with_suffix(".md"))
    console.print(f"Saved {out} and {out.with_suffix('.md')}")


@app.command("report")
def report_command(
    results_dir: Annotated[Path, typer.Argument(metavar="RESULTS_DIR", help="A folder written "
                           "by `knnvision run`, `tune`, `evaluate` or `recipe` (results.json, "
                           "and the model file where there is one).")],
    data_dir: DataDirOption = None,
) -> None:
    """Rebuild report.html and figures/*.png of a finished run, tuning, evaluation or recipe
    from its folder."""
    from .report import rebuild_report

    files = _with_progress(lambda: rebuild_report(results_dir, data_dir))
    console.print(f"Report: {files['report']} (figures in {files['figures']})")


@app.command()
def tune(
    dataset: DatasetOption = "digits",
    data_dir: DataDirOption = None,
    k: KListOption = "1,3,5,7,9",
    metric: MetricListOption = "euclidean",
    weights: WeightsListOption = "uniform",
    pca: Annotated[str | None, typer.Option(help="PCA sizes to try, e.g. 0,20,50 (0: no PCA; "
                   "0.9: keep 90% of the variance); fitted on each fold's training part.")] = None,
    cv: Annotated[int, typer.Option(help="Stratified folds, unshuffled as in GridSearchCV.",
                  min=2)] = 5,
    test_size: TestSizeOption = 0.2,
    max_train: MaxTrainOption = None,
    max_test: MaxTestOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    n_jobs: NJobsOption = None,
    top: Annotated[int, typer.Option(help="Show the best N settings.", min=1)] = 10,
    scheduler: SchedulerOption = None,
    out: Annotated[Path, typer.Option(help="Folder for model.knnv (the best setting), "
                   "results.json and the report.")] = Path("results/tune"),
    report: ReportOption = True,
) -> None:
    """Grid search by cross-validation (KNNSearchCV, GridSearchCV's scores) on the training
    part, then the best setting's accuracy on the test part."""
    from .model_selection import KNNSearchCV, knn_grid
    from .report.evaluation import Evaluation, without_skipped_steps
    from .report.text import params_text
    from .report.tune import write_outputs

    settings = {"k": _int_list(k, "--k"), "metric": _metric_list(metric),
                "weights": _weights_list(weights), "pca": _pca_list(pca), "cv": cv, "top": top,
                "n_jobs": n_jobs, "scheduler": scheduler, "command": _command()}
    estimator, grid = knn_grid(settings["k"], weights=settings["weights"],
                               metrics=settings["metric"], pca_sizes=settings["pca"])
    if scheduler is not None:
        from .distributed import on_dask

        estimator = on_dask(estimator, scheduler)
    config = ExperimentConfig(dataset=dataset, data_dir=str(data_dir) if data_dir else None,
                              test_size=test_size, max_train=max_train, max_test=max_test,
                              seed=seed)

    def work():
        started = time.perf_counter()
        data = load_dataset(dataset, config.data_dir)
        X_train, y_train, X_test, y_test = split_for_experiment(data, config)
        loaded = time.perf_counter()
        search = KNNSearchCV(estimator, grid, cv=cv, n_jobs=n_jobs).fit(X_train, y_train)
        searched = time.perf_counter()
        # "no PCA" is a skipped pipeline step: the model is the classifier alone.
        model = without_skipped_steps(search.best_estimator_)
        predictions = model.predict(X_test)
        timings = {"load_and_split": loaded - started,
                   "tune": searched - loaded - search.refit_time_,
                   "refit": search.refit_time_, "evaluate": time.perf_counter() - searched}
        evaluation = Evaluation(data, model, y_test, predictions, X_train, y_train, X_test,
                                seed, {step: round(t, 4) for step, t in timings.items()})
        return search, evaluation, write_outputs(out, search, evaluation, config, settings,
                                                 report=report)

    search, evaluation, files = _with_progress(work)
    _print_search(search, top)
    console.print(f"\n{len(evaluation.train_labels)} training, {len(evaluation.test_labels)} "
                  f"test images. Best: {params_text(search.best_params_)}, "
                  f"CV {search.best_score_:.2%}")
    console.print(f"[bold green]Test accuracy of the best setting: {evaluation.accuracy:.2%}[/]")
    _print_saved(files)


@app.command()
def recipe(
    name: Annotated[str | None, typer.Argument(help="Recipe to run (see --list).")] = None,
    list_recipes: Annotated[bool, typer.Option("--list", help="List the recipes.")] = False,
    data_dir: DataDirOption = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Also run scikit-learn on "
                     "the same data and show its numbers.")] = True,
    max_train: Annotated[int | None, typer.Option(help="Cap the training rows for a quick run "
                         "(then the numbers are not the tutorial's).", min=1)] = None,
    max_test: Annotated[int | None, typer.Option(help="Cap the test and validation rows.",
                        min=1)] = None,
    seed: Annotated[int, typer.Option(help="Seed of draws the tutorial leaves unseeded.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Folder for results.json and the report "
                   "(default: results/recipes/NAME).")] = None,
    report: ReportOption = True,
) -> None:
    """Run a tutorial's experiment; print its numbers next to the tutorial's own."""
    from .recipes import RECIPES, RecipeOptions, run_recipe
    from .report.recipe import write_outputs

    if list_recipes or name is None:
        table = Table("recipe", "experiment", "needs", title="Recipes (knnvision recipe NAME)")
        for entry in RECIPES.values():
            table.add_row(entry.name, entry.title, ", ".join(entry.datasets) or "nothing")
        console.print(table)
        return
    options = RecipeOptions(data_dir=str(data_dir) if data_dir else None, check=check,
                            max_train=max_train, max_test=max_test, seed=seed)
    result = _with_progress(lambda: run_recipe(name, options))
    _print_recipe(result, check)
    if max_train is not None or max_test is not None:
        console.print("Capped run: not the tutorial's sizes, so not its numbers.", style="yellow")
    folder = out if out is not None else Path("results", "recipes", name)
    _print_saved(_with_progress(lambda: write_outputs(folder, result, options, _command(),
                                                       report=report)))


def _pca_list(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--pca takes sizes separated by commas (0 for no PCA), got {text!r}.") from None
    if any(v < 0 or (v >= 1 and not v.is_integer()) for v in values):
        raise ValueError(f"--pca takes whole numbers or fractions below 1, got {text!r}.")
    return [int(v) if v.is_integer() else v for v in values]


def _print_search(search, top: int) -> None:
    from .report.text import top_settings

    results = search.cv_results_
    rows = top_settings(results, top)
    table = Table("rank", "setting", "CV accuracy",
                  title=f"{search.n_splits_}-fold cross-validation, best {len(rows)} of "
                  f"{len(results['params'])}")
    for number, row in enumerate(rows):  # the first row is the best setting
        table.add_row(*row, style="bold green" if number == 0 else None)
    console.print(table)


def _print_recipe(result, check: bool) -> None:
    console.print(f"[bold]{result.title}[/]\n{result.setup}\n", highlight=False)
    columns = ["", "tutorial", "knnvision"] + (["scikit-learn"] if check else [])
    table = Table(*columns)
    for row in result.rows:
        values = [row.tutorial, row.knnvision] + ([row.scikit_learn] if check else [])
        table.add_row(row.quantity, *(row.shown(value) for value in values))
    console.print(table)
    for detail in result.tables:
        extra = Table(*detail.header, title=detail.title)
        for cells in detail.rows:
            extra.add_row(*cells)
        console.print(extra)
    for note in result.notes:
        console.print(note, highlight=False)
    if any(row.tutorial is None for row in result.rows):
        console.print("— : the tutorial's text states no number for it.", style="dim")
    timings = ", ".join(f"{label} {seconds:.2f} s" for label, seconds in result.seconds.items())
    console.print(f"Time: {timings}")


# --- printing ------------------------------------------------------------------------------


def _metric_text(name: str, p: float) -> str:
    return f"minkowski p={p}" if name == "minkowski" else name


def _command() -> list[str]:
    """This command line, recorded in results.json to reproduce the run."""
    return ["knnvision", *sys.argv[1:]]


def _print_saved(files: dict[str, str]) -> None:
    saved = [files[key] for key in ("model", "results") if key in files]
    console.print(f"Saved {' and '.join(saved)}")
    if "report" in files:
        console.print(f"Report: {files['report']} (figures in {files['figures']})")


def _print_cv(cv) -> None:
    title = f"{cv.n_folds}-fold cross-validation"
    if "preset" in cv.extra:  # tuned on one validation split (knnvision.presets)
        title = f"preset {cv.extra['preset']}: {cv.extra['summary']}; validation split"
    table = Table("k", "metric", "weights", "CV accuracy", title=title)
    best = cv.best_index
    for i, (c, mean, std) in enumerate(zip(cv.candidates, cv.mean_scores, cv.std_scores)):
        style = "bold green" if i == best else None
        table.add_row(str(c.n_neighbors), _metric_text(c.metric, c.p), c.weights,
                      f"{mean:.2%} ± {std:.2%}", style=style)
    console.print(table)


def _print_report(report: dict, class_names: list[str]) -> None:
    table = Table("class", "precision", "recall", "F1", "support", title="Per-class report")
    for name in class_names + ["macro avg", "weighted avg"]:
        row = report[name]
        table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                      f"{row['f1-score']:.3f}", str(int(row["support"])))
    console.print(table)


def _print_confusion(matrix: np.ndarray, class_names: list[str]) -> None:
    short = [name[:8] for name in class_names]
    table = Table("true \\ predicted", *short, title="Confusion matrix")
    for i, (name, row) in enumerate(zip(short, matrix)):
        cells = [f"[bold]{count}[/]" if i == j else str(count) for j, count in enumerate(row)]
        table.add_row(name, *cells)
    console.print(table)


def main() -> None:
    """Entry point: runs the app and turns user errors into one line and exit status 1."""
    # Usage errors (an unknown option, a value out of range) are handled by typer itself:
    # a short message and exit status 2.
    try:
        app()
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as error:
        errors.print(f"[bold red]Error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
