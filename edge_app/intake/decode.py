"""Any file the scan accepts -> a decoded image: DICOM through pydicom, everything else through Pillow."""

from __future__ import annotations

from PIL import Image

from edge_app.intake.dicom_input import DicomTags, has_dicom_preamble, read_dicom
from edge_app.intake.preprocess import decode_image


def decode_input(data: bytes, size: int, name: str = "") -> tuple[Image.Image, DicomTags | None]:
    """Any scannable file's bytes -> the decoded image, plus the DICOM's tags when it is one.

    A DICOM is known by its preamble, or by its name when a unit wrote it without one."""
    if has_dicom_preamble(data) or name.lower().endswith(".dcm"):
        return read_dicom(data)
    return decode_image(data, size), None
