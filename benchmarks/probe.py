"""Child process that measures one model from a cold start.

Run as `python -m benchmarks.probe '<job JSON>'` by benchmarks.child. It
prints one JSON line as soon as the first image has a result (so the parent
can time process start to first result), then times the remaining images
end to end and prints a second line. Only what the job needs is imported, and
only after the clock starts, so import costs (TensorFlow's especially) are
measured rather than hidden.

Job keys: kind ("tflite" or "keras"), model, images (paths), threads,
warmup, batch (images decoded and inferred together; 1 = one at a time).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def run(job: dict) -> None:
    started = time.perf_counter()
    if job["kind"] == "keras":
        from lab.keras_env import keras  # noqa: F401  (import cost is what we measure)
    else:
        from edge_app.inference.runtime import load_runtime

        load_runtime()
    from benchmarks.latency import end_to_end_times, staged_prediction, summarize_end_to_end
    from benchmarks.predictors import load_predictor

    imported = time.perf_counter()
    predictor = load_predictor(job["kind"], job["model"], job.get("threads", 1))
    loaded = time.perf_counter()
    first = staged_prediction(job["images"][0], predictor)
    done = time.perf_counter()
    first_line = {
        "event": "first_result",
        "import_s": imported - started,
        "load_s": loaded - imported,
        "first_image_s": done - loaded,
        "probability": first["probability"],
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }
    print(json.dumps(first_line), flush=True)

    batch = job.get("batch", 1)
    if batch > 1:
        from benchmarks.latency import batched_end_to_end_times

        timings = batched_end_to_end_times(predictor, job["images"], batch, job.get("warmup", 1))
    else:
        timings, _ = end_to_end_times(predictor, job["images"], job.get("warmup", 3))
    print(json.dumps({"event": "done", **summarize_end_to_end(timings)}), flush=True)


def measure(kind: str, model: Path, images: Sequence[Path], threads: int = 1, batch: int = 1, warmup: int = 3) -> dict:
    """Run this module in a fresh process: cold start to first result, end-to-end timings and peak RSS."""
    from benchmarks.child import run_child

    job = {
        "kind": kind,
        "model": str(model),
        "images": [str(p) for p in images],
        "threads": threads,
        "batch": batch,
        "warmup": warmup,
    }
    result = run_child([sys.executable, "-m", "benchmarks.probe", json.dumps(job)])
    if result.returncode != 0 or len(result.lines) < 2:
        raise RuntimeError(f"benchmark child for {model} failed (exit {result.returncode}): {result.stderr[-2000:]}")
    first, done = (json.loads(line) for line in result.lines[-2:])
    del first["event"], done["event"]
    return {
        "cold_start_s": result.first_line_seconds,
        "cold_start_breakdown": first,
        **done,
        "peak_rss_mb": result.peak_rss_mb,
    }


if __name__ == "__main__":
    run(json.loads(sys.argv[1]))
