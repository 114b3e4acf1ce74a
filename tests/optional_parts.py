"""Tests that need an optional part (torch, faiss, dask, the web extra, Chromium, the MNIST
files) call :func:`require` or one of its shorthands.

On a user's machine a missing part skips the test, with a reason naming what to install. In
CI (``CI=true``, where ``.ci/run`` installs every part) it fails instead, so that no test can
silently vanish from CI because an install step broke.
"""

import importlib
import os
import shutil
from pathlib import Path

import pytest

#: The project's shared data sits beside the repository, on developers' machines and in CI.
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

#: Install commands, by optional part.
TORCH = 'pip install "knnvision[torch]"'
FAISS = 'pip install "knnvision[bench]"'
DASK = 'pip install "knnvision[dask]"'
WEB = 'pip install "knnvision[web]"'
PLAYWRIGHT = 'pip install -e ".[test]"'  # Playwright then drives Debian's chromium
CHROMIUM = "apt-get install chromium"

_IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def in_ci() -> bool:
    """Whether this run is CI's, where every optional part must be present."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def require(available: bool, what: str, install: str) -> None:
    """Skip the calling test (or, at module level, the module) unless ``available``; the
    reason names ``what`` is missing and ``install``, the command (or step) that brings it.
    Fails instead under CI."""
    if available:
        return
    reason = f"missing {what}; to get it: {install}"
    if in_ci():
        pytest.fail(f"CI=true, so this is a failure, not a skip: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str, install: str):
    """The imported module ``name``; skips (fails under CI) when it cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        require(False, f"the Python module {name!r} ({error})", install)


def require_chromium() -> Path:
    """Debian's Chromium binary, which the browser and report tests drive."""
    found = shutil.which("chromium")
    path = Path(found) if found else Path("/usr/bin/chromium")
    require(path.is_file(), f"Chromium ({path})", CHROMIUM)
    return path


def dataset_folder(name: str) -> Path | None:
    """The folder holding the four IDX files of ``name`` ("mnist" or "fashion-mnist"):
    under ``$KNNVISION_DATA`` first, then the shared datasets; None when neither has them."""
    roots = [Path(os.environ["KNNVISION_DATA"])] if os.environ.get("KNNVISION_DATA") else []
    for folder in (root / name for root in [*roots, SHARED_DATASETS]):
        if all(
            (folder / f"{stem}.gz").is_file() or (folder / stem).is_file() for stem in _IDX_STEMS
        ):
            return folder
    return None


def require_dataset(name: str) -> Path:
    """:func:`dataset_folder`, skipping (failing under CI) when the files are not there."""
    folder = dataset_folder(name)
    require(
        folder is not None,
        f"the {name} IDX files",
        f"copy the four files into {SHARED_DATASETS / name} or set KNNVISION_DATA "
        f"to a folder with a {name}/ sub-folder",
    )
    return folder
