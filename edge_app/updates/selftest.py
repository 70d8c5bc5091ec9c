"""A field check of a device: is the model intact, and does it scan known X-rays right?

Runs the bundled sample X-rays (labelled by experts) through the full scan path
and compares each result with its label. Besides clear examples they include
borderline ones scoring just at and just below the shipped threshold, so a
wrong threshold fails. The model's reference outputs must come out exactly as
at build time, so another kernel path than XNNPACK fails too. A model copied
wrong, a broken runtime or a preprocessing mismatch all show up as failed
checks, and `edge-scan selftest` exits non-zero.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from edge_app import package_data
from edge_app.inference.model_store import ScanModel
from edge_app.record import OK, ScanResult
from edge_app.scan.scanner import scan_file

LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class SelftestReport:
    checks: list[Check] = field(default_factory=list)
    results: list[ScanResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def median_ms(self) -> float | None:
        return statistics.median(r.elapsed_ms for r in self.results) if self.results else None


def bundled_samples(folder: Path | None = None) -> dict[Path, str]:
    """Sample image path -> expert label, from the folder's labels.csv (the bundled samples by default)."""
    folder = folder or package_data.SAMPLES_DIR
    with open(folder / LABELS_FILE, newline="", encoding="utf-8") as handle:
        return {folder / row["file"]: row["label"] for row in csv.DictReader(handle)}


def run_selftest(model: ScanModel, folder: Path | None = None) -> SelftestReport:
    """Check `model` (already verified by load_model) on the bundled samples."""
    folder = folder or package_data.SAMPLES_DIR
    report = SelftestReport()
    report.checks.append(Check("model integrity", model.checksum_file is not None, model.integrity))
    runtime = model.runtime_check
    report.checks.append(Check("same numbers as the model's build", model.runtime_verified is True, runtime.detail))
    try:
        samples = bundled_samples(folder)
    except (OSError, KeyError, csv.Error) as exc:
        report.checks.append(Check("sample images", False, f"{folder}: cannot read {LABELS_FILE} ({exc})"))
        return report
    if not samples:
        report.checks.append(Check("sample images", False, f"{folder}: {LABELS_FILE} lists no images"))
    for path, label in samples.items():
        result = scan_file(path, model)
        report.results.append(result)
        if result.status != OK:
            detail = f"{result.status}: {result.message}"
        else:
            detail = f"{result.label}, score {result.score} (expected {label}), {result.elapsed_ms:.1f} ms"
        passed = (
            result.status == OK
            and result.label == label
            and result.probability is not None
            and math.isfinite(result.probability)
        )
        report.checks.append(Check(f"sample {path.name}", passed, detail))
    if report.results and report.results[0].status == OK:
        again = scan_file(Path(report.results[0].path), model)
        same = again.probability == report.results[0].probability
        report.checks.append(Check("repeatable", same, "same image, same score" if same else "scores differ"))
    return report
