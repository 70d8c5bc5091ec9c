"""The edge-scan speed targets, measured on the real command.

(a) process start to the first JSON result of `edge-scan scan IMAGE --no-history
    --format json`, median of several runs: target <= 0.6 s;
(b) median end-to-end time per full-resolution image (about 2000 px wide: the
    images at least 1800 px wide) on one thread, in a fresh process: target <= 30 ms;
(c) peak resident memory of one `edge-scan scan` over 500 images: target <= 150 MB.

Every run uses a temporary PNEUMOSCAN_HOME so no user's history is touched.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from benchmarks.child import run_child
from benchmarks.probe import measure
from edge_app.storage.paths import HOME_ENV

TARGETS = {"start_to_first_result_s": 0.6, "end_to_end_median_ms": 30.0, "batch_500_peak_rss_mb": 150.0}
BATCH_IMAGES = 500
FULL_RESOLUTION_WIDTH = 2000
SCANNED_EXIT_CODES = (0, 1)
"""edge-scan exits 1 when any image was rejected (the originals include a thin cropped strip); the rest were scanned."""
LARGE_WIDTH = 1800
LARGE_REPEATS = 3


def edge_scan_command() -> list[str] | None:
    """The edge-scan console script (beside this Python first), or the very call it makes when the
    package is installed without its scripts; None without edge_app.cli.main."""
    beside = Path(sys.executable).parent / "edge-scan"
    found = str(beside) if beside.is_file() else shutil.which("edge-scan")
    if found:
        return [found]
    if importlib.util.find_spec("edge_app.cli.main") is not None:
        return [sys.executable, "-c", "import sys; from edge_app.cli.main import main; sys.exit(main())"]
    return None


def _width(path: Path) -> int:
    with Image.open(path) as image:
        return image.width


def image_near_width(paths: Sequence[Path], width: int = FULL_RESOLUTION_WIDTH) -> Path:
    """The image whose width is closest to `width`: a typical full-resolution radiograph."""
    return min(paths, key=lambda path: abs(_width(path) - width))


def large_image_latency(model: Path, images: Sequence[Path]) -> dict:
    """End-to-end latency on one thread over the images at least LARGE_WIDTH px wide (all, if none are)."""
    large = [p for p in images if _width(p) >= LARGE_WIDTH] or list(images)
    point = measure("tflite", model, [p for p in large for _ in range(LARGE_REPEATS)], threads=1)
    return {
        "images": len(large),
        "min_width": min(map(_width, large)),
        "repeats": LARGE_REPEATS,
        "end_to_end": point["end_to_end"],
        "stages": point["stages"],
    }


def _distinct_path(source: Path, target: Path) -> Path:
    """A second path to `source` that edge-scan will not merge with it (it merges symlinks by target)."""
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links: copy instead
        shutil.copyfile(source, target)
    return target


def run_edge_scan(
    command: list[str], model: Path, paths: Sequence[Path], home: Path, options: Sequence[str] = (), what="edge-scan"
):
    """One fresh `edge-scan scan` process (JSON output, no history, data under `home`): the child's
    timings and its records; RuntimeError naming `what` when it scanned nothing."""
    env = os.environ | {HOME_ENV: str(home)}
    argv = [*command, "scan", *map(str, paths), "--model", str(model), "--allow-unverified-model", "--no-history"]
    argv += ["--format", "json", *options]  # variants under test may come without a .sha256 file
    result = run_child(argv, env=env)
    if result.returncode not in SCANNED_EXIT_CODES or not result.lines:
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {result.stderr[-2000:]}")
    records = [json.loads(line) for line in result.lines]
    return result, records


def batch_folder(images: Sequence[Path], folder: Path, count: int) -> list[Path]:
    """`count` distinct files in a new `folder`, made from `images` in turn, so each is read and hashed anew."""
    folder.mkdir()
    batch = []
    for i in range(count):
        source = images[i % len(images)]
        batch.append(_distinct_path(source, folder / f"{i:04d}-{source.name}"))
    return batch


def _single_image_starts(command: list[str], model: Path, single: Path, home: Path, runs: int, log) -> list[float]:
    """Seconds from launching edge-scan on one image to its first result line, per run."""
    starts = []
    for i in range(runs):
        log(f"  edge-scan: single image, run {i + 1}/{runs}")
        result, records = run_edge_scan(command, model, [single], home)
        if records[0].get("status") != "ok":
            raise RuntimeError(f"edge-scan did not scan {single}: {records[0]}")
        starts.append(result.first_line_seconds)
    return starts


def _batch_scan(command: list[str], model: Path, images: Sequence[Path], tmp: Path, batch_images: int, log):
    """One edge-scan run over `batch_images` distinct files made from `images`."""
    batch = batch_folder(images, tmp / "batch", batch_images)
    log(f"  edge-scan: {batch_images}-image batch")
    return run_edge_scan(command, model, batch, tmp / "home")


def scan_targets(
    model: Path,
    images: Sequence[Path],
    runs: int = 5,
    batch_images: int = BATCH_IMAGES,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """Measure the three edge-scan targets with `model`; `images` are full-resolution files."""
    command = edge_scan_command()
    if command is None:
        return {"available": False, "reason": "edge-scan is not installed (pip install -e . puts it on PATH)."}
    single = image_near_width(images)
    with Image.open(single) as image:
        single_size = image.size
    with tempfile.TemporaryDirectory(prefix="edge-bench-scan-") as tmp:
        starts = _single_image_starts(command, model, single, Path(tmp) / "home", runs, log)
        result, records = _batch_scan(command, model, images, Path(tmp), batch_images, log)
    log(f"  end to end on images >= {LARGE_WIDTH} px, 1 thread")
    large = large_image_latency(model, images)
    statuses = {
        status: sum(r.get("status") == status for r in records) for status in {r.get("status") for r in records}
    }
    measured = {
        "start_to_first_result_s": statistics.median(starts),
        "end_to_end_median_ms": large["end_to_end"]["p50_ms"],
        "batch_500_peak_rss_mb": result.peak_rss_mb,
    }
    return {
        "available": True,
        "command": " ".join(["edge-scan scan IMAGE --model", str(model), "--no-history --format json"]),
        "launched_as": command,
        "large_images": large,
        "single_image": {"path": str(single), "size": list(single_size), "start_to_first_result_runs_s": starts},
        "batch": {
            "images": batch_images,
            "distinct_files": min(len(images), batch_images),
            "results": len(records),
            "statuses": statuses,
            "wall_s": result.wall_seconds,
            "peak_rss_mb": result.peak_rss_mb,
        },
        "targets": {
            name: {
                "target": target,
                "measured": measured[name],
                "met": None if measured[name] is None else measured[name] <= target,
            }
            for name, target in TARGETS.items()
        },
    }
