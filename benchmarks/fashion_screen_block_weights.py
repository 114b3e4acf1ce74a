"""Fashion-MNIST (issue 17): a learned weight per HOG block in the preset's grid IDM.

The baseline ``C`` is the preset as committed: the 100 candidates of model ``A`` of
``fashion_screen_round4.py`` ranked by ``0.6 A + 0.4 o18 / S``, where ``o18`` is the IDM on
the grid of 13 x 13 HOG blocks (2-pixel cells, 18 orientations; ``hog_idm_mix=0.4``) and
``S`` its mean over fixed training pairs. ``o18`` is the sum over query blocks of each
block's least cost; here every block gets its own weight, ``0.6 A + 0.4 (sum_b w_b c_b) / S``
(all ``w_b = 1`` is ``C``), a learned metric in the sense of issue 17's directions: collars,
sleeves and hems may say more about the class than the middle of a shirt.

The weights are fitted as in neighbourhood components analysis, on the cached candidates:
each query picks a candidate with probability ``softmax(-d / tau)`` over its 100, and the
fit maximises the mean log-probability of picking one of the query's class (``tau`` fitted
too), minus ``lam * mean((w - 1) ** 2)``, with L-BFGS-B and ``w >= 0``. The block costs come
from ``grid_block_costs.c`` (the package kernel's matching, one cost per block, float32);
their sums reproduce the cached ``o18`` to float32 precision (checked per seed).

The rule, written before any weight was fitted: ``lam`` is chosen among 0.01, 0.1 and 1 by
fitting on seeds 4, 5, 10, 11 and counting errors on seeds 12 and 13 (k and the weighting
tuned per seed as ``Preset.tune`` does); the weights are then refitted with that ``lam`` on all
six seeds and scored once on fresh seeds 14 and 15. They are adopted only if they have fewer
errors than C on both 14 and 15, with at least 10 fewer in total::

    python benchmarks/fashion_screen_block_weights.py --seeds 4 5 10 11 12 13 14 15
    python benchmarks/fashion_screen_block_weights.py --score --round 1

Round 1 passed (the preset adopted its weights, ``ROUND_1_BLOCK_WEIGHTS`` below), with ``lam``
0.01, the smallest value tried. Round 2's rule, written before seeds 16 and 17 were computed:
``lam`` among 0.001, 0.003 and 0.01, fitted on seeds 4, 5 and 10-13 and counted on seeds 14
and 15; refitted with the chosen ``lam`` on all eight, then scored once on fresh seeds 16 and
17 against the preset's weights. The new weights replace them only if they have fewer errors
on both fresh seeds with at least 10 fewer in total. C (all 1) is scored on 16 and 17 too, as
a second fresh check of round 1::

    python benchmarks/fashion_screen_round4.py --seeds 16 17 --models A
    python benchmarks/fashion_screen_hog_idm_round3.py --seeds 16 17 --only o18
    python benchmarks/fashion_screen_block_weights.py --seeds 16 17
    python benchmarks/fashion_screen_block_weights.py --score --round 2
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).parent))

from c_kernels import c_pointer, load_c_kernel  # noqa: E402
from fashion_screen import (  # noqa: E402
    N_CAND,
    Timer,
    knn_grid,
    preset_rows,
    run_screen,
    screen_parser,
)
from fashion_screen_hog_idm_round2 import GRIDS, grids_of  # noqa: E402

# The weights round 1 adopted, rounded to two decimals as the preset held them until
# fashion_screen_joint_weights.py refitted every part of the distance (row-major, 13 x 13).
# fmt: off
ROUND_1_BLOCK_WEIGHTS = (
    0.71, 0.54, 1.03, 1.81, 2.12, 1.94, 2.42, 1.51, 1.63, 1.56, 0.98, 0.79, 0.42,
    0.51, 0.64, 0.95, 1.15, 1.36, 1.48, 1.32, 1.33, 0.86, 1.14, 1.15, 0.95, 0.50,
    0.80, 0.78, 0.52, 0.55, 0.98, 1.36, 1.80, 1.57, 1.06, 0.98, 0.82, 0.91, 0.15,
    0.81, 0.95, 0.84, 0.85, 1.09, 1.23, 1.27, 1.35, 1.09, 0.84, 0.79, 0.95, 0.27,
    0.36, 0.93, 0.83, 0.63, 0.95, 0.75, 0.94, 1.13, 0.88, 0.69, 0.86, 1.22, 0.76,
    0.46, 1.16, 1.23, 0.88, 1.00, 1.05, 1.27, 1.21, 1.17, 0.76, 0.91, 1.18, 1.07,
    1.05, 1.24, 1.28, 0.75, 0.69, 1.14, 1.35, 1.23, 1.16, 0.90, 0.98, 1.03, 1.17,
    1.13, 1.57, 1.22, 0.62, 1.13, 1.17, 1.07, 0.88, 0.74, 1.13, 0.88, 1.04, 1.29,
    0.99, 1.51, 1.19, 0.78, 0.87, 0.94, 1.35, 0.55, 0.50, 0.57, 0.93, 1.24, 0.87,
    1.08, 1.50, 1.27, 0.60, 0.70, 0.84, 1.21, 1.25, 0.47, 0.42, 0.74, 0.96, 1.31,
    1.01, 1.23, 0.88, 0.56, 0.45, 0.61, 1.77, 1.86, 0.79, 0.63, 0.72, 1.22, 1.24,
    0.59, 1.17, 1.04, 0.94, 0.93, 0.76, 1.23, 1.32, 1.05, 1.09, 1.06, 1.43, 1.01,
    0.49, 1.16, 1.05, 1.03, 1.58, 1.87, 1.77, 1.78, 1.86, 1.82, 1.51, 1.84, 1.15,
)
# fmt: on
O18 = GRIDS["o18"]
BLOCKS = 13
# round: (seeds fitted on, seeds that choose lam, fresh seeds, lam values)
ROUNDS = {
    1: ((4, 5, 10, 11), (12, 13), (14, 15), (0.01, 0.1, 1.0)),
    2: ((4, 5, 10, 11, 12, 13), (14, 15), (16, 17), (0.001, 0.003, 0.01)),
}
ROWS_AT_ONCE = 8192
BUILD = Path(os.environ.get("KNNVISION_BUILD", "/tmp/knnvision_bench_build"))


def block_costs_kernel():
    lib = load_c_kernel("grid_block_costs.c", BUILD)
    lib.grid_block_costs.restype = None
    lib.grid_block_costs.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 5 + [ctypes.c_void_p]
    return lib.grid_block_costs


def compute(seed, cache_root, data_root):
    """Each validation query's block costs to its 100 candidates, ``(5000, 100, 169)``."""
    cache = cache_root / f"seed{seed}"
    path = cache / "o18_blocks.npy"
    if path.exists():
        return
    kernel = block_costs_kernel()
    timer = Timer(cache / "timings.json")
    X_val, stored = preset_rows(seed, data_root, np.load(cache / "A_labels.npy"))
    cand = np.load(cache / "A_cand.npy")
    sigma, cell, orientations, warp, signed = O18
    started = time.time()
    grids = grids_of(X_val, sigma, cell, orientations, signed)
    queries = np.ascontiguousarray(grids, dtype=np.float32)
    n_features = queries.shape[1] // BLOCKS**2
    rows, positions = np.unique(cand, return_inverse=True)
    positions = positions.reshape(cand.shape)
    out = np.empty((*cand.shape, BLOCKS**2), dtype=np.float32)
    for start in range(0, len(rows), ROWS_AT_ONCE):
        grids = grids_of(stored[rows[start : start + ROWS_AT_ONCE]], *O18[:3], signed)
        grids = np.ascontiguousarray(grids, dtype=np.float32)
        query_of, slot = np.nonzero((positions >= start) & (positions < start + ROWS_AT_ONCE))
        ref_rows = np.ascontiguousarray(positions[query_of, slot] - start, dtype=np.int64)
        query_rows = np.ascontiguousarray(query_of, dtype=np.int64)
        costs = np.empty((len(query_rows), BLOCKS**2), dtype=np.float32)
        kernel(
            c_pointer(queries),
            c_pointer(grids),
            c_pointer(query_rows),
            c_pointer(ref_rows),
            len(query_rows),
            BLOCKS,
            BLOCKS,
            n_features,
            warp,
            c_pointer(costs),
        )
        out[query_of, slot] = costs
    timer(f"o18_blocks_{N_CAND}", started)
    cached = np.load(cache / "o18.npy")
    if not np.allclose(out.sum(axis=2, dtype=np.float64), cached, rtol=1e-5):
        raise RuntimeError(f"seed {seed}: block costs do not sum to the cached o18")
    np.save(path, out)
    print(f"seed {seed}: block costs done", flush=True)


def seed_data(seed, cache_root):
    cache = cache_root / f"seed{seed}"
    scale = json.loads((cache / "scales.json").read_text())["o18"]
    labels, truth = np.load(cache / "A_labels.npy"), np.load(cache / "truth.npy")
    cand = np.load(cache / "A_cand.npy")
    return {
        "final": np.load(cache / "A_final.npy"),
        "blocks": np.load(cache / "o18_blocks.npy", mmap_mode="r"),
        "scale": scale,
        "cand": cand,
        "labels": labels,
        "truth": truth,
        "same": labels[cand] == truth[:, None],
    }


def distances(data, weights):
    flat = np.asarray(data["blocks"]).reshape(-1, BLOCKS**2)
    weighted = (flat @ weights.astype(np.float32)).reshape(data["cand"].shape)
    return preset_mix(data, weighted)


def preset_mix(data, weighted_grid):
    """The preset's distance: 0.6 A + 0.4 x the weighted grid in units of the unweighted one."""
    return 0.6 * data["final"] + 0.4 * weighted_grid / data["scale"]


def fit_weights(seeds, cache_root, lam):
    """NCA-style fit of the block weights (and the softmax temperature) on ``seeds``."""
    parts = [seed_data(seed, cache_root) for seed in seeds]
    for part in parts:
        part["flat"] = np.asarray(part["blocks"]).reshape(-1, BLOCKS**2).astype(np.float64)
        part["usable"] = part["same"].any(axis=1)
    n_queries = sum(int(part["usable"].sum()) for part in parts)

    def objective(theta):
        weights, log_tau = theta[:-1], theta[-1]
        tau = np.exp(log_tau)
        loss, grad_w, grad_log_tau = 0.0, np.zeros_like(weights), 0.0
        for part in parts:
            shape = part["cand"].shape
            d = preset_mix(part, (part["flat"] @ weights).reshape(shape))
            logits = -d / tau
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            in_class = np.where(part["same"], p, 0.0)
            mass = in_class.sum(axis=1)
            usable = part["usable"]
            loss -= np.log(mass[usable]).sum()
            q = np.zeros_like(p)
            q[usable] = in_class[usable] / mass[usable, None]
            p = np.where(usable[:, None], p, 0.0)
            g = (q - p) / tau  # d loss / d d_ij
            grad_w += part["flat"].T @ (g.ravel() * 0.4 / part["scale"])
            grad_log_tau -= (g * d).sum()  # logits are -d / exp(log_tau)
        loss = loss / n_queries + lam * np.mean((weights - 1) ** 2)
        grad_w = grad_w / n_queries + lam * 2 * (weights - 1) / len(weights)
        return loss, np.append(grad_w, grad_log_tau / n_queries)

    start = np.append(np.ones(BLOCKS**2), np.log(0.05))
    bounds = [(0.0, None)] * BLOCKS**2 + [(None, None)]
    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds)
    print(f"  lam {lam}: loss {result.fun:.5f} after {result.nit} iterations", flush=True)
    return result.x[:-1]


def errors(seed, cache_root, weights):
    data = seed_data(seed, cache_root)
    accuracy, choice = knn_grid(
        distances(data, weights), data["cand"], data["labels"], data["truth"], N_CAND
    )
    return round(5000 * (1 - accuracy)), choice


def report(round_number, cache_root, out_md):
    """The rule of the module docstring for one round, step by step."""
    choose_on, choose_by, fresh, lambdas = ROUNDS[round_number]
    scored = (*choose_by, *fresh)
    references = {"C (all 1)": np.ones(BLOCKS**2)}
    if round_number > 1:
        references["the preset's weights"] = np.asarray(ROUND_1_BLOCK_WEIGHTS)
    lines = ["| weights | " + " | ".join(f"seed {s}" for s in scored) + " |"]
    lines.append("|---|" + "---|" * len(scored))
    for name, weights in references.items():
        cells = " | ".join(str(errors(s, cache_root, weights)[0]) for s in scored)
        lines.append(f"| {name} | {cells} |")
    chosen = {}
    for lam in lambdas:
        weights = fit_weights(choose_on, cache_root, lam)
        counts = [errors(s, cache_root, weights)[0] for s in choose_by]
        chosen[lam] = sum(counts)
        cells = " | ".join(map(str, counts))
        lines.append(f"| fitted on {choose_on}, lam {lam} | {cells} |" + " |" * len(fresh))
    lam = min(lambdas, key=lambda value: (chosen[value], value))
    weights = fit_weights((*choose_on, *choose_by), cache_root, lam)
    np.save(cache_root / f"block_weights_round{round_number}.npy", weights)
    cells = " | ".join(str(errors(s, cache_root, weights)[0]) for s in fresh)
    lines.append(
        f"| fitted on all {len(choose_on) + len(choose_by)}, lam {lam} |"
        + " |" * len(choose_by)
        + f" {cells} |"
    )
    text = (
        "\n".join(lines)
        + "\n\nweights (13 x 13):\n"
        + np.array2string(weights.reshape(BLOCKS, BLOCKS), precision=2, max_line_width=120)
    )
    print(text)
    if out_md:
        Path(out_md).write_text(text + "\n")


def main():
    parser = screen_parser(__doc__.split("\n")[0])
    parser.add_argument("--round", type=int, choices=list(ROUNDS), default=1)
    args = parser.parse_args()
    run_screen(
        args,
        lambda seed: compute(seed, args.cache, args.data_root),
        lambda _seeds, cache_root, out_md: report(args.round, cache_root, out_md),
    )


if __name__ == "__main__":
    main()
