"""Fashion-MNIST (issue 17), round 3 of the cached screen around the adopted preset.

The baseline is the preset ``fashion-mnist/best`` as adopted after round 2 (variant A of
``fashion_screen.md``): 100 HOG-search candidates ranked by ``0.6 hog + 0.2 idm + 0.2 hog_b0``.
This script reuses the per-seed caches of ``benchmarks/fashion_screen.py`` (run that first)
and adds, on the same 100 cached candidates (one thread; seconds in ``timings.json``):

* ``idm_c2``: IDM with warp 2 and context 2 (the preset's IDM has context 1);
* ``idm_s05``: IDM (warp 2, context 1) on images blurred with sigma 0.5, queries and stored
  rows alike;
* ``hog_b0_sh``: the unblurred HOG distance, minimum over the query as given and its four
  1-pixel shifts (the stored rows as they are).

Every distance is divided by its mean over the preset's fixed training pairs
(``hog_b0_sh`` uses ``hog_b0``'s scale, so its weight is in the same units). Scoring tunes
k and the weighting as ``Preset.tune`` does (``fashion_screen.knn_grid``)::

    python benchmarks/fashion_screen_round3.py --seeds 0 1           # compute and cache
    python benchmarks/fashion_screen_round3.py --score --seeds 0 1   # table
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from fashion_screen import (  # noqa: E402
    SHAPE,
    VAL_SIZE,
    Timer,
    gathered_squared,
    hog,
    knn_grid,
    pair_indices,
    preset_rows,
    run_screen,
    screen_parser,
)
from knnvision.search.kernels.idm import idm_rerank  # noqa: E402
from knnvision.transforms.augmentation import shift_images  # noqa: E402
from knnvision.transforms.preprocessing import GaussianBlur  # noqa: E402

N_CAND = 100
BLOCK = 250
NEW = ("idm_c2", "idm_s05", "hog_b0_sh")
OLD = ("hog", "idm", "hog_b0", "hog_c3", "hog_o18", "hog_c7", "hog_c5", "hog_b2", "idm_w1")
OLD += ("pix", "white05")


def idm_blocks(queries, stored, cand, warp, context):
    out = np.empty(cand.shape)
    for start in range(0, len(queries), BLOCK):
        stop = min(start + BLOCK, len(queries))
        out[start:stop] = idm_rerank(
            queries[start:stop], stored, cand[start:stop], *SHAPE, warp, context, cand.shape[1]
        )
    return out


def compute(seed, cache_root, data_root, names):
    cache = cache_root / f"seed{seed}"
    timer = Timer(cache / "timings.json")
    scales = json.loads((cache / "scales.json").read_text())
    X_val, stored = preset_rows(seed, data_root, np.load(cache / "labels.npy"))
    cand = np.load(cache / "cand.npy")
    first, second = pair_indices(len(stored))
    queries = np.ascontiguousarray(X_val)
    print(f"seed {seed}: stored {len(stored)}, queries {len(queries)}", flush=True)

    def save(name, arr, scale):
        np.save(cache / f"{name}.npy", arr)
        scales[name] = scale
        (cache / "scales.json").write_text(json.dumps(scales, indent=1))

    if "idm_c2" in names and not (cache / "idm_c2.npy").exists():
        started = time.time()
        arr = idm_blocks(queries, stored, cand, 2, 2)
        timer("idm_c2_100", started)
        pairs = idm_blocks(stored[first], stored, second[:, None], 2, 2)
        save("idm_c2", arr, float(np.mean(pairs)))

    if "idm_s05" in names and not (cache / "idm_s05.npy").exists():
        started = time.time()
        used = np.unique(np.concatenate([cand.ravel(), first, second]))
        where = np.full(len(stored), -1, dtype=np.int64)
        where[used] = np.arange(len(used))
        blur = GaussianBlur(sigma=0.5, image_shape=SHAPE)
        rows = blur.fit_transform(stored[used])
        qb = blur.fit_transform(queries)
        arr = idm_blocks(qb, rows, where[cand], 2, 1)
        timer(f"idm_s05_100 (blur of {len(used)} rows included)", started)
        pairs = idm_blocks(rows[where[first]], rows, where[second][:, None], 2, 1)
        save("idm_s05", arr, float(np.mean(pairs)))
        del rows

    if "hog_b0_sh" in names and not (cache / "hog_b0_sh.npy").exists():
        started = time.time()
        used = np.unique(cand.ravel())
        where = np.full(len(stored), -1, dtype=np.int64)
        where[used] = np.arange(len(used))
        feats = hog(stored[used], 0.0, 4, 9)
        images = queries.reshape(-1, *SHAPE)
        best = None
        for dy, dx in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
            moved = shift_images(images, dy, dx).reshape(len(queries), -1)
            d = gathered_squared(hog(moved, 0.0, 4, 9), feats, where[cand])
            best = d if best is None else np.minimum(best, d)
        timer(f"hog_b0_sh_100 ({len(used)} rows)", started)
        save("hog_b0_sh", best, scales["hog_b0"])


def score_seed(seed, cache_root):
    cache = cache_root / f"seed{seed}"
    scales = json.loads((cache / "scales.json").read_text())
    labels, truth = np.load(cache / "labels.npy"), np.load(cache / "truth.npy")
    cand = np.load(cache / "cand.npy")
    files = {"hog": "s2", "idm": "r2"}
    norm = {}
    for name in OLD + NEW:
        path = cache / f"{files.get(name, name)}.npy"
        if path.exists():
            norm[name] = np.load(path) / scales[name]
    rows = {}

    def add(label, weights, n_cand=N_CAND):
        if all(name in norm for name, w in weights.items() if w):
            final = sum(w * norm[name] for name, w in weights.items() if w)
            rows[label] = knn_grid(final, cand, labels, truth, n_cand=n_cand)

    base = {"hog": 0.6, "idm": 0.2, "hog_b0": 0.2}
    add("A: 0.6 hog + 0.2 idm + 0.2 hog_b0 (baseline)", base)
    # 1. weights around A over the cached distances.
    for w_idm in (0.15, 0.2, 0.25, 0.3):
        for w_b0 in (0.15, 0.2, 0.25, 0.3, 0.35):
            if (w_idm, w_b0) != (0.2, 0.2):
                w_hog = round(1 - w_idm - w_b0, 2)
                add(
                    f"{w_hog} hog + {w_idm} idm + {w_b0} hog_b0",
                    dict(hog=w_hog, idm=w_idm, hog_b0=w_b0),
                )
    for extra in ("hog_c3", "hog_o18", "hog_c7", "hog_c5", "hog_b2", "idm_w1", "pix", "white05"):
        for wx in (0.05, 0.1, 0.15):
            weights = {name: w * (1 - wx) for name, w in base.items()}
            weights[extra] = wx
            add(f"{1 - wx:.2f} A + {wx} {extra}", weights)
    # 2. the IDM term replaced (context 2, or on images blurred with sigma 0.5) or added.
    for new_idm in ("idm_c2", "idm_s05"):
        for w_idm in (0.15, 0.2, 0.25, 0.3):
            w_hog = round(0.8 - w_idm, 2)
            add(
                f"{w_hog} hog + {w_idm} {new_idm} + 0.2 hog_b0",
                {"hog": w_hog, new_idm: w_idm, "hog_b0": 0.2},
            )
        add(f"0.6 hog + 0.1 idm + 0.1 {new_idm} + 0.2 hog_b0", {**base, "idm": 0.1, new_idm: 0.1})
        for wx in (0.1, 0.2):
            weights = {name: w * (1 - wx) for name, w in base.items()}
            weights[new_idm] = wx
            add(f"{1 - wx:.2f} A + {wx} {new_idm}", weights)
    # 3. the unblurred HOG with the query shifted by 1 pixel (min over 5 positions).
    for w_b0 in (0.15, 0.2, 0.25, 0.3):
        w_hog = round(0.8 - w_b0, 2)
        add(
            f"{w_hog} hog + 0.2 idm + {w_b0} hog_b0_sh",
            {"hog": w_hog, "idm": 0.2, "hog_b0_sh": w_b0},
        )
    add("0.6 hog + 0.2 idm + 0.1 hog_b0 + 0.1 hog_b0_sh", {**base, "hog_b0": 0.1, "hog_b0_sh": 0.1})
    return rows


def report(seeds, cache_root, out_md):
    per_seed = {seed: score_seed(seed, cache_root) for seed in seeds}
    names = [n for n in per_seed[seeds[0]] if all(n in per_seed[s] for s in seeds)]
    base_name = names[0]
    header = (
        "| variant | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | change vs A (sum) | choice (seed "
        + f"{seeds[0]}) |\n|---|"
        + "---|" * len(seeds)
        + "---|---|"
    )
    body = []
    for name in names:
        errs = [round(VAL_SIZE * (1 - per_seed[s][name][0])) for s in seeds]
        base = [round(VAL_SIZE * (1 - per_seed[s][base_name][0])) for s in seeds]
        delta = [e - b for e, b in zip(errs, base, strict=True)]
        body.append(
            f"| {name} | "
            + " | ".join(str(e) for e in errs)
            + f" | {' / '.join(f'{d:+d}' for d in delta)} ({sum(delta):+d})"
            + f" | {per_seed[seeds[0]][name][1]} |"
        )
    text = header + "\n" + "\n".join(body) + "\n"
    print(text)
    if out_md:
        Path(out_md).write_text(text)


def main():
    parser = screen_parser(__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", default=list(NEW), choices=NEW)
    args = parser.parse_args()
    run_screen(args, lambda seed: compute(seed, args.cache, args.data_root, args.only), report)


if __name__ == "__main__":
    main()
