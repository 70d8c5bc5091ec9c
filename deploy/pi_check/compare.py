"""Compare what two devices printed for the same commands (device_commands.sh): every probability, verdict,
threshold and reason, the FHIR export, the self-test and calibration texts, and every heatmap pixel must be
identical. Only what differs by nature is left out: times, durations, folders, and FHIR ids and timestamps.

Usage: python compare.py REFERENCE_OUT DEVICE_OUT    (exit 1 on any difference, 2 on missing outputs)
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

SCAN_VOLATILE = {"scanned_at", "elapsed_ms", "path"}
FHIR_VOLATILE = {"id", "fullUrl", "reference", "timestamp", "effectiveDateTime", "issued"}
TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?")
DURATION = re.compile(r"\d+(\.\d+)? ?(ms|s)\b")
FOLDER = re.compile(r"(?:~|/)[^\s'\"(),]*/")
DATA_PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def plain(text: str) -> str:
    """Text without what differs by nature between two devices: times, durations and the folders of files."""
    return DURATION.sub("<duration>", FOLDER.sub("", TIME.sub("<time>", text)))


class Comparison:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.differences: list[str] = []

    def value(self, where: str, kind: str, reference: object, device: object) -> None:
        self.counts[kind] += 1
        if reference != device:
            self.differences.append(f"{where}: {reference!r} on the reference, {device!r} on the device")

    def scans(self, name: str, reference: Path, device: Path) -> None:
        """JSON lines from `edge-scan scan --format json`: one record per image, in input order."""
        ours = [json.loads(line) for line in reference.read_text().splitlines() if line.strip()]
        theirs = [json.loads(line) for line in device.read_text().splitlines() if line.strip()]
        self.value(f"{name}: number of results", "other", len(ours), len(theirs))
        for one, other in zip(ours, theirs, strict=False):
            where = f"{name} {Path(one['path']).name}"
            self.value(f"{where} file", "other", Path(one["path"]).name, Path(other["path"]).name)
            for key in sorted((one.keys() | other.keys()) - SCAN_VOLATILE):
                kind = {
                    "probability": "probability",
                    "label": "verdict",
                    "refer": "verdict",
                    "uncertain": "verdict",
                }.get(key, "other")
                if kind == "probability" and one.get(key) is None:
                    kind = "other"
                self.value(f"{where} {key}", kind, one.get(key), other.get(key))

    def fhir(self, name: str, reference: Path, device: Path) -> None:
        """Every value of the FHIR Bundle but its ids and timestamps, which are made per export."""
        self._tree(name, json.loads(reference.read_text()), json.loads(device.read_text()))

    def _tree(self, where: str, one: object, other: object) -> None:
        if isinstance(one, dict) and isinstance(other, dict):
            for key in sorted((one.keys() | other.keys()) - FHIR_VOLATILE):
                self._tree(f"{where}.{key}", one.get(key), other.get(key))
        elif isinstance(one, list) and isinstance(other, list):
            self.value(f"{where} length", "other", len(one), len(other))
            for index, (a, b) in enumerate(zip(one, other, strict=False)):
                self._tree(f"{where}[{index}]", a, b)
        elif isinstance(one, str) and isinstance(other, str):
            self.value(where, "fhir", plain(one), plain(other))
        else:
            self.value(where, "fhir", one, other)

    def text(self, name: str, reference: Path, device: Path) -> None:
        ours, theirs = plain(reference.read_text()).splitlines(), plain(device.read_text()).splitlines()
        self.value(f"{name}: number of lines", "other", len(ours), len(theirs))
        for number, (one, other) in enumerate(zip(ours, theirs, strict=False), start=1):
            self.value(f"{name} line {number}", "text line", one, other)

    def pixels(self, where: str, reference: Image.Image, device: Image.Image) -> None:
        ours, theirs = np.asarray(reference), np.asarray(device)
        self.counts["heatmap"] += 1
        self.counts["heatmap pixel"] += ours.size
        if ours.shape != theirs.shape or not np.array_equal(ours, theirs):
            changed = int(np.count_nonzero(ours != theirs)) if ours.shape == theirs.shape else "all"
            self.differences.append(f"{where}: {changed} of {ours.size} pixel values differ")

    def heatmaps(self, reference: Path, device: Path) -> None:
        names = sorted(path.name for path in reference.glob("*.png"))
        self.value("heatmaps: files", "other", names, sorted(path.name for path in device.glob("*.png")))
        for name in names:
            if (device / name).exists():
                self.pixels(f"heatmap {name}", Image.open(reference / name), Image.open(device / name))

    def report(self, reference: Path, device: Path) -> None:
        """The heatmaps embedded in the HTML report, decoded (PNG encoders may pack the same pixels apart)."""
        ours, theirs = DATA_PNG.findall(reference.read_text()), DATA_PNG.findall(device.read_text())
        self.value("report.html: embedded images", "other", len(ours), len(theirs))
        for index, (one, other) in enumerate(zip(ours, theirs, strict=False)):
            images = [Image.open(io.BytesIO(base64.b64decode(data))) for data in (one, other)]
            self.pixels(f"report.html image {index + 1}", *images)


def compare(reference: Path, device: Path) -> Comparison:
    comparison = Comparison()
    for path in sorted(reference.iterdir()):
        other = device / path.name
        if path.suffix == ".err" or path.is_dir() or path.suffix == ".html":
            continue
        if not other.exists():
            comparison.differences.append(f"{path.name}: missing on the device")
        elif path.name.endswith("fhir.json"):
            comparison.fhir(path.name, path, other)
        elif path.suffix == ".json":
            comparison.scans(path.name, path, other)
        else:
            comparison.text(path.name, path, other)
    comparison.heatmaps(reference / "heatmaps", device / "heatmaps")
    comparison.report(reference / "report.html", device / "report.html")
    return comparison


def main(reference: Path, device: Path) -> int:
    if not (reference / "selftest.txt").is_file() or not (device / "selftest.txt").is_file():
        print(f"pi check: no outputs to compare in {reference} and {device}", file=sys.stderr)
        return 2
    comparison = compare(reference, device)
    counts = comparison.counts
    values = sum(counts.values()) - counts["heatmap"] - counts["heatmap pixel"]
    print(
        f"pi check: compared {device.name} with {reference.name}: {counts['probability']} probabilities, "
        f"{counts['verdict']} verdict values, {counts['fhir']} FHIR values, {counts['text line']} text lines, "
        f"{counts['other']} other values ({values} in all) and {counts['heatmap']} heatmaps "
        f"({counts['heatmap pixel']} pixel values): {len(comparison.differences)} differences"
    )
    for line in comparison.differences[:40]:
        print(f"  DIFFERENT {line}")
    return 1 if comparison.differences else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
