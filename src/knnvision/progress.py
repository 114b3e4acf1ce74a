"""One small progress helper for all long work in knnvision.

Library code announces work with :func:`track`; it is silent unless a caller has installed
a reporter with :func:`reporting` (the CLI installs a rich progress bar). A context variable
carries the reporter, so no function needs a ``progress=`` argument threaded through it.

>>> with track(total=3, description="searching") as task:
...     for _ in range(3):
...         task.advance()
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Protocol


class Task(Protocol):
    def advance(self, amount: float = 1) -> None: ...


class Reporter(Protocol):
    def start(self, description: str, total: float | None) -> Task: ...

    def stop(self, task: Task) -> None: ...


class _SilentTask:
    def advance(self, amount: float = 1) -> None:
        pass


class _SilentReporter:
    def start(self, description: str, total: float | None) -> Task:
        return _SilentTask()

    def stop(self, task: Task) -> None:
        pass


# One reporter for every context that installed none: it holds no state, so sharing it is safe.
_SILENT = _SilentReporter()
_reporter: contextvars.ContextVar[Reporter] = contextvars.ContextVar(
    "knnvision_progress_reporter", default=_SILENT
)


@contextlib.contextmanager
def track(total: float | None, description: str) -> Iterator[Task]:
    """Announce a unit of long work; yields a task whose ``advance(n)`` reports progress.

    ``total`` is in whatever unit the caller advances by (rows, bytes, folds); ``None`` means
    unknown. Nested calls are fine: each shows as its own bar.
    """
    reporter = _reporter.get()
    task = reporter.start(description, total)
    try:
        yield task
    finally:
        reporter.stop(task)


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Install ``reporter`` for everything :func:`track` announces inside this block."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Silence :func:`track` inside this block: for many small steps of work whose caller
    reports the whole (one bar instead of one per step)."""
    with reporting(_SILENT):
        yield
