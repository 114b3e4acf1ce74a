"""Building and calling the benchmark-only C kernels (``mnist_idm_variants.c``,
``mnist_p2dhmdm.c``) with gcc and ctypes, and the Euclidean candidates their screens re-rank.

These kernels measure ideas for issue 17 before anything enters the package; they are built
into a scratch folder on first use and rebuilt when a source or ``idm_context.h`` changes.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knnvision.neighbors.rerank import RerankKNNClassifier
from knnvision.search import thread_limit
from mnist_screen import split_rows

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


@dataclass
class SeedPart:
    """One seed's split of the deskewed, blurred training images and its cache folder."""

    folder: Path
    meta: dict
    fit: np.ndarray
    val: np.ndarray
    y_fit: np.ndarray
    y_val: np.ndarray
    X_fit: np.ndarray  # float64, as the kernels take them
    X_val: np.ndarray

    def save_meta(self) -> None:
        (self.folder / "meta.json").write_text(json.dumps(self.meta, indent=1))


def prepare_seed(seed: int, deskewed, y, cache: Path, check_kernel) -> SeedPart:
    """The split ``Preset.tune`` makes for ``seed``, the cache folder with its ``meta.json``,
    and ``meta["check"]``: ``check_kernel(X_fit, X_val, rng)`` run once per seed."""
    fit, val, y_fit, y_val = split_rows(y, seed)
    folder = cache / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"seconds": {}}
    part = SeedPart(
        folder, meta, fit, val, y_fit, y_val,
        deskewed[fit].astype(np.float64), deskewed[val].astype(np.float64),
    )  # fmt: skip
    if "check" not in meta:
        meta["check"] = check_kernel(part.X_fit, part.X_val, np.random.default_rng(seed))
        print(f"seed {seed}: kernel matches the package's IDM to {meta['check']:.2g}", flush=True)
    part.save_meta()
    return part
