"""How many different X-rays and children a calibration set holds, whatever its file count says.

A threshold chosen on one pneumonia X-ray copied 60 times is chosen on one child:
its figures and confidence bounds would claim sixty. So copies are found before
anything is counted: exact copies by the file's SHA-256, near-copies (the same
X-ray re-encoded, resized, mirrored or with a little noise) by comparing the
model's own prepared input, and images of one child by the DICOM PatientID or
the patient number in a Kermany file name. Each group of copies counts once, and
a set with too few different images or children is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_app.contract import LABELS
from edge_app.site import refusals
from edge_app.site.findings import Finding
from edge_app.site.site_profile import CalibrationImage

FINGERPRINT_SIDE = 16
NEAR_COPY_SIMILARITY = 0.98
"""Cosine similarity of two 16x16 block-mean fingerprints of the prepared model input at or above which two images
are one X-ray. On the 181 different X-rays of the external set no pair reaches 0.970 (mirrored pairs included);
the same X-ray with Gaussian noise of 20 grey levels, re-encoded at JPEG quality 30 or resized stays above 0.985.
A cropped copy is not caught (a 5% crop falls to 0.85, among different X-rays)."""
MIN_CHILDREN_PER_CLASS = 20
"""Images of one child are alike: with fewer children than this, the figures describe a handful of children,
not the children a site screens."""


def fingerprint(model_input: np.ndarray) -> np.ndarray:
    """A unit vector of 16x16 block means of the prepared input, and of its mirror image: near-copies point the
    same way."""
    pixels = np.asarray(model_input, dtype=np.float64).reshape(model_input.shape[0], model_input.shape[1])
    step = pixels.shape[0] // FINGERPRINT_SIDE
    side = step * FINGERPRINT_SIDE
    blocks = pixels[:side, :side].reshape(FINGERPRINT_SIDE, step, FINGERPRINT_SIDE, step).mean(axis=(1, 3))
    views = np.stack([blocks, blocks[:, ::-1]]).reshape(2, -1)
    views -= views.mean(axis=1, keepdims=True)
    return views / np.maximum(np.linalg.norm(views, axis=1, keepdims=True), 1e-12)


def copy_of(sha256s: Sequence[str], fingerprints: Sequence[np.ndarray | None]) -> list[int | None]:
    """For each image, the index of the earlier image it copies (same bytes, or a near-copy), else None."""
    originals: list[int] = []
    found: list[int | None] = []
    by_hash: dict[str, int] = {}
    for index, (sha256, print_) in enumerate(zip(sha256s, fingerprints, strict=True)):
        match = by_hash.get(sha256)
        if match is None and print_ is not None:
            match = next((i for i in originals if _alike(fingerprints[i], print_)), None)
        found.append(match)
        if match is None:
            originals.append(index)
            by_hash[sha256] = index
    return found


def _alike(first: np.ndarray | None, second: np.ndarray) -> bool:
    return first is not None and float(np.max(first @ second[0])) >= NEAR_COPY_SIMILARITY


def measure(images: Sequence[CalibrationImage]) -> dict:
    """Files, different images and different children per class; an image of unknown child counts as one child."""
    distinct = [image for image in images if image.copy_of is None]
    children = {
        name: len({image.child or f"image:{image.sha256}" for image in distinct if image.label == name})
        for name in LABELS
    }
    return {
        "files": len(images),
        "distinct_images": {name: sum(image.label == name for image in distinct) for name in LABELS},
        "children": children,
        "children_unknown": sum(image.child is None for image in distinct),
    }


def reasons(images: Sequence[CalibrationImage], variety: dict) -> list[Finding]:
    """Why the set is not varied enough; empty when it is."""
    found = []
    mixed = sorted({images[image.copy_of].sha256[:12] for image in images if _relabelled(images, image)})
    if mixed:
        found.append(
            Finding(
                refusals.SAME_XRAY_BOTH_LABELS,
                f"{len(mixed)} X-ray(s) appear in both the NORMAL and the PNEUMONIA folder (as the same or nearly "
                "the same picture): check the labels, then calibrate again.",
                {"xrays": len(mixed)},
            )
        )
    for name in LABELS:
        if variety["children"][name] < MIN_CHILDREN_PER_CLASS:
            found.append(
                Finding(
                    refusals.TOO_FEW_CHILDREN,
                    f"The {name} images show only {variety['children'][name]} different children (at least "
                    f"{MIN_CHILDREN_PER_CLASS} are needed): images of the same child, or copies of the same X-ray, "
                    "say little about the next child.",
                    {"label": name, "found": variety["children"][name], "needed": MIN_CHILDREN_PER_CLASS},
                )
            )
    return found


def _relabelled(images: Sequence[CalibrationImage], image: CalibrationImage) -> bool:
    return image.copy_of is not None and images[image.copy_of].label != image.label
