"""MNIST (issue 17): the preset's vote, on its own distance: softmax and power vote weights.

The screen of ``fashion_screen_votes.py``, for ``mnist/best``: the committed preset (deskew,
blur, 200 Euclidean candidates re-ranked by IDM) is fitted by the package on the 55,000
training images of each seed's split, exactly as ``Preset.tune`` splits them, and the squared
IDM distances of the 200 candidates of the 5,000 held-out images are cached. Scoring changes
only how the candidates vote. The official test images are never loaded.

Rows (``k`` tuned per seed on the split as ``Preset.tune`` tunes it):

* ``preset``: k in (1, 3, 5, 7), uniform or 1/d votes, as the preset tunes them;
* ``softmax t``: votes ``exp(-(d^2 - d_1^2) / (t d_1^2))`` (t = 0.02, 0.05, 0.1, 0.2, 0.5),
  k in (1, 3, 5, 7, 10, 15, 20);
* ``power p``: votes ``1 / d^p`` (p = 2, 4, 8), k in (1, 3, 5, 7, 10, 15, 20).

The rule, written before any seed was computed: the rows are scored on seeds 8-11 (seeds 0-7
were used by earlier MNIST screens). The row with the fewest errors over the four seeds is a
candidate if that total is at least 4 below the preset's and it is worse than the preset on
at most one seed; it is then scored on the fresh seeds 12-15 and passes if it is again below
the preset there in total and worse on at most one seed.

Added after seeds 8-11 were scored, where two rows tied for the fewest (softmax t=0.2 and
power p=8, 8 fewer each, worse on no seed), and before seeds 12-15 were scored: both go to
seeds 12-15 and each must pass there; if both pass, the one with fewer errors on 12-15 is
taken (a tie: softmax, which the package already has)::

    python benchmarks/mnist_screen_votes.py --seeds 8 10       # compute and cache
    python benchmarks/mnist_screen_votes.py --score --seeds 8 9 10 11
    python benchmarks/mnist_screen_votes.py --score --seeds 12 13 14 15
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from fashion_screen import screen_parser, seed_table  # noqa: E402
from fashion_screen_votes import (  # noqa: E402
    cache_preset_candidates,
    power_weights,
    preset_grid,
    seed_data,
    softmax_weights,
    sorted_votes,
    weighted_grid,
)
from knnvision.experiments.presets import get_preset  # noqa: E402
from knnvision.search import thread_limit  # noqa: E402

PRESET = get_preset("mnist", "best")
PRESET_KS = (1, 3, 5, 7)
LONG_KS = (*PRESET_KS, 10, 15, 20)
TEMPERATURES = (0.02, 0.05, 0.1, 0.2, 0.5)
POWERS = (2, 4, 8)


def score_seed(seed, cache_root):
    final, cand, labels, truth = seed_data(seed, cache_root)
    squared, votes = sorted_votes(final, cand, labels)
    rows = {"preset": preset_grid(squared, votes, truth, PRESET_KS)}
    for t in TEMPERATURES:
        rows[f"softmax t={t}"] = weighted_grid(softmax_weights(squared, t), votes, truth, LONG_KS)
    for p in POWERS:
        rows[f"power p={p}"] = weighted_grid(power_weights(squared, p), votes, truth, LONG_KS)
    return rows


def main():
    parser = screen_parser(__doc__.split("\n")[0])
    parser.set_defaults(cache=Path("/tmp/screen_cache/mnist_votes"))
    args = parser.parse_args()
    if args.score:
        per_seed = {seed: score_seed(seed, args.cache) for seed in args.seeds}
        seed_table(per_seed, "preset", args.table)
        return
    with thread_limit(1):
        for seed in args.seeds:
            # float64, as the cached seeds 8-15 were written
            cache_preset_candidates(PRESET, seed, args.cache, args.data_root, np.float64)


if __name__ == "__main__":
    main()
