"""MNIST screen (issue 17): a learned weight per 4 x 4-pixel group in the preset's IDM.

The preset's IDM (5 x 5 warp, 3 x 3 gradient context, on deskewed images blurred by 0.5) is a
sum of each query pixel's least local cost. Here the pixels are grouped 4 x 4 (7 x 7 groups)
and every group gets its own weight, fitted as in ``fashion_screen_block_weights.py``
(``nca_weights.fit_weights``: a softmax over each query's 200 candidates, the mean
log-probability of its class, the temperature fitted, an L2 pull of the weights towards 1,
L-BFGS-B, weights >= 0). All weights 1 is the preset's IDM, the baseline. The group costs come
from ``idm_group_costs.c`` (2 x 2-pixel groups, added 2 x 2 here); their sums must equal the
package's ``idm_rerank`` (checked per seed before use, as ``meta.json``'s ``check``).

Splits as ``Preset.tune`` (5,000 held out per seed, the preset's 200 Euclidean candidates,
k in 1, 3, 5, 7 x uniform, distance, first best cell); the official test images are never
loaded. The rule, written before any weight was fitted: ``lam`` is chosen among 0.01, 0.03
and 0.1 by fitting on seeds 0-3 and counting errors on seeds 4 and 5 (a tie goes to the
larger ``lam``); the weights are refitted with it on seeds 0-5 and scored once on fresh seeds 6
and 7. They are adopted only if they make fewer errors than the IDM on both 6 and 7, with at
least 4 fewer in total::

    python benchmarks/mnist_screen_pixel_weights.py --seeds 0 1 2 3 4 5 6 7
    python benchmarks/mnist_screen_pixel_weights.py --score
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from c_kernels import c_pointer, euclidean_candidates, prepare_seed  # noqa: E402
from fashion_screen import knn_grid  # noqa: E402
from fashion_screen_joint_weights import idm_group_kernel, pooled_idm_groups  # noqa: E402
from knnvision.search import thread_limit  # noqa: E402
from knnvision.search.kernels.idm import idm_rerank  # noqa: E402
from mnist_screen import training_images  # noqa: E402
from nca_weights import fit_weights  # noqa: E402

SIDE, WARP, GROUP = 28, 2, 2
N_CANDIDATES = 200
KS = (1, 3, 5, 7)
BLOCK = 250
CHOOSE_ON, CHOOSE_BY, FRESH = (0, 1, 2, 3), (4, 5), (6, 7)
LAMBDAS = (0.01, 0.03, 0.1)
CACHE = Path("/tmp/screen_cache/mnist_pixel_weights")
# About the mean IDM distance to the 200 candidates (1.8e6 for the first 200 queries of seed
# 0): the unit of the weights, so distances are near 1 where the fit starts.
DISTANCE_UNIT = 2e6


def group_costs(kernel, queries, train, cand):
    out = np.empty((*cand.shape, (SIDE // GROUP) ** 2), dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    cand = np.ascontiguousarray(cand, dtype=np.int64)
    status = kernel(
        c_pointer(queries), c_pointer(train), c_pointer(cand), len(queries), cand.shape[1],
        SIDE, SIDE, WARP, GROUP, c_pointer(out),
    )  # fmt: skip
    if status != 0:
        raise MemoryError("idm_group_costs ran out of memory")
    return out


def check_kernel(kernel, X_fit, X_val, rng) -> float:
    cand = rng.integers(len(X_fit), size=(10, 50))
    mine = group_costs(kernel, X_val[:10], X_fit, cand).sum(axis=2, dtype=np.float64)
    with thread_limit(1):
        ref = idm_rerank(X_val[:10], X_fit, cand, SIDE, SIDE, WARP, 1, 50)
    worst = float(np.max(np.abs(mine - ref) / np.maximum(ref, 1e-300)))
    if worst > 1e-6:
        raise AssertionError(f"group costs do not add up to idm_rerank: {worst:.3g} relative")
    return worst


def compute_seed(seed, deskewed, y, kernel):
    part = prepare_seed(seed, deskewed, y, CACHE, lambda *a: check_kernel(kernel, *a))
    folder = part.folder
    cand = euclidean_candidates(folder, deskewed, part.fit, part.val, part.y_fit, N_CANDIDATES)
    path = folder / "groups.npy"
    if not path.exists():
        started = time.perf_counter()
        train = np.ascontiguousarray(part.X_fit)
        out = np.empty((*cand.shape, (SIDE // GROUP) ** 2), dtype=np.float32)
        for start in range(0, len(cand), BLOCK):
            stop = start + BLOCK
            out[start:stop] = group_costs(kernel, part.X_val[start:stop], train, cand[start:stop])
        part.meta["seconds"]["group costs"] = round(time.perf_counter() - started, 1)
        np.save(path, out)
        np.save(folder / "y_fit.npy", part.y_fit)
        np.save(folder / "y_val.npy", part.y_val)
        part.save_meta()
    print(f"seed {seed}: done", flush=True)


def seed_data(seed):
    folder = CACHE / f"seed{seed}"
    cand = np.load(folder / "cand.npy")
    groups = pooled_idm_groups(np.load(folder / "groups.npy"))
    labels, truth = np.load(folder / "y_fit.npy"), np.load(folder / "y_val.npy")
    return {
        "flat": groups.reshape(-1, groups.shape[2]),
        # The unit: distances near 1, where the fit's starting temperature makes sense.
        "preset": np.full(groups.shape[2], 1 / DISTANCE_UNIT),
        "cand": cand,
        "labels": labels,
        "truth": truth,
        "same": labels[cand] == truth[:, None],
    }


def errors(part, weights):
    d = (part["flat"] @ weights.astype(np.float32)).reshape(part["cand"].shape)
    accuracy, choice = knn_grid(
        d.astype(np.float64), part["cand"], part["labels"], part["truth"], N_CANDIDATES, ks=KS
    )
    return round(len(part["truth"]) * (1 - accuracy)), choice


def report(out_md):
    data = {seed: seed_data(seed) for seed in (*CHOOSE_ON, *CHOOSE_BY, *FRESH)}
    scored = (*CHOOSE_BY, *FRESH)
    lines = [
        "| weights | " + " | ".join(f"seed {s}" for s in scored) + " |",
        "|---|" + "---|" * len(scored),
    ]

    def row(name, weights, seeds):
        cells = ["{} ({})".format(*errors(data[s], weights)) if s in seeds else "" for s in scored]
        lines.append(f"| {name} | {' | '.join(cells)} |")
        print(lines[-1], flush=True)
        return [errors(data[s], weights)[0] for s in seeds]

    preset = data[0]["preset"]
    n_weights = len(preset)
    free = np.ones(n_weights, dtype=bool)
    row("IDM (all 1)", preset, scored)
    totals = {}
    for lam in LAMBDAS:
        weights = fit_weights([data[s] for s in CHOOSE_ON], lam, free)
        totals[lam] = sum(row(f"fitted on seeds 0-3, lam {lam}", weights, CHOOSE_BY))
    lam = min(LAMBDAS, key=lambda value: (totals[value], -value))
    weights = fit_weights([data[s] for s in (*CHOOSE_ON, *CHOOSE_BY)], lam, free)
    np.save(CACHE / "pixel_weights.npy", weights)
    row(f"fitted on seeds 0-5, lam {lam}", weights, FRESH)
    side = int(round(np.sqrt(n_weights)))
    text = "\n".join(lines) + "\n\nweights (7 x 7 groups of 4 x 4 pixels):\n"
    relative = (weights / preset).reshape(side, side)
    text += np.array2string(relative, precision=2, max_line_width=120) + "\n"
    print(text)
    if out_md:
        Path(out_md).write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--score", action="store_true")
    parser.add_argument("--table", default=None)
    args = parser.parse_args()
    if args.score:
        report(args.table)
        return
    deskewed, _, y = training_images()
    kernel = idm_group_kernel()
    with thread_limit(1):
        for seed in args.seeds:
            compute_seed(seed, deskewed, y, kernel)


if __name__ == "__main__":
    main()
