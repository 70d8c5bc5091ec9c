"""Accuracy under simulated acquisition shifts.

In-split metrics overstate how a model does at another site or on another
detector, and the shifts that hurt most there are exposure, contrast, blur,
noise, compression, resolution and positioning. Applying each one to the
decoded test images (before the one preprocessing) shows which of them the
model shrugs off and which it does not. These are simulations, not a second
site: they bound one kind of failure and say nothing about case mix.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from edge_app.inference.runtime import TFLiteClassifier
from edge_app.intake.preprocess import decode_image, to_model_input
from edge_app.site import metrics
from edge_app.site.dataset import Example

Shift = Callable[[Image.Image, np.random.Generator], Image.Image]


def _gamma(value: float) -> Shift:
    table = [round(255 * (i / 255) ** value) for i in range(256)]
    return lambda image, rng: image.point(table)


def _jpeg(quality: int) -> Shift:
    def shift(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("L")

    return shift


def _noise(sigma: float) -> Shift:
    def shift(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        pixels = np.asarray(image, dtype=np.float32) + rng.normal(0.0, sigma, (image.height, image.width))
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")

    return shift


def _blur(sigma_at_224: float) -> Shift:
    return lambda image, rng: image.filter(ImageFilter.GaussianBlur(sigma_at_224 * image.width / 224))


def _half_resolution(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.BILINEAR)


SHIFTS: dict[str, Shift] = {
    "none": lambda image, rng: image,
    "darker (gamma 1.6)": _gamma(1.6),
    "brighter (gamma 0.6)": _gamma(0.6),
    "half contrast": lambda image, rng: ImageEnhance.Contrast(image).enhance(0.5),
    "blur (sigma 1.5 px at 224 px)": _blur(1.5),
    "noise (sigma 8 of 255)": _noise(8.0),
    "JPEG quality 15": _jpeg(15),
    "half resolution": _half_resolution,
    "rotated 7 degrees": lambda image, rng: image.rotate(7, resample=Image.Resampling.BILINEAR, fillcolor=0),
}


def shifted_input(path: Path, shift: Shift, size: int, rng: np.random.Generator) -> np.ndarray:
    """The model input for an image after `shift`, through the one preprocessing."""
    return to_model_input(shift(decode_image(path, size).convert("L"), rng), size)


def acquisition_shifts(
    model_path: Path, examples: list[Example], threshold: float, seed: int = 0, log=lambda message: None
) -> list[dict]:
    """AUC, sensitivity and specificity (95% CIs) of one model under each shift, at its own threshold."""
    classifier = TFLiteClassifier(model_path)
    labels = np.array([e.label for e in examples], dtype=bool)
    results = []
    for name, shift in SHIFTS.items():
        log(f"  robustness: {name}")
        rng = np.random.default_rng(seed)
        scores = np.array(
            [classifier.predict(shifted_input(e.path, shift, classifier.input_size, rng)) for e in examples]
        )
        results.append({"shift": name, **metrics.screening_summary(labels, scores, threshold, seed=seed)})
    return results
