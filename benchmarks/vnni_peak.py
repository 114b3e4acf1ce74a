"""The AVX-512 VNNI peak of this machine, against the rate knnvision's uint8 kernel reaches.

Usage (from the project root; needs g++ with OpenMP and a CPU with AVX-512 VNNI)::

    python benchmarks/vnni_peak.py              # all cores
    python benchmarks/vnni_peak.py --n-jobs 2

    python benchmarks/vnni_peak.py --data-dir ../shared/datasets   # real MNIST images

The peak comes from ``vnni_peak.cpp``: 16 independent ``vpdpbusd`` per loop, so only the
instruction's throughput limits it. The kernel's rate is that of ``BruteIndex.query`` on
uint8 rows (MNIST's 60,000 training images and 2,000 test images with ``--data-dir``, else
random rows as sparse as MNIST's), k=3, counted as
``n_queries * n_train * n_features`` multiply-adds, the work of the full products: an
effective rate, since the tile kernel skips the 4-byte groups blank in a whole block of
queries. The multiply-adds it does execute (``executed_multiply_adds``: the same blocks and
blank groups, padding included) give its rate against the peak.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a fresh clone without installing

from knnvision.datasets import load_mnist  # noqa: E402  (needs the path above)
from knnvision.search import build_index, thread_limit  # noqa: E402  (needs the path above)
from knnvision.search.kernels import dot_u8  # noqa: E402


def vnni_peak(threads: int) -> float:
    """G multiply-adds per second of ``vpdpbusd`` alone on ``threads`` threads."""
    with tempfile.TemporaryDirectory() as folder:
        binary = Path(folder) / "vnni_peak"
        compile_cmd = ["g++", "-O2", "-fopenmp", str(HERE / "vnni_peak.cpp"), "-o", str(binary)]
        subprocess.run(compile_cmd, check=True)
        out = subprocess.run(
            [str(binary), str(threads), "50000000"], check=True, text=True, capture_output=True
        ).stdout
    return float(out.split()[1])


def executed_multiply_adds(train: np.ndarray, queries: np.ndarray) -> float:
    """The multiply-adds :func:`dot_u8.u8_tiles_topk` executes for these rows: per block of
    ``PANEL_QUERIES`` queries (in its sorted order), the 4-byte groups nonzero in some row,
    times 4 bytes, times the queries of the block and the training rows padded to panels."""
    padded = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.PANEL_QUERIES)
    _, rows = dot_u8._in_blank_order(padded, len(queries), 4, dot_u8.PANEL_QUERIES)
    blocks = rows.reshape(-1, dot_u8.PANEL_QUERIES, rows.shape[1] // 4, 4)
    active_groups = blocks.any(axis=3).any(axis=1).sum()
    panel_rows = dot_u8.PANEL_TILES * dot_u8.TILE_ROWS
    n_train = -(-train.shape[0] // panel_rows) * panel_rows
    return float(active_groups) * 4 * dot_u8.PANEL_QUERIES * n_train


def kernel_seconds(threads: int, data: tuple[np.ndarray, np.ndarray]) -> float:
    """Best of three ``BruteIndex.query`` times, uint8 Euclidean, k=3."""
    train, queries = data
    with thread_limit(threads):
        index = build_index(train, metric="euclidean", algorithm="brute")
        index.query(queries[:20], 3)  # lazy preparation
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            index.query(queries, 3)
            best = min(best, time.perf_counter() - start)
    return best


def mnist_shaped(n_train=60_000, n_queries=2_000) -> tuple[np.ndarray, np.ndarray]:
    """Sparse random uint8 rows (a fifth of the pixels lit, like MNIST)."""
    rng = np.random.default_rng(0)

    def rows(n):
        values = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
        return np.where(rng.random((n, 784)) < 0.2, values, 0).astype(np.uint8)

    return rows(n_train), rows(n_queries)


def mnist(data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    ds = load_mnist("mnist", data_dir, download=False)
    assert ds.test_images is not None
    return ds.images.reshape(len(ds.images), -1), ds.test_images[:2000].reshape(2000, -1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count(), help="threads")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: random rows)")
    args = parser.parse_args(argv)
    if not dot_u8.HAVE_VNNI:
        print("this CPU (or KNNVISION_CPU) has no AVX-512 VNNI path: nothing to compare")
        return 1
    peak = vnni_peak(args.n_jobs)
    data = mnist(args.data_dir) if args.data_dir else mnist_shaped()
    seconds = kernel_seconds(args.n_jobs, data)
    train, queries = data
    rate = queries.shape[0] * train.shape[0] * train.shape[1] / seconds / 1e9
    executed = executed_multiply_adds(train, queries) / seconds / 1e9
    print(f"VNNI peak on {args.n_jobs} threads: {peak:.0f} G multiply-adds/s")
    print(
        f"knnvision uint8 Euclidean k=3 ({seconds:.3f} s): {rate:.0f} G multiply-adds/s counted "
        f"on the full products ({rate / peak:.0%} of peak); {executed:.0f} G/s executed "
        f"({executed / peak:.0%} of peak)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
