"""Fashion-MNIST (issue 17): learned weights for every part of the preset's re-rank distance.

The preset ranks its 100 candidates by ``0.36 s / S + 0.12 r / R + 0.12 u / U + 0.4 g / G``:
``s`` and ``u`` squared distances between gradient histograms (4-pixel cells, 2 x 2-cell
blocks, 6 x 6 blocks of 36 values) of the blurred and of the unblurred images, ``r`` the pixel
IDM (5 x 5 warp, 3 x 3 context), ``g`` the HOG-block IDM with a learned weight per block
(``fashion_screen_block_weights.py``), each in units of its mean over fixed training pairs.
Each of these is a sum of parts over the image: ``s`` and ``u`` over their 36 blocks, ``r``
over its pixels (summed here over 4 x 4-pixel groups, 7 x 7 of them), ``g`` over its 169
blocks. This screen gives every part its own weight, 290 in all, fitted the same way as the
block weights: a softmax over each query's 100 candidates, the mean log-probability of its
class maximised with the temperature, minus ``lam * mean((m - 1) ** 2)`` where ``m`` is each
weight relative to the preset's (all ``m = 1`` is the preset ``P``), ``m >= 0``, L-BFGS-B.

The parts are cached per seed: ``s_blocks`` and ``u_blocks`` ``(5000, 100, 36)`` from the
package's transformers, ``r_groups`` ``(5000, 100, 196)`` (2 x 2-pixel groups; pairs of them
are added here) from ``idm_group_costs.c``, and ``o18_blocks`` from the block-weight screen.
The scales ``S``, ``R``, ``U`` are recovered from the cached model-A distance, which is
``0.6 s / S + 0.2 r / R + 0.2 u / U``, by least squares; the script stops if that fit is not
exact to 1e-5 (so the parts are checked to sum to what the classifier measured).

The rule, written before any weight was fitted (seeds 18 and 19 computed only for this):
``lam`` is chosen among 0.003, 0.01 and 0.03 by fitting on seeds 4, 5, 10-13 and counting
errors on seeds 14 and 15 (k and the weighting tuned per seed as ``Preset.tune`` does; a tie
goes to the larger ``lam``); the weights are then refitted with it on seeds 4, 5, 10-15 and
scored once on fresh seeds 18 and 19, and on seeds 16 and 17. They are adopted only if they
make fewer errors than P on both 18 and 19, with at least 10 fewer in total there. (The
first version also fitted one part's weights at a time and the four mixes alone, to show
where a gain comes from; those rows were never run and are gone.)::

    python benchmarks/fashion_screen_round4.py --seeds 18 19 --models A
    python benchmarks/fashion_screen_hog_idm_round3.py --seeds 18 19 --only o18
    python benchmarks/fashion_screen_block_weights.py --seeds 18 19
    python benchmarks/fashion_screen_joint_weights.py --seeds 4 5 10 11 12 13 14 15 16 17 18 19
    python benchmarks/fashion_screen_joint_weights.py --score

Round 1 failed its rule: ``lam`` 0.01 was chosen (360 / 357 errors on seeds 14 / 15 against
P's 376 / 374), and refitted on eight seeds the weights made 413 / 356 on fresh seeds 18 / 19
against P's 410 / 378 (+3 / -22), and 352 / 380 against 375 / 400 on seeds 16 / 17. Round 2's
rule was written after that, before seeds 20-23 were computed: the round-1 weights, unchanged
(``joint_weights_round1.npy``), against P on fresh seeds 20, 21, 22 and 23; adopted only if they
make fewer errors than P on at least three of the four and at least 20 fewer in total::

    python benchmarks/fashion_screen_round4.py --seeds 20 21 22 23 --models A
    python benchmarks/fashion_screen_hog_idm_round3.py --seeds 20 21 22 23 --only o18
    python benchmarks/fashion_screen_block_weights.py --seeds 20 21 22 23
    python benchmarks/fashion_screen_joint_weights.py --seeds 20 21 22 23
    python benchmarks/fashion_screen_joint_weights.py --score --round 2
"""

from __future__ import annotations

import ctypes
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from c_kernels import c_pointer, load_c_kernel  # noqa: E402
from fashion_screen import N_CAND, SHAPE, Timer, knn_grid, preset_rows, run_screen, screen_parser  # noqa: E402
from fashion_screen_block_weights import BUILD, ROUND_1_BLOCK_WEIGHTS  # noqa: E402
from knnvision.experiments.presets import get_preset  # noqa: E402
from knnvision.transforms.preprocessing import GaussianBlur, GradientHistograms  # noqa: E402
from nca_weights import fit_weights  # noqa: E402

CHOOSE_ON, CHOOSE_BY, FRESH, ALSO = (4, 5, 10, 11, 12, 13), (14, 15), (18, 19), (16, 17)
ROUND_2_FRESH = (20, 21, 22, 23)
LAMBDAS = (0.003, 0.01, 0.03)
HOG_BLOCKS, HOG_BLOCK_VALUES = 36, 36
IDM_GROUP, IDM_GROUPS_SIDE = 2, 14  # cached groups; the fit adds 2 x 2 of them
PART_NAMES = ("s", "u", "r", "g")
QUERIES_AT_ONCE = 250


# --- the cached parts ---------------------------------------------------------------------


def idm_group_kernel():
    kernel = load_c_kernel("idm_group_costs.c", BUILD).idm_group_costs
    kernel.restype = ctypes.c_int
    kernel.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int64] * 6 + [ctypes.c_void_p]
    return kernel


def hog_block_costs(query_hogs, stored_hogs, positions):
    """Per-block squared differences ``(n_queries, n_candidates, 36)`` (float32)."""
    out = np.empty((*positions.shape, HOG_BLOCKS), dtype=np.float32)
    for start in range(0, len(positions), QUERIES_AT_ONCE):
        stop = start + QUERIES_AT_ONCE
        diff = stored_hogs[positions[start:stop]] - query_hogs[start:stop, None, :]
        diff = diff.astype(np.float64).reshape(*diff.shape[:2], HOG_BLOCKS, HOG_BLOCK_VALUES)
        out[start:stop] = (diff * diff).sum(axis=3)
    return out


def compute(seed, cache_root, data_root):
    cache = cache_root / f"seed{seed}"
    wanted = [cache / f"{name}.npy" for name in ("s_blocks", "u_blocks", "r_groups")]
    if all(path.exists() for path in wanted):
        return
    timer = Timer(cache / "timings.json")
    X_val, stored = preset_rows(seed, data_root, np.load(cache / "A_labels.npy"))
    cand = np.load(cache / "A_cand.npy")
    rows, positions = np.unique(cand, return_inverse=True)
    positions = positions.reshape(cand.shape)
    hog = GradientHistograms(image_shape=SHAPE)
    blur = GaussianBlur(sigma=1.0, image_shape=SHAPE)
    for name, prepare in (("s_blocks", blur.fit_transform), ("u_blocks", lambda x: x)):
        started = time.time()
        query_hogs = hog.fit_transform(prepare(X_val))
        stored_hogs = hog.fit_transform(prepare(stored[rows]))
        np.save(cache / f"{name}.npy", hog_block_costs(query_hogs, stored_hogs, positions))
        timer(f"{name}_{N_CAND}", started)
    started = time.time()
    out = np.empty((*cand.shape, IDM_GROUPS_SIDE**2), dtype=np.float32)
    queries = np.ascontiguousarray(X_val, dtype=np.float64)
    train = np.ascontiguousarray(stored[rows], dtype=np.float64)
    local = np.ascontiguousarray(positions, dtype=np.int64)
    height, width = SHAPE
    warp = get_preset("fashion-mnist", "best").classifier["warp"]
    status = idm_group_kernel()(
        c_pointer(queries), c_pointer(train), c_pointer(local), len(queries), cand.shape[1],
        height, width, warp, IDM_GROUP, c_pointer(out),
    )  # fmt: skip
    if status != 0:
        raise MemoryError("idm_group_costs ran out of memory")
    np.save(cache / "r_groups.npy", out)
    timer(f"r_groups_{N_CAND}", started)
    print(f"seed {seed}: parts done", flush=True)


# --- the fit -------------------------------------------------------------------------------


def pooled_idm_groups(groups):
    """``(..., 196)`` 2 x 2-pixel group costs added into 4 x 4-pixel groups ``(..., 49)``."""
    side = IDM_GROUPS_SIDE // 2
    shaped = groups.reshape(*groups.shape[:-1], side, 2, side, 2)
    return shaped.sum(axis=(-3, -1), dtype=np.float32).reshape(*groups.shape[:-1], side * side)


def seed_data(seed, cache_root):
    """One seed's parts ``(n_pairs, 290)`` float32 (s, u, r, g blocks in that order), the
    preset's weights on them, and the labels the scoring needs."""
    cache = cache_root / f"seed{seed}"
    cand, labels = np.load(cache / "A_cand.npy"), np.load(cache / "A_labels.npy")
    truth = np.load(cache / "truth.npy")
    parts = {
        "s": np.load(cache / "s_blocks.npy"),
        "u": np.load(cache / "u_blocks.npy"),
        "r": pooled_idm_groups(np.load(cache / "r_groups.npy")),
        "g": np.load(cache / "o18_blocks.npy"),
    }
    totals = {name: part.sum(axis=2, dtype=np.float64) for name, part in parts.items()}
    scales = model_a_scales(np.load(cache / "A_final.npy"), totals, seed)
    scales["g"] = json.loads((cache / "scales.json").read_text())["o18"]
    mixes = preset_mixes()
    preset_weights = np.concatenate(
        [
            np.full(parts[name].shape[2], mixes[name] / scales[name])
            if name != "g"
            else mixes["g"] * np.asarray(ROUND_1_BLOCK_WEIGHTS) / scales["g"]
            for name in PART_NAMES
        ]
    )
    flat = np.concatenate(
        [parts[name].reshape(-1, parts[name].shape[2]) for name in PART_NAMES], axis=1
    )
    return {
        "flat": flat,
        "preset": preset_weights,
        "sizes": [parts[name].shape[2] for name in PART_NAMES],
        "cand": cand,
        "labels": labels,
        "truth": truth,
        "same": labels[cand] == truth[:, None],
    }


def preset_mixes():
    params = get_preset("fashion-mnist", "best").classifier
    mix, unblurred, grid = params["mix"], params["unblurred_hog_mix"], params["hog_idm_mix"]
    return {"s": 1 - mix - unblurred - grid, "r": mix, "u": unblurred, "g": grid}


def model_a_scales(model_a, totals, seed):
    """``S``, ``R``, ``U`` from model A's distance ``0.6 s / S + 0.2 r / R + 0.2 u / U``."""
    design = np.stack([totals[name].ravel() for name in ("s", "r", "u")], axis=1)
    target = model_a.ravel()
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    worst = float(np.max(np.abs(design @ coef - target) / np.maximum(np.abs(target), 1e-12)))
    if worst > 1e-5:
        raise RuntimeError(f"seed {seed}: the parts do not add up to model A ({worst:.2e})")
    return {"s": 0.6 / coef[0], "r": 0.2 / coef[1], "u": 0.2 / coef[2]}


def errors(part, weights):
    d = (part["flat"] @ weights.astype(np.float32)).reshape(part["cand"].shape)
    accuracy, _ = knn_grid(
        d.astype(np.float64), part["cand"], part["labels"], part["truth"], N_CAND
    )
    return round(len(part["truth"]) * (1 - accuracy))


def report(_seeds, cache_root, out_md):
    """The rule of the module docstring, step by step."""
    data = {seed: seed_data(seed, cache_root) for seed in (*CHOOSE_ON, *CHOOSE_BY, *FRESH, *ALSO)}
    preset = data[CHOOSE_ON[0]]["preset"]
    scored = (*CHOOSE_BY, *FRESH, *ALSO)
    lines = [
        "| weights | " + " | ".join(f"seed {s}" for s in scored) + " |",
        "|---|" + "---|" * len(scored),
    ]

    def row(name, weights, seeds):
        cells = [str(errors(data[s], weights)) if s in seeds else "" for s in scored]
        lines.append(f"| {name} | {' | '.join(cells)} |")
        print(lines[-1], flush=True)

    row("P (the preset)", preset, scored)
    all_free = np.ones(len(preset), dtype=bool)
    totals = {}
    for lam in LAMBDAS:
        weights = fit_weights([data[s] for s in CHOOSE_ON], lam, all_free)
        totals[lam] = sum(errors(data[s], weights) for s in CHOOSE_BY)
        row(f"all 290, fitted on {len(CHOOSE_ON)} seeds, lam {lam}", weights, CHOOSE_BY)
    lam = min(LAMBDAS, key=lambda value: (totals[value], -value))
    fit_on = [data[s] for s in (*CHOOSE_ON, *CHOOSE_BY)]
    weights = fit_weights(fit_on, lam, all_free)
    np.save(cache_root / "joint_weights_round1.npy", weights)
    row(f"all 290, fitted on {len(fit_on)} seeds, lam {lam}", weights, (*FRESH, *ALSO))
    relative = weights / preset
    sizes = data[CHOOSE_ON[0]]["sizes"]
    text = "\n".join(lines) + "\n\nweights relative to the preset's, per part:\n"
    for name, part in zip(PART_NAMES, np.split(relative, np.cumsum(sizes)[:-1]), strict=True):
        side = int(round(np.sqrt(len(part))))
        text += f"\n{name} (mean {part.mean():.2f}):\n"
        text += np.array2string(part.reshape(side, side), precision=2, max_line_width=120) + "\n"
    print(text)
    if out_md:
        Path(out_md).write_text(text)


def report_round_2(cache_root, out_md):
    """Round 2 of the module docstring: the round-1 weights against P on fresh seeds."""
    weights = np.load(cache_root / "joint_weights_round1.npy")
    data = {seed: seed_data(seed, cache_root) for seed in ROUND_2_FRESH}
    counts = {
        name: [errors(data[s], w if w is not None else data[s]["preset"]) for s in ROUND_2_FRESH]
        for name, w in (("P (the preset)", None), ("round-1 weights", weights))
    }
    lines = ["| weights | " + " | ".join(f"seed {s}" for s in ROUND_2_FRESH) + " | total |"]
    lines.append("|---|" + "---|" * (len(ROUND_2_FRESH) + 1))
    for name, row in counts.items():
        lines.append(f"| {name} | {' | '.join(map(str, row))} | {sum(row)} |")
    fewer = sum(
        w < p for w, p in zip(counts["round-1 weights"], counts["P (the preset)"], strict=True)
    )
    gain = sum(counts["P (the preset)"]) - sum(counts["round-1 weights"])
    verdict = "passes" if fewer >= 3 and gain >= 20 else "fails"
    text = (
        "\n".join(lines) + f"\n\nfewer on {fewer} of 4, {gain} fewer in total: round 2 {verdict}\n"
    )
    print(text)
    if out_md:
        Path(out_md).write_text(text)


def relative_parts(weights, data):
    """``{part: weights relative to the preset's}`` of absolute weights on the parts."""
    pieces = np.split(weights / data["preset"], np.cumsum(data["sizes"])[:-1])
    return dict(zip(PART_NAMES, pieces, strict=True))


def export(cache_root):
    """The fitted weights as the preset's tables (two decimals), scored as rounded: the
    preset's parameters are the relative weights of s, u and r (r per 4 x 4-pixel group) and
    the grid's block weights times their relative weights."""
    data = {seed: seed_data(seed, cache_root) for seed in (*CHOOSE_BY, *FRESH, *ALSO)}
    first = data[CHOOSE_BY[0]]
    relative = relative_parts(np.load(cache_root / "joint_weights_round1.npy"), first)
    tables = {name: np.round(part, 2) for name, part in relative.items()}
    tables["g"] = np.round(tables["g"] * np.asarray(ROUND_1_BLOCK_WEIGHTS), 2)
    rounded_relative = np.concatenate(
        [tables[name] if name != "g" else tables["g"] / np.asarray(ROUND_1_BLOCK_WEIGHTS)
         for name in PART_NAMES]
    )  # fmt: skip
    weights = rounded_relative * first["preset"]
    for seed, part in data.items():
        print(f"seed {seed}: rounded weights make {errors(part, weights)} errors", flush=True)
    for name, table in tables.items():
        side = int(round(np.sqrt(len(table))))
        print(f"\n{name}:")
        for line in table.reshape(side, side):
            print("    " + ", ".join(f"{value:.2f}" for value in line) + ",")


def main():
    parser = screen_parser(__doc__.split("\n")[0])
    parser.add_argument("--export", action="store_true", help="print the preset's tables")
    parser.add_argument("--round", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    if args.export:
        export(args.cache)
        return
    if args.score and args.round == 2:
        report_round_2(args.cache, args.table)
        return
    run_screen(args, lambda seed: compute(seed, args.cache, args.data_root), report)


if __name__ == "__main__":
    main()
