"""How many threads a search uses, and the one switch that sets them for every library."""

from __future__ import annotations

import contextlib
import functools
import numbers
import os

import numba
from threadpoolctl import ThreadpoolController


def effective_n_jobs(n_jobs: int | None) -> int:
    """Threads to use: ``None`` or -1 means every core, -2 all but one, and so on."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise ValueError(f"n_jobs must be a whole number of threads or None, got {n_jobs!r}.")
    n_jobs = int(n_jobs)  # NumPy integers too: thread pools want a plain int
    if n_jobs == 0:
        raise ValueError("n_jobs=0 is not a number of threads; use None or -1 for all cores.")
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs


@functools.cache
def _threadpools() -> ThreadpoolController:
    # Inspecting the loaded BLAS/OpenMP libraries costs milliseconds; a single-query predict
    # would pay it on every call, so the controller is made once, at the first search.
    return ThreadpoolController()


@contextlib.contextmanager
def thread_limit(n_jobs: int | None):
    """Run the block with ``n_jobs`` threads for BLAS, OpenMP and numba alike.

    The search engines split work over ``numba.get_num_threads()`` workers, so setting the
    numba count here also sizes their thread pools. Both limits are restored on exit.
    """
    threads = effective_n_jobs(n_jobs)
    previous = numba.get_num_threads()
    # numba sets its config names through globals() at import, so its types cannot see them.
    most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    numba.set_num_threads(max(1, min(threads, most)))
    try:
        with _threadpools().limit(limits=threads):
            yield threads
    finally:
        numba.set_num_threads(previous)
