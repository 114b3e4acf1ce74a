"""Exact search over ~1 million training rows sharded on Dask, against the single-process search.

The training set is MNIST's 60,000 training images, each also shifted by up to 3 pixels
(17 shifts: 1,020,000 rows x 784 uint8, 800 MB); without MNIST, random uint8 rows of that size.
The queries are MNIST test images. The same search runs

* in this process, with every core (``build_index(train).query``), and
* on a ``LocalCluster`` of worker processes (one thread each, one shard each), through
  :func:`knnvision.search.dask.build_sharded_index`,

and the script checks that both give the same indices, then reports throughput, the overhead
of Dask, the memory each worker holds, the measured cost of one shard's search and of the
merge, and the time those costs predict on N workers::

    python benchmarks/dask_search.py --data-dir /work/shared/datasets/mnist

The printed report is saved beside this script as ``dask_search.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import distributed
import numpy as np
import psutil

from knnvision.datasets import load_dataset
from knnvision.search import build_index, thread_limit
from knnvision.search.dask import build_sharded_index
from knnvision.search.topk import merge_topk

# (dx, dy) pixel shifts: every shift with |dx| + |dy| <= 2, and 3 pixels along each axis.
SHIFTS = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if abs(dx) + abs(dy) <= 2]
SHIFTS += [(3, 0), (-3, 0), (0, 3), (0, -3)]


def shifted(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Images moved ``dx`` pixels right and ``dy`` down, the uncovered border left black."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def training_and_queries(data_dir, n_queries: int):
    try:
        mnist = load_dataset("mnist", data_dir)
    except (FileNotFoundError, ValueError) as error:
        print(f"MNIST not found ({error}); using random uint8 rows.")
        rng = np.random.default_rng(0)
        rows = rng.integers(0, 256, size=(60_000 * len(SHIFTS), 784), dtype=np.uint8)
        return rows, rng.integers(0, 256, size=(n_queries, 784), dtype=np.uint8), "random"
    images = mnist.images
    train = np.concatenate([shifted(images, dx, dy).reshape(len(images), -1) for dx, dy in SHIFTS])
    return train, mnist.flat("test")[:n_queries], f"MNIST x {len(SHIFTS)} shifts"


def timed(work, repeat: int = 1):
    """``(best seconds, result)`` of ``repeat`` runs of ``work()``."""
    best = np.inf
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def worker_rss_mib(client) -> dict[str, float]:
    return {
        address: rss / 2**20
        for address, rss in client.run(lambda: psutil.Process().memory_info().rss).items()
    }


def shard_compute_seconds(task_stream) -> list[float]:
    """Compute time of every shard-search task in a Dask task stream."""
    seconds = []
    for record in task_stream:
        if not record["key"].startswith("_search_shard"):
            continue
        seconds += [
            part["stop"] - part["start"]
            for part in record["startstops"]
            if part["action"] == "compute"
        ]
    return seconds


def merge_seconds_per_query(n_shards: int, k: int, rows: int = 2048, repeat: int = 3) -> float:
    """Client time to merge ``n_shards`` partial top-k lists, per query row."""
    rng = np.random.default_rng(0)
    parts = [(rng.random((rows, k)), rng.integers(0, 2**40, (rows, k))) for _ in range(n_shards)]
    best = np.inf
    for _ in range(repeat):
        started = time.perf_counter()
        reduced, indices = np.empty((rows, 0)), np.empty((rows, 0), np.int64)
        for part_reduced, part_indices in parts:
            reduced, indices = merge_topk(reduced, indices, part_reduced, part_indices, k)
        best = min(best, time.perf_counter() - started)
    return best / rows


def dask_fixed_cost(train, query, args, n_shards: int) -> float:
    """Best time of a one-query search over a tiny sharded index: Dask's cost per search."""
    tiny = build_sharded_index(train, metric=args.metric, n_shards=n_shards)
    tiny.query(query, args.k)
    return timed(lambda: tiny.query(query, args.k), repeat=5)[0]


def measure(train, queries, args) -> dict:
    """Times, memory and task costs of both searches, run in turn ``args.repeat`` times so
    that both see the same (shared, changing) load."""
    local = build_index(train, metric=args.metric)
    with (
        distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        m = {"rss_idle": worker_rss_mib(client)}
        m["fit"], sharded = timed(lambda: build_sharded_index(train, metric=args.metric))
        m["rss_fitted"] = worker_rss_mib(client)
        m["n_shards"] = len(sharded.bounds)
        m["local"], m["dask"] = [], []
        with thread_limit(None) as m["threads"]:
            local.query(queries[:16], args.k)  # compiles and fills caches outside the timing
            sharded.query(queries[:16], args.k)
            with distributed.get_task_stream(client) as stream:
                for _ in range(args.repeat):
                    seconds, (_, local_indices) = timed(lambda: local.query(queries, args.k))
                    m["local"].append(seconds)
                    seconds, (_, dask_indices) = timed(lambda: sharded.query(queries, args.k))
                    m["dask"].append(seconds)
        m["rss_searched"] = worker_rss_mib(client)
        m["identical"] = np.array_equal(local_indices, dask_indices)
        tasks = shard_compute_seconds(stream.data)
        m["core_seconds"] = sum(tasks) / args.repeat
        m["longest_task"] = max(tasks)
        m["n_blocks"] = len(tasks) // m["n_shards"] // args.repeat
        m["fixed"] = dask_fixed_cost(train[:2000], queries[:1], args, m["n_shards"])
        m["fixed_32"] = dask_fixed_cost(train[:2000], queries[:1], args, 32)
    m["per_task"] = max(0.0, (m["fixed_32"] - m["fixed"]) / (32 - m["n_shards"]))
    return m


def report(m: dict, train, queries, args, say) -> None:
    local, dask = min(m["local"]), min(m["dask"])
    runs = "; ".join(f"{a:.1f} / {b:.1f}" for a, b in zip(m["local"], m["dask"], strict=True))
    say(
        f"Single process ({m['threads']} threads): {local:.1f} s, "
        f"{len(queries) / local:.1f} queries/s"
    )
    say(
        f"Dask, {args.workers} worker processes x 1 thread, {m['n_shards']} shards: {dask:.1f} s, "
        f"{len(queries) / dask:.1f} queries/s ({dask / local:.2f}x the single process's time); "
        f"indices identical: {m['identical']}"
    )
    say(f"Best of {args.repeat}, run in turn (single / Dask, s): {runs}")
    say(
        f"Sending the shards and building the indexes (fit): {m['fit']:.1f} s. Dask's cost per "
        f"search (one query over 2,000 rows): {m['fixed'] * 1000:.0f} ms with {m['n_shards']} "
        f"shards, {m['fixed_32'] * 1000:.0f} ms with 32: {m['per_task'] * 1000:.1f} ms per extra "
        "shard task."
    )
    say()
    say("| worker | RSS idle (MiB) | after fit | after searches |")
    say("|---|---|---|---|")
    for address, idle in m["rss_idle"].items():
        say(
            f"| {address} | {idle:.0f} | {m['rss_fitted'].get(address, np.nan):.0f} | "
            f"{m['rss_searched'].get(address, np.nan):.0f} |"
        )
    say(f"\nEach shard holds {train.nbytes / m['n_shards'] / 2**20:.0f} MiB of training rows.")


def report_scaling(m: dict, train, queries, args, say) -> None:
    per_mrow = m["core_seconds"] / len(queries) / (len(train) / 1e6)
    say(
        f"\nShard searches: {m['n_blocks']} query block(s) x {m['n_shards']} shards per search, "
        f"{m['core_seconds']:.1f} core-seconds in all (longest task {m['longest_task']:.2f} s): "
        f"{per_mrow * 1000:.1f} core-ms per query per million training rows."
    )
    say()
    say("| shards | merge on the client (us per query) |")
    say("|---|---|")
    merges = {n: merge_seconds_per_query(n, args.k) for n in (2, 8, 32, 128)}
    for n, seconds in merges.items():
        say(f"| {n} | {seconds * 1e6:.1f} |")
    per_shard_merge = merges[128] / 128
    say()
    say(
        f"Expected on N single-thread workers (one shard each), these {len(queries)} queries "
        f"over {len(train):,} rows: search core-seconds / N + client merge of N lists + "
        f"{m['fixed'] * 1000:.0f} ms + {m['per_task'] * 1000:.1f} ms per shard task beyond "
        f"{m['n_shards']}. Not counted: the network (every worker receives the "
        f"{queries.nbytes / 2**20:.1f} MiB of queries and sends back "
        f"{len(queries) * args.k * 16 / 2**10:.0f} KiB) and stragglers."
    )
    say()
    say("| N | expected time (s) | queries/s | training MiB per worker |")
    say("|---|---|---|---|")
    for n in (1, 2, 4, 8, 16, 32, 64, 128):
        extra_tasks = max(0, n - m["n_shards"]) * m["n_blocks"]
        expected = (
            m["core_seconds"] / n
            + len(queries) * per_shard_merge * n
            + m["fixed"]
            + m["per_task"] * extra_tasks
        )
        say(
            f"| {n} | {expected:.2f} | {len(queries) / expected:.0f} | "
            f"{train.nbytes / n / 2**20:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("KNNVISION_DATA"))
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--metric", default="euclidean")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="Best of this many searches.")
    parser.add_argument("--out", default=str(Path(__file__).with_name("dask_search.md")))
    args = parser.parse_args()

    train, queries, source = training_and_queries(args.data_dir, args.queries)
    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    say(
        f"# Sharded exact search: {train.shape[0]:,} x {train.shape[1]} uint8 training rows "
        f"({source}, {train.nbytes / 2**20:.0f} MiB), {len(queries)} queries, k={args.k}, "
        f"{args.metric}"
    )
    say()
    say(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB; shared with other engineers' jobs "
        f"(load average at start {os.getloadavg()[0]:.1f}): timings noisy."
    )
    say()
    measured = measure(train, queries, args)
    report(measured, train, queries, args, say)
    report_scaling(measured, train, queries, args, say)
    say(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}.")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
