"""Occlusion-sensitivity heatmaps: where covering the image lowers the pneumonia score the most.

Computed with the int8 model itself through LiteRT, so it needs nothing beyond
the device install and works for any model: a grey square (the mid-grey of the
equalised input) is slid over the model input, every occluded copy is scored,
and each pixel gets the mean drop in the score's log-odds over the squares
that covered it. A hot area is one the model *relied on* for its pneumonia
score; it is not an outline of disease, and a cold area is not proof of healthy lung.

The grid: a square a quarter of the input's side (32 px of 128, about one lobe
of a child's lung at that size) moved in steps of half its side gives 7 x 7 = 49
occluded copies, every pixel covered by up to four squares; edge-bench measures
its cost (well under 100 ms per image on one thread). Halving the step more than
triples the cost (169 copies) for a map a health worker reads no better.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edge_app.inference.runtime import BatchScorer, TFLiteClassifier
from edge_app.language import N_

PATCH_FRACTION = 4
"""The square's side is the input side divided by this; it moves by half its side."""
OVERLAY_SIDE = 512
"""Long side of the PNG overlay: enough to see the lungs, small enough to embed in a report."""
FULL_COLOUR_LOGIT_DROP = 2.0
"""A drop in log-odds this large (odds divided by 7.4) is drawn at full strength; weaker drops are fainter,
so an image where covering changes almost nothing shows almost no colour instead of amplified noise."""
_EPSILON = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPSILON, 1.0 - _EPSILON)
    return np.log(p / (1.0 - p))


def default_grid(size: int) -> tuple[int, int]:
    """(square side, step) for a model input `size` px wide."""
    patch = max(1, size // PATCH_FRACTION)
    return patch, max(1, patch // 2)


def patch_origins(size: int, patch: int, stride: int) -> list[int]:
    """Top-left offsets along one side; the last square always ends at the border."""
    origins = list(range(0, max(size - patch, 0) + 1, stride))
    if origins[-1] + patch < size:
        origins.append(size - patch)
    return origins


class OcclusionMapper:
    """Scores occluded copies of a model input in batches when the model lets its batch size change."""

    def __init__(self, classifier: TFLiteClassifier, stride: int | None = None) -> None:
        size = classifier.input_size
        self.patch, default_stride = default_grid(size)
        self.classifier, self.stride = classifier, stride or default_stride
        origins = patch_origins(size, self.patch, self.stride)
        self.origins = [(top, left) for top in origins for left in origins]
        self.scorer = BatchScorer(classifier, len(self.origins))

    def logit_drop(self, x: np.ndarray, probability: float) -> np.ndarray:
        """(size, size) mean drop in log-odds when the pixel is covered; >= 0 (rises are not drawn)."""
        base = self.classifier.input_tensor(x)[0]
        fill = self.classifier.input_tensor(np.zeros_like(x))[0, 0, 0]
        copies = np.repeat(base[np.newaxis], len(self.origins), axis=0)
        for copy, (top, left) in zip(copies, self.origins, strict=True):
            copy[top : top + self.patch, left : left + self.patch] = fill
        drops = _logit(np.array(probability)) - _logit(self.scorer.first_outputs(copies))
        total = np.zeros(base.shape[:2], dtype=np.float64)
        counts = np.zeros_like(total)
        for drop, (top, left) in zip(drops, self.origins, strict=True):
            total[top : top + self.patch, left : left + self.patch] += drop
            counts[top : top + self.patch, left : left + self.patch] += 1
        return np.clip(total / np.maximum(counts, 1), 0.0, None)


def overlay(image: Image.Image, drop: np.ndarray) -> Image.Image:
    """The X-ray (aspect ratio restored) with the map in red, stretched back the way the input was squashed."""
    gray = display_gray(image)
    gray.thumbnail((OVERLAY_SIDE, OVERLAY_SIDE))
    strength = Image.fromarray(np.clip(drop / FULL_COLOUR_LOGIT_DROP, 0.0, 1.0).astype(np.float32))
    cells = PATCH_FRACTION * 2  # one value per grid step, then a smooth stretch: no square edges
    smooth = strength.resize((cells, cells), Image.Resampling.BOX).resize(gray.size, Image.Resampling.BILINEAR)
    alpha = np.asarray(smooth) * 0.65
    base = np.asarray(gray.convert("RGB"), dtype=np.float32)
    red = np.array([255.0, 40.0, 0.0], dtype=np.float32)
    mixed = base * (1.0 - alpha[..., np.newaxis]) + red * alpha[..., np.newaxis]
    return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8))


def display_gray(image: Image.Image) -> Image.Image:
    """An 8-bit view of any decoded image (16-bit and float DICOM pixels stretched to their range)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float32)
        low, high = float(pixels.min()), float(pixels.max())
        return Image.fromarray((255.0 * (pixels - low) / max(high - low, 1e-6)).astype(np.uint8))
    return image.convert("L")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # fast: the images are small, time matters more
    return buffer.getvalue()


@dataclass(frozen=True)
class Explanation:
    """One scanned image for people: the plain X-ray and the heatmap overlay, as PNG bytes."""

    image_png: bytes
    overlay_png: bytes
    max_logit_drop: float


def explain(mapper: OcclusionMapper, image: Image.Image, x: np.ndarray, probability: float) -> Explanation:
    drop = mapper.logit_drop(x, probability)
    shown = display_gray(image)
    shown.thumbnail((OVERLAY_SIDE, OVERLAY_SIDE))
    return Explanation(png_bytes(shown), png_bytes(overlay(image, drop)), float(drop.max()))


def heatmap_name(path: str, sha256: str) -> str:
    """File name for an image's overlay; the hash prefix keeps x.jpeg from two folders apart."""
    stem = Path(path).stem or "image"
    return f"{stem}-{sha256[:8]}.heatmap.png"


def describe_strength(
    max_logit_drop: float, gettext: Callable[[str], str] = str, number: Callable[[float], str] = "{:.1f}".format
) -> str:
    """Words for the strongest effect, so a faint map is not read as a finding; `gettext` and `number`
    put them in the reader's language (English and 11.5 when left out)."""
    factor = math.exp(max_logit_drop)
    if max_logit_drop < 0.1:
        return gettext(N_("covering any part of the image barely changes the score"))
    return gettext(N_("covering the reddest area divides the pneumonia odds by up to {factor}")).format(
        factor=number(factor)
    )
