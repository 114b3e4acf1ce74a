"""The compiled kernels: no JIT at run time, and the CPU path can be lowered for testing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SEARCH = (
    "import sys, numpy as np, knnvision\n"
    "from knnvision.search.kernels import _topk\n"
    "X = np.random.default_rng(0).random((200, 30))\n"
    "knnvision.KNNClassifier(3, metric='manhattan').fit(X, np.arange(200) % 2).predict(X[:9])\n"
    "knnvision.KNNClassifier(3).fit((X * 255).astype(np.uint8), np.arange(200) % 2)"
    ".predict((X[:9] * 255).astype(np.uint8))\n"
    "print(_topk.cpu_level(), 'numba' in sys.modules, 'llvmlite' in sys.modules)\n"
)


def run_search(env_cpu: str | None) -> list[str]:
    env = None if env_cpu is None else {**os.environ, "KNNVISION_CPU": env_cpu}
    result = subprocess.run(
        [sys.executable, "-c", SEARCH], capture_output=True, text=True, check=True, env=env
    )
    return result.stdout.split()


@pytest.fixture(scope="module")
def default_run() -> list[str]:
    """One search in a fresh process with no KNNVISION_CPU: (path, numba?, llvmlite?)."""
    return run_search(None)


def test_a_search_imports_no_jit_compiler(default_run):
    assert default_run[1:] == ["False", "False"]


@pytest.mark.parametrize("asked", ["baseline", "avx2", "no-such-path"])
def test_knnvision_cpu_lowers_the_path_and_never_raises_it(default_run, asked):
    order = ["baseline", "avx2", "avx512"]
    best = default_run[0]
    expected = order[min(order.index(asked), order.index(best))] if asked in order else best
    assert run_search(asked)[0] == expected
