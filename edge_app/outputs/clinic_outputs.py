"""What `edge-scan scan` makes for people besides the result lines: heatmap PNGs and the HTML report.

Kept out of the scan loop: it sees each (file, result) pair after the result
is saved and printed, re-reads the file (only if its SHA-256 still matches the
scanned bytes) and explains it, righted as the result's correction says. A
heatmap that cannot be written is reported and skipped; it never stops a batch or loses a result.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from edge_app.files import atomic_write_bytes, sha256_hex
from edge_app.inference.gate import Correction
from edge_app.inference.heatmap import Explanation, OcclusionMapper, display_gray, explain, heatmap_name
from edge_app.inference.model_store import ScanModel
from edge_app.intake.decode import decode_input
from edge_app.intake.preprocess import to_model_input
from edge_app.record import OK, ScanResult


@dataclass(frozen=True)
class ExplainedResult:
    result: ScanResult
    explanation: Explanation | None


class ClinicOutputs:
    """Heatmaps into `heatmap_dir` (if given), and the explained results kept for a report."""

    def __init__(self, model: ScanModel, heatmap_dir: Path | None) -> None:
        self.model, self.heatmap_dir = model, heatmap_dir
        self.mapper = OcclusionMapper(model.classifier)
        self.explained: list[ExplainedResult] = []

    def add(self, path: Path, result: ScanResult) -> None:
        explanation = self._explain(path, result) if result.status == OK else None
        self.explained.append(ExplainedResult(result, explanation))
        if explanation is not None and self.heatmap_dir is not None:
            target = self.heatmap_dir / heatmap_name(result.path, result.sha256)
            try:
                atomic_write_bytes(target, explanation.overlay_png)
            except OSError as exc:
                print(f"Warning: heatmap {target} not written ({exc.strerror or exc}).", file=sys.stderr)

    def _explain(self, path: Path, result: ScanResult) -> Explanation | None:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        if sha256_hex(data) != result.sha256:
            return None  # the file changed since it was scanned: explaining it would explain another image
        image, _ = decode_input(data, self.model.input_size, Path(path).name)
        correction = Correction.from_code(result.correction)  # as the scan righted it: the map is of what the model saw
        x = correction.apply(to_model_input(image, self.model.input_size))
        return explain(self.mapper, righted(image, correction), x, result.probability)


def righted(image: Image.Image, correction: Correction) -> Image.Image:
    """The X-ray for display, turned, un-inverted and un-mirrored as the gate put it right for the model."""
    shown = display_gray(image)
    if correction.quarter_turns:
        shown = shown.rotate(-90 * correction.quarter_turns, expand=True)  # clockwise, as Correction.apply
    if correction.mirrored:
        shown = ImageOps.mirror(shown)
    return ImageOps.invert(shown) if correction.inverted else shown
