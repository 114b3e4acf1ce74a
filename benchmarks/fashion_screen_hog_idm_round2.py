"""Fashion-MNIST (issue 17): variants of the HOG-block IDM around the preset that adopted it.

The baseline ``B`` is the preset as committed: the 100 candidates of model ``A`` of
``fashion_screen_round4.py`` ranked by ``0.6 A + 0.4 hidm2`` (``fashion_screen_hog_idm.md``;
in the classifier ``mix=0.12, unblurred_hog_mix=0.12, hog_idm_mix=0.4``). Each variant is
another IDM on a grid of gradient-histogram blocks (2 x 2 cells at a stride of one cell),
measured with the package's kernel (``grid_idm_pairs``) on the same candidates:

* ``warp2``: 2-pixel cells, each block may match the best of the candidate's 5 x 5
  neighbouring blocks (4 pixels away) instead of 3 x 3;
* ``cell3``: 3-pixel cells (9 x 9 blocks), 3 x 3 neighbours;
* ``raw2``: 2-pixel cells of the images as given (not blurred), 3 x 3 neighbours;
* ``o18``: 2-pixel cells with 18 orientation bins, 3 x 3 neighbours.

Each is divided by its mean over the preset's fixed training pairs and scored two ways:
added, ``(1 - w) B + w variant`` with w in 0.1, 0.2, 0.3, and in place of ``hidm2``,
``0.6 A + 0.4 variant``. Scoring tunes k and the weighting as ``Preset.tune`` does; the
official test images are never loaded; one thread per process.

The rule, written before any variant was computed: a row is a candidate only if it has
fewer errors than B on both seeds 4 and 5 with at least 10 fewer in total; the candidate
with the most saved is then computed on fresh seeds 10 and 11 (model A first, and ``hidm2``,
here with the package's kernel) and must be fewer than B on both::

    python benchmarks/fashion_screen_hog_idm_round2.py --seeds 4 5
    python benchmarks/fashion_screen_hog_idm_round2.py --score --seeds 4 5
    python benchmarks/fashion_screen_round4.py --seeds 10 11 --models A
    python benchmarks/fashion_screen_hog_idm_round2.py --seeds 10 11 --only hidm2 NAME

Written after seeds 4 and 5, before seeds 10 and 11 were scored: two rows tied for the most
saved (0.8 B + 0.2 raw2 and 0.8 B + 0.2 o18, -17 each), a case the rule did not foresee. The
cheaper one decides (raw2: 80 s against 265 s per seed); o18 is computed on seeds 10 and 11
too, for information, and decides nothing.

Written after seeds 10 and 11 were scored (raw2 failed there, -4 / +4), before seeds 12 and
13 were computed: ``0.6 A + 0.4 o18``, hidm2 replaced by its 18-orientation version, was
-19 / +1 on seeds 4-5 and -11 / -13 on seeds 10-11 (noticed in the information rows, so
chosen after seeing them; ``0.8 B + 0.2 o18`` totalled less, -27, and adds a term instead of
replacing one). It is adopted only if it has fewer errors than B on both fresh seeds 12 and
13::

    python benchmarks/fashion_screen_round4.py --seeds 12 13 --models A
    python benchmarks/fashion_screen_hog_idm_round2.py --seeds 12 13 --only hidm2 o18
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from fashion_screen import (  # noqa: E402
    N_CAND,
    SHAPE,
    Timer,
    knn_grid,
    pair_indices,
    preset_rows,
    run_screen,
    screen_parser,
    seed_table,
)
from knnvision.search.kernels.idm import grid_idm_to_candidates  # noqa: E402
from knnvision.transforms.preprocessing import GaussianBlur, GradientHistograms  # noqa: E402

# name: (blur sigma, cell pixels, orientations, warp in blocks, signed gradients)
GRIDS = {
    "hidm2": (1.0, 2, 9, 1, False),
    "warp2": (1.0, 2, 9, 2, False),
    "cell3": (1.0, 3, 9, 1, False),
    "raw2": (0.0, 2, 9, 1, False),
    "o18": (1.0, 2, 18, 1, False),
}
VARIANTS = [name for name in GRIDS if name != "hidm2"]
ADDED = (0.1, 0.2, 0.3)
ROWS_AT_ONCE = 8192


def grids_of(rows, sigma, cell, orientations, signed):
    if sigma > 0:
        rows = GaussianBlur(sigma=sigma, image_shape=SHAPE).fit_transform(rows)
    histograms = GradientHistograms(
        cell_size=cell, n_orientations=orientations, signed=signed, image_shape=SHAPE
    )
    return histograms.fit_transform(rows)


def grid_distances(queries, stored, candidates, spec):
    """The grid IDM ``spec`` from each query to its candidates, each distinct candidate's grid
    computed once (the classifier's helper)."""
    sigma, cell, orientations, warp, signed = spec
    side = -(-SHAPE[0] // cell) - 1
    return grid_idm_to_candidates(
        grids_of(queries, sigma, cell, orientations, signed),
        lambda rows: grids_of(stored[rows], sigma, cell, orientations, signed),
        candidates,
        (side, side),
        warp,
        ROWS_AT_ONCE,
    )


def compute(seed, cache_root, data_root, names, grids=GRIDS):
    """The grid distances ``names`` (specs in ``grids``) of one seed, skipping cached ones."""
    cache = cache_root / f"seed{seed}"
    timer = Timer(cache / "timings.json")
    X_val, stored = preset_rows(seed, data_root, np.load(cache / "A_labels.npy"))
    cand = np.load(cache / "A_cand.npy")
    first, second = pair_indices(len(stored))
    scales_path = cache / "scales.json"
    for name in names:
        if (cache / f"{name}.npy").exists():
            continue
        started = time.time()
        distances = grid_distances(X_val, stored, cand, grids[name])
        timer(f"{name}_{N_CAND}", started)
        pairs = grid_distances(stored[first], stored, second[:, None], grids[name])
        scales = json.loads(scales_path.read_text())
        scales[name] = float(np.mean(pairs))
        scales_path.write_text(json.dumps(scales, indent=1))
        np.save(cache / f"{name}.npy", distances)
        print(f"seed {seed}: {name} done", flush=True)


def score_seed(seed, cache_root):
    cache = cache_root / f"seed{seed}"
    scales = json.loads((cache / "scales.json").read_text())
    truth, labels = np.load(cache / "truth.npy"), np.load(cache / "A_labels.npy")
    cand, final = np.load(cache / "A_cand.npy"), np.load(cache / "A_final.npy")

    def unit(name):
        return np.load(cache / f"{name}.npy") / scales[name]

    baseline = 0.6 * final + 0.4 * unit("hidm2")
    rows = {"B": knn_grid(baseline, cand, labels, truth, N_CAND)}
    for name in VARIANTS:
        if not (cache / f"{name}.npy").exists():
            continue
        extra = unit(name)
        for w in ADDED:
            rows[f"{1 - w:.1f} B + {w} {name}"] = knn_grid(
                (1 - w) * baseline + w * extra, cand, labels, truth, N_CAND
            )
        rows[f"0.6 A + 0.4 {name}"] = knn_grid(
            0.6 * final + 0.4 * extra, cand, labels, truth, N_CAND
        )
    return rows


def report(seeds, cache_root, out_md):
    per_seed = {seed: score_seed(seed, cache_root) for seed in seeds}
    seed_table(per_seed, "B", out_md)


def main():
    parser = screen_parser(__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", default=VARIANTS, choices=list(GRIDS))
    args = parser.parse_args()
    run_screen(args, lambda seed: compute(seed, args.cache, args.data_root, args.only), report)


if __name__ == "__main__":
    main()
