"""Fashion-MNIST (issue 17): the preset's vote, on its own distance: kernel and power vote
weights, and a penalty on the shifted training copies.

The committed preset ``fashion-mnist/best`` is fitted by the package (its classifier, its
learned weights) on the 55,000 training images of each seed's split, exactly as
``Preset.tune`` splits them, and the squared final distances of its 100 candidates for the
5,000 held-out images are cached (``P_final``, ``P_cand`` as stored rows, labels, truth).
Scoring changes only how the candidates vote; no distance is recomputed. The official test
images are never loaded.

Rows (``k`` and the weighting tuned per seed on the split as ``Preset.tune`` tunes them):

* ``preset``: k in (1, 3, 5, 7, 10), uniform or 1/d votes;
* ``copies x (1 + g)``: the shifted copies' squared distances multiplied by ``1 + g``
  (g = -0.05, 0.05, 0.1, 0.2, 0.4), then the preset's grid: the stored copies vote for
  their original, and an exact copy may deserve less trust than the image itself;
* ``kernel t``: votes ``exp(-(d^2 - d_1^2) / (t d_1^2))`` (t = 0.05, 0.1, 0.2, 0.5), k in
  (1, 3, 5, 7, 10, 15, 20);
* ``power p``: votes ``1 / d^p`` (p = 2, 4, 8), k in (1, 3, 5, 7, 10, 15, 20).

The rule, written before any seed was computed: the rows are scored on seeds 24-27 (never
used before). In each family (copies; kernel and power votes together) the row with the
fewest errors over the four seeds is a candidate if that total is at least 8 below the
preset's and it is worse than the preset on at most one seed. Each candidate is then scored
on the fresh seeds 28-31 and passes if it is again at least 8 below the preset there in total
and worse on at most one seed. If both families pass, their combination (the copies' factor,
then the vote) is scored on seeds 28-31 too and is taken only if it has fewer errors there
than each alone; otherwise the passing row with the fewest errors is taken.

Round 2, written after round 1's choice on seeds 24-27 (kernel t=0.05, the smallest
temperature of the grid, the best row) and before seeds 28-31 were scored: if kernel t=0.05
passes round 1, the temperatures 0.01, 0.02 and 0.03 are scored on seeds 24-31; the one with
the fewest errors there replaces 0.05 only if it is at least 8 below 0.05 in total, and then
only if it is fewer than 0.05 in total on the fresh seeds 32-35 and worse on at most one.

Round 3, written after round 2 (no smaller temperature qualified) and after seeds 32-35 were
scored as a further check of 0.05 (where 0.1 made 58 fewer errors than the old vote and 0.05
25 fewer), before seeds 36-39 were computed: of 0.05, 0.1 and 0.2, the temperature with the
fewest errors over seeds 24-35 (0.1: 140 fewer than the old vote, 0.05: 100, 0.2: 77)
replaces 0.05 only if it has fewer errors than 0.05 in total on the fresh seeds 36-39 and
more on at most one of them::

    python benchmarks/fashion_screen_votes.py --seeds 24 25        # compute and cache
    python benchmarks/fashion_screen_votes.py --score --seeds 24 25 26 27
    python benchmarks/fashion_screen_votes.py --score --round 2 --seeds 24 25 26 27 28 29 30 31
    python benchmarks/fashion_screen_votes.py --score --seeds 36 37 38 39
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from fashion_screen import screen_parser, seed_table, tuned  # noqa: E402
from knnvision.datasets import load_dataset, train_val_test_split  # noqa: E402
from knnvision.experiments.presets import get_preset  # noqa: E402
from knnvision.neighbors._base import neighbor_weights  # noqa: E402
from knnvision.neighbors.classifier import vote_shares  # noqa: E402
from knnvision.neighbors.rerank import softmax_vote_weights  # noqa: E402
from knnvision.search import thread_limit  # noqa: E402

PRESET = get_preset("fashion-mnist", "best")
# The preset's vote when this screen was written (its distance is unchanged since).
PRESET_KS, PRESET_WEIGHTS = (1, 3, 5, 7, 10), ("uniform", "distance")
LONG_KS = (*PRESET_KS, 15, 20)
COPY_FACTORS = (-0.05, 0.05, 0.1, 0.2, 0.4)
KERNEL_TEMPERATURES = (0.05, 0.1, 0.2, 0.5)
ROUND_2_TEMPERATURES = (0.01, 0.02, 0.03)
# Round 1's candidates on seeds 24-27, combined as its rule says.
CHOSEN_COPY_FACTOR, CHOSEN_TEMPERATURE = 0.05, 0.05
POWERS = (2, 4, 8)
N_CLASSES = 10


def cache_preset_candidates(
    preset, seed, cache_root, data_root, final_dtype=np.float32, **classifier_params
):
    """Fit ``preset`` (its pipeline, its classifier with ``classifier_params`` changed) on the
    seed's 55,000 training images and cache the squared final distances of its candidates
    for the 5,000 held out, in the search's order."""
    cache = cache_root / f"seed{seed}"
    if (cache / "P_final.npy").exists():
        return
    cache.mkdir(parents=True, exist_ok=True)
    data = load_dataset(preset.dataset, data_dir=data_root)
    X_fit, X_val, _, y_fit, y_val, _ = train_val_test_split(
        data.flat("train"), data.labels, val_size=preset.max_validation, test_size=0, seed=seed
    )
    del data
    started = time.time()
    model = preset.build(n_neighbors=max(LONG_KS), n_jobs=1, **classifier_params)
    model.fit(X_fit, y_fit)
    knn, queries = model[-1], model[:-1].transform(X_val) if len(model) > 1 else X_val
    fitted = time.time()
    found = knn.candidate_distances(queries, max(LONG_KS))
    np.save(cache / "P_final.npy", knn.final_squared(found).astype(final_dtype))
    np.save(cache / "P_cand.npy", found.candidates.astype(np.int32))
    np.save(cache / "P_labels.npy", knn._y.astype(np.int8))
    np.save(cache / "truth.npy", np.searchsorted(knn.classes_, y_val))
    np.save(cache / "P_originals.npy", knn.n_samples_fit_ // knn.augmentation_factor_)
    print(
        f"seed {seed}: fit {fitted - started:.0f} s, candidates {time.time() - fitted:.0f} s "
        f"({knn.n_samples_fit_} stored rows)",
        flush=True,
    )


def seed_data(seed, cache_root):
    cache = cache_root / f"seed{seed}"
    final = np.load(cache / "P_final.npy").astype(np.float64)
    cand = np.load(cache / "P_cand.npy").astype(np.int64)
    labels = np.load(cache / "P_labels.npy").astype(np.int64)
    return final, cand, labels, np.load(cache / "truth.npy")


def sorted_votes(final, cand, labels):
    """Distances and labels of the candidates, nearest first (ties: the smaller row)."""
    order = np.lexsort((cand, final), axis=-1)
    squared = np.maximum(np.take_along_axis(final, order, axis=1), 0)
    return squared, labels[np.take_along_axis(cand, order, axis=1)]


def accuracy(votes, weights, truth) -> float:
    return float(np.mean(np.argmax(vote_shares(votes, weights, N_CLASSES), axis=1) == truth))


def preset_grid(squared, votes, truth, ks=PRESET_KS):
    """Preset.tune's choice over its grid of ``ks`` and 1/d or uniform votes, as
    (accuracy, choice)."""
    distances = np.sqrt(squared)
    cells = {
        f"{weighting} k={k}": accuracy(
            votes[:, :k], neighbor_weights(distances[:, :k], weighting), truth
        )
        for weighting in PRESET_WEIGHTS
        for k in ks
    }
    return tuned(cells)


def weighted_grid(weights, votes, truth, ks=LONG_KS):
    """The best k of ``ks`` with these vote weights, as (accuracy, choice)."""
    return tuned({f"k={k}": accuracy(votes[:, :k], weights[:, :k], truth) for k in ks})


def softmax_weights(squared, t):
    """The package's ``weights="softmax"`` votes at temperature ``t``."""
    return softmax_vote_weights(np.sqrt(squared), t)


def power_weights(squared, p):
    with np.errstate(divide="ignore"):
        weights = np.maximum(squared, 1e-24) ** (-p / 2)
    return weights / weights.max(axis=1, keepdims=True)


def with_copy_factor(final, cand, n_originals, g):
    return np.where(cand >= n_originals, final * (1 + g), final)


def score_seed(seed, cache_root, round_number=1):
    final, cand, labels, truth = seed_data(seed, cache_root)
    n_originals = int(np.load(cache_root / f"seed{seed}" / "P_originals.npy"))
    squared, votes = sorted_votes(final, cand, labels)
    rows = {"preset": preset_grid(squared, votes, truth)}
    for g in COPY_FACTORS:
        rows[f"copies x (1 + {g})"] = preset_grid(
            *sorted_votes(with_copy_factor(final, cand, n_originals, g), cand, labels), truth
        )
    for t in KERNEL_TEMPERATURES:
        rows[f"kernel t={t}"] = weighted_grid(softmax_weights(squared, t), votes, truth)
    for p in POWERS:
        rows[f"power p={p}"] = weighted_grid(power_weights(squared, p), votes, truth)
    copied = sorted_votes(
        with_copy_factor(final, cand, n_originals, CHOSEN_COPY_FACTOR), cand, labels
    )
    rows[f"copies x (1 + {CHOSEN_COPY_FACTOR}), kernel t={CHOSEN_TEMPERATURE}"] = weighted_grid(
        softmax_weights(copied[0], CHOSEN_TEMPERATURE), copied[1], truth
    )
    if round_number == 2:
        for t in ROUND_2_TEMPERATURES:
            rows[f"kernel t={t}"] = weighted_grid(softmax_weights(squared, t), votes, truth)
    return rows


def report(seeds, cache_root, out_md, round_number=1):
    per_seed = {seed: score_seed(seed, cache_root, round_number) for seed in seeds}
    seed_table(per_seed, "preset", out_md)


def main():
    parser = screen_parser(__doc__.split("\n")[0])
    parser.add_argument("--round", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    if args.score:
        report(args.seeds, args.cache, args.table, args.round)
        return
    with thread_limit(1):
        for seed in args.seeds:
            cache_preset_candidates(PRESET, seed, args.cache, args.data_root)


if __name__ == "__main__":
    main()
