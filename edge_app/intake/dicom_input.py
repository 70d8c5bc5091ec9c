"""Read chest radiographs stored as DICOM, the format hospital X-ray units write.

pydicom (the optional `dicom` extra) is imported only when a DICOM file turns up,
so the device install stays numpy, Pillow, Click and LiteRT. A DICOM becomes the
intensities a viewer would display, kept 12-16 bits deep as floats, and those go
through the one preprocessing (`edge_app.intake.preprocess.pixels_to_image`):

1. Modality LUT (rescale slope/intercept, or a LUT): stored values -> physical values.
2. VOI LUT, or else the window centre/width: the values a radiologist would see.
   A window or LUT that clips much of the body to pure white or black is not
   used: the full range of values is, and the result says so (`FULL_RANGE`).
   A lung turned white by a narrow window reads as no lung at all, and the
   model could call a pneumonia NORMAL on a picture nobody could read.
3. MONOCHROME1 (lowest value shown white) is inverted, so bone is bright as in
   the JPEGs the model was trained on.

Only single-frame frontal CR/DX images are read. Anything else is rejected with
a reason code and a sentence saying what to do, because the model has never
seen a CT slice, a lateral view or an ultrasound clip and its score would mean nothing.
Sizes are checked from the header before anything is decoded or inflated, with
the same pixel cap as JPEG and PNG, so a small file cannot claim gigabytes.

pydicom warns about every odd tag it meets while parsing (an invalid UID, an
unknown VR). Those warnings would print between the rows of a results table and
say nothing a health worker can act on, so they are silenced; what matters for
screening (damage, size, view, window) is checked here and rejected with a reason.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from edge_app.intake.adjustments import FULL_RANGE, with_adjustment
from edge_app.intake.preprocess import MAX_PIXELS, pixels_to_image
from edge_app.reasons import (
    CORRUPT_DICOM,
    DECOMPRESSION_BOMB,
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

warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")

RADIOGRAPH_MODALITIES = frozenset({"CR", "DX"})
"""Computed and digital radiography: the only DICOM modalities that hold a plain chest X-ray."""
NOT_FRONTAL_WORDS = frozenset(
    {
        *("LL", "RL", "LAT", "LATERAL", "LATERALE", "XTABLE", "SWIMMER", "SWIMMERS"),
        *("LAO", "RAO", "LPO", "RPO", "LLO", "RLO", "OBL", "OBLIQUE", "OBLIQUO"),
        *("LLD", "RLD", "DECUB", "DECUBITUS"),
    }
)
"""Words naming a side, oblique or decubitus view in ViewPosition, the view codes or a series' description;
the model was trained on frontal (PA/AP) views only."""
_VIEW_TEXTS = ("ViewPosition", "SeriesDescription", "ProtocolName", "AcquisitionDeviceProcessingDescription")
_VIEW_CODES = ("ViewCodeSequence", "ViewModifierCodeSequence")

MAX_CLIPPED_SHARE = 0.15
"""A stored window (or VOI LUT) may clip at most this share of the body (the pixels between the darkest and
brightest stored values) to its lowest or highest output; beyond that the full range is used instead."""
_CLIP_SAMPLE = 1 << 20
_BAND_PIXELS = 1 << 20
"""Pixels run through the LUTs at a time, so no full-size float64 copy of a large image exists."""
_MAX_DATASET_BYTES = 4 * MAX_PIXELS + (16 << 20)
"""Largest a deflated dataset may inflate to: the pixel cap at 32 bits a pixel, plus the header."""
_DEFLATED = b"1.2.840.10008.1.2.1.99"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+")
_MAX_IDENTIFIER = 64
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


def looks_like_dicom(data: bytes) -> bool:
    """A DICOM file by its first bytes: the Part 10 preamble, or (older units write none) a dataset that
    starts at once with a little-endian element of group 0002 or 0008, with an explicit VR or a sane length."""
    if has_dicom_preamble(data):
        return True
    if len(data) < 8 or data[:2] not in (b"\x02\x00", b"\x08\x00"):
        return False
    return data[4:6].isalpha() and data[4:6].isupper() or int.from_bytes(data[4:8], "little") < 1 << 16


def is_dicom_file(path: Path) -> bool:
    """Whether a file without a telling name is a DICOM (X-ray units often write names without an extension,
    or UIDs full of dots). DICOMDIR, the index of a DICOM disc, holds no image and is not one."""
    if path.name.upper() == "DICOMDIR":
        return False
    try:
        with open(path, "rb") as handle:
            return looks_like_dicom(handle.read(_PREAMBLE_END))
    except OSError:
        return False


def read_dicom(data: bytes) -> tuple[Image.Image, DicomTags]:
    """A frontal CR/DX DICOM -> float image of its display intensities; rejects everything else."""
    dataset = _parse(data)
    tags = DicomTags(clean_identifier(dataset.get("PatientID")), clean_identifier(dataset.get("StudyInstanceUID")))
    try:
        _check_structure(dataset)
        _check_screenable(dataset)
        _check_size(dataset)
        _check_decoder(dataset)
        pixels, full_range = _display_pixels(dataset)
        image = pixels_to_image(pixels)
        return (with_adjustment(image, FULL_RANGE) if full_range else image), tags
    except ImageRejected as exc:
        raise DicomRejected(exc, tags) from exc


def clean_identifier(element: object) -> str | None:
    """A patient ID or UID as plain text: bytes decoded, control and direction characters dropped, at most
    64 characters (the longest a DICOM ID may be). Such an ID goes into the history, the report and FHIR;
    a stray escape or newline must not reach a terminal, a CSV cell or a FHIR server."""
    value = getattr(element, "value", element)
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    text = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", str(value))).split())
    return text[:_MAX_IDENTIFIER] or None


def _parse(data: bytes) -> Dataset:
    try:
        import pydicom
    except ImportError as exc:
        raise ImageRejected(
            DICOM_SUPPORT_MISSING,
            f"This is a DICOM file and DICOM support is not installed. Install it with: {DICOM_INSTALL_HINT}",
        ) from exc
    _check_inflated_size(data)
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # pydicom raises many types for damaged files
        raise _damaged() from exc
    _name_the_encoding(dataset)
    return dataset


def _name_the_encoding(dataset: Dataset) -> None:
    """A DICOM written without file meta (older units) names no transfer syntax, and pydicom decodes no
    pixels without one: it is uncompressed, in the encoding the dataset was read in."""
    from pydicom import uid

    dataset.ensure_file_meta()
    if "TransferSyntaxUID" in dataset.file_meta:
        return
    implicit, little = dataset.original_encoding
    if little is not None:
        syntax = uid.ImplicitVRLittleEndian if implicit else uid.ExplicitVRLittleEndian
        dataset.file_meta.TransferSyntaxUID = syntax if little else uid.ExplicitVRBigEndian


def _damaged() -> ImageRejected:
    return ImageRejected(CORRUPT_DICOM, "The DICOM file is damaged or incomplete. Export it again from the X-ray unit.")


def _check_inflated_size(data: bytes) -> None:
    """A deflated DICOM is inflated whole by pydicom: inflate it here first, in steps, and stop at the cap."""
    start = _file_meta_end(data)
    if start is None or _DEFLATED not in data[_PREAMBLE_END:start]:
        return
    inflater, size = zlib.decompressobj(-zlib.MAX_WBITS), 0
    chunk = data[start:]
    try:
        while chunk and not inflater.eof:
            size += len(inflater.decompress(chunk, 1 << 20))
            if size > _MAX_DATASET_BYTES:
                raise ImageRejected(
                    DECOMPRESSION_BOMB, "The compressed DICOM inflates to far more data than any X-ray holds."
                )
            chunk = inflater.unconsumed_tail
    except zlib.error as exc:
        raise _damaged() from exc


def _file_meta_end(data: bytes) -> int | None:
    """Where the file meta group (0002) of a Part 10 file ends, walking its explicit-VR elements."""
    if not has_dicom_preamble(data):
        return None
    offset = _PREAMBLE_END
    while data[offset : offset + 2] == b"\x02\x00" and offset + 8 <= len(data):
        vr = data[offset + 4 : offset + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR"):
            offset += 12 + struct.unpack_from("<I", data, offset + 8)[0]
        else:
            offset += 8 + struct.unpack_from("<H", data, offset + 6)[0]
    return offset


def _check_structure(dataset: Dataset) -> None:
    """Parsing never fails on garbage (it is forced, for files without a preamble); what it finds then names
    no imaging at all: no modality, no image size, no pixels."""
    if not any(keyword in dataset for keyword in ("Modality", "Rows", "Columns")) and not _has_pixels(dataset):
        raise ImageRejected(
            CORRUPT_DICOM,
            "The DICOM file is damaged or is not a DICOM image at all. Export it again from the X-ray unit.",
        )


def _has_pixels(dataset: Dataset) -> bool:
    return any(keyword in dataset for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def _check_screenable(dataset: Dataset) -> None:
    modality = _text(dataset, "Modality")
    if modality not in RADIOGRAPH_MODALITIES:
        raise ImageRejected(
            WRONG_MODALITY,
            f"This DICOM is a {modality or 'unknown'} image, not a chest X-ray (CR or DX). "
            "Send the frontal chest X-ray of this child instead.",
        )
    _check_frontal(dataset)
    frames = _whole(dataset, "NumberOfFrames", 1)
    if frames > 1:
        raise ImageRejected(
            MULTI_FRAME, f"This DICOM holds {frames} images. Export the single frontal chest X-ray and scan that."
        )
    if not _has_pixels(dataset):
        raise ImageRejected(
            NO_PIXEL_DATA, "This DICOM holds no image (only patient or report data). Export the X-ray image itself."
        )
    photometric = _text(dataset, "PhotometricInterpretation") or "MONOCHROME2"
    if not photometric.startswith("MONOCHROME"):
        raise ImageRejected(
            NOT_GRAYSCALE, f"This DICOM holds a colour image ({photometric}), not a radiograph. Scan the X-ray image."
        )


def _check_frontal(dataset: Dataset) -> None:
    """Refuse side, oblique and decubitus views, whichever tag says so: the view position, the coded view,
    or the series' description (a unit may leave ViewPosition empty and name the view there)."""
    for keyword, text in _view_texts(dataset):
        words = set(re.split(r"[^A-Z]+", text.upper()))
        if words & NOT_FRONTAL_WORDS:
            raise ImageRejected(
                LATERAL_VIEW,
                f"This is not a frontal view ({keyword} {text!r}: a side, oblique or decubitus view). "
                "Scan the frontal (PA or AP) chest X-ray instead.",
            )


def _view_texts(dataset: Dataset) -> list[tuple[str, str]]:
    texts = [(keyword, _text(dataset, keyword) or "") for keyword in _VIEW_TEXTS]
    for keyword in _VIEW_CODES:
        for item in dataset.get(keyword) or []:
            texts.append((keyword, _text(item, "CodeMeaning") or ""))
            for modifier in item.get("ViewModifierCodeSequence") or []:
                texts.append(("ViewModifierCodeSequence", _text(modifier, "CodeMeaning") or ""))
    return [(keyword, text) for keyword, text in texts if text]


def _check_size(dataset: Dataset) -> None:
    """The pixel cap, from the header, before any decoder allocates what the header claims. A compressed
    frame's own header (JPEG, JPEG-LS, JPEG 2000) is checked too, since its decoder trusts that one."""
    rows, columns = _whole(dataset, "Rows", 0), _whole(dataset, "Columns", 0)
    samples, frames = _whole(dataset, "SamplesPerPixel", 1), _whole(dataset, "NumberOfFrames", 1)
    if rows <= 0 or columns <= 0 or _whole(dataset, "BitsAllocated", 16) not in (1, 8, 16, 32, 64):
        raise _damaged()
    if rows * columns * max(samples, 1) * max(frames, 1) > MAX_PIXELS:
        raise ImageRejected(
            DECOMPRESSION_BOMB, f"This DICOM claims {columns}x{rows} pixels, far too large to be a real X-ray."
        )
    for claimed in _codestream_sizes(dataset):
        if claimed > rows * columns:
            raise ImageRejected(
                DECOMPRESSION_BOMB,
                "The compressed image inside this DICOM claims more pixels than its header: it is not a real X-ray.",
            )


def _codestream_sizes(dataset: Dataset) -> list[int]:
    """Pixels each compressed fragment's own header claims, for the fragments that start a JPEG family image."""
    from pydicom.encaps import generate_fragments

    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is None or not syntax.is_compressed or "PixelData" not in dataset:
        return []
    buffer = io.BytesIO(dataset.PixelData)
    buffer.seek(8 + struct.unpack_from("<I", dataset.PixelData, 4)[0])  # past the basic offset table
    try:
        return [size for fragment in generate_fragments(buffer) if (size := _codestream_pixels(fragment))]
    except (ValueError, struct.error) as exc:
        raise _damaged() from exc


def _codestream_pixels(fragment: bytes) -> int | None:
    """Width x height from a JPEG or JPEG-LS frame header (SOF), or a JPEG 2000 SIZ marker."""
    jp2 = fragment.find(b"\xff\x4f\xff\x51")
    if jp2 != -1 and (fragment.startswith(b"\xff\x4f") or fragment.startswith(b"\x00\x00\x00\x0cjP")):
        width, height, left, top = struct.unpack_from(">IIII", fragment, jp2 + 8)
        return max(width - left, 0) * max(height - top, 0)
    if not fragment.startswith(b"\xff\xd8"):
        return None
    offset = 2
    while offset + 9 <= len(fragment) and fragment[offset] == 0xFF:
        marker = fragment[offset + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) or marker == 0xF7:
            height, width = struct.unpack_from(">HH", fragment, offset + 5)
            return height * width
        offset += 2 + struct.unpack_from(">H", fragment, offset + 2)[0]
    return None


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


def _display_pixels(dataset: Dataset) -> tuple[np.ndarray, bool]:
    """Stored values -> display intensities >= 0 (float, bits kept), white = high; and whether the stored
    window (or a LUT) clipped too much of the body, so the full range of the values was used instead."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        stored = dataset.pixel_array
    except Exception as exc:  # any decoder failure means the pixels cannot be trusted
        raise ImageRejected(
            CORRUPT_DICOM, "The image inside this DICOM cannot be decoded. Export it again from the X-ray unit."
        ) from exc
    del dataset.PixelData  # decoded: its bytes need not stay in memory beside the pixels
    sample = stored[:: _sample_step(stored), :: _sample_step(stored)]
    try:
        physical = np.asarray(apply_modality_lut(sample, dataset))
    except Exception as exc:  # a damaged LUT fails in many ways; the values are then unknown
        raise _damaged() from exc
    if _clips_body(sample, physical):  # a modality LUT that saturates: the stored values are the full range
        values, full_range = stored.astype(np.float32), True
    else:
        full_range = _window_clips_body(sample, physical, lambda: apply_voi_lut(physical, dataset))
        last = (lambda band: band) if full_range else (lambda band: apply_voi_lut(band, dataset))
        values = _banded(stored, lambda band: last(apply_modality_lut(band, dataset)))
    del stored
    low, high = _output_range(dataset, values, windowed=not full_range)
    values -= low
    if _text(dataset, "PhotometricInterpretation") == "MONOCHROME1":
        np.subtract(high - low, values, out=values)
    return values, full_range


def _sample_step(pixels: np.ndarray) -> int:
    """Every how many rows and columns to look when measuring clipping: about a million pixels are as
    telling as the whole image, and cheaper."""
    return max(1, int(np.sqrt(pixels.size / _CLIP_SAMPLE)))


def _banded(stored: np.ndarray, transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """`transform` applied to bands of rows into one float32 array: LUTs work pixel by pixel, and pydicom's
    float64 results for a whole 60-megapixel image would take half a gigabyte each."""
    result = np.empty(stored.shape, dtype=np.float32)
    rows = max(1, _BAND_PIXELS // max(stored.shape[-1], 1))
    for top in range(0, stored.shape[0], rows):
        result[top : top + rows] = transform(stored[top : top + rows])
    return result


def _window_clips_body(source: np.ndarray, physical: np.ndarray, window: Callable[[], np.ndarray]) -> bool:
    """Whether the stored window or VOI LUT clips the body, or cannot be applied at all (a damaged LUT):
    either way the full range is what can be shown."""
    try:
        return _clips_body(source, np.asarray(window()))
    except Exception:  # pydicom raises many types for a LUT it cannot read
        return True


def _clips_body(source: np.ndarray, shown: np.ndarray) -> bool:
    """Whether more than MAX_CLIPPED_SHARE of the body is at the lowest or highest value `shown` takes.

    The body is every pixel strictly between the darkest and brightest source values: padding and
    collimator edges sit at those extremes and may be clipped, the patient may not."""
    body = (source > source.min()) & (source < source.max())
    if not body.any():
        return False
    low, high = float(shown.min()), float(shown.max())
    clipped = (shown[body] <= low) | (shown[body] >= high)
    return float(clipped.mean()) > MAX_CLIPPED_SHARE


def _output_range(dataset: Dataset, values: np.ndarray, windowed: bool) -> tuple[float, float]:
    """The range the displayed values can take (VOI LUT output bits, else BitsStored), widened to the data.

    Knowing the full range, not just the values present, lets the quality gate
    tell a badly exposed image (values piled at one end) from a good one.
    """
    if windowed and "VOILUTSequence" in dataset:
        bits = int(dataset.VOILUTSequence[0].LUTDescriptor[2])
        low, high = 0.0, 2.0**bits - 1.0
    else:
        bits = _whole(dataset, "BitsStored", 16)
        signed = _whole(dataset, "PixelRepresentation", 0) == 1
        low, high = (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1.0) if signed else (0.0, 2.0**bits - 1.0)
    return min(low, float(values.min())), max(high, float(values.max()))


def _whole(dataset: Dataset, keyword: str, default: int) -> int:
    """A numeric tag as an int; a value that is not one means the header is damaged."""
    try:
        return int(dataset.get(keyword, default) or default)
    except (TypeError, ValueError) as exc:
        raise _damaged() from exc


def _text(dataset: Dataset, keyword: str) -> str | None:
    try:
        return clean_identifier(dataset.get(keyword))
    except Exception as exc:  # a garbage element fails when its value is first read
        raise _damaged() from exc
