"""Fashion-MNIST (issue 17): a learned linear metric (PCA, then NCA) on the HOG search features,
scored on validation splits of the training data only.

Each seed holds out 5,000 of the 60,000 training images exactly as ``Preset.tune`` does
(``train_val_test_split(X, y, val_size=5000, test_size=0, seed=seed)``); everything is fitted
on the other 55,000 and scored on the 5,000. The official test images are never loaded.
For every variant k in (1, 3, 5, 7, 10) and uniform or distance weights are tuned as
``Preset.tune`` tunes them: the best cell of the grid on the split (first best in the order
weights, k), so every figure is slightly optimistic in the same way.

Variants (``--variants`` picks some; default all):

* ``hog``: the HOG features of ``RerankKNNClassifier._search_rows`` (blur sigma 1, then
  ``GradientHistograms`` defaults, 1,296 values), plain Euclidean k-NN (the baseline).
* ``pca``: the same centred and projected on its first ``--pca`` principal axes.
* ``nca``: PCA, then ``NeighborhoodComponentsAnalysis`` (``--nca-dims`` components, PCA
  start, ``--nca-iter`` iterations) fitted on ``--nca-samples`` stratified training images;
  Euclidean k-NN in that space over all 55,000.
* ``preset``: ``fashion-mnist/best`` itself (1-pixel shifts in 4 directions, 50 HOG
  candidates, 0.75 HOG + 0.25 IDM), and from the same search ``preset-search`` (HOG k-NN
  on the shifted training set, no re-rank).
* ``nca-rerank``: the preset with the candidate search swapped for NCA-space search over the
  shifted training set (``nca-shift-search``: that search alone, no re-rank); the 50
  candidates are then ranked by 0.75 HOG + 0.25 IDM as in the preset (``nca-rerank``) or by
  0.75 NCA + 0.25 IDM (``nca-rerank-ncamix``), each scaled by its mean over the preset's
  training pairs.

Runs on ``--threads`` threads (1). Raw results are appended to
``$KNNVISION_METRIC_RESULTS`` (default ``/tmp/fashion_metric_validation.json``) and the table
is written to ``fashion_metric_validation.md`` beside this script::

    python benchmarks/fashion_metric_validation.py --data-root /work/shared/datasets --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from knnvision.datasets import load_dataset, train_val_test_split
from knnvision.experiments.presets import get_preset
from knnvision.neighbors import NeighborhoodComponentsAnalysis
from knnvision.neighbors._base import neighbor_weights
from knnvision.neighbors.classifier import vote_shares
from knnvision.neighbors.rerank import CandidateDistances, _squared_euclidean_to_candidates
from knnvision.search import build_index, thread_limit
from knnvision.transforms.preprocessing import GaussianBlur, GradientHistograms

KS = (1, 3, 5, 7, 10)
WEIGHTS = ("uniform", "distance")
VAL_SIZE = 5000
SHAPE = (28, 28)
HERE = Path(__file__).parent
RESULTS = Path(os.environ.get("KNNVISION_METRIC_RESULTS", "/tmp/fashion_metric_validation.json"))
# Written after reading the measured rows (seed 0, 2 threads, 2 December 2026).
CONCLUSION = """
A learned linear metric on the HOG features does not help; nothing reached the +0.3 point
bar, so no row was repeated on seed 1 (all rows: seed 0, 2 threads, load average under 1.5
when started).
Plain Euclidean k-NN on the 1,296 HOG values scores 90.14%; PCA alone costs little (128 axes
90.04%, 64 axes 90.00%), and NCA on top of it costs more: 64 components learned on 2,000 /
5,000 / 10,000 stratified training images give 88.94% / 89.02% / 89.50% (-1.20 / -1.12 /
-0.64 points), 32 components from PCA 64 on 5,000 give 88.26%, and rescaling the features
before NCA (x0.5, x0.25, which softens its neighbour probabilities) did not change the
picture (89.26%, 88.64%). The clearest row is full-rank NCA (128 components on PCA 128, which
starts from a rotation of the PCA space, i.e. from 90.04%): training it on 5,000 images takes
it down to 89.52%. So the learned map is worse than its starting point on held-out images:
the subsample's leave-one-out objective is over-fitted (L-BFGS stopped after 21-42
iterations each time). The gap shrinks with more NCA samples, but the fit is quadratic in
them: 167 s on 10,000 at 2 threads, so an estimated 11 minutes on 20,000 (not measured), the
whole run budget, and a preset would fit it twice (tuning and final refit). As the candidate
search of the preset (NCA 64 from 5,000 images, over the shifted training set, then the
preset's 50-candidate 0.75 HOG + 0.25 IDM re-rank) it scores 91.18% against the preset's
91.64% on the same split (-0.46; with the NCA distance mixed in instead of the HOG one,
91.04%): the NCA space finds worse candidates (89.28% as a search alone, against 90.70% for
the preset's HOG search over the same shifted images). The preset's own validation score on
this split, 91.64%, matches the figure the preset was tuned with. Recommendation: no preset
change. The measured NCA variant would add about 40 s of NCA fitting per fit to the full run
(plus about 44 s here for recomputing the HOG of the 275,000 shifted images, which a library
version could share with the index), for a loss.
"""
VARIANTS = ("hog", "pca", "nca", "preset", "nca-rerank")


def hog(rows: np.ndarray) -> np.ndarray:
    """The search features of ``RerankKNNClassifier(features="hog")``, in blocks."""
    out = []
    for start in range(0, len(rows), 20000):
        blurred = GaussianBlur(sigma=1.0, image_shape=SHAPE).fit_transform(
            rows[start : start + 20000]
        )
        out.append(GradientHistograms(image_shape=SHAPE).fit_transform(blurred))
    return np.concatenate(out).astype(np.float32)


def grid(distances, neighbour_labels, truth) -> dict:
    """Accuracy for every (weights, k) and the choice ``Preset.tune`` would make."""
    cells = {}
    for weighting in WEIGHTS:
        for k in KS:
            shares = vote_shares(
                neighbour_labels[:, :k], neighbor_weights(distances[:, :k], weighting), 10
            )
            cells[f"{weighting} k={k}"] = float(np.mean(np.argmax(shares, axis=1) == truth))
    best = max(cells, key=lambda name: (cells[name], -list(cells).index(name)))
    return {"accuracy": cells[best], "choice": best, "grid": cells}


def search(train, queries, k):
    index = build_index(train, metric="euclidean")
    return index.query(queries, k)


class Linear:
    """PCA (centred, first ``n`` axes of the covariance), optionally followed by NCA."""

    def __init__(
        self, features, labels, n_pca, nca_dims=None, nca_samples=0, nca_iter=50, seed=0, scale=1.0
    ):
        started = time.time()
        self.mean = features.mean(axis=0, dtype=np.float64)
        centred = features - self.mean.astype(np.float32)
        covariance = (centred.T @ centred).astype(np.float64) / len(features)
        values, vectors = np.linalg.eigh(covariance)
        self.matrix = vectors[:, ::-1][:, :n_pca]
        self.nca_seconds = 0.0
        self.nca_iter = 0
        if nca_dims:
            rng = np.random.default_rng(seed)
            per_class = nca_samples // 10
            pick = np.concatenate(
                [
                    rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                    for c in range(10)
                ]
            )
            reduced = scale * (centred[pick] @ self.matrix.astype(np.float32))
            nca_started = time.time()
            nca = NeighborhoodComponentsAnalysis(
                n_components=nca_dims, init="pca", max_iter=nca_iter
            ).fit(reduced.astype(np.float64), labels[pick])
            self.nca_seconds = time.time() - nca_started
            self.nca_iter = int(nca.n_iter_)
            self.matrix = scale * self.matrix @ nca.components_.T
        self.matrix = self.matrix.astype(np.float32)
        self.fit_seconds = time.time() - started

    def __call__(self, features):
        return (features - self.mean.astype(np.float32)) @ self.matrix


def load_split(args, seed):
    data = load_dataset("fashion-mnist", data_dir=args.data_root)
    X, y = data.flat("train"), data.labels
    X_fit, X_val, _, y_fit, y_val, _ = train_val_test_split(
        X, y, val_size=VAL_SIZE, test_size=0, seed=seed
    )
    return X_fit, X_val, y_fit, y_val


def record(rows, name, seed, result, fit_s, predict_s, threads, **extra):
    row = {
        "variant": name,
        "seed": seed,
        **result,
        "fit_s": round(fit_s, 1),
        "predict_s": round(predict_s, 1),
        "threads": threads,
        **extra,
    }
    rows.append(row)
    with RESULTS.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(
        f"{name:28s} seed {seed}: {100 * row['accuracy']:.2f}% ({row['choice']}) "
        f"fit {fit_s:.1f}s predict {predict_s:.1f}s {extra}",
        flush=True,
    )


def run_seed(args, seed, rows):
    X_fit, X_val, y_fit, y_val = load_split(args, seed)
    threads = args.threads
    truth = y_val
    nca_tag = f"nca {args.nca_dims}d on {args.nca_samples}, pca {args.pca}, x{args.nca_scale:g}"
    started = time.time()
    hog_fit, hog_val = hog(X_fit), hog(X_val)
    hog_s = time.time() - started
    print(f"HOG of 60,000 images: {hog_s:.1f}s", flush=True)
    kmax = max(KS)
    if "hog" in args.variants:
        started = time.time()
        d, i = search(hog_fit, hog_val, kmax)
        record(rows, "hog", seed, grid(d, y_fit[i], truth), hog_s, time.time() - started, threads)
    if "pca" in args.variants:
        linear = Linear(hog_fit, y_fit, args.pca)
        started = time.time()
        d, i = search(linear(hog_fit), linear(hog_val), kmax)
        record(
            rows,
            f"pca {args.pca}",
            seed,
            grid(d, y_fit[i], truth),
            hog_s + linear.fit_seconds,
            time.time() - started,
            threads,
        )
    nca = None
    if "nca" in args.variants or "nca-rerank" in args.variants:
        nca = Linear(
            hog_fit,
            y_fit,
            args.pca,
            args.nca_dims,
            args.nca_samples,
            args.nca_iter,
            seed,
            args.nca_scale,
        )
        print(f"NCA fit {nca.nca_seconds:.1f}s, {nca.nca_iter} iterations", flush=True)
    if "nca" in args.variants:
        started = time.time()
        d, i = search(nca(hog_fit), nca(hog_val), kmax)
        record(
            rows,
            nca_tag,
            seed,
            grid(d, y_fit[i], truth),
            hog_s + nca.fit_seconds,
            time.time() - started,
            threads,
            nca_s=round(nca.nca_seconds, 1),
        )
    if "preset" not in args.variants and "nca-rerank" not in args.variants:
        return
    preset = get_preset("fashion-mnist", "best")
    started = time.time()
    model = preset.build(n_neighbors=kmax, n_jobs=threads).fit(X_fit, y_fit)
    knn = model[-1]
    preset_fit_s = time.time() - started
    labels = knn._y
    queries = knn._validate_queries(X_val)
    if "preset" in args.variants:
        started = time.time()
        candidates, s2, r2, *_ = knn.candidate_distances(X_val, kmax)
        predict_s = time.time() - started
        d = np.sqrt(s2[:, :kmax])
        record(
            rows,
            "preset-search (hog, shifts)",
            seed,
            grid(d, labels[candidates[:, :kmax]], truth),
            preset_fit_s,
            predict_s,
            threads,
        )
        final = knn.final_squared(CandidateDistances(candidates, s2, r2, None))
        order = np.lexsort((candidates, final), axis=-1)[:, :kmax]
        d = np.sqrt(np.take_along_axis(final, order, axis=1))
        lab = labels[np.take_along_axis(candidates, order, axis=1)]
        record(
            rows,
            "preset (hog search + idm)",
            seed,
            grid(d, lab, truth),
            preset_fit_s,
            predict_s,
            threads,
        )
    if "nca-rerank" in args.variants:
        started = time.time()
        hog_train = hog(knn._fit_X)
        nca_train = nca(hog_train)
        nca_queries = nca(hog_val)
        index = build_index(nca_train, metric="euclidean")
        fit_s = preset_fit_s + time.time() - started + nca.fit_seconds
        started = time.time()
        nca_d, candidates = index.query(nca_queries, knn.n_candidates)
        search_s = time.time() - started
        record(
            rows,
            f"{nca_tag}, shifts",
            seed,
            grid(nca_d[:, :kmax], labels[candidates[:, :kmax]], truth),
            fit_s,
            search_s,
            threads,
        )
        started = time.time()
        s2 = _squared_euclidean_to_candidates(hog_val, hog_train, candidates)
        with thread_limit(threads):
            r2 = knn._rerank_squared(queries, candidates, knn.n_candidates)
        rerank_s = time.time() - started
        n = len(nca_train)
        first = np.unique(np.linspace(0, n - 1, 256).astype(np.int64))
        second = (first + n // 2) % n
        diff = nca_train[first].astype(np.float64) - nca_train[second]
        nca_scale = float(np.mean((diff * diff).sum(axis=1)))
        mix = knn.mix
        for name, final in (
            (
                f"{nca_tag} search + hog/idm re-rank",
                knn.final_squared(CandidateDistances(candidates, s2, r2, None)),
            ),
            (
                f"{nca_tag} search + nca/idm re-rank",
                (1 - mix) * nca_d.astype(np.float64) ** 2 / nca_scale
                + mix * r2 / knn.rerank_scale_,
            ),
        ):
            order = np.lexsort((candidates, final), axis=-1)[:, :kmax]
            d = np.sqrt(np.take_along_axis(final, order, axis=1))
            lab = labels[np.take_along_axis(candidates, order, axis=1)]
            record(rows, name, seed, grid(d, lab, truth), fit_s, search_s + rerank_s, threads)


def baseline_of(name):
    if "re-rank" in name or name.startswith("preset ("):
        return "preset (hog search + idm)"
    if "shifts" in name:
        return "preset-search (hog, shifts)"
    return "hog"


def report(rows):
    latest = {}
    for row in rows:
        latest[(row["variant"], row["seed"])] = row
    seeds = sorted({seed for _, seed in latest})
    names = list(dict.fromkeys(name for name, _ in latest))
    lines = [
        "# Fashion-MNIST: learned linear metric (PCA + NCA) on the HOG search features",
        "",
        "Validation accuracy on 5,000 images held out of the 60,000 training images exactly as "
        "`Preset.tune` holds them out (fitted on the other 55,000; the official test part is "
        "never loaded); k in (1, 3, 5, 7, 10) and uniform/distance weights tuned on the same "
        "split. Difference: percentage points against the baseline of the same kind (plain "
        "`hog` for searches without shifts, `preset-search` for searches over the shifted "
        "training set, the preset for re-ranked rows), mean over the seeds both have. "
        "Seconds: fit includes HOG features and PCA/NCA; predict is search (+ re-rank) of the "
        "5,000 queries. Produced by `benchmarks/fashion_metric_validation.py`.",
        "",
        "| variant | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | diff vs baseline (pp) | choice (seed 0) | fit s | predict s | threads |",
        "|---|" + "---|" * len(seeds) + "---|---|---|---|---|",
    ]
    for name in names:
        cells, diffs = [], []
        base = baseline_of(name)
        for s in seeds:
            row = latest.get((name, s))
            cells.append("" if row is None else f"{100 * row['accuracy']:.2f}%")
            ref = latest.get((base, s))
            if row is not None and ref is not None:
                diffs.append(100 * (row["accuracy"] - ref["accuracy"]))
        first = next(latest[(name, s)] for s in seeds if (name, s) in latest)
        diff = "" if name == base or not diffs else f"{np.mean(diffs):+.2f}"
        extra = f" (NCA {first['nca_s']} s)" if "nca_s" in first else ""
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {diff} | {first['choice']} | {first['fit_s']}{extra} | {first['predict_s']} "
            f"| {first['threads']} |"
        )
    lines += ["", "## Conclusion", "", CONCLUSION.strip()]
    (HERE / "fashion_metric_validation.md").write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", default="/work/shared/datasets")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--pca", type=int, default=128)
    parser.add_argument("--nca-dims", type=int, default=64)
    parser.add_argument("--nca-samples", type=int, default=5000)
    parser.add_argument("--nca-iter", type=int, default=50)
    parser.add_argument("--nca-scale", type=float, default=1.0, help="features x this before NCA")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    rows = []
    if RESULTS.exists():
        rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    if not args.report_only:
        with thread_limit(args.threads):
            for seed in args.seeds:
                run_seed(args, seed, rows)
    report(rows)


if __name__ == "__main__":
    main()
