"""Any file the scan accepts -> a decoded image: DICOM through pydicom, everything else through Pillow."""

from __future__ import annotations

from PIL import Image

from edge_app.intake.dicom_input import DicomTags, looks_like_dicom, read_dicom
from edge_app.intake.preprocess import decode_image


def decode_input(data: bytes, size: int, name: str = "") -> tuple[Image.Image, DicomTags | None]:
    """Any scannable file's bytes -> the decoded image, plus the DICOM's tags when it is one.

    A DICOM is known by its first bytes (with or without the preamble), or by its name."""
    if looks_like_dicom(data) or name.lower().endswith(".dcm"):
        return read_dicom(data)
    return decode_image(data, size), None
