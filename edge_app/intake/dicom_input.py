"""Read chest radiographs stored as DICOM, the format hospital X-ray units write.

pydicom (the optional `dicom` extra) is imported only when a DICOM file turns up,
so the device install stays numpy, Pillow, Click and LiteRT. A DICOM becomes the
intensities a viewer would display, kept 12-16 bits deep as floats, and those go
through the one preprocessing (`edge_app.intake.preprocess.pixels_to_image`):

1. Modality LUT (rescale slope/intercept, or a LUT): stored values -> physical values.
2. VOI LUT, or else the window centre/width: the values a radiologist would see.
3. MONOCHROME1 (lowest value shown white) is inverted, so bone is bright as in
   the JPEGs the model was trained on.

Only single-frame frontal CR/DX images are read. Anything else is rejected with
a reason code and a sentence saying what to do, because the model has never
seen a CT slice, a lateral view or an ultrasound clip and its score would mean nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from edge_app.intake.preprocess import pixels_to_image
from edge_app.reasons import (
    CORRUPT_DICOM,
    DICOM_INSTALL_HINT,
    DICOM_SUPPORT_MISSING,
    LATERAL_VIEW,
    MULTI_FRAME,
    NO_DECODER,
    NO_PIXEL_DATA,
    NOT_GRAYSCALE,
    WRONG_MODALITY,
    ImageRejected,
)

if TYPE_CHECKING:  # pydicom is the optional extra: imported only when a DICOM file turns up
    from pydicom.dataset import Dataset

RADIOGRAPH_MODALITIES = frozenset({"CR", "DX"})
"""Computed and digital radiography: the only DICOM modalities that hold a plain chest X-ray."""
LATERAL_VIEWS = frozenset({"LL", "RL", "LATERAL", "LAT"})
"""ViewPosition values of side views; the model was trained on frontal (PA/AP) views only."""


_PREAMBLE_END = 132


@dataclass(frozen=True)
class DicomTags:
    """What a DICOM says about whom and which study it belongs to."""

    patient_id: str | None
    study_uid: str | None


class DicomRejected(ImageRejected):
    """A readable DICOM that must not be scanned; keeps its tags, so the rejection is filed under its patient."""

    def __init__(self, rejection: ImageRejected, tags: DicomTags) -> None:
        super().__init__(rejection.reason, str(rejection))
        self.tags = tags


def has_dicom_preamble(data: bytes) -> bool:
    """A DICOM Part 10 file: 128 bytes of preamble, then the letters DICM."""
    return data[128:_PREAMBLE_END] == b"DICM"


def is_dicom_file(path: Path) -> bool:
    """Whether a file without a telling name is a DICOM (X-ray units often write names without an extension).
    DICOMDIR, the index of a DICOM disc, holds no image and is not one."""
    if path.name.upper() == "DICOMDIR":
        return False
    try:
        with open(path, "rb") as handle:
            return has_dicom_preamble(handle.read(_PREAMBLE_END))
    except OSError:
        return False


def read_dicom(data: bytes) -> tuple[Image.Image, DicomTags]:
    """A frontal CR/DX DICOM -> float image of its display intensities; rejects everything else."""
    dataset = _parse(data)
    tags = DicomTags(_text(dataset, "PatientID"), _text(dataset, "StudyInstanceUID"))
    try:
        _check_screenable(dataset)
        _check_decoder(dataset)
        return pixels_to_image(_display_pixels(dataset)), tags
    except ImageRejected as exc:
        raise DicomRejected(exc, tags) from exc


def _parse(data: bytes) -> Dataset:
    try:
        import pydicom
    except ImportError as exc:
        raise ImageRejected(
            DICOM_SUPPORT_MISSING,
            f"This is a DICOM file and DICOM support is not installed. Install it with: {DICOM_INSTALL_HINT}",
        ) from exc
    try:
        return pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for damaged files
        raise ImageRejected(
            CORRUPT_DICOM, "The DICOM file is damaged or incomplete. Export it again from the X-ray unit."
        ) from exc


def _check_screenable(dataset: Dataset) -> None:
    modality = _text(dataset, "Modality")
    if modality not in RADIOGRAPH_MODALITIES:
        raise ImageRejected(
            WRONG_MODALITY,
            f"This DICOM is a {modality or 'unknown'} image, not a chest X-ray (CR or DX). "
            "Send the frontal chest X-ray of this child instead.",
        )
    view = (_text(dataset, "ViewPosition") or "").upper()
    if view in LATERAL_VIEWS:
        raise ImageRejected(
            LATERAL_VIEW, f"This is a side view (ViewPosition {view}). Scan the frontal (PA or AP) chest X-ray instead."
        )
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageRejected(
            MULTI_FRAME, f"This DICOM holds {frames} images. Export the single frontal chest X-ray and scan that."
        )
    if not any(keyword in dataset for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ImageRejected(
            NO_PIXEL_DATA, "This DICOM holds no image (only patient or report data). Export the X-ray image itself."
        )
    photometric = _text(dataset, "PhotometricInterpretation") or "MONOCHROME2"
    if not photometric.startswith("MONOCHROME"):
        raise ImageRejected(
            NOT_GRAYSCALE, f"This DICOM holds a colour image ({photometric}), not a radiograph. Scan the X-ray image."
        )


def _check_decoder(dataset: Dataset) -> None:
    from pydicom.pixels import get_decoder

    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is None:
        return  # no file meta: pydicom reads it as uncompressed, which needs no decoder
    try:
        available = get_decoder(syntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise ImageRejected(
            NO_DECODER,
            f"This DICOM is compressed as {syntax.name}, which cannot be decoded on this device. "
            f"Export it uncompressed from the X-ray unit, or install the decoders with: {DICOM_INSTALL_HINT}",
        )


def _display_pixels(dataset: Dataset) -> np.ndarray:
    """Stored values -> display intensities >= 0 (float, bits kept), white = high."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        stored = dataset.pixel_array
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the pixels cannot be trusted
        raise ImageRejected(
            CORRUPT_DICOM, "The image inside this DICOM cannot be decoded. Export it again from the X-ray unit."
        ) from exc
    values = np.asarray(apply_voi_lut(apply_modality_lut(stored, dataset), dataset), dtype=np.float64)
    low, high = _output_range(dataset, values)
    pixels = values - low
    if _text(dataset, "PhotometricInterpretation") == "MONOCHROME1":
        pixels = (high - low) - pixels
    return pixels.astype(np.float32)


def _output_range(dataset: Dataset, values: np.ndarray) -> tuple[float, float]:
    """The range the displayed values can take (VOI LUT output bits, else BitsStored), widened to the data.

    Knowing the full range, not just the values present, lets the quality gate
    tell a badly exposed image (values piled at one end) from a good one.
    """
    if "VOILUTSequence" in dataset:
        bits = int(dataset.VOILUTSequence[0].LUTDescriptor[2])
        low, high = 0.0, 2.0**bits - 1.0
    else:
        bits = int(dataset.get("BitsStored", 16) or 16)
        signed = int(dataset.get("PixelRepresentation", 0) or 0) == 1
        low, high = (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1.0) if signed else (0.0, 2.0**bits - 1.0)
    return min(low, float(values.min())), max(high, float(values.max()))


def _text(dataset: Dataset, keyword: str) -> str | None:
    value = dataset.get(keyword)
    text = "" if value is None else str(value).strip()
    return text or None
