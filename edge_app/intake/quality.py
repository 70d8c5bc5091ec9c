"""The input quality gate: refuse images the model must not be trusted on.

The model was trained on pediatric chest radiographs. Anything else (a blank
frame, a colour photograph, a thumbnail, a strip cut from a film) gets a
number that means nothing, so it is rejected with a reason instead.

The reason codes live in `edge_app.reasons`: the first three are raised
while reading the file, the next five by `edge_app.intake.preprocess.decode_image`
while decoding, the rest by `check_quality` on the decoded image. REASONS
explains each in one line.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from edge_app.intake.preprocess import SOURCE_SIZE_KEY, grayscale_array
from edge_app.reasons import (
    BLANK_IMAGE,
    COLOUR_PHOTO,
    EXTREME_ASPECT_RATIO,
    SATURATED_IMAGE,
    TOO_SMALL,
    ImageRejected,
)

MIN_SHORT_SIDE = 128
"""A chest X-ray with fewer pixels across cannot show lung detail."""
MAX_ASPECT_RATIO = 2.5
"""Long side over short side. Detector plates and phone photos of films stay
under 1.8; the dataset's one 3.2:1 strip would be squashed beyond recognition."""
MIN_SPREAD = 0.10
"""Nearly blank: the 1st to 99th percentile intensity range covers less than
this share of the full scale (real X-rays cover at least 45%)."""
MAX_EXTREME_SHARE = 0.60
"""Saturated: more than this share of pixels within 2% of pure black or white
(real X-rays: at most about 22%, the black background)."""
MAX_COLOURFULNESS = 25.0
"""Hasler and Süsstrunk's colourfulness (0 = gray, 33 = moderately colourful
photo). Radiographs stored as RGB score 0; a slight colour cast from
photographing a film on a light box scores well under 15."""


_ANALYSIS_SIDE = 256
"""Statistics are computed on a copy this small: enough pixels, little time."""


def check_quality(image: Image.Image) -> None:
    """Raise ImageRejected when a decoded image is not a usable chest X-ray."""
    width, height = image.info.get(SOURCE_SIZE_KEY, image.size)
    if min(width, height) < MIN_SHORT_SIDE:
        raise ImageRejected(
            TOO_SMALL,
            f"The image is too small ({width}x{height} pixels); use one at least {MIN_SHORT_SIDE} pixels on each side.",
        )
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ImageRejected(
            EXTREME_ASPECT_RATIO,
            f"The image is {width}x{height} pixels, too long and thin to be a whole chest X-ray.",
        )
    small = _analysis_copy(image)
    if small.mode not in ("L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "1"):
        colourfulness = _colourfulness(small)
        if colourfulness > MAX_COLOURFULNESS:
            raise ImageRejected(
                COLOUR_PHOTO, "This is a colour photograph, not an X-ray. Scan an X-ray image or a photo of the film."
            )
    _check_exposure(grayscale_array(small))


def _analysis_copy(image: Image.Image) -> Image.Image:
    """The image shrunk to fit _ANALYSIS_SIDE, like Pillow's thumbnail but without copying
    the full-size image first. Pillow cannot shrink 16-bit grayscale by whole factors
    first (reducing_gap), so those are resized in one step."""
    ratio = _ANALYSIS_SIDE / max(image.size)
    if ratio >= 1.0:
        return image
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    gap = None if image.mode.startswith("I;16") else 2.0
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=gap)


def _colourfulness(image: Image.Image) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of an image, on 0-255 RGB."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _full_scale(pixels: np.ndarray) -> float:
    """The largest value the image's bit depth can hold: 255, or 2^k - 1 for
    deeper images (a 12-bit detector image stored in 16 bits has scale 4095)."""
    peak = float(pixels.max())
    if peak <= 255.0:
        return 255.0
    return float(2 ** int(np.ceil(np.log2(peak + 1.0))) - 1)


def _check_exposure(pixels: np.ndarray) -> None:
    scale = _full_scale(pixels)
    low, high = _percentiles(pixels, (1.0, 99.0))
    if (high - low) < MIN_SPREAD * scale:
        raise ImageRejected(BLANK_IMAGE, "The image is almost blank (nearly one colour). Check the file or retake it.")
    margin = 0.02 * scale
    extreme_share = float(((pixels <= margin) | (pixels >= scale - margin)).mean())
    if extreme_share > MAX_EXTREME_SHARE:
        raise ImageRejected(
            SATURATED_IMAGE,
            "Most of the image is pure black or pure white (badly exposed). Retake it with better exposure.",
        )


def _percentiles(pixels: np.ndarray, percents: tuple[float, ...]) -> np.ndarray:
    """np.percentile's values (linear interpolation), read off a histogram when the pixels are whole
    numbers of at most 16 bits, as every JPEG, PNG and most DICOMs are.

    np.percentile partitions the pixels under the GIL; counting them is several times faster, which
    matters because this runs for every image in the reading threads of a batch scan.
    """
    if not 0 <= pixels.min() <= pixels.max() <= np.iinfo(np.uint16).max:  # out of range, or NaN
        return np.percentile(pixels, percents)
    whole = pixels.astype(np.uint16)
    if not np.array_equal(whole, pixels):  # fractional values: a float DICOM
        return np.percentile(pixels, percents)
    cumulative = np.cumsum(np.bincount(whole.ravel()))
    ranks = np.asarray(percents) / 100.0 * (cumulative[-1] - 1)
    below = np.floor(ranks)
    low = np.searchsorted(cumulative, below, side="right")
    high = np.searchsorted(cumulative, np.minimum(below + 1, cumulative[-1] - 1), side="right")
    return low + (ranks - below) * (high - low)
