"""GaussianBlur and CenterOfMass against the hand-written NumPy code they used before.

Times ``transform`` on MNIST-size uint8 images (the first 10,000 MNIST training images when
``--data-root`` holds ``mnist/``, otherwise random digit-like strokes), the package's
transformer against the same transformer running the previous algorithm, under the same
thread limit, and checks that the outputs are identical. The blur widths are those the
presets use: 0.5 (the MNIST preset) and 1.0 (the gradient-histogram search of the
Fashion-MNIST preset). Prints a Markdown table (``--out FILE`` also writes it); the
measured one is in ``preprocessing.md`` beside this script::

    python benchmarks/preprocessing.py --data-root ../shared/datasets --threads 1 2
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from functools import partial
from pathlib import Path

import numpy as np
import scipy.ndimage
from threadpoolctl import threadpool_limits

from knnvision.datasets import load_dataset
from knnvision.transforms.preprocessing import (
    CenterOfMass,
    GaussianBlur,
    _shift_each_image,
    image_moments,
    sample_bilinear,
)

N_IMAGES = 10_000
SIGMAS = (0.5, 1.0)
MAX_MOVE = 4  # pixels: how far the "moved" images are pushed off centre


# --- the previous implementations (what the package ran before scipy) ---------------------


def _previous_convolve_axis(images, kernel, axis):
    """The old hand-written correlation: one shifted, weighted copy per kernel tap."""
    radius = len(kernel) // 2
    pad = [(0, 0)] * images.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(images, pad)
    result = np.zeros_like(images)
    for offset, weight in enumerate(kernel):
        taps = np.arange(offset, offset + images.shape[axis])
        result += weight * np.take(padded, taps, axis=axis)
    return result


class PreviousGaussianBlur(GaussianBlur):
    def _transform_images(self, images):
        kernel = self.kernel()
        rows_done = _previous_convolve_axis(images, kernel, axis=1)
        return _previous_convolve_axis(rows_done, kernel, axis=2)


class PreviousCenterOfMass(CenterOfMass):
    def _transform_images(self, images):
        _, height, width = images.shape
        moments = image_moments(images)
        dy = np.rint((height - 1) / 2 - moments["cy"])
        dx = np.rint((width - 1) / 2 - moments["cx"])
        rows = np.arange(height)[None, :, None] - dy[:, None, None]
        cols = np.arange(width)[None, None, :] - dx[:, None, None]
        return sample_bilinear(images, rows, cols)


class ScipyGaussianFilter(GaussianBlur):
    """scipy's own gaussian_filter, for reference: its kernel weights are computed differently."""

    def _transform_images(self, images):
        return scipy.ndimage.gaussian_filter(
            images, sigma=(0, self.sigma, self.sigma), truncate=self.truncate, mode="constant"
        )


# --- data ----------------------------------------------------------------------------------


def digit_like_images(n: int, seed: int = 0) -> np.ndarray:
    """Random thick strokes on a 28 x 28 black frame, uint8, for machines without MNIST."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28))
    t = np.linspace(0, 1, 40)
    for image in images:
        start, end = rng.uniform(6, 22, 2), rng.uniform(6, 22, 2)
        bend = rng.uniform(4, 24, 2)
        curve = ((1 - t) ** 2)[:, None] * start + (2 * t * (1 - t))[:, None] * bend
        curve += (t**2)[:, None] * end
        rows, cols = np.clip(np.rint(curve).astype(int), 0, 27).T
        image[rows, cols] = 255
    return np.clip(scipy.ndimage.uniform_filter(images, (1, 3, 3)) * 3, 0, 255).astype(np.uint8)


def load_images(data_root: str | None) -> tuple[np.ndarray, str]:
    if data_root and (Path(data_root) / "mnist").is_dir():
        data = load_dataset("mnist", str(Path(data_root) / "mnist"))
        return data.flat("train")[:N_IMAGES].reshape(-1, 28, 28), "MNIST training images"
    return digit_like_images(N_IMAGES), "random digit-like strokes"


def moved_off_centre(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each image rolled by up to MAX_MOVE pixels each way, as bounding-box centring leaves them."""
    rng = np.random.default_rng(seed)
    moves = rng.integers(-MAX_MOVE, MAX_MOVE + 1, size=(len(images), 2))
    return np.stack(
        [
            np.roll(image, tuple(move), axis=(0, 1))
            for image, move in zip(images, moves, strict=True)
        ]
    )


# --- measurement ---------------------------------------------------------------------------


def best_seconds(transformer, images, repeat: int) -> tuple[float, np.ndarray]:
    transformer.fit(images[:1])
    output = transformer.transform(images)  # untimed: first-touch page faults, lazy imports
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        output = transformer.transform(images)
        timings.append(time.perf_counter() - started)
    return min(timings), output


def compare(label, previous, current, images, threads, repeat, reference=None) -> list[str]:
    with threadpool_limits(threads):
        old_seconds, old_output = best_seconds(previous, images, repeat)
        new_seconds, new_output = best_seconds(current, images, repeat)
    identical = "yes" if np.array_equal(old_output, new_output) else "NO"
    row = (
        f"| {label} | {threads} | {1e3 * old_seconds:.0f} ms | {1e3 * new_seconds:.0f} ms | "
        f"{old_seconds / new_seconds:.1f}x | {identical} |"
    )
    rows = [row]
    if reference is not None:
        with threadpool_limits(threads):
            ref_seconds, ref_output = best_seconds(reference, images, repeat)
        same = (
            "yes"
            if np.array_equal(old_output, ref_output)
            else (f"no: {int(np.sum(old_output != ref_output))} pixels differ")
        )
        rows.append(
            f"| {label}, scipy `gaussian_filter` (not used) | {threads} | "
            f"{1e3 * old_seconds:.0f} ms | {1e3 * ref_seconds:.0f} ms | "
            f"{old_seconds / ref_seconds:.1f}x | {same} |"
        )
    for line in rows:
        print(line, flush=True)
    return rows


def kernel_seconds(run, repeat: int) -> float:
    run()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return min(timings)


def kernels_alone(images: np.ndarray, repeat: int) -> list[str]:
    """The loops themselves on one float64 chunk, without validation and the uint8 casts."""
    chunk = images[:4096].astype(np.float64)
    lines = [
        "| kernel alone, 4,096 float64 images | previous | now | speed-up |",
        "|---|---|---|---|",
    ]
    for sigma in (*SIGMAS, 2.0):
        previous, current = PreviousGaussianBlur(sigma), GaussianBlur(sigma)
        old = kernel_seconds(partial(previous._transform_images, chunk), repeat)
        new = kernel_seconds(partial(current._transform_images, chunk), repeat)
        lines.append(
            f"| blur sigma={sigma} ({len(current.kernel())} taps) | {1e3 * old:.1f} ms | "
            f"{1e3 * new:.1f} ms | {old / new:.1f}x |"
        )
    moments = image_moments(chunk)
    dy = np.rint(13.5 - moments["cy"]).astype(np.int64)
    dx = np.rint(13.5 - moments["cx"]).astype(np.int64)
    rows = (np.arange(28)[None, :, None] - dy[:, None, None]).astype(np.float64)
    cols = (np.arange(28)[None, None, :] - dx[:, None, None]).astype(np.float64)
    old = kernel_seconds(lambda: sample_bilinear(chunk, rows, cols), repeat)
    new = kernel_seconds(lambda: _shift_each_image(chunk, dy, dx), repeat)
    lines.append(
        f"| centring shift (bilinear / slice copies) | {1e3 * old:.1f} ms | "
        f"{1e3 * new:.1f} ms | {old / new:.1f}x |"
    )

    # scipy.ndimage.shift takes one offset per call, so per-image offsets cost a Python loop.
    def scipy_shift():
        return np.stack(
            [
                scipy.ndimage.shift(image, (down, right), order=0, mode="constant")
                for image, down, right in zip(chunk, dy, dx, strict=True)
            ]
        )

    by_scipy = kernel_seconds(scipy_shift, repeat)
    same = np.array_equal(scipy_shift(), _shift_each_image(chunk, dy, dx))
    lines.append(
        f"| centring shift (scipy.ndimage.shift order=0 per image / slice copies; "
        f"{'identical' if same else 'DIFFERENT'}) | {1e3 * by_scipy:.1f} ms | "
        f"{1e3 * new:.1f} ms | {by_scipy / new:.1f}x |"
    )
    lines.append(
        f"| image moments (shared by both, unchanged) | "
        f"{1e3 * kernel_seconds(lambda: image_moments(chunk), repeat):.1f} ms | | |"
    )
    return lines


def float_agreement(images: np.ndarray) -> list[str]:
    """How far the blur of float input moved, and which of the two is nearer the exact
    result (the old loop in 80-bit long double, 11 bits finer than float64, on x86)."""
    lines = []
    pixels = images[:1000] / 255.0
    extended = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant
    for sigma in SIGMAS:
        old = PreviousGaussianBlur(sigma).fit_transform(pixels)
        new = GaussianBlur(sigma).fit_transform(pixels)
        ulp = np.spacing(np.maximum(np.abs(old), np.abs(new)))
        pixels32 = pixels.astype(np.float32)
        same32 = np.array_equal(
            PreviousGaussianBlur(sigma).fit_transform(pixels32),
            GaussianBlur(sigma).fit_transform(pixels32),
        )
        line = (
            f"- sigma {sigma}: {np.mean(old != new):.0%} of the float64 pixels differ, by "
            f"at most {(np.abs(old - new) / ulp).max():.0f} units in the last place; float32 "
            f"input: {'identical' if same32 else 'differs'}"
        )
        if extended:
            kernel = np.asarray(GaussianBlur(sigma).kernel(), dtype=np.longdouble)
            exact = _previous_convolve_axis(pixels.astype(np.longdouble), kernel, axis=1)
            exact = _previous_convolve_axis(exact, kernel, axis=2).reshape(len(pixels), -1)
            errors = [np.abs((result - exact) / ulp)[ulp > 0] for result in (old, new)]
            line += (
                f"; error against long double, mean / max units in the last place: "
                f"previous {errors[0].mean():.3f} / {errors[0].max():.2f}, "
                f"now {errors[1].mean():.3f} / {errors[1].max():.2f}"
            )
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", help="Folder holding mnist/ (else synthetic images).")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="Thread limits.")
    parser.add_argument("--repeat", type=int, default=3, help="Best of this many runs.")
    parser.add_argument("--out", help="Also write the table to this Markdown file.")
    args = parser.parse_args()
    images, source = load_images(args.data_root)
    moved = moved_off_centre(images)
    load = os.getloadavg()
    data_option = f" --data-root {args.data_root}" if args.data_root else ""
    thread_list = " ".join(map(str, args.threads))
    lines = [
        "| transform of 10,000 x 28 x 28 uint8 | threads | previous | now | speed-up | "
        "identical output |",
        "|---|---|---|---|---|---|",
    ]
    for threads in args.threads:
        for sigma in SIGMAS:
            lines += compare(
                f"GaussianBlur sigma={sigma}",
                PreviousGaussianBlur(sigma),
                GaussianBlur(sigma),
                images,
                threads,
                args.repeat,
                reference=ScipyGaussianFilter(sigma),
            )
        lines += compare(
            "CenterOfMass, images as given",
            PreviousCenterOfMass(),
            CenterOfMass(),
            images,
            threads,
            args.repeat,
        )
        lines += compare(
            f"CenterOfMass, images moved up to {MAX_MOVE} px",
            PreviousCenterOfMass(),
            CenterOfMass(),
            moved,
            threads,
            args.repeat,
        )
    header = [
        "# GaussianBlur and CenterOfMass: previous NumPy code against the current one",
        "",
        f"`python benchmarks/preprocessing.py{data_option} --threads {thread_list}`: "
        f"{source}, best of {args.repeat}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), load average "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the start.",
        "",
    ]
    notes = [
        "",
        *kernels_alone(images, args.repeat),
        "",
        "Float input (1,000 images / 255):",
        *float_agreement(images),
    ]
    for line in notes:
        print(line)
    if args.out:
        Path(args.out).write_text("\n".join(header + lines + notes) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
