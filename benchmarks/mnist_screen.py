"""MNIST screen (issue 17): cheap variants of ``mnist/best`` scored offline from cached
distances on validation splits of the training data.

Each seed holds out 5,000 of the 60,000 training images exactly as ``Preset.tune`` does
(``train_val_test_split(X, y, val_size=5000, test_size=0, seed=seed)``); the other 55,000 are
the training set. The official test images are never loaded. Per seed, computed once and kept
under ``$KNNVISION_SCREEN_CACHE`` (default ``/tmp/screen_cache/mnist``, ``np.save``):

* ``cand``: the 300 nearest Euclidean candidates of each validation image on the deskewed,
  blurred (sigma 0.5) pixels, in the search's order, with their squared distances (``euc``);
* ``idm``: the squared IDM distance (warp 2, context 1) to every candidate (no abandonment);
* ``idm_raw``: the same IDM on the blurred images that were NOT deskewed (same candidates);
* ``hog``: squared distance of ``GradientHistograms()`` features of the deskewed, blurred images;
* ``td``: a two-sided tangent distance (7 tangents each side, see ``tangent_vectors``);
* ``lm``: local-mean KNN with IDM (see ``local_means``), from the ``idm`` cache.

Each distance is also divided by its mean over 256 fixed training pairs (image ``i`` and
``i + n/2`` of the 55,000, as ``RerankKNNClassifier`` sets its ``mix`` scales). Every rule is
then scored from the cache; a KNN rule's k in (1, 3, 5, 7) and weighting (uniform, distance)
are tuned as ``Preset.tune`` tunes them (first best cell in the order weights, k), a class-wise
rule's k_c likewise (first best of its grid). Seconds are on one thread::

    python benchmarks/mnist_screen.py --seeds 0 1
    python benchmarks/mnist_screen.py --seeds 2 3 --steps cand idm --confirm NAME ...

Writes ``mnist_screen.md`` beside this script; raw results in the cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import scipy.ndimage

from knnvision.datasets import load_dataset, train_val_test_split
from knnvision.neighbors._base import neighbor_weights
from knnvision.neighbors.classifier import vote_shares
from knnvision.neighbors.rerank import RerankKNNClassifier
from knnvision.search import thread_limit
from knnvision.search.kernels.idm import idm_rerank
from knnvision.transforms.preprocessing import Deskew, GaussianBlur, GradientHistograms

KS = (1, 3, 5, 7)
WEIGHTS = ("uniform", "distance")
CLASS_KS = (1, 2, 3, 4, 5)
VAL_SIZE = 5000
N_CANDIDATES = 300
PRESET_CANDIDATES = 200
SIDE = 28
N_PAIRS = 256
MIX_WEIGHTS = (0.25, 0.5, 1.0, 2.0)
STEPS = ("cand", "idm", "idm_raw", "hog", "td", "lm")
LM_KS = (2, 3, 4, 5)
HERE = Path(__file__).parent
CACHE = Path(os.environ.get("KNNVISION_SCREEN_CACHE", "/tmp/screen_cache/mnist"))
DATA = Path(os.environ.get("KNNVISION_DATA", "/work/shared/datasets"))
BASELINE = "baseline: IDM, 200 candidates"
#: Sections other scripts append to ``mnist_screen.md`` start at this line; ``report`` keeps them.
APPENDIX_MARKER = "<!-- stroke table -->"

RULE = """\
**Adoption rule (fixed before seeds 2 and 3 were computed or looked at).** A variant is a
candidate only if it has fewer errors than the baseline on seed 0 AND on seed 1, with at least
5 fewer errors over the two seeds together. The best 1-3 candidates (most errors saved over
seeds 0-1) are then scored on fresh seeds 2 and 3 (caches computed only then) and must again
have fewer errors than the baseline on both. Target: the test error is 0.66% against ~0.55%
on validation, so reaching 0.50% on test needs roughly -25% errors (about -7 per seed)."""

DECISION = """\
**Decision (written after seeds 0 and 1): no variant passes; `mnist/best` stays as it is,
and seeds 2 and 3 were not computed** (the rule sends only candidates there). The baseline
was reproduced exactly (31 and 26 errors, the same k and weighting as in
`mnist_preset_validation.md`). No rule was better than the baseline on both seeds: the best
totals are 300 candidates (-1, -1; already known, -2 over four seeds there), IDM + 0.25 x
tangent (+2, -1), min(IDM, non-deskewed IDM) (-1, +2), and 1/rank votes (+0, +0). Adding any
other distance to the IDM is worse over the two seeds at every weight tried, mostly the more
the larger the weight (tangent, HOG, Euclidean, non-deskewed IDM at 0.25-2 times their
pair-mean units); alone they are far worse (tangent 1.1-1.2%, HOG 1.3%, Euclidean 1.7-1.8%;
non-deskewed IDM 0.68-0.74%, so the deskew still helps IDM here, unlike Keysers et al.'s
0.54% without it). Class-wise rules (sum of the k_c nearest distances or squared distances,
pseudo nearest neighbour weights 1/i) are at best equal to the baseline (k_c = 2: +0, +2),
and local-mean KNN with IDM (IDM to the pixel mean of each class's k_c nearest) is much
worse (+22 to +59): the IDM of an averaged, blurrier image is not a good class score. None
gets near the roughly -25% (about -7 errors per seed) the 0.50% test target needs; the best
is -2 of 57 over two seeds (-3.5%).

Cost, for a later preset (one thread, 1.5M pairs = 5,000 images x 300 candidates, every
candidate measured): IDM 180-189 s (the preset, abandoning hopeless candidates, is cheaper),
non-deskewed IDM 186-192 s, tangent distance 45-52 s, HOG 17-20 s (mostly the features of
60,000 images), local means 25-27 s. For the 10,000 test images x 200 candidates (2M pairs)
on 2 cores, roughly: tangent +35 s, non-deskewed IDM +125 s, HOG +15 s on top of the 143 s
today, all within the 10-minute budget, but none of them helps."""


# --- data and caches ---------------------------------------------------------------------


def training_images():
    """Deskewed + blurred and blurred-only training images (the test part is never used)."""
    dataset = load_dataset("mnist", DATA / "mnist", download=False)
    raw = dataset.flat("train")
    deskewed = GaussianBlur(0.5).fit_transform(Deskew().fit_transform(raw))
    blurred = GaussianBlur(0.5).fit_transform(raw)
    return deskewed, blurred, dataset.labels


def split_rows(y, seed):
    """Row indices of the fit and validation parts, as ``Preset.tune`` splits the images."""
    fit, val, _, y_fit, y_val, _ = train_val_test_split(
        np.arange(len(y)), y, val_size=VAL_SIZE, test_size=0, seed=seed
    )
    return fit, val, y_fit, y_val


def pairs(n):
    first = np.unique(np.linspace(0, n - 1, min(n, N_PAIRS)).astype(np.int64))
    return first, (first + n // 2) % n


def idm_all(queries, train, cand, log):
    """Squared IDM (warp 2, context 1) to every candidate, one thread, no abandonment."""
    out = np.empty(cand.shape)
    with thread_limit(1):
        for start in range(0, len(queries), 500):
            stop = min(start + 500, len(queries))
            out[start:stop] = idm_rerank(
                queries[start:stop], train, cand[start:stop], SIDE, SIDE, 2, 1, cand.shape[1]
            )
            log(f"  idm {stop}/{len(queries)}")
    return out


def gathered_squared(queries, train, cand, block=20):
    """Squared Euclidean distances of feature rows to each query's candidates."""
    out = np.empty(cand.shape)
    for start in range(0, len(queries), block):
        stop = min(start + block, len(queries))
        diff = train[cand[start:stop]].astype(np.float64) - queries[start:stop, None, :]
        out[start:stop] = np.einsum("qnp,qnp->qn", diff, diff)
    return out


def tangent_vectors(rows, sigma=0.5):
    """(n, 7, 784) float32 tangents of 28 x 28 images (smoothed again with ``sigma``): x and y
    shift, rotation, scaling, two hyperbolic shears, thickening (the gradient magnitude)."""
    images = rows.reshape(len(rows), SIDE, SIDE).astype(np.float32)
    smooth = scipy.ndimage.gaussian_filter(images, (0, sigma, sigma), mode="constant")
    gy = scipy.ndimage.sobel(smooth, 1, mode="constant") / 8
    gx = scipy.ndimage.sobel(smooth, 2, mode="constant") / 8
    yy, xx = (2 * (g - (SIDE - 1) / 2) / SIDE for g in np.mgrid[0:SIDE, 0:SIDE])
    yy, xx = yy.astype(np.float32), xx.astype(np.float32)
    vectors = [gx, gy, yy * gx - xx * gy, xx * gx + yy * gy, xx * gx - yy * gy]
    vectors += [yy * gx + xx * gy, np.sqrt(gx * gx + gy * gy)]
    return np.stack(vectors, axis=1).reshape(len(rows), len(vectors), SIDE * SIDE)


def tangent_all(queries, train, cand, log, ridge=1e-3):
    """Squared two-sided tangent distance: min over a, b of |q + Tq a - c - Tc b|^2, least
    squares with a ridge of ``ridge`` times each diagonal entry of the Gram matrix."""
    tq_all = tangent_vectors(queries).astype(np.float64)
    tc_all = tangent_vectors(train)
    gram_c = np.einsum("nmp,nlp->nml", tc_all, tc_all, dtype=np.float64)
    m = tq_all.shape[1]
    out = np.empty(cand.shape)
    for i in range(len(queries)):
        rows = cand[i]
        tq = tq_all[i]
        tc = tc_all[rows].astype(np.float64)
        n = len(rows)
        diff = queries[i][None, :].astype(np.float64) - train[rows]
        cross = (tc.reshape(n * m, -1) @ tq.T).reshape(n, m, m).transpose(0, 2, 1)
        gram = np.empty((n, 2 * m, 2 * m))
        gram[:, :m, :m] = tq @ tq.T
        gram[:, :m, m:] = -cross
        gram[:, m:, :m] = -cross.transpose(0, 2, 1)
        gram[:, m:, m:] = gram_c[rows]
        diag = np.arange(2 * m)
        gram[:, diag, diag] *= 1 + ridge
        gram[:, diag, diag] += 1e-9
        projected = np.concatenate([diff @ tq.T, -np.einsum("nlp,np->nl", tc, diff)], axis=1)
        solution = np.linalg.solve(gram, projected[..., None])[..., 0]
        out[i] = (diff * diff).sum(1) - (projected * solution).sum(1)
        if (i + 1) % 500 == 0:
            log(f"  td {i + 1}/{len(queries)}")
    return np.maximum(out, 0.0)


def compute_seed(seed, images, steps, log):
    """Compute (or load) the cached distances of one seed; returns a dict of arrays."""
    deskewed, blurred, y = images
    fit, val, y_fit, y_val = split_rows(y, seed)
    X_fit, X_val = deskewed[fit], deskewed[val]
    folder = CACHE / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"seconds": {}, "scale": {}}
    data = {"y_fit": y_fit, "y_val": y_val}
    first, second = pairs(len(fit))

    def stage(name, compute, scale):
        path = folder / f"{name}.npy"
        if path.exists():
            data[name] = np.load(path)
            return
        log(f"seed {seed}: computing {name}")
        started = time.perf_counter()
        data[name] = compute()
        meta["seconds"][name] = time.perf_counter() - started
        meta["scale"][name] = float(scale())
        np.save(path, data[name])
        meta_path.write_text(json.dumps(meta, indent=1))
        log(f"seed {seed}: {name} took {meta['seconds'][name]:.1f} s")

    def search():
        clf = RerankKNNClassifier(max(KS), n_candidates=N_CANDIDATES, distortion="none", n_jobs=1)
        clf.fit(X_fit, y_fit)
        cand, squared, *_ = clf.candidate_distances(X_val, max(KS))
        np.save(folder / "euc.npy", squared)
        return cand

    def pair_idm(train):
        with thread_limit(1):
            return np.mean(idm_rerank(train[first], train, second[:, None], SIDE, SIDE, 2, 1, 1))

    def pair_euc():
        diff = X_fit[first].astype(np.float64) - X_fit[second]
        return np.mean((diff * diff).sum(1))

    stage("cand", search, pair_euc)
    data["euc"] = np.load(folder / "euc.npy")
    meta["scale"]["euc"] = meta["scale"]["cand"]
    cand = data["cand"]
    if "idm" in steps:
        stage("idm", lambda: idm_all(X_val, X_fit, cand, log), lambda: pair_idm(X_fit))
    if "idm_raw" in steps:
        R_fit, R_val = blurred[fit], blurred[val]
        stage("idm_raw", lambda: idm_all(R_val, R_fit, cand, log), lambda: pair_idm(R_fit))
    if "hog" in steps:
        hog = {}

        def hog_features():
            if not hog:
                hog["f"] = GradientHistograms().fit_transform(deskewed).astype(np.float32)
            return hog["f"]

        def hog_distances():
            features = hog_features()
            return gathered_squared(features[val], features[fit], cand)

        def hog_scale():
            features = hog_features()[fit]
            diff = features[first].astype(np.float64) - features[second]
            return np.mean((diff * diff).sum(1))

        stage("hog", hog_distances, hog_scale)
    if "td" in steps:

        def td_scale():
            return np.mean(tangent_all(X_fit[first], X_fit, second[:, None], log))

        stage("td", lambda: tangent_all(X_val, X_fit, cand, log), td_scale)
    if "lm" in steps and "idm" in data:
        stage("lm", lambda: local_means(X_val, X_fit, y_fit, cand, data["idm"]), lambda: 1.0)
    data["scale"] = meta["scale"]
    data["seconds"] = meta["seconds"]
    return data


def local_means(X_val, X_fit, y_fit, cand, idm):
    """Local-mean KNN with IDM (after Mitani and Hamamoto 2006): for each class, the pixel
    mean of its ``k_c`` IDM-nearest among the preset's 200 candidates, measured again by IDM
    from the query. Returns squared IDM ``(n_queries, len(LM_KS), 10)``, ``inf`` for a class
    with fewer than ``k_c`` candidates."""
    top, _ = ranked(cand, idm, PRESET_CANDIDATES)
    labels = y_fit[top]
    out = np.full((len(X_val), len(LM_KS), 10), np.inf)
    rows = np.arange(len(X_val))
    for j, kc in enumerate(LM_KS):
        means = np.zeros((len(X_val), 10, X_fit.shape[1]), dtype=np.float32)
        present = np.zeros((len(X_val), 10), dtype=bool)
        for c in range(10):
            is_c = labels == c
            order = np.argsort(~is_c, axis=1, kind="stable")[:, :kc]
            present[:, c] = is_c.sum(1) >= kc
            members = np.take_along_axis(top, order, 1)
            means[:, c] = X_fit[members].astype(np.float32).mean(1)
        flat = means.reshape(-1, X_fit.shape[1])
        pairs_of = (rows[:, None] * 10 + np.arange(10)[None, :]).astype(np.int64)
        with thread_limit(1):
            squared = idm_rerank(X_val, flat, pairs_of, SIDE, SIDE, 2, 1, 10)
        out[:, j] = np.where(present, squared, np.inf)
    return out


# --- rules -------------------------------------------------------------------------------


def ranked(cand, squared, n):
    """Candidates and squared distances of the first ``n`` candidates sorted as
    ``RerankKNNClassifier.kneighbors`` sorts them (distance, then index)."""
    cand, squared = cand[:, :n], squared[:, :n]
    order = np.lexsort((cand, squared), axis=-1)
    return np.take_along_axis(cand, order, 1), np.take_along_axis(squared, order, 1)


def knn_grid(data, squared, n=PRESET_CANDIDATES, weights_fn=None):
    """Errors ``(len(WEIGHTS), len(KS))`` of plain KNN on ``squared``."""
    top, sq = ranked(data["cand"], squared, n)
    top, sq = top[:, : max(KS)], sq[:, : max(KS)]
    labels = data["y_fit"][top]
    distances = np.sqrt(np.maximum(sq, 0))
    grid = np.zeros((len(WEIGHTS), len(KS)), dtype=int)
    for w, weighting in enumerate(WEIGHTS):
        for j, k in enumerate(KS):
            if weights_fn is not None:
                weights = weights_fn(weighting, distances[:, :k])
            else:
                weights = neighbor_weights(distances[:, :k], weighting)
            shares = vote_shares(labels[:, :k], weights, 10)
            grid[w, j] = int(np.sum(np.argmax(shares, 1) != data["y_val"]))
    return grid


def rank_weighted_grid(data, squared):
    """Votes weighted 1/rank (row 0) or 1/(rank * distance) (row 1)."""

    def weights(weighting, distances):
        rank = 1.0 / np.arange(1, distances.shape[1] + 1)[None, :]
        if weighting == "uniform":
            return np.broadcast_to(rank, distances.shape).copy()
        return rank / np.maximum(distances, 1e-12)

    return knn_grid(data, squared, weights_fn=weights)


def class_wise_grid(data, squared, mode, n=PRESET_CANDIDATES):
    """Per class, a score of its ``k_c`` nearest candidates (``k_c`` in CLASS_KS); the
    smallest score wins. ``mode``: "sum" of distances, "sumsq" of squared distances, "pnn"
    (pseudo nearest neighbour: distances weighted 1/i). A class with fewer than ``k_c``
    candidates among the ``n`` is scored with its missing ones at the largest distance."""
    top, sq = ranked(data["cand"], squared, n)
    labels = data["y_fit"][top]
    values = sq if mode == "sumsq" else np.sqrt(np.maximum(sq, 0))
    kmax = max(CLASS_KS)
    fill = values[:, -1:]
    per_class = np.empty((len(top), 10, kmax))
    for c in range(10):
        masked = np.where(labels == c, values, np.inf)
        nearest = np.sort(masked, axis=1)[:, :kmax]
        per_class[:, c] = np.where(np.isinf(nearest), fill, nearest)
    grid = np.zeros(len(CLASS_KS), dtype=int)
    for j, kc in enumerate(CLASS_KS):
        part = per_class[:, :, :kc]
        if mode == "pnn":
            part = part / np.arange(1, kc + 1)
        score = part.sum(axis=2)
        grid[j] = int(np.sum(np.argmin(score, 1) != data["y_val"]))
    return grid


def tuned(grid, class_ks=CLASS_KS) -> tuple[int, str]:
    flat = int(np.argmin(grid.ravel()))
    if grid.ndim == 1:
        return int(grid.ravel()[flat]), f"k_c={class_ks[flat]}"
    w, j = divmod(flat, len(KS))
    return int(grid[w, j]), f"k={KS[j]} {WEIGHTS[w]}"


def scored_rows(data, variants, n) -> dict:
    """``{name: {"errors", "choice"}}`` of plain KNN on each ``(name, squared)`` of
    ``variants`` over the first ``n`` candidates, k and weighting tuned."""
    rows = {}
    for name, squared in variants:
        count, choice = tuned(knn_grid(data, squared, n))
        rows[name] = {"errors": count, "choice": choice}
    return rows


def normalised(data, name):
    return data[name] / data["scale"][name]


def variants(data):
    """(name, grid) of every rule the cache of one seed allows."""
    have = set(data)
    out = []
    if "idm" in have:
        idm = data["idm"]
        out.append((BASELINE, knn_grid(data, idm)))
        out.append(("IDM, 300 candidates", knn_grid(data, idm, N_CANDIDATES)))
    out.append(("Euclidean only (200)", knn_grid(data, data["euc"])))
    for other, label in (("hog", "HOG"), ("td", "tangent"), ("idm_raw", "non-deskewed IDM")):
        if other in have:
            out.append((f"{label} only (200)", knn_grid(data, data[other])))
    if "idm" not in have:
        return out
    n_idm = normalised(data, "idm")
    for other, label in (
        ("td", "tangent"),
        ("hog", "HOG"),
        ("euc", "Euclidean"),
        ("idm_raw", "non-deskewed IDM"),
    ):
        if other not in have:
            continue
        for w in MIX_WEIGHTS:
            mixed = n_idm + w * normalised(data, other)
            out.append((f"IDM + {w:g} x {label}", knn_grid(data, mixed)))
    if "idm_raw" in have:
        both = np.minimum(n_idm, normalised(data, "idm_raw"))
        out.append(("min(IDM, non-deskewed IDM)", knn_grid(data, both)))
    out.append(("IDM, votes 1/rank (uniform row) or 1/(rank d)", rank_weighted_grid(data, idm)))
    for mode, label in (("sum", "sum of d"), ("sumsq", "sum of d^2"), ("pnn", "PNN 1/i")):
        grid = class_wise_grid(data, idm, mode)
        out.append((f"IDM class-wise {label}, k_c tuned", grid))
        for j, kc in enumerate(CLASS_KS):
            out.append((f"IDM class-wise {label}, k_c={kc}", grid[j : j + 1]))
    if "lm" in have:
        predicted = np.argmin(data["lm"], axis=2)
        grid = (predicted != data["y_val"][:, None]).sum(0)
        out.append(("IDM local-mean KNN, k_c tuned", grid))
        for j, kc in enumerate(LM_KS):
            out.append((f"IDM local-mean KNN, k_c={kc}", grid[j : j + 1]))
    return out


# --- report -------------------------------------------------------------------------------


def results_path():
    return CACHE / "results.json"


def load_results():
    path = results_path()
    return json.loads(path.read_text()) if path.exists() else {}


def score_seed(seed, data, confirm):
    results = load_results()
    rows = {}
    for name, grid in variants(data):
        if confirm and name != BASELINE and name not in confirm:
            continue
        count, choice = tuned(np.asarray(grid), LM_KS if "local-mean" in name else CLASS_KS)
        if name.endswith(tuple(f"k_c={kc}" for kc in CLASS_KS)):
            choice = "fixed"
        rows[name] = {"errors": count, "choice": choice, "grid": np.asarray(grid).tolist()}
    results[str(seed)] = {"rows": rows, "seconds": data["seconds"], "scale": data["scale"]}
    results_path().write_text(json.dumps(results, indent=1))


def report(path):
    results = load_results()
    seeds = sorted(int(s) for s in results)
    names = []
    for s in seeds:
        names += [n for n in results[str(s)]["rows"] if n not in names]
    lines = [
        "# MNIST screen: cheap variants of `mnist/best` from cached distances",
        "",
        "Made by `benchmarks/mnist_screen.py` (see its docstring). 5,000 validation images per "
        "seed held out of the 60,000 training images as `Preset.tune` does, the other 55,000 "
        "as training set; official test images never loaded. All rules rank the preset's 200 "
        "Euclidean candidates (deskew + blur 0.5) unless marked; `X + w x Y` adds squared "
        "distances each divided by its mean over 256 fixed training pairs. Errors of 5,000 at "
        "the k/weights (or k_c) the tuning picks on that split; diff against the baseline on "
        "the same split (negative = fewer errors).",
        "",
        RULE,
        "",
    ]
    lines += comparison_table(
        "variant", names, seeds, lambda s, name: results[str(s)]["rows"].get(name)
    )
    lines += [
        "",
        "Seconds per cached computation (5,000 validation images x 300 candidates = 1.5M "
        "pairs, one thread; `cand` is fit + search):",
        "",
        "| seed | " + " | ".join(STEPS) + " |",
        "|---|" + "---|" * len(STEPS),
    ]
    for s in seeds:
        secs = results[str(s)]["seconds"]
        cells = [f"{secs[k]:.0f}" if k in secs else "-" for k in STEPS]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += ["", DECISION]
    appendix = ""
    if path.exists() and APPENDIX_MARKER in path.read_text():
        appendix = "\n" + APPENDIX_MARKER + path.read_text().split(APPENDIX_MARKER, 1)[1]
    path.write_text("\n".join(lines) + "\n" + appendix)
    print(path.read_text())


def comparison_table(first_column, names, seeds, entry, baseline=BASELINE) -> list[str]:
    """Markdown rows of errors per seed and their differences from ``baseline`` on the same
    seed; ``entry(seed, name)`` gives a row's ``{"errors", "choice"}`` or ``None``."""
    lines = [
        f"| {first_column} | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | vs baseline per seed | total vs baseline |",
        "|---|" + "---|" * len(seeds) + "---|---|",
    ]
    for name in names:
        cells, diffs = [], []
        for s in seeds:
            row, base = entry(s, name), entry(s, baseline)
            if row is None:
                cells.append("-")
                continue
            cells.append(f"{row['errors']} ({row['choice']})")
            if base is not None:
                diffs.append(row["errors"] - base["errors"])
        per = ", ".join(f"{d:+d}" for d in diffs) if name != baseline else "0"
        total = f"{sum(diffs):+d}" if diffs and name != baseline else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {per} | {total} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--confirm", nargs="*", help="Score only these variants (and baseline).")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()

    def log(message):
        print(time.strftime("%H:%M:%S"), message, flush=True)

    if not args.report_only:
        images = training_images()
        for seed in args.seeds:
            data = compute_seed(seed, images, set(args.steps), log)
            score_seed(seed, data, set(args.confirm or ()))
    report(HERE / "mnist_screen.md")


if __name__ == "__main__":
    main()
