"""Finding the Dask cluster to run on: the default client, a scheduler address, or a new
``LocalCluster`` on this machine.

Estimators name their cluster with a plain value (an address string, ``"local"`` or
``None``), never a ``Client`` object: scikit-learn's ``clone`` deep-copies parameters and
model files store them as JSON, and a live client survives neither.
"""

from __future__ import annotations

import atexit
import contextlib

import distributed

from ..threads import thread_limit

LOCAL = "local"
# Seconds to wait for a scheduler (and for its first worker) before giving up with a clear
# error; Dask's own default of 30 s feels like a hang at the command line.
DEFAULT_CONNECT_TIMEOUT_S = 10.0

# One client per address (and one local cluster) per process, reused by every fit.
_clients: dict[str, distributed.Client] = {}


def get_client(scheduler: str | None = None, *, timeout: float | None = None) -> distributed.Client:
    """The Dask client to run on.

    Parameters
    ----------
    scheduler : str or None, default=None
        A scheduler address (``"tcp://10.0.0.5:8786"``, ``"10.0.0.5:8786"``) to connect to;
        ``"local"`` to start a ``LocalCluster`` of worker processes on this machine; or
        ``None`` for the current default client (the last ``distributed.Client`` created in
        this process), else a local cluster. Connections and the local cluster are made once
        per process and reused.
    timeout : float, optional
        Seconds to wait for the scheduler to answer and to have a worker; default
        ``DEFAULT_CONNECT_TIMEOUT_S`` (10).

    Raises
    ------
    ValueError
        If ``scheduler`` is not a string, or the scheduler cannot be reached in time.
    """
    if scheduler is None:
        try:
            return distributed.default_client()
        except ValueError:  # no client in this process yet
            scheduler = LOCAL
    if isinstance(scheduler, distributed.Client):
        raise ValueError(
            "Pass the scheduler's address (client.scheduler.address) or leave scheduler=None "
            "to use the current client: a Client object cannot be cloned or saved."
        )
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(
            f"scheduler must be a Dask scheduler address such as 'tcp://HOST:8786', 'local' "
            f"or None, got {scheduler!r}."
        )
    scheduler = scheduler.strip()
    client = _clients.get(scheduler)
    if client is None or client.status != "running":
        if timeout is None:
            timeout = DEFAULT_CONNECT_TIMEOUT_S
        client = _start_local() if scheduler == LOCAL else _connect(scheduler, timeout)
        _clients[scheduler] = client
    return client


def _start_local() -> distributed.Client:
    # Processes, not threads: each worker then has its own interpreter, as on a real cluster.
    cluster = distributed.LocalCluster(processes=True, dashboard_address=None)
    client = distributed.Client(cluster, set_as_default=False)
    atexit.register(_shut_down, client, cluster)
    return client


def _shut_down(client: distributed.Client, cluster: distributed.LocalCluster) -> None:
    # The client first: its shards are let go before the workers stop, so Dask does not warn
    # at exit about losing them.
    client.close()
    cluster.close()


def _connect(address: str, timeout: float) -> distributed.Client:
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        raise ValueError(
            f"Cannot reach a Dask scheduler at {address!r} within {timeout:g} s ({error}). "
            "Check the address (tcp://HOST:8786), that the scheduler is running, and that "
            "this machine can reach that port."
        ) from None
    wait_for_workers(client, timeout)
    return client


def wait_for_workers(client: distributed.Client, timeout: float) -> None:
    """Wait until the cluster has a worker, or raise a ValueError saying it has none."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ValueError(
            f"The Dask scheduler at {client.scheduler.address} has no workers after "
            f"{timeout:g} s; start some (dask worker {client.scheduler.address})."
        ) from None


def worker_threads(client: distributed.Client) -> list[str]:
    """Worker addresses, each listed once per thread, interleaved across workers.

    Shards are placed in this order, so every thread of every worker gets a shard and
    neighbouring shards land on different workers.
    """
    slots = [
        (thread, address)
        for address, threads in sorted(client.nthreads().items())
        for thread in range(threads)
    ]
    return [address for _, address in sorted(slots)]


@contextlib.contextmanager
def one_thread_per_task():
    """Run the block on one thread: BLAS, OpenMP and the compiled kernels alike.

    A worker runs one task per thread (and holds one shard per thread), so a task that used
    every core would oversubscribe the machine. ``thread_limit`` sets the kernels' count per
    calling thread, so each task keeps its own.
    """
    with thread_limit(1):
        yield
