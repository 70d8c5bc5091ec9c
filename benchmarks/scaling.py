"""How end-to-end time and peak memory grow with image resolution and batch size.

Each point runs in a fresh process (benchmarks.probe) because peak resident
memory only ever rises within a process. Resolution points re-encode one
radiograph as a JPEG of each width; batch points decode and preprocess B
images, then run them through the model in one invoke.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.probe import measure
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.intake.preprocess import decode_image, to_model_input

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


def _invoke_batch(classifier: TFLiteClassifier, inputs: Sequence[np.ndarray]) -> None:
    """One invoke on a batch, each input quantized with the model's own parameters."""
    interpreter = classifier.interpreter
    detail = interpreter.get_input_details()[0]
    shape = [len(inputs), *classifier.input_shape[1:]]
    if list(detail["shape"]) != shape:
        interpreter.resize_tensor_input(detail["index"], shape)
        interpreter.allocate_tensors()
    # input_tensor is the runtime's own quantization, reused rather than copied
    interpreter.set_tensor(detail["index"], np.concatenate([classifier.input_tensor(x) for x in inputs]))
    interpreter.invoke()


def batched_end_to_end_times(
    classifier: TFLiteClassifier, paths: Sequence[Path], batch: int, warmup_batches: int
) -> list[dict]:
    """Per-image stage seconds of each full batch (read, decode, preprocess all B images, then one invoke)."""
    chunks = [paths[i : i + batch] for i in range(0, len(paths) - batch + 1, batch)]
    size = classifier.input_size
    timings = []
    for index, chunk in enumerate(chunks):
        t0 = time.perf_counter()
        data = [Path(p).read_bytes() for p in chunk]
        t1 = time.perf_counter()
        images = [decode_image(d, size) for d in data]
        t2 = time.perf_counter()
        inputs = [to_model_input(image, size) for image in images]
        t3 = time.perf_counter()
        _invoke_batch(classifier, inputs)
        t4 = time.perf_counter()
        if index >= warmup_batches:
            stages = {"read": t1 - t0, "decode": t2 - t1, "preprocess": t3 - t2, "inference": t4 - t3}
            timings.append({name: seconds / batch for name, seconds in stages.items()} | {"total": (t4 - t0) / batch})
    return timings


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
