"""Load benchmark of ``knnvision serve``: many concurrent clients on loopback, bounded time.

The server is the real command (``python -m knnvision serve MODEL``) in its own process, with
a classifier over MNIST's 60,000 training images. The clients are a second process: asyncio
connections (HTTP/1.1 keep-alive, written by hand so that the client side costs little)
that post the page's request, a 280x280 PNG drawing as multipart/form-data to
``/api/predict?images=true`` (drawings: MNIST test digits enlarged 10x, like the canvas).

On a small machine clients and server fight for the same cores, which would make the
server look slower than it is; so by default the server is pinned to CPU 0 (its search
uses one thread) and the clients to CPU 1 (``--server-cpus``, ``--client-cpus``).

Two ways to load it:

* closed loop (``--rate 0``): each client sends its next request as soon as the previous
  answer arrives; this measures the most requests per second the server sustains, and
  latency is then mostly queueing (about ``clients / throughput``);
* open loop (``--rate R``): requests are due at a fixed total rate ``R``, spread over the
  clients, and latency is measured from when each request was due (so a slow server is
  not hidden by clients that wait for it).

Run (MNIST IDX files in ``--data-dir``)::

    python benchmarks/web_load.py --clients 32 --duration 20 --rate 0
    python benchmarks/web_load.py --clients 32 --duration 20 --rate 100 --save

``--save`` appends the report to ``benchmarks/web_load.txt`` and the figures to
``benchmarks/web_load.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from knnvision.datasets import load_dataset
from knnvision.io import save
from knnvision.neighbors import KNNClassifier
from knnvision.results.experiment import ExperimentConfig, model_metadata, software_versions

HERE = Path(__file__).resolve().parent
BOUNDARY = "knnvisionbenchmarkboundary"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("KNNVISION_DATA", "/work/shared/datasets/mnist")
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not measured")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="total requests/s (open loop); 0: closed loop, as fast as possible",
    )
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument(
        "--no-images",
        action="store_true",
        help="do not ask for the neighbour images (the page asks for them)",
    )
    parser.add_argument("--server-cpus", default="0", help="CPUs of the server, e.g. 0 or 0,1")
    parser.add_argument("--client-cpus", default="1", help="CPUs of the clients")
    parser.add_argument("--save", action="store_true", help="append to benchmarks/web_load.*")
    return parser.parse_args()


# --- server -----------------------------------------------------------------------------------


def fit_model_file(data_dir: str, k: int, threads: int, folder: Path) -> tuple[Path, np.ndarray]:
    """Fit on MNIST's training part, save it; returns the file and the test images."""
    mnist = load_dataset("mnist", data_dir=data_dir)
    model = KNNClassifier(k, weights="distance", n_jobs=threads).fit(mnist.flat(), mnist.labels)
    metadata = model_metadata(mnist, ExperimentConfig(dataset="mnist"))
    return save(model, folder / "mnist.knnv", metadata=metadata), mnist.test_images


def start_server(model_path: Path, port: int, cpus: set[int]) -> subprocess.Popen:
    threads = str(len(cpus))
    env = dict(
        os.environ,
        OMP_NUM_THREADS=threads,
        OPENBLAS_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        NUMBA_NUM_THREADS=threads,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "knnvision", "serve", str(model_path), "--port", str(port)],
        env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )


def wait_until_healthy(port: int, server: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError("the server did not answer /api/health in time")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- requests ---------------------------------------------------------------------------------


def drawing_requests(test_images: np.ndarray, port: int, with_images: bool, count: int = 200):
    """Ready-to-send HTTP requests: test digits enlarged to 280x280 PNGs, as the canvas sends."""
    query = "?images=true" if with_images else ""
    requests = []
    for image in test_images[:count]:
        buffer = io.BytesIO()
        Image.fromarray(image).resize((280, 280), Image.Resampling.BILINEAR).save(buffer, "PNG")
        body = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="drawing.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        body += buffer.getvalue() + f"\r\n--{BOUNDARY}--\r\n".encode()
        head = (
            f"POST /api/predict{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    return requests


async def exchange(reader, writer, request: bytes) -> tuple[int, bytes, dict]:
    """Send one request on a keep-alive connection; returns (status, body, headers)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return status, body, headers


async def client(port, requests, first, stop_at, measure_from, interval, start, records):
    """One connection: requests in turn until ``stop_at``; appends (latency, server ms, ok)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    sent = 0
    try:
        while True:
            due = start + sent * interval if interval else loop.time()
            if due >= stop_at:
                break
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            began = due if interval else loop.time()
            try:
                status, body, headers = await exchange(
                    reader, writer, requests[(first + sent) % len(requests)]
                )
                ok = status == 200 and b'"label"' in body
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok, headers = False, {}
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            finished = loop.time()
            sent += 1
            if began >= measure_from:
                timing = headers.get("server-timing", "dur=nan").split("dur=")[-1]
                records.append((finished - began, float(timing), ok))
    finally:
        writer.close()


async def load(port, requests, clients, warmup, duration, rate, server_pid):
    """Run the clients; returns the measured records and the server's CPU seconds meanwhile."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    measure_from, stop_at = start + warmup, start + warmup + duration
    cpu = []
    loop.call_at(measure_from, lambda: cpu.append(cpu_seconds(server_pid)))
    interval = clients / rate if rate else 0.0
    records: list[tuple[float, float, bool]] = []
    tasks = [
        client(
            port,
            requests,
            i * 7,
            stop_at,
            measure_from,
            interval,
            start + (i * interval / clients if interval else 0.0),
            records,
        )
        for i in range(clients)
    ]
    await asyncio.gather(*tasks)  # ends when the last request sent before stop_at is answered
    return records, cpu_seconds(server_pid) - cpu[0]


# --- report -----------------------------------------------------------------------------------


def summarise(records, server_cpu_s, load_average, args, server_cpus, client_cpus) -> dict:
    latency_ms = np.array([r[0] for r in records]) * 1000
    server_ms = np.array([r[1] for r in records])
    errors = sum(not r[2] for r in records)
    return {
        "mode": f"open loop, {args.rate:g} requests/s offered" if args.rate else "closed loop",
        "clients": args.clients,
        "duration_s": args.duration,
        "requests": len(records),
        "errors": int(errors),
        "requests_per_s": len(records) / args.duration,
        "latency_ms": {
            p: float(np.percentile(latency_ms, q))
            for p, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        },
        "server_ms": {
            p: float(np.nanpercentile(server_ms, q)) for p, q in (("p50", 50), ("p99", 99))
        },
        # CPU time per request barely depends on what else runs on the machine.
        "server_cpu_ms_per_request": 1000 * server_cpu_s / max(1, len(records)),
        "load_average_before_after": load_average,
        "request": f"280x280 PNG upload, k={args.k}, images={not args.no_images}",
        "training_images": 60_000,
        "server_cpus": sorted(server_cpus),
        "client_cpus": sorted(client_cpus),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs)",
        "versions": software_versions(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def report_text(summary: dict) -> str:
    lat, srv = summary["latency_ms"], summary["server_ms"]
    return (
        f"[{summary['date']}] {summary['mode']}, {summary['clients']} clients, "
        f"{summary['duration_s']:g} s; {summary['request']}; MNIST "
        f"{summary['training_images']:,} training images; server on CPUs "
        f"{summary['server_cpus']}, clients on CPUs {summary['client_cpus']}\n"
        f"  {summary['requests']} requests, {summary['errors']} errors, "
        f"{summary['requests_per_s']:.1f} requests/s\n"
        f"  latency ms: p50 {lat['p50']:.1f}, p90 {lat['p90']:.1f}, p99 {lat['p99']:.1f}, "
        f"max {lat['max']:.1f}; server time ms: p50 {srv['p50']:.1f}, p99 {srv['p99']:.1f}\n"
        f"  server CPU per request: {summary['server_cpu_ms_per_request']:.1f} ms; "
        f"1-min load average before/after: {summary['load_average_before_after']}\n"
    )


def main() -> None:
    args = parse_args()
    server_cpus = {int(c) for c in args.server_cpus.split(",")}
    client_cpus = {int(c) for c in args.client_cpus.split(",")}
    with tempfile.TemporaryDirectory() as folder:
        model_path, test_images = fit_model_file(
            args.data_dir, args.k, len(server_cpus), Path(folder)
        )
        port = free_port()
        server = start_server(model_path, port, server_cpus)
        try:
            wait_until_healthy(port, server)
            os.sched_setaffinity(0, client_cpus)
            requests = drawing_requests(test_images, port, not args.no_images)
            before = os.getloadavg()[0]
            records, server_cpu_s = asyncio.run(
                load(
                    port, requests, args.clients, args.warmup, args.duration, args.rate, server.pid
                )
            )
            load_average = [round(before, 2), round(os.getloadavg()[0], 2)]
        finally:
            server.terminate()
            server.wait(timeout=30)
    summary = summarise(records, server_cpu_s, load_average, args, server_cpus, client_cpus)
    text = report_text(summary)
    print(text, end="")
    if args.save:
        with open(HERE / "web_load.txt", "a") as out:
            out.write(text)
        with open(HERE / "web_load.jsonl", "a") as out:
            out.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
