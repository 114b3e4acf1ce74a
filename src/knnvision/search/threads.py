"""How many threads a search uses, and the one switch that sets them for every library."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import numbers
import os

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


# The compiled kernels' thread count, per thread and task of the caller (a web server's request
# threads and Dask's worker threads each set their own); None means every core.
_KERNEL_THREADS: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "knnvision_kernel_threads", default=None
)


def get_num_threads() -> int:
    """Threads the compiled kernels split their work over, as :func:`thread_limit` set it."""
    threads = _KERNEL_THREADS.get()
    return threads if threads is not None else (os.cpu_count() or 1)


@functools.cache
def _threadpools() -> ThreadpoolController:
    # Inspecting the loaded BLAS/OpenMP libraries costs milliseconds; a single-query predict
    # would pay it on every call, so the controller is made once, at the first search.
    return ThreadpoolController()


@contextlib.contextmanager
def thread_limit(n_jobs: int | None):
    """Run the block with ``n_jobs`` threads for BLAS, OpenMP and the compiled kernels alike.

    The kernels split their work over :func:`get_num_threads` workers, set here for the
    calling thread (and task); both limits are restored on exit.
    """
    threads = effective_n_jobs(n_jobs)
    token = _KERNEL_THREADS.set(threads)
    try:
        with _threadpools().limit(limits=threads):
            yield threads
    finally:
        _KERNEL_THREADS.reset(token)
