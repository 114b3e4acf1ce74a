"""Fashion-MNIST (issue 17): a cached screen of cheap changes to ``fashion-mnist/best``.

Per seed the 5,000 validation images are held out of the 60,000 training images exactly as
``Preset.tune`` holds them out (``train_val_test_split(X, y, val_size=5000, test_size=0,
seed=seed)``); the preset is fitted on the other 55,000 and everything is computed once and
cached with ``np.save`` under ``--cache`` (default ``/tmp/screen_cache/fashion/seed<S>/``).
The official test images are never loaded.

Cached per seed (one thread; seconds in ``timings.json``):

* ``cand``/``s2``/``r2``: the 100 nearest candidates of the preset's HOG search over the
  shifted training set, with squared HOG and IDM (warp 2, context 1) distances;
* ``pix``: squared Euclidean on pixels; ``idm_w1``: IDM with warp 1; ``hog_*``: squared
  distances between other HOG variants of the same candidates (``HOG_VARIANTS``: blur sigma,
  cell size, orientations; ``hog_b0`` is the search HOG without the blur);
* ``white05``/``white10``: a closed-form learned metric on the HOG features: PCA (256 axes,
  fitted on the 55,000 original fit images), then the pooled within-class covariance ``W`` of
  all stored (shifted) fit rows in that space, regularised ``W + 0.1 mean(eig W) I``; distance
  ``z' W^-a z`` with ``a`` = 0.5 or 1 (a = 1 is the Mahalanobis distance);
* ``wcand``/``ws2``/``wr2``/``wd2``: the 100 nearest candidates of a search on the ``a = 0.5``
  whitened features (over the shifted rows), with HOG, IDM and whitened squared distances.

Scoring (``--score``) tunes k in (1, 3, 5, 7, 10) and uniform/distance weights per variant as
``Preset.tune`` does (best cell, first best in the order weights, k); the class-wise rules tune
their k_c in 1..7 the same way (the kernel votes tune t and k). Every distance in a mix is
divided by its mean over the preset's fixed training pairs (``_distance_scales``)::

    python benchmarks/fashion_screen.py --seeds 0 1          # compute and cache
    python benchmarks/fashion_screen.py --score --seeds 0 1  # table
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from knnvision.datasets import load_dataset, train_val_test_split
from knnvision.experiments.presets import get_preset
from knnvision.neighbors._base import neighbor_weights
from knnvision.neighbors.classifier import vote_shares
from knnvision.neighbors.rerank import _SCALE_PAIRS, _squared_euclidean_to_candidates
from knnvision.search import build_index, thread_limit
from knnvision.transforms.augmentation import augment_images
from knnvision.transforms.preprocessing import GaussianBlur, GradientHistograms

KS = (1, 3, 5, 7, 10)
WEIGHTS = ("uniform", "distance")
KC = (1, 2, 3, 4, 5, 6, 7)
VAL_SIZE = 5000
SHAPE = (28, 28)
N_CAND = 100
PCA_DIMS = 256
WHITE_REG = 0.1
HOG_VARIANTS = {
    "hog_c7": (1.0, 7, 9),
    "hog_c5": (1.0, 5, 9),
    "hog_b2": (2.0, 4, 9),
    "hog_c3": (1.0, 3, 9),
    "hog_o18": (1.0, 4, 18),
    "hog_b0": (0.0, 4, 9),
}
HERE = Path(__file__).parent


def hog(rows, sigma=1.0, cell=4, orientations=9, signed=False):
    out = []
    for start in range(0, len(rows), 20000):
        block = rows[start : start + 20000]
        if sigma > 0:
            block = GaussianBlur(sigma=sigma, image_shape=SHAPE).fit_transform(block)
        histograms = GradientHistograms(
            cell_size=cell, n_orientations=orientations, signed=signed, image_shape=SHAPE
        )
        out.append(histograms.fit_transform(block))
    return np.concatenate(out).astype(np.float32)


def gathered_squared(q, feats, cand):
    """Squared Euclidean from each query feature row to its candidates' rows (float64)."""
    out = np.empty(cand.shape)
    for start in range(0, len(q), 100):
        rows = feats[cand[start : start + 100]].astype(np.float64)
        diff = q[start : start + 100, None, :].astype(np.float64) - rows
        out[start : start + 100] = (diff * diff).sum(axis=2)
    return out


def pair_indices(n):
    first = np.unique(np.linspace(0, n - 1, min(n, _SCALE_PAIRS)).astype(np.int64))
    return first, (first + n // 2) % n


def pair_scale(feats_first, feats_second):
    diff = feats_first.astype(np.float64) - feats_second
    return float(np.mean((diff * diff).sum(axis=1)))


class Timer:
    def __init__(self, path):
        self.path = path
        self.times = json.loads(path.read_text()) if path.exists() else {}

    def __call__(self, name, started):
        self.times[name] = round(time.time() - started, 1)
        self.path.write_text(json.dumps(self.times, indent=1))
        print(f"  {name}: {self.times[name]} s", flush=True)


def compute(seed, cache_root, data_root):
    cache = cache_root / f"seed{seed}"
    cache.mkdir(parents=True, exist_ok=True)
    timer = Timer(cache / "timings.json")
    data = load_dataset("fashion-mnist", data_dir=data_root)
    X_fit, X_val, _, y_fit, y_val, _ = train_val_test_split(
        data.flat("train"), data.labels, val_size=VAL_SIZE, test_size=0, seed=seed
    )
    del data
    print(f"seed {seed}: fit {len(y_fit)}, validation {len(y_val)}", flush=True)
    started = time.time()
    knn = get_preset("fashion-mnist", "best").build(n_neighbors=max(KS), n_jobs=1)[-1]
    knn.fit(X_fit, y_fit)
    timer("preset_fit", started)
    labels, stored = knn._y, knn._fit_X
    n = len(stored)
    np.save(cache / "labels.npy", labels)
    np.save(cache / "truth.npy", np.searchsorted(knn.classes_, y_val))
    first, second = pair_indices(n)
    scales = {"hog": knn.search_scale_, "idm": knn.rerank_scale_}
    queries = knn._validate_queries(X_val)

    started = time.time()
    knn.n_candidates = N_CAND
    if (cache / "r2.npy").exists():
        cand = np.load(cache / "cand.npy")
    else:
        cand, s2, r2, *_ = knn.candidate_distances(X_val, max(KS), k_keep=None)
        timer("search100_plus_idm100", started)
        for name, arr in (("cand", cand), ("s2", s2), ("r2", r2)):
            np.save(cache / f"{name}.npy", arr)

    old_scales = cache / "scales.json"
    if old_scales.exists():
        scales.update(json.loads(old_scales.read_text()))

    def todo(name):
        (cache / "scales.json").write_text(json.dumps(scales, indent=1))
        return name not in scales or not (cache / f"{name}.npy").exists()

    started = time.time()
    if todo("idm_w1"):
        knn.warp = 1
        np.save(cache / "idm_w1.npy", knn._rerank_squared(queries, cand, N_CAND))
        pairs = knn._rerank_squared(stored[first], second[:, None], 1)
        scales["idm_w1"] = float(np.mean(pairs))
        knn.warp = 2
        timer("idm_w1_100", started)

    started = time.time()
    if todo("pix"):
        np.save(cache / "pix.npy", _squared_euclidean_to_candidates(queries, stored, cand))
        scales["pix"] = pair_scale(stored[first], stored[second])
        timer("pix_100", started)

    for name, (sigma, cell, orientations) in HOG_VARIANTS.items():
        started = time.time()
        if not todo(name):
            continue
        used = np.unique(np.concatenate([cand.ravel(), first, second]))
        where = np.full(n, -1, dtype=np.int64)
        where[used] = np.arange(len(used))
        feats = hog(stored[used], sigma, cell, orientations)
        qf = hog(queries, sigma, cell, orientations)
        np.save(cache / f"{name}.npy", gathered_squared(qf, feats, where[cand]))
        scales[name] = pair_scale(feats[where[first]], feats[where[second]])
        del feats
        timer(f"{name}_100 ({len(used)} rows)", started)

    (cache / "scales.json").write_text(json.dumps(scales, indent=1))
    if (cache / "wr2.npy").exists():
        return
    started = time.time()
    hog_all = getattr(knn._index, "train", None)
    if hog_all is None or hog_all.shape != (n, 1296):
        hog_all = hog(stored)
    hog_val = hog(queries)
    timer("hog_all_rows (reused from index if possible)", started)

    started = time.time()
    originals = hog_all[: len(y_fit)]
    mean = originals.mean(axis=0, dtype=np.float64)
    cov = np.zeros((1296, 1296))
    for start in range(0, len(originals), 20000):
        block = originals[start : start + 20000].astype(np.float64) - mean
        cov += block.T @ block
    _, vectors = np.linalg.eigh(cov / len(originals))
    pca = vectors[:, ::-1][:, :PCA_DIMS].astype(np.float32)
    mean32 = mean.astype(np.float32)
    z_all = np.empty((n, PCA_DIMS), dtype=np.float32)
    for start in range(0, n, 20000):
        z_all[start : start + 20000] = (hog_all[start : start + 20000] - mean32) @ pca
    z_val = (hog_val - mean32) @ pca
    within = np.zeros((PCA_DIMS, PCA_DIMS))
    for c in np.unique(labels):
        zc = z_all[labels == c].astype(np.float64)
        zc -= zc.mean(axis=0)
        within += zc.T @ zc
    within /= n
    values, vectors = np.linalg.eigh(within)
    ridge = values + WHITE_REG * values.mean()
    maps = {}
    for name, a in (("white05", 0.5), ("white10", 1.0)):
        maps[name] = (vectors * ridge ** (-a / 2)).astype(np.float32)
        feats = z_all @ maps[name]
        qf = z_val @ maps[name]
        np.save(cache / f"{name}.npy", gathered_squared(qf, feats, cand))
        scales[name] = pair_scale(feats[first], feats[second])
        if name == "white05":
            w_all, w_val = feats, qf
    timer("whitening_fit_and_distances", started)

    started = time.time()
    index = build_index(w_all, metric="euclidean")
    wd, wcand = index.query(w_val, N_CAND)
    timer("white05_search100", started)
    np.save(cache / "wcand.npy", wcand)
    np.save(cache / "wd2.npy", wd.astype(np.float64) ** 2)
    del index, w_all
    started = time.time()
    np.save(cache / "ws2.npy", gathered_squared(hog_val, hog_all, wcand))
    np.save(cache / "wr2.npy", knn._rerank_squared(queries, wcand, N_CAND))
    timer("white05_search_hog_idm_distances100", started)
    (cache / "scales.json").write_text(json.dumps(scales, indent=1))


# --- scoring ----------------------------------------------------------------------------------


def tuned(cells):
    """Preset.tune's choice: the best cell, the first best in order."""
    best = max(cells, key=lambda name: (cells[name], -list(cells).index(name)))
    return cells[best], best


def order_by(final, cand):
    order = np.lexsort((cand, final), axis=-1)
    return np.take_along_axis(final, order, axis=1), np.take_along_axis(cand, order, axis=1)


def knn_grid(final, cand, labels, truth, n_cand=50, rank=False, ks=KS):
    """``tuned`` accuracy over the grid of ``ks`` and the weightings, ranking by ``final``."""
    d2, c = order_by(final[:, :n_cand], cand[:, :n_cand])
    d, lab = np.sqrt(np.maximum(d2[:, : max(ks)], 0)), labels[c[:, : max(ks)]]
    cells = {}
    if rank:
        for name in ("1/rank", "linear"):
            for k in ks:
                r = np.arange(1, k + 1, dtype=float)
                w = 1 / r if name == "1/rank" else (k + 1 - r)
                w = np.broadcast_to(w, (len(d), k))
                shares = vote_shares(lab[:, :k], w, 10)
                cells[f"{name} k={k}"] = float(np.mean(np.argmax(shares, axis=1) == truth))
        return tuned(cells)
    for weighting in WEIGHTS:
        for k in ks:
            shares = vote_shares(lab[:, :k], neighbor_weights(d[:, :k], weighting), 10)
            cells[f"{weighting} k={k}"] = float(np.mean(np.argmax(shares, axis=1) == truth))
    return tuned(cells)


def dedup(final, cand, n_originals):
    """Keep only the nearest of the shifted copies of each original image (others inf)."""
    out = final.copy()
    orig = cand % n_originals
    for i in range(len(final)):
        order = np.lexsort((cand[i], final[i]))
        _, first = np.unique(orig[i][order], return_index=True)
        keep = np.zeros(len(order), dtype=bool)
        keep[order[first]] = True
        out[i][~keep] = np.inf
    return out


def kernel_grid(final, cand, labels, truth, n_cand=50):
    """Votes weighted exp(-(d^2 - d_1^2) / (t d_1^2)) over the k nearest (t, k tuned)."""
    d2, c = order_by(final[:, :n_cand], cand[:, :n_cand])
    lab = labels[c]
    cells = {}
    for t in (0.05, 0.1, 0.2, 0.5):
        w = np.exp(-(d2 - d2[:, :1]) / (t * np.maximum(d2[:, :1], 1e-12)))
        for k in KS:
            shares = vote_shares(lab[:, :k], w[:, :k], 10)
            cells[f"t={t} k={k}"] = float(np.mean(np.argmax(shares, axis=1) == truth))
    return tuned(cells)


def classwise_grid(final, cand, labels, truth, n_cand=50, squared=False):
    """Per class the sum of its k_c nearest final distances; classify to the smallest.
    A class with fewer than k_c candidates is padded with the largest candidate distance."""
    d2, c = order_by(final[:, :n_cand], cand[:, :n_cand])
    d = d2 if squared else np.sqrt(np.maximum(d2, 0))
    lab = labels[c]
    pad = d[:, -1:]
    cells = {}
    per_class = []
    for cls in range(10):
        mask = lab == cls
        dc = np.where(mask, d, np.inf)
        dc = np.sort(dc, axis=1)[:, : max(KC)]
        per_class.append(np.where(np.isfinite(dc), dc, pad))
    per_class = np.stack(per_class, axis=1)  # (q, 10, kc)
    sums = np.cumsum(per_class, axis=2)
    for kc in KC:
        cells[f"k_c={kc}"] = float(np.mean(np.argmin(sums[:, :, kc - 1], axis=1) == truth))
    return tuned(cells)


def load(cache, names):
    return {name: np.load(cache / f"{name}.npy") for name in names}


def score_seed(seed, cache_root):
    cache = cache_root / f"seed{seed}"
    scales = json.loads((cache / "scales.json").read_text())
    arr = load(
        cache,
        ["labels", "truth", "cand", "s2", "r2", "pix", "idm_w1", "white05", "white10"]
        + list(HOG_VARIANTS)
        + ["wcand", "ws2", "wr2", "wd2"],
    )
    labels, truth, cand = arr["labels"], arr["truth"], arr["cand"]
    norm = {name: arr[key] / scales[name] for name, key in (("hog", "s2"), ("idm", "r2"))}
    for name in ["pix", "idm_w1", "white05", "white10", *HOG_VARIANTS]:
        norm[name] = arr[name] / scales[name]
    rows = {}

    def mixed(weights, source=norm):
        return sum(w * source[name] for name, w in weights.items() if w)

    base = mixed({"hog": 0.75, "idm": 0.25})
    rows["baseline (0.75 hog + 0.25 idm, 50 cand)"] = knn_grid(base, cand, labels, truth)
    rows["hog search only"] = knn_grid(norm["hog"], cand, labels, truth)
    rows["baseline, 100 cand"] = knn_grid(base, cand, labels, truth, n_cand=100)
    for m in (0.15, 0.2, 0.3, 0.35):
        rows[f"mix {m} (hog/idm)"] = knn_grid(mixed({"hog": 1 - m, "idm": m}), cand, labels, truth)
    extras = ["pix", "idm_w1", "white05", "white10", *HOG_VARIANTS]
    for extra in extras:
        for wx in (0.1, 0.2, 0.3, 0.5):
            weights = {"hog": 0.75 * (1 - wx), "idm": 0.25 * (1 - wx), extra: wx}
            for n_cand in (50, 100):
                name = f"{1 - wx:.2g}*(0.75 hog + 0.25 idm) + {wx} {extra}, {n_cand} cand"
                rows[name] = knn_grid(mixed(weights), cand, labels, truth, n_cand=n_cand)
    for extra in ["white05", "white10", *HOG_VARIANTS]:
        for m in (0.25, 0.35):
            name = f"{1 - m} {extra} + {m} idm (instead of hog)"
            rows[name] = knn_grid(mixed({extra: 1 - m, "idm": m}), cand, labels, truth)
    pool = ["white05", "pix", *HOG_VARIANTS]
    for a, b in itertools.combinations(pool, 2):
        weights = {"hog": 0.5, "idm": 0.25, a: 0.125, b: 0.125}
        for n_cand in (50, 100):
            rows[f"0.5 hog + 0.25 idm + 0.125 {a} + 0.125 {b}, {n_cand} cand"] = knn_grid(
                mixed(weights), cand, labels, truth, n_cand=n_cand
            )
    # Multi-scale HOG: the search HOG and every HOG variant with equal weight.
    for share_idm in (0.25, 0.35):
        weights = {"idm": share_idm, "hog": (1 - share_idm) / (1 + len(HOG_VARIANTS))}
        weights.update({name: weights["hog"] for name in HOG_VARIANTS})
        for n_cand in (50, 100):
            rows[f"all 7 HOGs equally + {share_idm} idm, {n_cand} cand"] = knn_grid(
                mixed(weights), cand, labels, truth, n_cand=n_cand
            )
    # Search on the whitened metric (a = 0.5).
    wn = {
        "hog": arr["ws2"] / scales["hog"],
        "idm": arr["wr2"] / scales["idm"],
        "white05": arr["wd2"] / scales["white05"],
    }
    wcand = arr["wcand"]
    rows["white05 search only"] = knn_grid(wn["white05"], wcand, labels, truth)
    for n_cand in (50, 100):
        rows[f"white05 search, 0.75 hog + 0.25 idm, {n_cand} cand"] = knn_grid(
            mixed({"hog": 0.75, "idm": 0.25}, wn), wcand, labels, truth, n_cand=n_cand
        )
        rows[f"white05 search, 0.75 white05 + 0.25 idm, {n_cand} cand"] = knn_grid(
            mixed({"white05": 0.75, "idm": 0.25}, wn), wcand, labels, truth, n_cand=n_cand
        )
    # Voting rules on the baseline's final distances.
    for n_cand in (50, 100):
        rows[f"class-wise sum of k_c nearest (distances), {n_cand} cand"] = classwise_grid(
            base, cand, labels, truth, n_cand
        )
        rows[f"class-wise sum of k_c nearest (squared), {n_cand} cand"] = classwise_grid(
            base, cand, labels, truth, n_cand, squared=True
        )
    rows["rank-weighted votes (1/rank or k+1-rank)"] = knn_grid(
        base, cand, labels, truth, rank=True
    )
    n0 = len(labels) // 5
    for n_cand in (50, 100):
        rows[f"one vote per original image (nearest copy), {n_cand} cand"] = knn_grid(
            dedup(base[:, :n_cand], cand[:, :n_cand], n0), cand, labels, truth, n_cand
        )
    rows["kernel votes exp(-(d2 - d1^2) / (t d1^2))"] = kernel_grid(base, cand, labels, truth)
    rows["local-mean knn (hog, k_c by final)"] = local_mean(cache, base, cand, labels, truth)
    return rows


def local_mean(cache, final, cand, labels, truth, n_cand=50):
    """Local-mean k-NN: per class the mean HOG vector of its k_c nearest candidates by the
    final distance; classify to the class whose mean is nearest the query's HOG (needs the
    HOG of the stored rows, recomputed here for the used rows only)."""
    stored_path = cache / "lmknn.npy"
    if stored_path.exists():
        dist = np.load(stored_path)
    else:
        raise FileNotFoundError(stored_path)
    cells = {f"k_c={kc}": float(np.mean(np.argmin(dist[kc - 1], axis=1) == truth)) for kc in KC}
    return tuned(cells)


def compute_local_mean(seed, cache_root, data_root):
    """Cache (len(KC), q, 10) distances of each query's HOG to its class-wise local means."""
    cache = cache_root / f"seed{seed}"
    timer = Timer(cache / "timings.json")
    started = time.time()
    data = load_dataset("fashion-mnist", data_dir=data_root)
    X_fit, X_val, _, y_fit, _, _ = train_val_test_split(
        data.flat("train"), data.labels, val_size=VAL_SIZE, test_size=0, seed=seed
    )
    knn = get_preset("fashion-mnist", "best").classifier
    from knnvision.transforms.augmentation import augment_images

    stored, _ = augment_images(
        X_fit, y_fit, image_shape=SHAPE, shifts=knn["shifts"], directions=knn["directions"]
    )
    scales = json.loads((cache / "scales.json").read_text())
    cand = np.load(cache / "cand.npy")[:, :50]
    labels = np.load(cache / "labels.npy")
    final = 0.75 * np.load(cache / "s2.npy")[:, :50] / scales["hog"]
    final += 0.25 * np.load(cache / "r2.npy")[:, :50] / scales["idm"]
    _, c = order_by(final, cand)
    used = np.unique(c)
    where = np.full(len(stored), -1, dtype=np.int64)
    where[used] = np.arange(len(used))
    feats = hog(stored[used])
    qf = hog(X_val)
    lab = labels[c]
    out = np.full((len(KC), len(c), 10), np.inf)
    for cls in range(10):
        for i in range(len(c)):
            rows = c[i][lab[i] == cls][: max(KC)]
            if len(rows) == 0:
                continue
            f = feats[where[rows]].astype(np.float64)
            means = np.cumsum(f, axis=0) / np.arange(1, len(rows) + 1)[:, None]
            dd = ((means - qf[i]) ** 2).sum(axis=1)
            out[: len(rows), i, cls] = dd
            out[len(rows) :, i, cls] = dd[-1] * 4  # too few candidates: a penalty
    np.save(cache / "lmknn.npy", out)
    timer("local_mean_hog", started)


def report(seeds, cache_root, out_md):
    per_seed = {seed: score_seed(seed, cache_root) for seed in seeds}
    names = list(per_seed[seeds[0]])
    base_name = names[0]
    lines = []
    for name in names:
        errs = [round(VAL_SIZE * (1 - per_seed[s][name][0])) for s in seeds]
        base = [round(VAL_SIZE * (1 - per_seed[s][base_name][0])) for s in seeds]
        delta = [e - b for e, b in zip(errs, base, strict=True)]
        lines.append((name, errs, delta, per_seed[seeds[0]][name][1]))
    header = (
        "| variant | "
        + " | ".join(f"errors seed {s}" for s in seeds)
        + " | change vs baseline (sum) | choice (seed "
        + str(seeds[0])
        + ") |\n|---|"
        + "---|" * len(seeds)
        + "---|---|"
    )
    body = [
        f"| {name} | "
        + " | ".join(str(e) for e in errs)
        + f" | {' / '.join(f'{d:+d}' for d in delta)} ({sum(delta):+d}) | {choice} |"
        for name, errs, delta, choice in lines
    ]
    text = header + "\n" + "\n".join(body) + "\n"
    print(text)
    if out_md:
        Path(out_md).write_text(text)
    return lines


def preset_rows(seed, data_root, cached_labels):
    """``(X_val, stored)``: the validation images of ``seed`` and the preset's stored training
    rows (the fit images with their shifted copies), checked against the encoded labels
    ``cached_labels`` that a cached model of the same seed stored."""
    data = load_dataset("fashion-mnist", data_dir=data_root)
    X_fit, X_val, _, y_fit, _, _ = train_val_test_split(
        data.flat("train"), data.labels, val_size=VAL_SIZE, test_size=0, seed=seed
    )
    del data
    params = get_preset("fashion-mnist", "best").classifier
    stored, stored_y = augment_images(
        X_fit, y_fit, image_shape=SHAPE, shifts=params["shifts"], directions=params["directions"]
    )
    encoded = np.searchsorted(np.unique(y_fit), stored_y)
    if len(stored) != len(cached_labels) or not np.array_equal(encoded, cached_labels):
        raise RuntimeError("stored rows do not match the cached preset's rows")
    return X_val, stored


def seed_table(per_seed: dict, baseline: str, out_md) -> None:
    """Print (and write to ``out_md`` if given) the errors of every variant scored on all the
    seeds of ``per_seed`` (``{seed: {variant: (accuracy, choice)}}``), with the change
    against ``baseline`` per seed and in total."""
    seeds = list(per_seed)
    names = [n for n in per_seed[seeds[0]] if all(n in per_seed[s] for s in seeds)]
    errors = {n: [round(VAL_SIZE * (1 - per_seed[s][n][0])) for s in seeds] for n in names}
    lines = [
        "| variant | "
        + " | ".join(f"seed {s}" for s in seeds)
        + f" | change vs {baseline} (sum) | choice per seed |",
        "|---|" + "---|" * len(seeds) + "---|---|",
    ]
    for name, errs in errors.items():
        delta = [e - b for e, b in zip(errs, errors[baseline], strict=True)]
        choices = ", ".join(per_seed[s][name][1] for s in seeds)
        lines.append(
            f"| {name} | {' | '.join(map(str, errs))} | "
            f"{' / '.join(f'{d:+d}' for d in delta)} ({sum(delta):+d}) | {choices} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if out_md:
        Path(out_md).write_text(text)


def screen_parser(description: str) -> argparse.ArgumentParser:
    """The options every Fashion screen script takes (data, cache, seeds, scoring)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-root", default="/work/shared/datasets")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/screen_cache/fashion"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--score", action="store_true", help="score the cached seeds")
    parser.add_argument("--table", default=None, help="write the score table to this file")
    return parser


def run_screen(args, compute_seed, report_seeds) -> None:
    """The driver every Fashion screen shares: score the cached seeds with ``--score``,
    else compute each seed on one thread (``compute_seed(seed)``; ``thread_limit`` holds
    BLAS to one thread too, which environment variables set after NumPy's import would not)."""
    if args.score:
        report_seeds(args.seeds, args.cache, args.table)
        return
    with thread_limit(1):
        for seed in args.seeds:
            compute_seed(seed)


def compute_all(seed, cache_root, data_root) -> None:
    """This screen's distances for one seed, skipping what is cached."""
    cache = cache_root / f"seed{seed}"
    cached = [cache / f"{name}.npy" for name in HOG_VARIANTS]
    if not all(path.exists() for path in [*cached, cache / "wr2.npy"]):
        compute(seed, cache_root, data_root)
    if not (cache / "lmknn.npy").exists():
        compute_local_mean(seed, cache_root, data_root)


def main():
    args = screen_parser(__doc__.split("\n")[0]).parse_args()
    run_screen(args, lambda seed: compute_all(seed, args.cache, args.data_root), report)


if __name__ == "__main__":
    main()
