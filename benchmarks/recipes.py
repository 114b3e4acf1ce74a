"""Run every tutorial recipe at the tutorial's own sizes; write the README table.

For each recipe: the tutorial's number (where its text states one), knnvision's, and
scikit-learn's on the same data, with the wall-clock time of each. Before timing, every
recipe runs once on a small cap so that knnvision's compiled kernels are built (a one-off
per installation, paid by the first search of each kind)::

    python benchmarks/recipes.py --data-dir ../shared/datasets     # writes benchmarks/recipes.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from knnvision.experiments.recipes import RECIPES, RecipeOptions, run_recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("KNNVISION_DATA"),
        help="Folder with mnist/ and fashion-mnist/ sub-folders of IDX files.",
    )
    parser.add_argument("--only", nargs="*", default=list(RECIPES), help="Recipes to run.")
    parser.add_argument("--out", default=str(Path(__file__).with_name("recipes.md")))
    args = parser.parse_args()
    lines = [
        "# The tutorials' experiments, run by `knnvision recipe NAME`",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "the machine was shared with other jobs, so timings are noisy. Times exclude loading "
        "the data and the one-off compilation of the kernels (warm-up run first).",
        "",
        "| recipe | quantity | tutorial | knnvision | scikit-learn | knnvision time | "
        "scikit-learn time |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.only:
        data_dir = _data_dir(args.data_dir, RECIPES[name].datasets)
        run_recipe(
            name, RecipeOptions(data_dir=data_dir, check=False, max_train=500, max_test=100)
        )  # warm-up: compile the kernels
        started = time.perf_counter()
        result = run_recipe(name, RecipeOptions(data_dir=data_dir))
        print(f"{name}: {time.perf_counter() - started:.1f} s in all, {result.seconds}", flush=True)
        for number, row in enumerate(result.rows):
            ours, theirs = (
                (f"{result.seconds.get(label, 0):.2f} s" if number == 0 else "")
                for label in ("knnvision", "scikit-learn")
            )
            lines.append(
                f"| {name if number == 0 else ''} | {row.quantity} | "
                f"{row.shown(row.tutorial)} | {row.shown(row.knnvision)} | "
                f"{row.shown(row.scikit_learn)} | {ours} | {theirs} |"
            )
    lines += [
        "",
        "— : the tutorial's text states no number for it (it shows the output as an "
        "image, or leaves it to a quiz).",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _data_dir(root: str | None, datasets: tuple[str, ...]) -> str | None:
    """The sub-folder of ``root`` for the recipe's dataset, if it needs one."""
    if root is None or not datasets:
        return None
    return str(Path(root) / datasets[0])


if __name__ == "__main__":
    main()
