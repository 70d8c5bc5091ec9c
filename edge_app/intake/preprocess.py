"""The one image preprocessing: image file -> model input array.

Training, calibration, benchmarks and the device all call `preprocess`, so a
model never sees pixels prepared differently from the ones it was trained on.
It depends on numpy and Pillow only, because it runs on the device.

The steps, and why:
1. Decode at reduced size (`Image.draft`): a 2000 px JPEG is decoded at 1/8
   scale by the JPEG library itself, which costs milliseconds instead of tens.
2. Grayscale, EXIF orientation honoured, transparency flattened onto black:
   radiographs carry no colour information, and phones rotate by EXIF.
3. Squash to a square (aspect ratio not kept): the public dataset's 224 px
   copies were made that way, so a full-resolution image and its copy land on
   the same input.
4. Histogram equalisation: exposure, contrast and gamma differ between sites
   and detectors; equalisation is invariant to any monotonic intensity change,
   so the model cannot learn one site's exposure as a shortcut.
"""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edge_app import reasons
from edge_app.contract import DEFAULT_INPUT_SIZE
from edge_app.intake.damage import DamagedImage, check_decoded_jpeg, check_file_structure, decoder_warnings_as_damage
from edge_app.reasons import ImageRejected

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG"})
MAX_PIXELS = 64_000_000
"""Largest image we decode. Real radiographs stay under about 20 MP; a file
claiming more is a decompression bomb or not a radiograph."""

SOURCE_SIZE_KEY = "pneumoscan_source_size"

_EQUALISE_BINS = 256
_EXIF_ORIENTATION = 0x0112
_BAND_PIXELS = 1 << 20
"""Source pixels converted to float per pass of `squash` (4 MB as float32)."""


def decode_image(source: str | Path | bytes, size: int = DEFAULT_INPUT_SIZE) -> Image.Image:
    """Open and decode an image, at no less than `size` px per side where the
    format allows reduced decoding. Returns the image in its own mode so that a
    quality gate can still see colour or bit depth before grayscale conversion.
    `image.info[SOURCE_SIZE_KEY]` keeps the stored (width, height), because a
    JPEG decoded with draft is smaller than the file it came from.

    Any warning from Pillow while opening or decoding (corrupt EXIF, a bad
    chunk) rejects the file as damaged: a decoder that had to guess may have
    guessed pixels.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data:
        raise ImageRejected(reasons.EMPTY_FILE, "The file is empty (0 bytes).")
    try:
        with decoder_warnings_as_damage():
            check_file_structure(data)
            image = _open(data)
            width, height = image.size
            if image.format == "JPEG":
                image.draft(image.mode, (size, size))
            # The bytes are in memory already: one decoder call instead of one per 64 KB, so the
            # reading threads of a batch scan give up and retake the GIL a few times less per image.
            image.decodermaxblock = max(len(data), image.decodermaxblock)
            image.load()
            if image.format == "JPEG":
                check_decoded_jpeg(image)
            decoded = ImageOps.exif_transpose(image) if _needs_transpose(image) else image
    except ImageRejected:
        raise
    except DamagedImage as exc:
        raise ImageRejected(reasons.CORRUPT_IMAGE, f"The image file is damaged: {exc}.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(reasons.CORRUPT_IMAGE, "The image file is damaged or incomplete (truncated).") from exc
    decoded.info[SOURCE_SIZE_KEY] = (width, height)
    return decoded


def _open(data: bytes) -> Image.Image:
    """Identify the image and refuse, before decoding anything, formats we do not scan and impossible sizes."""
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(
            reasons.DECOMPRESSION_BOMB, f"The image is far too large to be a real X-ray ({exc})."
        ) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageRejected(reasons.NOT_AN_IMAGE, "The file is not an image (JPEG or PNG expected).") from exc
    if image.format not in SUPPORTED_FORMATS | {"MPO"}:
        raise ImageRejected(reasons.UNSUPPORTED_FORMAT, f"{image.format} images are not supported; use JPEG or PNG.")
    if image.format == "MPO" or getattr(image, "n_frames", 1) > 1 or (image.format == "PNG" and _is_animated_png(data)):
        raise ImageRejected(
            reasons.ANIMATED_IMAGE,
            "This file holds several pictures (an animation or a multi-picture photo); a viewer may show another "
            "picture than the one scanned. Save the one X-ray as a still JPEG or PNG and scan that.",
        )
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageRejected(
            reasons.DECOMPRESSION_BOMB, f"The image claims {width}x{height} pixels, far too large to be a real X-ray."
        )
    return image


def _is_animated_png(data: bytes) -> bool:
    """Whether a PNG has an animation control chunk (acTL, before its image data) at all. Browsers then
    play the animation, whose frames need not include the still image Pillow decodes; Pillow even
    ignores an acTL it finds invalid, so its frame count alone cannot tell."""
    position = len(b"\x89PNG\r\n\x1a\n")
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"acTL":
            return True
        if kind in (b"IDAT", b"IEND"):
            return False
        position += 12 + length
    return False


def _needs_transpose(image: Image.Image) -> bool:
    """Whether EXIF asks for a rotation or flip; exif_transpose would otherwise copy a large image for nothing."""
    return image.getexif().get(_EXIF_ORIENTATION, 1) != 1


def grayscale_array(image: Image.Image) -> np.ndarray:
    """Intensity as float32, keeping 16-bit precision when the file has it."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return np.asarray(image, dtype=np.float32)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(black, rgba)
    return np.asarray(image if image.mode == "L" else image.convert("L"), dtype=np.float32)


def equalise(pixels: np.ndarray) -> np.ndarray:
    """Histogram-equalise to [-1, 1], mapping each intensity to its mid-rank.

    A constant image has no ranks; it maps to zeros (the quality gate rejects
    such images before they reach the model).
    """
    low, high = float(pixels.min()), float(pixels.max())
    if high - low < 1e-6:
        return np.zeros_like(pixels, dtype=np.float32)
    bins = np.minimum(((pixels - low) * (_EQUALISE_BINS / (high - low))).astype(np.int32), _EQUALISE_BINS - 1)
    counts = np.bincount(bins.ravel(), minlength=_EQUALISE_BINS)
    cumulative = np.cumsum(counts)
    mid_rank = (cumulative - counts / 2.0) / cumulative[-1]
    return (mid_rank[bins] * 2.0 - 1.0).astype(np.float32)


def pixels_to_image(pixels: np.ndarray) -> Image.Image:
    """Intensities decoded outside Pillow (a DICOM's 12-16-bit values) as a 32-bit float image.

    The quality gate and `to_model_input` read float images at full precision, so
    deep pixels take the same path as a JPEG's without being cut to 8 bits first.
    """
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32))
    image.info[SOURCE_SIZE_KEY] = image.size
    return image


def squash(image: Image.Image, size: int) -> np.ndarray:
    """Intensity resized to a size x size float32 square (bilinear, aspect ratio not kept).

    Made in bands of output rows, each from only the source rows its filter
    reaches, so a 60-megapixel PNG never exists as one full-size float copy
    (four bytes a pixel). Pillow places each band's filter exactly where a
    single whole-image resize would, so the result is the same.
    """
    width, height = image.size
    scale = height / size
    reach = max(scale, 1.0) + 1.0  # bilinear filter radius in source rows, plus a row for rounding
    band_rows = max(1, int(_BAND_PIXELS / (width * max(scale, 1.0))))
    bands = []
    for top in range(0, size, band_rows):
        bottom = min(size, top + band_rows)
        first, last = max(0, math.floor(top * scale - reach)), min(height, math.ceil(bottom * scale + reach))
        rows = _float_image(image.crop((0, first, width, last)))
        box = (0.0, top * scale - first, float(width), bottom * scale - first)
        bands.append(np.asarray(rows.resize((size, bottom - top), Image.Resampling.BILINEAR, box=box), np.float32))
    return np.concatenate(bands)


def _float_image(image: Image.Image) -> Image.Image:
    """`grayscale_array` as a Pillow float image. Plain 8-bit gray, the usual X-ray, converts inside
    Pillow: the same values without two copies through numpy, which hold the GIL in a batch scan."""
    if image.mode == "L" and "transparency" not in image.info:
        return image.convert("F")
    return Image.fromarray(grayscale_array(image), mode="F")


def to_model_input(image: Image.Image, size: int = DEFAULT_INPUT_SIZE) -> np.ndarray:
    """A decoded image as the (size, size, 1) float32 array the model takes."""
    return equalise(squash(image, size))[..., np.newaxis]


def preprocess(source: str | Path | bytes, size: int = DEFAULT_INPUT_SIZE) -> np.ndarray:
    """Image file (path or bytes) -> (size, size, 1) float32 model input in [-1, 1]."""
    return to_model_input(decode_image(source, size), size)
