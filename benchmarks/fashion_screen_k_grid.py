"""Fashion-MNIST (issue 17): does the preset's k grid stop too early?

The preset tunes ``k`` among 1, 3, 5, 7 and 10 (and the weighting) on its validation split,
and with the weighted HOG blocks it chose k=10, the largest value, on the test run. This
screen scores the committed preset's distance (``0.6 A + 0.4 (weighted o18) / S``, the
cached candidates of ``fashion_screen_block_weights.py``) with longer grids; each grid is
tuned per seed as ``Preset.tune`` tunes it. No distance is computed; the official test
images are never loaded.

The rule, written before any grid was scored: a longer grid is a candidate if, summed over
seeds 4, 5 and 10-15, it makes at least 10 fewer errors than the preset's grid; the candidate
with the fewest (ties: the shorter grid) is then scored on seeds 16 and 17 and adopted only
if it makes fewer errors there in total and more on neither::

    python benchmarks/fashion_screen_k_grid.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from fashion_screen import N_CAND, knn_grid, screen_parser  # noqa: E402
from fashion_screen_block_weights import (  # noqa: E402
    ROUND_1_BLOCK_WEIGHTS,  # noqa: E402
    distances,
    seed_data,
)
from knnvision.experiments.presets import get_preset  # noqa: E402

PRESET_GRID = get_preset("fashion-mnist", "best").n_neighbors
GRIDS = {
    "preset": PRESET_GRID,
    "+15": (*PRESET_GRID, 15),
    "+15, 20": (*PRESET_GRID, 15, 20),
    "+12, 15": (*PRESET_GRID, 12, 15),
}
CHOOSE_ON, CONFIRM_ON = (4, 5, 10, 11, 12, 13, 14, 15), (16, 17)


def seed_errors(seed, cache_root):
    data = seed_data(seed, cache_root)
    final = distances(data, np.asarray(ROUND_1_BLOCK_WEIGHTS))
    rows = {}
    for name, ks in GRIDS.items():
        accuracy, choice = knn_grid(
            final, data["cand"], data["labels"], data["truth"], N_CAND, ks=ks
        )
        rows[name] = (round(5000 * (1 - accuracy)), choice)
    return rows


def main():
    args = screen_parser(__doc__.split("\n")[0]).parse_args()
    per_seed = {seed: seed_errors(seed, args.cache) for seed in CHOOSE_ON}
    totals = {name: sum(per_seed[s][name][0] for s in CHOOSE_ON) for name in GRIDS}
    lines = ["| grid | " + " | ".join(f"seed {s}" for s in CHOOSE_ON) + " | sum |"]
    lines.append("|---|" + "---|" * (len(CHOOSE_ON) + 1))
    for name in GRIDS:
        cells = " | ".join(f"{per_seed[s][name][0]} ({per_seed[s][name][1]})" for s in CHOOSE_ON)
        lines.append(f"| {name} | {cells} | {totals[name]} |")
    candidates = [n for n in GRIDS if n != "preset" and totals[n] <= totals["preset"] - 10]
    if candidates:
        best = min(candidates, key=lambda n: (totals[n], len(GRIDS[n])))
        fresh = {seed: seed_errors(seed, args.cache) for seed in CONFIRM_ON}
        lines.append("")
        lines.append(f"Candidate {best!r} on seeds {CONFIRM_ON}:")
        for name in ("preset", best):
            cells = ", ".join(f"{fresh[s][name][0]} ({fresh[s][name][1]})" for s in CONFIRM_ON)
            lines.append(f"- {name}: {cells}")
    else:
        lines.append("\nNo longer grid is 10 errors better over the eight seeds.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.table:
        Path(args.table).write_text(text)


if __name__ == "__main__":
    main()
