"""The ``knnvision`` command line: run, fit, predict, evaluate, info.

User errors (a missing file, bad data, an unknown dataset, a missing optional extra) print
one line and exit with status 1, never a traceback; usage errors (a bad option value, flags
that do not go together) print a short message naming the option and exit with status 2.
Everything the user gave (file names, dataset names) is printed literally, never read as rich
markup: see :func:`_literal`.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import time
from contextlib import contextmanager
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import progress
from ._version import __version__
from .datasets import load_dataset
from .experiments.run import run_experiment
from .io import load, read_header, save, shown_params
from .neighbors import KNNClassifier
from .results.experiment import (
    ExperimentConfig,
    confusion_counts,
    final_estimator,
    model_metadata,
    split_for_experiment,
)


def _plain_metavar(param) -> str | None:
    """A word for the value an option takes (N, NUMBER, PATH, TEXT, a|b|c), instead of the
    Python type names (<int range>, <list[Path]>) that typer shows by default."""
    # Older typer versions have no type descriptor, and show click's own words already.
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "is_flag", False):
        return None
    annotation = descriptor.annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "|".join(str(member.value) for member in annotation)
    if descriptor.is_path:
        return "PATH"
    words = {int: "N", float: "NUMBER"}
    return words.get(annotation, "TEXT")


class _PlainArgument(typer.core.TyperArgument):
    """An argument shown in help by its name alone (MODEL, INPUTS), without typer's <path>."""

    def display_type_rich(self, ctx) -> None:
        return None


class _PlainHelpGroup(typer.core.TyperGroup):
    """The command group with plain click help: wrapped to the terminal, never cut, and
    without Python type names."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            # The command list shows each command's first paragraph whole (click wraps it);
            # click's default summary cuts it with "..." to fit one line.
            if not command.short_help and command.help:
                command.short_help = " ".join(command.help.split("\n\n")[0].split())
            for param in command.params:
                if isinstance(param, typer.core.TyperArgument):
                    param.metavar = param.metavar or param.name.upper()
                    param.__class__ = _PlainArgument  # the same argument, plainer help
                elif param.metavar is None:
                    param.metavar = _plain_metavar(param)


app = typer.Typer(
    cls=_PlainHelpGroup,
    help="Fast, exact k-nearest-neighbours image classification.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help and errors: rich's help panels cut long sentences ("te…") at 80
    # columns, and rich markup would eat square brackets in help and error text.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console()
errors = Console(stderr=True)


def _literal(text: object) -> str:
    """``text`` as rich markup that prints exactly as written.

    Every piece of user or error text goes through it: rich reads ``[red]`` or ``[web]`` as
    a style tag, so ``scan[red].png`` would print as ``scan.png``.
    """
    return escape(str(text))


def _print_version(wanted: bool) -> None:
    if wanted:
        console.print(__version__, markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the knnvision version and exit.",
        ),
    ] = False,
) -> None:
    """Fast, exact k-nearest-neighbours image classification."""


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
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        # Off when stderr is not a terminal: bars there would only leave a stray newline.
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    )
    with bars, progress.reporting(RichReporter(bars)):
        return work()


# --- option parsing ----------------------------------------------------------------------
# The parsers raise ValueError with what was wrong; _option_value turns it into a usage error
# naming the option (exit status 2), like the checks typer makes itself (--cv 1, --k 0).


def _option_value(option: str, parse, text):
    """``parse(text)``, with a ValueError reported as a bad value of ``option``."""
    try:
        return parse(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=f"'{option}'") from None


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"whole numbers separated by commas, e.g. 1,3,5; got {text!r}.") from None
    if not values or min(values) < 1:
        raise ValueError(f"positive whole numbers, e.g. 1,3,5; got {text!r}.")
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
            raise ValueError(f"bad Minkowski power in {part!r} (write minkowski:3).") from None
        resolve_metric(name, p)  # validates, with a message listing the valid names
        metrics.append((name, int(p) if p.is_integer() else p))
    if not metrics:
        raise ValueError("at least one metric name is needed.")
    return metrics


def _one_metric(text: str) -> tuple[str, float]:
    (metric, *rest) = _metric_list(text)
    if rest:
        raise ValueError("fit takes one metric; use `knnvision run` to compare several.")
    return metric


def _weights_list(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    for value in values:
        if value not in ("uniform", "distance"):
            raise ValueError(f"uniform and/or distance, got {value!r}.")
    return values or ["uniform"]


def _one_weighting(text: str) -> str:
    if text.strip() not in ("uniform", "distance"):
        raise ValueError(f"uniform or distance, got {text!r}.")
    return text.strip()


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed option ``name`` (or set it in the environment), as opposed to
    its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _refuse_flags_with_preset(ctx: typer.Context, preset: str, names: list[str]) -> None:
    """A preset sets k, the metric, the weights and its own validation: flags for them
    would be ignored, so they are refused (a usage error) rather than dropped silently."""
    typed = [f"--{name.replace('_', '-')}" for name in names if _given(ctx, name)]
    if typed:
        raise typer.BadParameter(
            f"{preset} sets k, the metric, the weights and its validation itself; drop "
            f"{', '.join(typed)} (or drop --preset to tune them).",
            param_hint="'--preset'",
        )


# --- checks before the work ----------------------------------------------------------------


def _require_extra(module: str) -> None:
    """Import an optional part now, so that a missing extra is one line saying what to
    install (the ImportError the part raises names its pip command), not a traceback later."""
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise ValueError(str(error)) from None


#: What `run`, `tune`, `evaluate` and `recipe` write into their output folder.
_RESULT_FILES = ("model.knnv", "results.json", "report.html")


def _say_if_replacing(out: Path) -> None:
    """One line naming the earlier results (a folder's, or a model file) about to be
    replaced: nothing is overwritten without a word."""
    if out.is_file():
        console.print(f"Replacing the earlier {_literal(out)}.", style="yellow", highlight=False)
        return
    earlier = [name for name in _RESULT_FILES if (out / name).is_file()]
    if earlier:
        console.print(
            f"Replacing the earlier results in {_literal(out)}: {', '.join(earlier)}.",
            style="yellow",
            highlight=False,
        )


@contextmanager
def _folds_hint(cv: int):
    """scikit-learn's "n_splits=5 cannot be greater than the number of members in each
    class" as a hint that names --cv."""
    try:
        yield
    except ValueError as error:
        if "number of members in each class" not in str(error):
            raise
        raise ValueError(
            f"--cv {cv}: the training part has fewer than {cv} images of each class, so "
            f"{cv} stratified folds cannot be made; use a smaller --cv or more images."
        ) from None


# --- commands ------------------------------------------------------------------------------

DatasetOption = Annotated[
    str,
    typer.Option(
        "--dataset",
        "-d",
        help="digits (bundled), mnist, fashion-mnist, a folder of class sub-folders, or an .npz.",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        help="Folder holding the MNIST/Fashion-MNIST IDX files, the only place looked "
        "in (else they are searched for; run, fit and tune then download them, "
        "evaluate and report never do)."
    ),
]
ReportOption = Annotated[
    bool,
    typer.Option(
        "--report/--no-report", help="Write report.html and figures/*.png next to results.json."
    ),
]
ColorOption = Annotated[
    bool,
    typer.Option(
        "--color",
        help="Image folders: keep the images' colours (RGB features) "
        "instead of converting them to grayscale.",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Tune and search on a Dask cluster: its scheduler "
        "address (tcp://HOST:8786), or 'local' to start one on this machine. Needs the "
        "dask extra.",
    ),
]


KListOption = Annotated[
    str, typer.Option("--k", metavar="LIST", help="Values of k to try, e.g. 1,3,5,7,9.")
]
MetricListOption = Annotated[
    str,
    typer.Option(
        metavar="LIST",
        help="Distances to try: "
        "euclidean, manhattan, chebyshev, cosine, hamming, minkowski:P; "
        "comma-separated.",
    ),
]
WeightsListOption = Annotated[
    str, typer.Option(metavar="LIST", help="uniform and/or distance, comma-separated.")
]
TestSizeOption = Annotated[
    float,
    typer.Option(help="Test share when the dataset has no official test part.", min=0.01, max=0.9),
]
MaxTrainOption = Annotated[
    int | None, typer.Option(help="Use at most this many training images.", min=1)
]
MaxTestOption = Annotated[
    int | None, typer.Option(help="Use at most this many test images.", min=1)
]
NJobsOption = Annotated[int | None, typer.Option(help="Threads (default: all cores).")]


@app.command()
def run(
    ctx: typer.Context,
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
    stratify: Annotated[
        bool,
        typer.Option(
            "--stratify/--no-stratify",
            help="Keep the class "
            "proportions in the test split; --no-stratify gives scikit-learn's "
            "train_test_split(test_size=..., random_state=SEED) rows.",
        ),
    ] = True,
    n_jobs: NJobsOption = None,
    scheduler: SchedulerOption = None,
    out: Annotated[
        Path, typer.Option(help="Folder for model.knnv, results.json and the report.")
    ] = Path("results"),
    report: Annotated[
        bool,
        typer.Option(
            "--report/--no-report", help="Write report.html and figures/*.png next to results.json."
        ),
    ] = True,
    preset: Annotated[
        str | None,
        typer.Option(
            help="A named recipe for the dataset, e.g. best "
            "(preprocessing, augmentation, re-ranked distance; k and weights tuned on a "
            "validation split of the training part). It sets what --k/--metric/"
            "--weights/--cv would, so it is not combined with them."
        ),
    ] = None,
    color: ColorOption = False,
) -> None:
    """The main job: load, tune k by cross-validation, evaluate once on the test part, save."""
    if preset is not None:
        _refuse_flags_with_preset(ctx, preset, ["k", "metric", "weights", "cv"])
    config = ExperimentConfig(
        dataset=dataset,
        data_dir=str(data_dir) if data_dir else None,
        n_neighbors=_option_value("--k", _int_list, k),
        weights=_option_value("--weights", _weights_list, weights),
        metrics=_option_value("--metric", _metric_list, metric),
        cv=cv,
        test_size=test_size,
        stratify=stratify,
        max_train=max_train,
        max_test=max_test,
        seed=seed,
        n_jobs=n_jobs,
        scheduler=scheduler,
        out_dir=str(out),
        report=report,
        command=["knnvision", *sys.argv[1:]],
        preset=preset,
        color=color,
    )
    if scheduler is not None:
        _require_extra("knnvision.search.dask")
    _say_if_replacing(out)
    with _folds_hint(cv):
        result = _with_progress(lambda: run_experiment(config))
    _print_note(result.dataset)
    _print_cv(result.cv)
    best = result.cv.best
    console.print(
        f"\n[bold]{_literal(result.dataset.name)}[/]: "
        f"{final_estimator(result.model).n_samples_fit_:,} training, "
        f"{len(result.test_labels):,} test images; chosen k={best.n_neighbors}, "
        f"metric={_metric_text(best.metric, best.p)}, weights={best.weights}"
    )
    console.print(f"[bold green]Test accuracy: {result.accuracy:.2%}[/]\n")
    _print_report(result.report(), result.class_names)
    _print_confusion(result.confusion(), result.class_names)
    timings = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.timings.items())
    console.print(f"Time: {timings}")
    _print_saved(result.files)


@app.command()
def fit(
    dataset: DatasetOption = "digits",
    data_dir: DataDirOption = None,
    k: Annotated[int, typer.Option("--k", help="Number of neighbours.", min=1)] = 5,
    metric: Annotated[
        str, typer.Option(help="euclidean, manhattan, chebyshev, cosine, hamming or minkowski:P.")
    ] = "euclidean",
    weights: Annotated[str, typer.Option(help="uniform or distance.")] = "uniform",
    test_size: Annotated[
        float,
        typer.Option(
            help="Share held out for `evaluate` when the dataset has no official test part.",
            min=0.01,
            max=0.9,
        ),
    ] = 0.2,
    max_train: Annotated[
        int | None, typer.Option(min=1, help="Use at most this many training images.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    out: Annotated[Path, typer.Option(help="Model file to write.")] = Path("model.knnv"),
    color: ColorOption = False,
) -> None:
    """Fit a classifier on the training part of a dataset and save it, without tuning."""
    from .neighbors._base import check_enough_samples

    metric_name, p = _option_value("--metric", _one_metric, metric)
    weighting = _option_value("--weights", _one_weighting, weights)
    config = ExperimentConfig(
        dataset=dataset,
        data_dir=str(data_dir) if data_dir else None,
        test_size=test_size,
        max_train=max_train,
        seed=seed,
        color=color,
    )
    _say_if_replacing(out)

    def work():
        data = load_dataset(dataset, config.data_dir, color=color)
        X_train, y_train, _, _ = split_for_experiment(data, config)
        # Refused here, with the estimator's own message: a saved model with more neighbours
        # than training images would be refused by every later command.
        check_enough_samples(k, len(y_train))
        model = KNNClassifier(k, metric=metric_name, p=p, weights=weighting).fit(X_train, y_train)
        return save(model, out, metadata=model_metadata(data, config)), model, data

    path, model, data = _with_progress(work)
    _print_note(data)
    console.print(
        f"Saved {_literal(path)}: k={k}, {_metric_text(metric_name, p)}, "
        f"{model.n_samples_fit_:,} training images"
    )


class InvertChoice(StrEnum):
    """Values of ``predict --invert`` (an Enum, so a bad value is a usage error)."""

    auto = "auto"
    yes = "yes"
    no = "no"


class FramingChoice(StrEnum):
    """Values of ``predict --preprocess``: the web API's ``preprocess`` choices."""

    auto = "auto"
    mnist = "mnist"
    digits = "digits"
    resize = "resize"
    none = "none"


class OutputFormat(StrEnum):
    """Values of ``predict --format``."""

    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def predict(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .knnv model file.")],
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS",
            help="Image files (PNG/JPEG/BMP/GIF/PGM/PPM), folders (every image "
            "file below them, recursively, sorted by path), IDX image files or .npz files with an "
            "X array.",
        ),
    ],
    invert: Annotated[
        InvertChoice,
        typer.Option(
            help="auto: make light-background images dark like the training images; yes; no."
        ),
    ] = InvertChoice.auto,
    preprocess: Annotated[
        FramingChoice,
        typer.Option(
            help="How an image file is framed like "
            "the training images, as in the web API: auto (an image of the "
            "model's size as it is, any other framed like the model's dataset), "
            "mnist, digits, resize, none (pixels are the features)."
        ),
    ] = FramingChoice.auto,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="table; csv or json (to stdout, with every class probability)."
        ),
    ] = OutputFormat.table,
) -> None:
    """Predict the class of each input image: label and probability.

    Image files are framed as the web page frames an upload: both give the same answer.

    IDX and .npz images must have the model's size and are taken as they are.
    """
    from .io.images import (
        ImageFormat,
        class_labels,
        read_color_inputs,
        read_inputs,
    )

    model = load(model_path)
    if not hasattr(model, "predict_proba"):
        raise ValueError(
            f"{model_path} holds a {type(model).__name__}, which gives no class "
            "probabilities; predict needs a classifier."
        )
    meta = getattr(model, "metadata_", None) or {}
    try:
        image_format = ImageFormat.from_metadata(meta)
    except ValueError as error:
        raise ValueError(f"{model_path}: {error}") from None
    # RGB photos are resized only, never framed like a drawing.
    read = read_color_inputs if image_format.color else read_inputs
    names, features = read(inputs, image_format, preprocess.value, invert.value)
    probabilities = _with_progress(lambda: model.predict_proba(features))
    classes = class_labels(model.classes_, meta.get("class_names"))
    writers = {
        OutputFormat.table: _print_prediction_table,
        OutputFormat.csv: _write_prediction_csv,
        OutputFormat.json: _write_prediction_json,
    }
    writers[output_format](names, classes, probabilities)


def _print_prediction_table(names: list[str], classes: list[str], probabilities) -> None:
    # Names are Text, not markup: a file called seven[red].png is printed as it is called.
    # Folded, never cut, however narrow the terminal.
    table = Table()
    table.add_column("input", overflow="fold")
    table.add_column("label", overflow="fold")
    table.add_column("probability", justify="right")
    for name, row in zip(names, probabilities, strict=True):
        best = int(np.argmax(row))
        table.add_row(Text(name), Text(classes[best]), f"{row[best]:.2f}")
    console.print(table)


def _write_prediction_csv(names: list[str], classes: list[str], probabilities) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["input", "label", "probability", *(f"p_{name}" for name in classes)])
    for name, row in zip(names, probabilities, strict=True):
        best = int(np.argmax(row))
        writer.writerow([name, classes[best], repr(float(row[best])), *map(repr, map(float, row))])


def _write_prediction_json(names: list[str], classes: list[str], probabilities) -> None:
    import json

    records = []
    for name, row in zip(names, probabilities, strict=True):
        best = int(np.argmax(row))
        records.append(
            {
                "input": name,
                "label": classes[best],
                "probability": float(row[best]),
                "probabilities": dict(zip(classes, map(float, row), strict=True)),
            }
        )
    sys.stdout.write(json.dumps(records, indent=2) + "\n")


@app.command()
def evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .knnv model file.")],
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "-d",
            help="Dataset to evaluate on (default: the one the model was trained on).",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    out: Annotated[Path, typer.Option(help="Folder for results.json and the report.")] = Path(
        "results/evaluate"
    ),
    report: ReportOption = True,
) -> None:
    """Accuracy, per-class report and confusion matrix of a saved model on a test part.

    The test part is the dataset's official one, or the held-out split recorded in the model.
    """
    from .report.evaluate import write_outputs
    from .report.evaluation import evaluate_model

    model = load(model_path)
    meta = model.metadata_
    # A folder or .npz dataset is found by the absolute path the model recorded, from any
    # working folder; MNIST in --data-dir alone, else first in the recorded data folder.
    name = dataset or meta.get("dataset_path") or meta.get("dataset")
    if not name:
        raise ValueError("The model does not record its dataset; pass --dataset.")
    split = meta.get("split", {})
    config = ExperimentConfig(
        dataset=name,
        data_dir=str(data_dir) if data_dir else None,
        test_size=split.get("test_size", 0.2),
        seed=split.get("seed", 0),
        stratify=split.get("stratify", True),
        color=bool(meta.get("color", False)),
    )
    recorded_dir = meta.get("data_dir") if data_dir is None else None
    _say_if_replacing(out)

    def work():
        evaluation = evaluate_model(
            model,
            config,
            rows="model",
            recorded_data_dir=recorded_dir,
            image_size=meta.get("image_shape"),
        )
        recorded = dataclasses.replace(config, data_dir=config.data_dir or recorded_dir)
        return evaluation, write_outputs(
            out, model_path, evaluation, recorded, _command(), report=report
        )

    evaluation, files = _with_progress(work)
    names = evaluation.class_names
    console.print(
        f"[bold green]Test accuracy on {_literal(evaluation.dataset.name)}: "
        f"{evaluation.accuracy:.2%}[/] ({len(evaluation.test_labels):,} images)\n"
    )
    _print_report(evaluation.report(), names)
    _print_confusion(
        confusion_counts(evaluation.test_labels, evaluation.test_predictions, len(names)), names
    )
    _print_saved(files)


@app.command()
def info(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .knnv model file.")],
) -> None:
    """What a model file holds: estimator, parameters, training size, classes, versions."""
    from rich.markup import escape

    header = read_header(model_path)
    rows = [
        ("file", str(model_path)),
        *_model_rows(header["model"], header.get("arrays", [])),
        *_metadata_rows(header.get("metadata", {})),
        ("written by", f"knnvision {header.get('library_version', '?')}"),
    ]
    table = Table(show_header=False)
    for key, value in rows:
        table.add_row(escape(key), escape(value))
    console.print(table, highlight=False)


#: Parameters that say how or where a search runs, not what the model is.
_RUNTIME_PARAMS = frozenset({"n_jobs", "working_memory", "backend", "scheduler"})
#: Metrics that read the Minkowski power ``p``; the others ignore it.
_METRICS_WITH_P = frozenset({"minkowski", "p"})
#: Metadata that ``info`` shows in its own words (see :func:`_metadata_rows`).
_DESCRIBED_METADATA = frozenset(
    {
        "dataset",
        "dataset_path",
        "data_dir",
        "image_shape",
        "max_value",
        "color",
        "class_names",
        "split",
    }
)


def _model_rows(description: dict, arrays: list) -> list[tuple[str, str]]:
    """The estimator (or pipeline steps), the parameters that mean something for it, and
    its training size."""
    steps = description.get("steps")
    if steps is None:
        named = [("", description)]
        kind = description.get("class", "?")
    else:
        named = [(f"{name}.", step) for name, step in steps]
        kind = "Pipeline: " + " → ".join(step.get("class", "?") for _, step in steps)
    rows = [("estimator", kind)]
    for prefix, step in named:
        rows += [(prefix + key, str(value)) for key, value in _meaningful_params(step)]
    fitted = named[-1][1].get("state", {}).get("n_samples_fit_", {}).get("value")
    if fitted is None:  # written by an older version: the longest array stands in
        fitted = max((entry["shape"][0] for entry in arrays if entry.get("shape")), default=None)
    if fitted is not None:
        rows.append(("training samples", str(int(fitted))))
    return rows


def _meaningful_params(step: dict) -> list[tuple[str, object]]:
    """Parameters of one step without the run-time ones, the unset ones, and ``p`` where
    the metric ignores it."""
    params = shown_params(step)
    shown = []
    for key, value in params.items():
        if key in _RUNTIME_PARAMS or value is None:
            continue
        if key == "p" and "metric" in params and params["metric"] not in _METRICS_WITH_P:
            continue
        shown.append((key, value))
    return shown


def _metadata_rows(meta: dict) -> list[tuple[str, str]]:
    """The dataset, images, classes and test part a model records, in words; any other
    metadata as it is."""
    rows = []
    if "dataset" in meta:
        rows.append(("dataset", str(meta["dataset"])))
    for key, label in (("dataset_path", "dataset folder"), ("data_dir", "data dir")):
        if meta.get(key):
            rows.append((label, str(meta[key])))
    if meta.get("image_shape"):
        height, width = meta["image_shape"][:2]
        kind = "RGB" if meta.get("color") else "grayscale"
        brightest = meta.get("max_value", 255)
        rows.append(("images", f"{height}×{width} {kind}, values 0..{brightest}"))
    if meta.get("class_names"):
        names = [str(name) for name in meta["class_names"]]
        shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        rows.append(("classes", f"{len(names)}: {shown}"))
    if meta.get("split"):
        rows.append(("test part", _split_text(meta["split"])))
    rows += [(key, str(value)) for key, value in meta.items() if key not in _DESCRIBED_METADATA]
    return rows


def _split_text(split: dict) -> str:
    """How the model's test part is made: the dataset's official one, or a held-out share."""
    if split.get("official"):
        return "the dataset's official test part"
    held_out = f"{100 * split.get('test_size', 0.2):g}% held out"
    stratified = "stratified" if split.get("stratify", True) else "not stratified"
    return f"{held_out} (seed {split.get('seed', 0)}, {stratified})"


@app.command()
def version() -> None:
    """Print the knnvision version."""
    console.print(__version__)


@app.command()
def serve(
    model_path: Annotated[
        Path | None,
        typer.Argument(
            metavar="MODEL",
            help="A .knnv model file (default: fit one on MNIST if its files "
            "are found locally, else on the bundled digits).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the draw-a-digit page and the prediction API (needs the web extra)."""
    _require_extra("knnvision.web")
    from .web import serve as serve_web

    serve_web(
        model_path,
        host=host,
        port=port,
        say=lambda text: console.print(text, markup=False, highlight=False),
    )


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="Small subsets: a smoke test in seconds.")] = False,
    cases: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated cases (default: all): "
            "mnist_euclidean, fashion_manhattan, fashion_pca10, single_query, "
            "scaling."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder holding mnist/ and "
            "fashion-mnist/ IDX files (never downloaded; --quick uses generated "
            "images without them)."
        ),
    ] = None,
    n_jobs: Annotated[int | None, typer.Option(help="Threads for every engine.")] = None,
    repeat: Annotated[int, typer.Option(help="Keep the fastest of N runs.", min=1)] = 1,
    out: Annotated[
        Path, typer.Option(help="JSON results file (a .md table is written beside it).")
    ] = Path("bench_results.json"),
) -> None:
    """Time knnvision's search against scikit-learn and faiss-cpu (if installed) on the same
    data and threads, check they return the same neighbours, and write a table and JSON."""
    from .experiments import bench

    chosen = tuple(c.strip() for c in cases.split(",") if c.strip()) if cases else None

    def log(text: str) -> None:
        # Literal text (install hints such as knnvision[bench] are not rich markup), and
        # one-line notes stay one line, whatever the terminal's width.
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    report = bench.run(
        quick=quick, cases=chosen, data_dir=data_dir, n_jobs=n_jobs, repeat=repeat, log=log
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    bench.save(report, out, out.with_suffix(".md"))
    log(f"Saved {out} and {out.with_suffix('.md')}")


@app.command("report")
def report_command(
    results_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RESULTS_DIR",
            help="A folder written "
            "by `knnvision run`, `tune`, `evaluate` or `recipe` (results.json, "
            "and the model file where there is one).",
        ),
    ],
    data_dir: DataDirOption = None,
) -> None:
    """Rebuild report.html and figures/*.png of a finished run, tuning, evaluation or recipe
    from its folder."""
    from .report import rebuild_report

    files = _with_progress(lambda: rebuild_report(results_dir, data_dir))
    console.print(f"Report: {_literal(files['report'])} (figures in {_literal(files['figures'])})")


@app.command()
def tune(
    dataset: DatasetOption = "digits",
    data_dir: DataDirOption = None,
    k: KListOption = "1,3,5,7,9",
    metric: MetricListOption = "euclidean",
    weights: WeightsListOption = "uniform",
    pca: Annotated[
        str | None,
        typer.Option(
            metavar="LIST",
            help="PCA sizes to try, e.g. "
            "0,20,50 (0: no PCA; 0.9: keep 90% of the variance); fitted on each fold's "
            "training part.",
        ),
    ] = None,
    cv: Annotated[
        int, typer.Option(help="Stratified folds, unshuffled as in GridSearchCV.", min=2)
    ] = 5,
    test_size: TestSizeOption = 0.2,
    max_train: MaxTrainOption = None,
    max_test: MaxTestOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    n_jobs: NJobsOption = None,
    top: Annotated[int, typer.Option(help="Show the best N settings.", min=1)] = 10,
    scheduler: SchedulerOption = None,
    out: Annotated[
        Path,
        typer.Option(help="Folder for model.knnv (the best setting), results.json and the report."),
    ] = Path("results/tune"),
    report: ReportOption = True,
    color: ColorOption = False,
) -> None:
    """Grid search by cross-validation (KNNSearchCV, GridSearchCV's scores) on the training
    part, then the best setting's accuracy on the test part."""
    from .report.evaluation import Evaluation, without_skipped_steps
    from .report.text import params_text
    from .report.tune import write_outputs
    from .selection.search_cv import KNNSearchCV, knn_grid

    settings = {
        "k": _option_value("--k", _int_list, k),
        "metric": _option_value("--metric", _metric_list, metric),
        "weights": _option_value("--weights", _weights_list, weights),
        "pca": _option_value("--pca", _pca_list, pca),
        "cv": cv,
        "top": top,
        "n_jobs": n_jobs,
        "scheduler": scheduler,
        "command": _command(),
    }
    estimator, grid = knn_grid(
        settings["k"],
        weights=settings["weights"],
        metrics=settings["metric"],
        pca_sizes=settings["pca"],
    )
    if scheduler is not None:
        _require_extra("knnvision.search.dask")
        from .selection.dask import on_dask

        estimator = on_dask(estimator, scheduler)
    config = ExperimentConfig(
        dataset=dataset,
        data_dir=str(data_dir) if data_dir else None,
        test_size=test_size,
        max_train=max_train,
        max_test=max_test,
        seed=seed,
        color=color,
    )

    def work():
        started = time.perf_counter()
        data = load_dataset(dataset, config.data_dir, color=color)
        X_train, y_train, X_test, y_test = split_for_experiment(data, config)
        loaded = time.perf_counter()
        with _folds_hint(cv):
            search = KNNSearchCV(estimator, grid, cv=cv, n_jobs=n_jobs).fit(X_train, y_train)
        searched = time.perf_counter()
        # "no PCA" is a skipped pipeline step: the model is the classifier alone.
        model = without_skipped_steps(search.best_estimator_)
        predictions = model.predict(X_test)
        timings = {
            "load_and_split": loaded - started,
            "tune": searched - loaded - search.refit_time_,
            "refit": search.refit_time_,
            "evaluate": time.perf_counter() - searched,
        }
        evaluation = Evaluation(
            data,
            model,
            y_test,
            predictions,
            X_train,
            y_train,
            X_test,
            seed,
            {step: round(t, 4) for step, t in timings.items()},
        )
        return (
            search,
            evaluation,
            write_outputs(out, search, evaluation, config, settings, report=report),
        )

    _say_if_replacing(out)
    search, evaluation, files = _with_progress(work)
    _print_note(evaluation.dataset)
    _print_search(search, top)
    console.print(
        f"\n{len(evaluation.train_labels):,} training, {len(evaluation.test_labels):,} "
        f"test images. Best: {_literal(params_text(search.best_params_))}, "
        f"CV {search.best_score_:.2%}"
    )
    console.print(f"[bold green]Test accuracy of the best setting: {evaluation.accuracy:.2%}[/]")
    _print_saved(files)


@app.command()
def recipe(
    name: Annotated[str | None, typer.Argument(help="Recipe to run (see --list).")] = None,
    list_recipes: Annotated[bool, typer.Option("--list", help="List the recipes.")] = False,
    data_dir: DataDirOption = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Also run scikit-learn on the same data and show its numbers.",
        ),
    ] = True,
    max_train: Annotated[
        int | None,
        typer.Option(
            help="Cap the training rows for a quick run (then the numbers are not the tutorial's).",
            min=1,
        ),
    ] = None,
    max_test: Annotated[
        int | None, typer.Option(help="Cap the test and validation rows.", min=1)
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of draws the tutorial leaves unseeded.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for results.json and the report (default: results/recipes/NAME)."
        ),
    ] = None,
    report: ReportOption = True,
) -> None:
    """Run a tutorial's experiment; print its numbers next to the tutorial's own."""
    from .experiments.recipes import RECIPES, RecipeOptions, run_recipe
    from .report.recipe import write_outputs

    if list_recipes or name is None:
        table = Table("recipe", "experiment", "needs", title="Recipes (knnvision recipe NAME)")
        for entry in RECIPES.values():
            table.add_row(entry.name, _literal(entry.title), ", ".join(entry.datasets) or "nothing")
        console.print(table)
        return
    options = RecipeOptions(
        data_dir=str(data_dir) if data_dir else None,
        check=check,
        max_train=max_train,
        max_test=max_test,
        seed=seed,
    )
    result = _with_progress(lambda: run_recipe(name, options))
    _print_recipe(result, check)
    if max_train is not None or max_test is not None:
        console.print("Capped run: not the tutorial's sizes, so not its numbers.", style="yellow")
    folder = out if out is not None else Path("results", "recipes", name)
    _say_if_replacing(folder)
    _print_saved(
        _with_progress(lambda: write_outputs(folder, result, options, _command(), report=report))
    )


def _pca_list(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"sizes separated by commas (0 for no PCA), got {text!r}.") from None
    if any(v < 0 or (v >= 1 and not v.is_integer()) for v in values):
        raise ValueError(f"whole numbers or fractions below 1, got {text!r}.")
    return [int(v) if v.is_integer() else v for v in values]


def _print_search(search, top: int) -> None:
    from .report.text import top_settings

    results = search.cv_results_
    rows = top_settings(results, top)
    table = Table(
        "rank",
        "setting",
        "CV accuracy",
        title=f"{search.n_splits_}-fold cross-validation, best {len(rows)} of "
        f"{len(results['params'])}",
    )
    for number, row in enumerate(rows):  # the first row is the best setting
        table.add_row(*map(_literal, row), style="bold green" if number == 0 else None)
    console.print(table)


def _print_recipe(result, check: bool) -> None:
    console.print(f"[bold]{_literal(result.title)}[/]\n{_literal(result.setup)}\n", highlight=False)
    columns = ["", "tutorial", "knnvision"] + (["scikit-learn"] if check else [])
    table = Table(*columns)
    for row in result.rows:
        values = [row.tutorial, row.knnvision] + ([row.scikit_learn] if check else [])
        table.add_row(_literal(row.quantity), *(_literal(row.shown(value)) for value in values))
    console.print(table)
    for detail in result.tables:
        extra = Table(
            *map(_literal, detail.header), title=_literal(detail.title) if detail.title else None
        )
        for cells in detail.rows:
            extra.add_row(*map(_literal, cells))
        console.print(extra)
    for note in result.notes:
        console.print(note, markup=False, highlight=False)
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


def _print_note(dataset) -> None:
    """The dataset's notice on how it was read (colours dropped, ...), if it has one."""
    from rich.markup import escape

    if dataset.note:
        console.print(escape(dataset.note), style="yellow", highlight=False)


def _print_saved(files: dict[str, str]) -> None:
    saved = [_literal(files[key]) for key in ("model", "results") if key in files]
    console.print(f"Saved {' and '.join(saved)}")
    if "report" in files:
        console.print(
            f"Report: {_literal(files['report'])} (figures in {_literal(files['figures'])})"
        )


def _print_cv(cv) -> None:
    title = f"{cv.n_folds}-fold cross-validation"
    if "preset" in cv.extra:  # tuned on one validation split (knnvision.experiments.presets)
        title = _literal(f"preset {cv.extra['preset']}: {cv.extra['summary']}; validation split")
    table = Table("k", "metric", "weights", "CV accuracy", title=title)
    best = cv.best_index
    for i, (c, mean, std) in enumerate(
        zip(cv.candidates, cv.mean_scores, cv.std_scores, strict=True)
    ):
        style = "bold green" if i == best else None
        table.add_row(
            str(c.n_neighbors),
            _metric_text(c.metric, c.p),
            c.weights,
            f"{mean:.2%} ± {std:.2%}",
            style=style,
        )
    console.print(table)


def _print_report(report: dict, class_names: list[str]) -> None:
    table = Table("class", "precision", "recall", "F1", "support", title="Per-class report")
    for name in class_names + ["macro avg", "weighted avg"]:
        row = report[name]
        table.add_row(
            _literal(name),
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1-score']:.3f}",
            f"{int(row['support']):,}",
        )
    console.print(table)


def _print_confusion(matrix: np.ndarray, class_names: list[str]) -> None:
    short = [_literal(name[:8]) for name in class_names]  # cut first, then escaped
    table = Table("true \\ predicted", *short, title="Confusion matrix")
    for i, (name, row) in enumerate(zip(short, matrix, strict=True)):
        cells = [f"[bold]{count:,}[/]" if i == j else f"{count:,}" for j, count in enumerate(row)]
        table.add_row(name, *cells)
    console.print(table)


def main() -> None:
    """Entry point: runs the app and turns user errors into one line and exit status 1."""
    # Usage errors (an unknown option, a value out of range or one the parsers above refuse)
    # are handled by typer itself: a short message naming the option and exit status 2.
    try:
        app(prog_name="knnvision")  # also under `python -m knnvision`
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as error:
        errors.print(f"[bold red]Error:[/] {_literal(error)}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
