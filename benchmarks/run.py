"""One benchmark run: every variant on the same images, then the report files.

The plain function behind `edge-bench`. Order matters for honest timings:
TFLite variants are timed before TensorFlow is imported (Keras last), cold
start and peak memory are measured in fresh child processes, and warm-up runs
are never counted.
"""

from __future__ import annotations

import gzip
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks import (
    accuracy,
    heatmap_cost,
    images,
    latency,
    parallel_scan,
    photo_speed,
    robustness,
    scaling,
    scan_speed,
)
from benchmarks.machine import describe_machine
from benchmarks.predictors import load_predictor, predict_all
from benchmarks.probe import measure
from benchmarks.scaling import DEFAULT_BATCH_SIZES, DEFAULT_WIDTHS
from benchmarks.variants import Variant, resolve_variants
from edge_app.files import sha256_hex
from lab import external
from lab.loading import load_examples
from lab.portable_paths import portable

DEFAULT_TIMING_IMAGES = 100
"""Images timed end to end when no --timing-images folder is given (taken from the labelled set)."""


@dataclass
class BenchConfig:
    data: Path
    out: Path
    split: str = "test"
    splits: Path | None = None
    models: tuple[str, ...] = ()
    keras: Path | None = None
    quantized: Path | None = None
    threads: tuple[int, ...] = (1, 2)
    timing_images: Path | None = None
    device_label: str | None = None
    warmup: int = 5
    inference_runs: int = 200
    cold_start_runs: int = 3
    scaling: bool = True
    edge_scan: bool = True
    robustness: bool = True
    heatmap: bool = True
    photo: bool = True
    seed: int = 0
    scaling_widths: tuple[int, ...] = DEFAULT_WIDTHS
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    external: Path | None = None
    """Labelled folder from another site, scored next to the internal split (see lab.external)."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def model_size(path: Path) -> dict:
    content = path.read_bytes()
    return {"sha256": sha256_hex(content), "size_bytes": len(content), "gzip_bytes": len(gzip.compress(content, 9))}


def _speed(variant: Variant, inputs: np.ndarray, timing: list[Path], config: BenchConfig) -> list[dict]:
    """Inference-alone and staged end-to-end latency at each thread count (Keras: TensorFlow's own threads)."""
    rows = []
    for threads in config.threads if variant.kind == "tflite" else (None,):
        predictor = load_predictor(variant.kind, variant.path, threads or 1)
        inference = latency.time_inference(predictor, inputs, config.inference_runs, config.warmup)
        timings, _ = latency.end_to_end_times(predictor, timing, config.warmup)
        rows.append(
            {"threads": threads or "tensorflow default", "inference": inference} | latency.summarize_end_to_end(timings)
        )
    return rows


def _cold_start(variant: Variant, timing: list[Path], runs: int) -> dict:
    """Process start to first result, and peak RSS over all timing images, each in a fresh process."""
    points = [measure(variant.kind, variant.path, timing, threads=1) for _ in range(runs)]
    middle = sorted(points, key=lambda p: p["cold_start_s"])[len(points) // 2]
    return {
        "median_s": middle["cold_start_s"],
        "runs_s": [p["cold_start_s"] for p in points],
        "breakdown_of_median_run": middle["cold_start_breakdown"],
        "peak_rss_mb": max(p["peak_rss_mb"] for p in points),
        "peak_rss_images": len(timing),
    }


def _largest_image(paths: list[Path]) -> Path:
    def pixels(path: Path) -> int:
        with Image.open(path) as image:
            return image.width * image.height

    return max(paths, key=pixels)


def _image_sizes(paths: list[Path]) -> dict:
    sizes = []
    for path in paths:
        with Image.open(path) as image:
            sizes.append(image.size)
    widths, heights = zip(*sizes, strict=True)
    return {
        "median_width": statistics.median(widths),
        "median_height": statistics.median(heights),
        "min_width": min(widths),
        "max_width": max(widths),
        "median_file_bytes": statistics.median(p.stat().st_size for p in paths),
    }


def comparisons(variants: list[dict]) -> dict:
    """The headline numbers: AUC deltas against the reference and speed ratios, as measured."""
    by_name = {v["name"]: v for v in variants}
    reference = by_name.get("keras") or by_name.get("float32")
    out: dict = {"reference": reference["name"] if reference else None}
    if reference:
        out["auc_minus_reference"] = {
            v["name"]: v["accuracy"]["auc"] - reference["accuracy"]["auc"] for v in variants if v is not reference
        }

    def e2e_p50(name: str, threads) -> float | None:
        for row in by_name.get(name, {}).get("speed", []):
            if row["threads"] == threads:
                return row["end_to_end"]["p50_ms"]
        return None

    if "keras" in by_name and "int8" in by_name:
        keras_ms, int8_ms = e2e_p50("keras", "tensorflow default"), e2e_p50("int8", 1)
        if keras_ms and int8_ms:
            out["keras_predict_over_int8_end_to_end_1_thread"] = keras_ms / int8_ms
    if "float32" in by_name and "int8" in by_name:
        ratios = {}
        for row in by_name["int8"]["speed"]:
            match = [r for r in by_name["float32"]["speed"] if r["threads"] == row["threads"]]
            if match:
                ratios[str(row["threads"])] = match[0]["inference"]["p50_ms"] / row["inference"]["p50_ms"]
        out["float32_tflite_over_int8_inference_p50"] = ratios
    return out


def run_benchmark(config: BenchConfig, log=_stderr) -> dict:
    """Benchmark every variant on the same images; returns the results (written by benchmarks.report)."""
    started = time.perf_counter()
    variants = resolve_variants(config.models, config.quantized, config.keras, log)
    examples = images.labelled_examples(config.data, config.split, config.splits)
    timing = _timing_images(config, examples)
    log(
        f"{len(variants)} models: {', '.join(v.name for v in variants)}; {len(examples)} labelled images; "
        f"{len(timing)} timing images"
    )
    machine = describe_machine(config.device_label)
    inputs_by_size: dict[int, tuple] = {}
    results, scores = measure_variants(variants, examples, timing, config, inputs_by_size, log)
    ordered = [results[v.name] for v in variants]
    add_agreement(ordered, scores)

    device_model = _device_model(variants)
    kept = inputs_by_size[results[device_model.name]["input_size"]][2] if device_model else []
    labelled = inputs_by_size[next(iter(inputs_by_size))]
    # Results are committed and read elsewhere: every path in them is recorded relative to the repository.
    return portable(
        {
            "machine": machine,
            "config": asdict(config),
            "data": {
                "labelled": {
                    "source": str(config.splits or config.data),
                    "split": config.split if config.splits else None,
                    "images": len(labelled[1]),
                    "pneumonia": int(labelled[1].sum()),
                    "skipped": labelled[3],
                },
                "timing": {"source": str(config.timing_images or config.data), "images": len(timing)}
                | _image_sizes(timing),
            },
            "variants": ordered,
            "comparisons": comparisons(ordered),
            "scaling": scaling_section(device_model, timing, config, log),
            "robustness": robustness_section(device_model, kept, config, log),
            "edge_scan": edge_scan_section(device_model, timing, config, log),
            "heatmap": heatmap_section(device_model, timing, config, log),
            "photo": photo_section(timing, config, log),
            "wall_seconds": time.perf_counter() - started,
        }
    )


def _timing_images(config: BenchConfig, examples: list) -> list[Path]:
    """The --timing-images folder, else an even sample of the labelled images."""
    if config.timing_images:
        return images.timing_images(config.timing_images)
    return [e.path for e in examples[:: max(1, len(examples) // DEFAULT_TIMING_IMAGES)]][:DEFAULT_TIMING_IMAGES]


def measure_variants(
    variants: list[Variant], examples: list, timing: list[Path], config: BenchConfig, inputs_by_size: dict, log
) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Accuracy, latency, cold start and size of each variant; the labelled images are loaded once per
    input size into `inputs_by_size`. Returns the entries by name and each variant's scores."""
    scores: dict[str, np.ndarray] = {}
    results: dict[str, dict] = {}
    external_by_size: dict[int, tuple] = {}
    # TFLite first: importing TensorFlow for Keras must not happen before TFLite is timed
    for variant in sorted(variants, key=lambda v: v.kind == "keras"):
        log(f"{variant.name}: accuracy")
        predictor = load_predictor(variant.kind, variant.path, config.threads[0])
        size = predictor.input_size
        if size not in inputs_by_size:
            inputs_by_size[size] = load_examples(examples, size, f"labelled images at {size} px")
        x, y, _, skipped = inputs_by_size[size]
        scores[variant.name] = predict_all(predictor, x)
        log(f"{variant.name}: latency at threads {', '.join(map(str, config.threads))}")
        speed = _speed(variant, x, timing, config)
        log(f"{variant.name}: cold start and peak memory ({config.cold_start_runs} fresh processes)")
        cold = _cold_start(variant, timing, config.cold_start_runs) if config.cold_start_runs else None
        results[variant.name] = {
            "name": variant.name,
            "kind": variant.kind,
            "path": str(variant.path),
            **model_size(variant.path),
            "threshold": variant.threshold,
            "threshold_source": variant.threshold_source,
            "input_size": size,
            "input_dtype": getattr(predictor, "input_dtype", "float32"),
            "accuracy": accuracy.evaluate(y, scores[variant.name], variant.threshold, config.seed),
            "speed": speed,
            "cold_start": cold,
        }
        if config.external:
            results[variant.name]["external"] = external_accuracy(predictor, variant, config, external_by_size)
    return results, scores


def external_accuracy(predictor, variant: Variant, config: BenchConfig, by_size: dict) -> dict:
    """The variant on the --external folder at its own (validation-chosen) threshold; images loaded once per size."""
    size = predictor.input_size
    if size not in by_size:
        by_size[size] = external.load_external(config.external, size)
    x, y, skipped = by_size[size]
    return external.external_summary(
        config.external, y, predict_all(predictor, x), variant.threshold, skipped, seed=config.seed
    )


def add_agreement(ordered: list[dict], scores: dict[str, np.ndarray]) -> None:
    """How often each variant agrees with the reference (Keras, else float32) on the same images."""
    reference = next((v for v in ordered if v["name"] in ("keras", "float32")), None)
    if reference is None:
        return
    for entry in ordered:
        if entry is not reference:
            entry["agreement_with_reference"] = accuracy.agreement(
                scores[entry["name"]], scores[reference["name"]], entry["threshold"], reference["threshold"]
            )


def _device_model(variants: list[Variant]) -> Variant | None:
    """The model the device-side measurements use: the shipped one, else int8, else any TFLite."""
    tflite = [v for v in variants if v.kind == "tflite"]
    return next((v for v in tflite if v.name == "default"), None) or next(
        (v for v in tflite if v.name == "int8"), tflite[0] if tflite else None
    )


def scaling_section(device_model: Variant | None, timing: list[Path], config: BenchConfig, log) -> dict | None:
    if not (config.scaling and device_model):
        return None
    log(f"scaling with {device_model.name}: resolution and batch size")
    with tempfile.TemporaryDirectory(prefix="edge-bench-scaling-") as tmp:
        return {
            "model": device_model.name,
            "source_image": str(_largest_image(timing)),
            "resolution": scaling.resolution_scaling(
                device_model.path, _largest_image(timing), Path(tmp), config.scaling_widths, log=log
            ),
            "batch": scaling.batch_scaling(device_model.path, timing, config.batch_sizes, log=log),
        }


def robustness_section(device_model: Variant | None, kept: list, config: BenchConfig, log) -> dict | None:
    if not (config.robustness and device_model):
        return None
    log(f"robustness of {device_model.name} to acquisition shifts")
    return {
        "model": device_model.name,
        "shifts": robustness.acquisition_shifts(device_model.path, kept, device_model.threshold, config.seed, log=log),
    }


def edge_scan_section(device_model: Variant | None, timing: list[Path], config: BenchConfig, log) -> dict | None:
    if not (config.edge_scan and device_model):
        return None
    log(f"edge-scan targets with {device_model.name}")
    try:
        scan = scan_speed.scan_targets(device_model.path, timing, log=log) | {"model": device_model.name}
    except RuntimeError as exc:  # a failing edge-scan must not throw away the rest of a long run
        log(f"edge-scan targets not measured: {exc}")
        scan = {"available": False, "reason": str(exc)}
    try:
        scan["parallel"] = parallel_scan.parallel_speedup(device_model.path, timing, log=log)
    except RuntimeError as exc:
        scan["parallel"] = {"available": False, "reason": str(exc)}
    return scan


def heatmap_section(device_model: Variant | None, timing: list[Path], config: BenchConfig, log) -> dict | None:
    if not (config.heatmap and device_model):
        return None
    log(f"heatmap cost with {device_model.name}")
    return heatmap_cost.heatmap_cost(device_model.path, timing, log=log) | {"model": device_model.name}


def photo_section(timing: list[Path], config: BenchConfig, log) -> dict | None:
    """What `edge-scan scan --photo` spends finding and straightening a 12 MP photo's film."""
    if not config.photo:
        return None
    return photo_speed.photo_cost(_largest_image(timing), seed=config.seed, log=log)
