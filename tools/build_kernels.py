"""Build compiled kernel families in place, for development (``pip install`` builds them all).

    python tools/build_kernels.py lp topk      # build _lp and _topk into src/.../kernels/

It also writes the family's type stub (``_<family>.pyi``, committed). Each family gets its own
build folder (build/kernels-<family>), so several people can build
different families at once. The built module is copied beside its Python family module
and, where scikit-build-core's editable install keeps its own copy of the compiled modules
(in site-packages), over that copy too, so the next import loads the new build.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "src" / "knnvision" / "search" / "kernels"


def build(family: str) -> Path:
    build_dir = ROOT / "build" / f"kernels-{family}"
    subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(build_dir),
            "-G",
            "Ninja",
            f"-DKNNV_FAMILIES={family}",
            f"-DPython_EXECUTABLE={sys.executable}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(["cmake", "--build", str(build_dir)], check=True)
    built = next(build_dir.glob(f"_{family}.*.so"), None) or next(build_dir.glob(f"_{family}*.pyd"))
    target = KERNELS / built.name
    for place in {target, _installed_copy(family, built.name)} - {None}:
        _replace(built, place)
    # The typed interface mypy checks the Python family modules against, committed beside them.
    module = f"knnvision.search.kernels._{family}"
    stub = KERNELS / f"_{family}.pyi"
    subprocess.run(
        [sys.executable, "-m", "nanobind.stubgen", "-q", "-m", module, "-o", str(stub)], check=True
    )
    return target


def _replace(built: Path, target: Path) -> None:
    # A new file renamed into place: processes that loaded the old module keep their copy
    # (overwriting it in place crashes them).
    staging = target.with_name(target.name + ".new")
    shutil.copy2(built, staging)
    os.replace(staging, target)


def _installed_copy(family: str, name: str) -> Path | None:
    """Where the import system loads ``_<family>`` from, when that is not the source tree."""
    try:
        spec = importlib.util.find_spec(f"knnvision.search.kernels._{family}")
    except ImportError:  # a new family the package already imports: nothing installed yet
        return None
    if spec is None or spec.origin is None:
        return None
    origin = Path(spec.origin)
    if origin.parent.resolve() == KERNELS.resolve():
        return None
    return origin.with_name(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="+")
    for family in parser.parse_args().families:
        print("built", build(family).relative_to(ROOT))


if __name__ == "__main__":
    main()
