"""Per-image latency: inference alone, and end to end split into its stages.

End to end is what a clinic waits for: read the file, decode the JPEG,
preprocess, run the model. Timing each stage apart shows where the time goes;
on a small CNN it is usually the decode of a full-resolution JPEG, not the
model. Warm-up runs are made first and never counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from edge_app.inference.runtime import BatchScorer, TFLiteClassifier
from edge_app.intake.preprocess import decode_image, to_model_input
from edge_app.reasons import ImageRejected

STAGES = ("read", "decode", "preprocess", "inference")


class Predictor(Protocol):
    """What the benchmarks need of a model: TFLiteClassifier and KerasPredictor both fit."""

    input_size: int

    def predict(self, x: np.ndarray) -> float: ...


def summarize_ms(seconds: Sequence[float]) -> dict:
    """Median, 95th percentile and mean of durations, in milliseconds."""
    values = np.asarray(seconds, dtype=np.float64) * 1000.0
    if len(values) == 0:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "mean_ms": None}
    return {
        "n": int(len(values)),
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
    }


def time_inference(predictor: Predictor, inputs: np.ndarray, runs: int, warmup: int) -> dict:
    """Latency of `predict` alone on already-preprocessed inputs (cycled to `runs` calls)."""
    for i in range(warmup):
        predictor.predict(inputs[i % len(inputs)])
    durations = []
    for i in range(runs):
        started = time.perf_counter()
        predictor.predict(inputs[i % len(inputs)])
        durations.append(time.perf_counter() - started)
    return summarize_ms(durations)


def staged_prediction(path: Path, predictor: Predictor, clock: Callable[[], float] = time.perf_counter) -> dict:
    """Run one image end to end; returns the probability and each stage's seconds."""
    t0 = clock()
    data = Path(path).read_bytes()
    t1 = clock()
    image = decode_image(data, predictor.input_size)
    t2 = clock()
    x = to_model_input(image, predictor.input_size)
    t3 = clock()
    probability = predictor.predict(x)
    t4 = clock()
    return {
        "probability": probability,
        "read": t1 - t0,
        "decode": t2 - t1,
        "preprocess": t3 - t2,
        "inference": t4 - t3,
        "total": t4 - t0,
    }


def end_to_end_times(predictor: Predictor, paths: Sequence[Path], warmup: int) -> tuple[list[dict], list[dict]]:
    """Staged timings of every image in `paths` after `warmup` untimed runs, and the images rejected."""
    for i in range(min(warmup, len(paths))):
        try:
            staged_prediction(paths[i], predictor)
        except ImageRejected:
            continue
    timings, rejected = [], []
    for path in paths:
        try:
            timings.append(staged_prediction(path, predictor))
        except ImageRejected as exc:
            rejected.append({"path": str(path), "reason": exc.reason})
    return timings, rejected


def summarize_end_to_end(timings: Sequence[dict]) -> dict:
    """Latency of the whole path and of each stage; images per second on one stream."""
    totals = [t["total"] for t in timings]
    return {
        "end_to_end": summarize_ms(totals),
        "stages": {stage: summarize_ms([t[stage] for t in timings]) for stage in STAGES},
        "images_per_second": float(len(totals) / sum(totals)) if totals else None,
    }


def batched_end_to_end_times(
    classifier: TFLiteClassifier, paths: Sequence[Path], batch: int, warmup_batches: int
) -> list[dict]:
    """Per-image stage seconds of each full batch (read, decode, preprocess all B images, then one invoke).

    The batch runs on a scorer of its own, so the classifier stays as a scan uses it."""
    chunks = [paths[i : i + batch] for i in range(0, len(paths) - batch + 1, batch)]
    size = classifier.input_size
    scorer = BatchScorer(classifier, batch)
    timings = []
    for index, chunk in enumerate(chunks):
        t0 = time.perf_counter()
        data = [Path(p).read_bytes() for p in chunk]
        t1 = time.perf_counter()
        images = [decode_image(d, size) for d in data]
        t2 = time.perf_counter()
        inputs = [to_model_input(image, size) for image in images]
        t3 = time.perf_counter()
        scorer.first_outputs(np.concatenate([classifier.input_tensor(x) for x in inputs]))
        t4 = time.perf_counter()
        if index >= warmup_batches:
            stages = {"read": t1 - t0, "decode": t2 - t1, "preprocess": t3 - t2, "inference": t4 - t3}
            timings.append({name: seconds / batch for name, seconds in stages.items()} | {"total": (t4 - t0) / batch})
    return timings
