"""Test error and time, technique by technique, on the official test sets.

Each row adds one technique of knnvision's "beyond plain KNN" toolkit (preprocessing,
augmentation, re-ranking by a deformation-aware distance) with a fixed k, fitted on the whole
training part and evaluated once on the test part. The last row is the dataset's preset, run
exactly as ``knnvision run --dataset NAME --preset best`` runs it (k and weighting tuned on a
validation split carved from the training part). The fixed choices were made beforehand on
validation splits of the training data, never on the test part::

    python benchmarks/accuracy.py --dataset mnist --data-root ../shared/datasets
    python benchmarks/accuracy.py --dataset fashion-mnist --data-root ../shared/datasets
    python benchmarks/accuracy.py --dataset digits

Each run writes ``accuracy_<dataset>.md`` (the table, followed by the hand-written
``accuracy_<dataset>_validation.md`` when there is one: how the preset was chosen) and
``accuracy_<dataset>.json`` beside this script. When only the validation notes have changed
(a technique screened and not adopted), ``--notes-only`` puts the current notes under the
recorded table without loading data or running anything::

    python benchmarks/accuracy.py --dataset mnist --notes-only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline

from knnvision import KNNClassifier, __version__
from knnvision.datasets import load_dataset
from knnvision.experiments.presets import get_preset
from knnvision.experiments.run import run_experiment
from knnvision.neighbors.rerank import RerankKNNClassifier
from knnvision.results.experiment import ExperimentConfig, split_for_experiment
from knnvision.search.kernels import _topk
from knnvision.search.threads import get_num_threads
from knnvision.transforms.preprocessing import Deskew, GaussianBlur

sys.path.insert(0, str(Path(__file__).parent))

from fashion_screen_block_weights import ROUND_1_BLOCK_WEIGHTS  # noqa: E402

# The Fashion-MNIST re-rank with the HOG-block IDM, without the preset's shifts and tuning.
HOG_IDM_RERANK = {
    "features": "hog",
    "n_candidates": 100,
    "mix": 0.12,
    "unblurred_hog_mix": 0.12,
    "hog_idm_mix": 0.4,
}


def _fashion_part_weights() -> dict:
    """The Fashion preset's learned weights, as classifier parameters."""
    names = (
        "hog_idm_block_weights",
        "search_block_weights",
        "unblurred_hog_block_weights",
        "idm_pixel_weights",
    )
    params = get_preset("fashion-mnist", "best").classifier
    return {name: params[name] for name in names}


def techniques(dataset: str) -> list[tuple[str, object]]:
    """(description, unfitted model) rows, each adding one technique to the one before."""
    if dataset == "mnist":
        return [
            ("raw pixels, Euclidean, k=3", KNNClassifier(3)),
            ("deskew, k=3", make_pipeline(Deskew(), KNNClassifier(3))),
            (
                "deskew + blur (sigma 0.5), k=3",
                make_pipeline(Deskew(), GaussianBlur(0.5), KNNClassifier(3)),
            ),
            (
                "deskew + blur + 1-pixel shifts in 8 directions (540,000 rows), k=3",
                make_pipeline(
                    Deskew(),
                    GaussianBlur(0.5),
                    RerankKNNClassifier(3, distortion="none", shifts=(1,), directions=8),
                ),
            ),
            (
                "deskew + blur, 100 Euclidean candidates re-ranked by IDM, k=3",
                make_pipeline(
                    Deskew(),
                    GaussianBlur(0.5),
                    RerankKNNClassifier(3, n_candidates=100, warp=2, context=1),
                ),
            ),
        ]
    if dataset == "fashion-mnist":
        return [
            ("raw pixels, Euclidean, k=5", KNNClassifier(5)),
            (
                "gradient histograms (HOG) of blurred images, k=5",
                RerankKNNClassifier(5, features="hog", distortion="none"),
            ),
            (
                "HOG + 1-pixel shifts in 4 directions (300,000 rows), k=5",
                RerankKNNClassifier(
                    5, features="hog", distortion="none", shifts=(1,), directions=4
                ),
            ),
            (
                "HOG, 50 candidates re-ranked by 0.75 HOG + 0.25 IDM, k=5",
                RerankKNNClassifier(5, features="hog", n_candidates=50, mix=0.25),
            ),
            (
                "HOG, 100 candidates re-ranked by 0.6 HOG + 0.2 IDM + 0.2 unblurred HOG, k=5",
                RerankKNNClassifier(
                    5, features="hog", n_candidates=100, mix=0.2, unblurred_hog_mix=0.2
                ),
            ),
            (
                "HOG, 100 candidates re-ranked by 0.36 HOG + 0.12 IDM + 0.12 unblurred HOG + "
                "0.4 IDM of 2-pixel-cell HOG blocks (18 orientations), k=5",
                RerankKNNClassifier(5, **HOG_IDM_RERANK),
            ),
            (
                "the same with a learned weight per HOG block (ROUND_1_BLOCK_WEIGHTS), k=5",
                RerankKNNClassifier(
                    5, **HOG_IDM_RERANK, hog_idm_block_weights=ROUND_1_BLOCK_WEIGHTS
                ),
            ),
            (
                "the same with learned weights for every block and pixel group of every part "
                "(the preset's), k=5",
                RerankKNNClassifier(5, **HOG_IDM_RERANK, **_fashion_part_weights()),
            ),
        ]
    if dataset == "digits":
        return [
            ("raw pixels, Euclidean, k=3", KNNClassifier(3)),
            ("deskew, k=3", make_pipeline(Deskew(), KNNClassifier(3))),
            (
                "50 Euclidean candidates re-ranked by IDM (3 x 3 warp), k=3",
                RerankKNNClassifier(3, n_candidates=50, warp=1, context=1),
            ),
        ]
    raise ValueError(f"no techniques listed for {dataset!r}")


def measure(model, X_train, y_train, X_test, y_test) -> dict:
    started = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predictions = model.predict(X_test)
    predict_seconds = time.perf_counter() - started
    return {
        "error": float(np.mean(predictions != y_test)),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
    }


def run_preset(config: ExperimentConfig) -> dict:
    started = time.perf_counter()
    result = run_experiment(config)
    total = time.perf_counter() - started
    best = result.cv.best
    return {
        "error": 1.0 - result.accuracy,
        "fit_seconds": result.timings["tune"] + result.timings["fit"],
        "predict_seconds": result.timings["evaluate"],
        "total_seconds": total,
        "timings": result.timings,
        "chosen": {"n_neighbors": best.n_neighbors, "weights": best.weights},
        "validation_accuracy": float(result.cv.mean_scores.max()),
    }


def table(dataset: str, rows: list[dict], n_train: int, n_test: int) -> str:
    lines = [
        f"# {dataset}: test error technique by technique "
        f"({n_train} training, {n_test} test images)",
        "",
        (
            f"knnvision {__version__}, {platform.machine()}, {os.cpu_count()} cores, kernel "
            f"threads {get_num_threads()} ({_topk.cpu_level()} path); the machine was shared "
            "with other engineers' jobs, so "
            "timings are noisy. Fit includes preprocessing, augmentation and indexing; the "
            "preset's fit also includes its tuning on the validation split."
        ),
        "",
        "| technique | test error | test accuracy | fit (s) | predict (s) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['technique']} | {row['error']:.2%} | {1 - row['error']:.2%} | "
            f"{row['fit_seconds']:.2f} | {row['predict_seconds']:.2f} |"
        )
    preset = rows[-1]
    if "total_seconds" in preset:
        lines += [
            "",
            (
                f"The preset chose k={preset['chosen']['n_neighbors']}, weights="
                f"{preset['chosen']['weights']} (validation accuracy "
                f"{preset['validation_accuracy']:.2%}); the whole run took "
                f"{preset['total_seconds']:.1f} s."
            ),
        ]
    return "\n".join(lines) + "\n"


def notes_path(dataset: str) -> Path:
    return Path(__file__).with_name(f"accuracy_{dataset}_validation.md")


def with_notes(dataset: str, measured: str) -> str:
    """The measured table followed by how the preset's choices were made: written by hand
    from the validation studies, it belongs beside the test figures but is not measured by
    this run."""
    notes = notes_path(dataset)
    return measured + ("\n" + notes.read_text() if notes.exists() else "")


def refresh_notes(dataset: str) -> None:
    """Replace the notes under the recorded table of ``accuracy_<dataset>.md``."""
    recorded = Path(__file__).with_name(f"accuracy_{dataset}.md")
    if not recorded.exists():
        raise SystemExit(f"{recorded} does not exist: run without --notes-only first.")
    text = recorded.read_text()
    notes = notes_path(dataset)
    if notes.exists():
        heading = notes.read_text().splitlines()[0]
        if heading in text:
            text = text[: text.index(heading)].rstrip("\n") + "\n"
    recorded.write_text(with_notes(dataset, text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=("mnist", "fashion-mnist", "digits"))
    parser.add_argument(
        "--data-root",
        default=os.environ.get("KNNVISION_DATA"),
        help="Folder holding mnist/ and fashion-mnist/ IDX folders.",
    )
    parser.add_argument("--skip-techniques", action="store_true", help="Only run the preset.")
    parser.add_argument(
        "--notes-only",
        action="store_true",
        help="Keep the recorded table; only replace the validation notes under it.",
    )
    args = parser.parse_args()
    if args.notes_only:
        refresh_notes(args.dataset)
        return
    data_dir = None
    if args.data_root and args.dataset != "digits":
        data_dir = str(Path(args.data_root) / args.dataset)
    # UCI digits: the 80/20 split with random_state 1337 the target is stated for (the
    # tutorial's train_test_split, not stratified).
    digits = args.dataset == "digits"
    config = ExperimentConfig(
        dataset=args.dataset,
        data_dir=data_dir,
        preset="best",
        seed=1337 if digits else 0,
        stratify=not digits,
        out_dir=None,
        report=False,
    )
    X_train, y_train, X_test, y_test = split_for_experiment(
        load_dataset(args.dataset, data_dir), config
    )
    rows = []
    for description, model in [] if args.skip_techniques else techniques(args.dataset):
        row = {"technique": description, **measure(model, X_train, y_train, X_test, y_test)}
        print(row, flush=True)
        rows.append(row)
    row = {
        "technique": "**preset `best`** (k and weights tuned on a validation split)",
        **run_preset(config),
    }
    print(row, flush=True)
    rows.append(row)
    out = Path(__file__).with_name(f"accuracy_{args.dataset}")
    out.with_suffix(".md").write_text(
        with_notes(args.dataset, table(args.dataset, rows, len(y_train), len(y_test)))
    )
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "knnvision": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "kernels": _topk.cpu_level(),
        "cores": os.cpu_count(),
        "rows": rows,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
