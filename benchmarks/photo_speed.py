"""What finding and straightening the film of a 12-megapixel phone photo costs (`edge-scan scan --photo`).

A 4000x3000 simulated photo (lab.photo_simulator) of the largest timing image is decoded as the scan decodes
a photo (JPEG draft to no less than PHOTO_DECODE_SIZE a side), then the film is found and straightened on one
thread; the decode is timed apart, since every image pays it. The same is timed on the full 12 megapixels
(a PNG photo, which cannot be decoded at reduced size).
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from edge_app.intake.film_photo import PHOTO_DECODE_SIZE, straighten_film
from edge_app.intake.preprocess import decode_image
from lab.photo_simulator import photograph, random_style

TARGET_MS = 150.0
PHOTO_SIZE = (4000, 3000)


def _median_ms(step: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Median and p95 wall-clock ms, and median CPU ms of this thread (what the step costs when other work
    shares the cores, as it does on a busy development machine)."""
    step()  # warm-up: OpenCV's first calls allocate
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        step()
        times.append((time.perf_counter() - started) * 1000.0)
        cpu.append((time.thread_time() - started_cpu) * 1000.0)
    return statistics.median(times), float(np.percentile(times, 95)), statistics.median(cpu)


def photo_cost(source: Path, runs: int = 10, seed: int = 0, log: Callable[[str], None] = print) -> dict:
    """Median and p95 ms of decoding and of straightening a 12 MP photo of `source`'s film, on one thread."""
    cv2.setNumThreads(1)
    rng = np.random.default_rng(seed)
    style = random_style(rng, scene="lightbox")
    style = type(style)(**(vars(style) | {"glare": False, "blur_sigma": 0.0}))
    data = photograph(cv2.imread(str(source), cv2.IMREAD_GRAYSCALE), style, rng, size=PHOTO_SIZE)
    log(f"photo of a film: {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG of {source.name}, {runs} runs")
    decoded = decode_image(data, PHOTO_DECODE_SIZE)
    full = Image.fromarray(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    decode_ms = _median_ms(lambda: decode_image(data, PHOTO_DECODE_SIZE), runs)
    straighten_ms = _median_ms(lambda: straighten_film(decoded.copy()), runs)
    full_ms = _median_ms(lambda: straighten_film(full.copy()), runs)
    return {
        "photo_px": list(PHOTO_SIZE),
        "decoded_px": list(decoded.size),
        "runs": runs,
        "decode_median_ms": round(decode_ms[0], 1),
        "straighten_median_ms": round(straighten_ms[0], 1),
        "straighten_p95_ms": round(straighten_ms[1], 1),
        "straighten_cpu_median_ms": round(straighten_ms[2], 1),
        "straighten_full_12mp_median_ms": round(full_ms[0], 1),
        "target_ms": TARGET_MS,
        "met": straighten_ms[0] <= TARGET_MS,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def markdown_lines(cost: dict) -> list[str]:
    width, height = cost["photo_px"]
    return [
        f"A {width}x{height} simulated phone photo of a film on a lightbox, one thread, {cost['runs']} runs. "
        f"Decoded as `edge-scan scan --photo` decodes it ({cost['decoded_px'][0]}x{cost['decoded_px'][1]}): "
        f"{cost['decode_median_ms']:g} ms. Finding and straightening the film: median "
        f"{cost['straighten_median_ms']:g} ms, p95 {cost['straighten_p95_ms']:g} ms, CPU time "
        f"{cost['straighten_cpu_median_ms']:g} ms "
        f"(target ≤ {cost['target_ms']:g} ms for the median: {'met' if cost['met'] else '**not met**'}); "
        f"on the full 12 megapixels (a PNG photo): median {cost['straighten_full_12mp_median_ms']:g} ms. "
        f"Load average while timing: {cost['load_average_1min']:g}.",
    ]
