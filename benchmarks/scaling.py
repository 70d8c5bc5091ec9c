"""How end-to-end time and peak memory grow with image resolution and batch size.

Each point runs in a fresh process (benchmarks.probe) because peak resident
memory only ever rises within a process. Resolution points re-encode one
radiograph as a JPEG of each width; batch points decode and preprocess B
images, then run them through the model in one invoke.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from benchmarks.probe import measure

DEFAULT_WIDTHS = (512, 1024, 2048, 4096)
DEFAULT_BATCH_SIZES = (1, 4, 16, 64)
JPEG_QUALITY = 90


def make_resolution_images(source: Path, widths: Sequence[int], folder: Path) -> list[Path]:
    """`source` re-encoded as a grayscale JPEG of each width (aspect ratio kept)."""
    with Image.open(source) as image:
        gray = image.convert("L")
    paths = []
    for width in widths:
        height = max(1, round(width * gray.height / gray.width))
        path = folder / f"{width}px.jpeg"
        gray.resize((width, height), Image.Resampling.BILINEAR).save(path, "JPEG", quality=JPEG_QUALITY)
        paths.append(path)
    return paths


def resolution_scaling(
    model: Path, source: Path, folder: Path, widths: Sequence[int] = DEFAULT_WIDTHS, repeats: int = 15, log=print
) -> list[dict]:
    points = []
    for path in make_resolution_images(source, widths, folder):
        log(f"  scaling: {path.name}")
        with Image.open(path) as image:
            width, height = image.size
        result = measure("tflite", model, [path] * repeats)
        points.append({"width": width, "height": height, "file_bytes": path.stat().st_size, **result})
    return points


def batch_scaling(
    model: Path, paths: Sequence[Path], batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES, log: Callable = print
) -> list[dict]:
    points = []
    for batch in batch_sizes:
        log(f"  scaling: batch {batch}")
        n = batch * max(3, -(-64 // batch))  # whole batches, one of them warm-up, at least 64 images
        images = [paths[i % len(paths)] for i in range(n)]
        points.append({"batch": batch, **measure("tflite", model, images, batch=batch, warmup=1)})
    return points
