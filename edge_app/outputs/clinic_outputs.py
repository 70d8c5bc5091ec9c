"""What `edge-scan scan` makes for people besides the result lines: heatmap PNGs and the HTML report.

Kept out of the scan loop: it sees each result after it is saved and printed,
with the image the scan prepared for it (`scan_prepared_files(..., keep_images=True)`),
and explains exactly that model input, righted as the result's correction says. The
file is never read again, so a heatmap cannot explain another image than the one scanned.
A heatmap that cannot be written is reported and skipped; it never stops a batch or loses a result.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from edge_app.files import atomic_write_bytes
from edge_app.inference.gate import Correction
from edge_app.inference.heatmap import Explanation, OcclusionMapper, display_gray, explain, heatmap_name
from edge_app.inference.model_store import ScanModel
from edge_app.record import OK, ScanResult
from edge_app.scan.scanner import PreparedImage, Scanned


@dataclass(frozen=True)
class ExplainedResult:
    result: ScanResult
    explanation: Explanation | None


class ClinicOutputs:
    """Heatmaps into `heatmap_dir` (if given); each explained result is handed back, not kept, so a batch
    of any size holds one image's pictures at a time (a report streams them to disk)."""

    def __init__(self, model: ScanModel, heatmap_dir: Path | None) -> None:
        self.model, self.heatmap_dir = model, heatmap_dir
        self.mapper = OcclusionMapper(model.classifier)

    def add(self, scanned: Scanned) -> ExplainedResult:
        result = scanned.result
        explanation = self._explain(scanned.prepared, result) if result.status == OK else None
        if explanation is not None and self.heatmap_dir is not None:
            target = self.heatmap_dir / heatmap_name(result.path, result.sha256)
            try:
                atomic_write_bytes(target, explanation.overlay_png)
            except OSError as exc:
                print(f"Warning: heatmap {target} not written ({exc.strerror or exc}).", file=sys.stderr)
        return ExplainedResult(result, explanation)

    def _explain(self, prepared: PreparedImage, result: ScanResult) -> Explanation | None:
        if prepared.image is None or prepared.model_input is None:
            return None  # scanned without keep_images: nothing to explain
        correction = Correction.from_code(result.correction)  # as the scan righted it: the map is of what the model saw
        x = correction.apply(prepared.model_input)
        return explain(self.mapper, righted(prepared.image, correction), x, result.probability)


def righted(image: Image.Image, correction: Correction) -> Image.Image:
    """The X-ray for display, turned, un-inverted and un-mirrored as the gate put it right for the model."""
    shown = display_gray(image)
    if correction.quarter_turns:
        shown = shown.rotate(-90 * correction.quarter_turns, expand=True)  # clockwise, as Correction.apply
    if correction.mirrored:
        shown = ImageOps.mirror(shown)
    return ImageOps.invert(shown) if correction.inverted else shown
