"""Building and calling the benchmark-only C kernels (``mnist_idm_variants.c``,
``mnist_p2dhmdm.c``) with gcc and ctypes, and the Euclidean candidates their screens re-rank.

These kernels measure ideas for issue 17 before anything enters the package; they are built
into a scratch folder on first use and rebuilt when a source or ``idm_context.h`` changes.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np

from knnvision.neighbors.rerank import RerankKNNClassifier
from knnvision.search import thread_limit

HERE = Path(__file__).parent


def load_c_kernel(source_name: str, build: Path) -> ctypes.CDLL:
    """``benchmarks/<source_name>`` compiled (gcc -O3 -march=native) into ``build``, loaded."""
    build.mkdir(parents=True, exist_ok=True)
    source = HERE / source_name
    lib = build / f"lib{source.stem}.so"
    newest = max(path.stat().st_mtime for path in (source, HERE / "idm_context.h"))
    if not lib.exists() or lib.stat().st_mtime < newest:
        cmd = ["gcc", "-O3", "-march=native", "-shared", "-fPIC", "-o", str(lib), str(source)]
        subprocess.run([*cmd, "-lm"], check=True)
    return ctypes.CDLL(str(lib))


def c_pointer(array: np.ndarray) -> ctypes.c_void_p:
    """The data pointer of a C-contiguous array, for a ctypes call."""
    return array.ctypes.data_as(ctypes.c_void_p)


def euclidean_candidates(folder: Path, images, fit, val, y_fit, n_candidates: int) -> np.ndarray:
    """The ``n_candidates`` Euclidean nearest fit images of each validation image (one
    thread), cached as ``folder/cand.npy``."""
    path = folder / "cand.npy"
    if not path.exists():
        clf = RerankKNNClassifier(7, n_candidates=n_candidates, distortion="none", n_jobs=1)
        clf.fit(images[fit], y_fit)
        with thread_limit(1):
            np.save(path, clf.candidate_distances(images[val], 7)[0])
    return np.load(path)
