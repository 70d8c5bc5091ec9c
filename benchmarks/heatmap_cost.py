"""What an occlusion heatmap costs per image on one thread, at the shipped grid and at a finer one.

Timed as `edge-scan scan --heatmap-dir` spends it on top of the scan: the
occluded copies scored by the model, then the PNG overlay drawn and encoded.
The image is already decoded and preprocessed (that is the scan's own cost).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_app.inference.heatmap import OcclusionMapper, default_grid, overlay, png_bytes
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.intake.preprocess import decode_image, to_model_input

TARGET_MS = 100.0


def _time_grid(mapper: OcclusionMapper, decoded: list, warmup: int) -> dict:
    total, scoring = [], []
    for i, (image, x, probability) in enumerate(decoded):
        started = time.perf_counter()
        drop = mapper.logit_drop(x, probability)
        scored = time.perf_counter()
        png_bytes(overlay(image, drop))
        if i >= warmup:
            total.append((time.perf_counter() - started) * 1000.0)
            scoring.append((scored - started) * 1000.0)
    return {
        "patch_px": mapper.patch,
        "stride_px": mapper.stride,
        "occluded_copies": len(mapper.origins),
        "batched": mapper.scorer.batched,
        "median_ms": statistics.median(total),
        "p95_ms": float(np.percentile(total, 95)),
        "model_median_ms": statistics.median(scoring),
        "images": len(total),
    }


def heatmap_cost(model_path: Path, images: list[Path], warmup: int = 2, log: Callable[[str], None] = print) -> dict:
    """Median and p95 ms per image for the shipped grid and the finer one, one thread."""
    classifier = TFLiteClassifier(model_path, num_threads=1)  # any variant, verified or not: this only times it
    decoded = []
    for path in images[: warmup + 30]:
        image = decode_image(path, classifier.input_size)
        x = to_model_input(image, classifier.input_size)
        decoded.append((image, x, classifier.predict(x)))
    patch, stride = default_grid(classifier.input_size)
    grids = []
    for step in (stride, max(1, stride // 2)):  # the shipped grid, and for comparison the same square at half the step
        log(f"heatmap cost: {patch} px squares every {step} px")
        grids.append(_time_grid(OcclusionMapper(classifier, step), decoded, warmup))
    shipped = grids[0]
    return {
        "target_ms": TARGET_MS,
        "met": shipped["median_ms"] <= TARGET_MS,
        "threads": 1,
        "grids": grids,
    }
