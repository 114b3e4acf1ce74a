"""Exact k-NN search: knnvision against scikit-learn and faiss-cpu on the same cores.

Usage (from the project root; faiss is optional: ``pip install faiss-cpu``, and so is PyTorch,
which adds knnvision's ``algorithm="torch"`` row to the MNIST case: ``pip install torch``)::

    python benchmarks/search.py                 # full run, writes benchmarks/search_results.*
    python benchmarks/search.py --quick         # small subsets, seconds
    python benchmarks/search.py --cases single_query scaling --n-jobs 2

The logic lives in :mod:`knnvision.experiments.bench` (also behind ``knnvision bench``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a fresh clone without installing

from knnvision.experiments import bench as benchmark  # noqa: E402  (needs the path above)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets (seconds)")
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=benchmark.CASES + benchmark.EXTRA_CASES,
        help=f"cases to run (default: all of {', '.join(benchmark.CASES)})",
    )
    parser.add_argument("--data-dir", help="folder with mnist/ and fashion-mnist/ IDX files")
    parser.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of N runs")
    parser.add_argument("--synthetic", action="store_true", help="random images, no files")
    parser.add_argument(
        "--output", default=None, help="JSON path (default: benchmarks/search_results[_quick].json)"
    )
    parser.add_argument("--markdown", default=None, help="markdown table path")
    args = parser.parse_args(argv)
    stem = "search_results_quick" if args.quick else "search_results"
    output = args.output or HERE / f"{stem}.json"
    markdown = args.markdown or Path(output).with_suffix(".md")
    report = benchmark.run(
        quick=args.quick,
        cases=args.cases,
        data_dir=args.data_dir,
        n_jobs=args.n_jobs,
        repeat=args.repeat,
        synthetic=args.synthetic,
    )
    benchmark.save(report, output, markdown)
    print(f"wrote {output} and {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
