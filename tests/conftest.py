"""Fixtures that several test modules share: the command line run in-process, and a progress
reporter that records what it is told."""

import sys

import pytest


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """``cli(*args)`` runs ``knnvision ARGS`` through its real entry point, in this process,
    and returns ``(exit status, stdout, stderr)`` of that one call.

    The working folder is ``tmp_path``, so that commands writing to their default place
    (``./results``) stay inside the test's own folder.
    """
    # Imported here: test modules that never run the CLI need not import it.
    from knnvision.cli import main  # noqa: PLC0415

    monkeypatch.chdir(tmp_path)

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["knnvision", *map(str, args)])
        status = 0
        try:
            main()
        except SystemExit as exit_:
            status = exit_.code or 0
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


class RecordingReporter:
    """A progress reporter (see :mod:`knnvision.progress`) that keeps every bar started, as
    ``(description, total)``, and every amount advanced."""

    def __init__(self):
        self.started, self.amounts = [], []

    def start(self, description, total):
        self.started.append((description, total))
        return self  # its own task: advancing any bar is recorded here

    def advance(self, amount=1):
        self.amounts.append(amount)

    def stop(self, task):
        pass

    @property
    def advanced(self):
        """The sum of all amounts advanced."""
        return sum(self.amounts)


@pytest.fixture
def progress_recorder():
    """A fresh :class:`RecordingReporter`; install it with ``progress.reporting(...)``."""
    return RecordingReporter()
