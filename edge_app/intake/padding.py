"""Cut away uniform padding (letterbox bars) around an X-ray before it is checked and scanned.

An X-ray exported into a larger canvas (a square, a page) comes with wide bars
of one colour. They are not part of the picture, yet the quality gate counts
them as pure black or white pixels (a child's X-ray was refused as
"saturated, retake with better exposure"), and the model, which was trained on
X-rays without such bars, would see a smaller chest in a frame it never saw.

So an image the quality gate refuses as saturated is looked at again without
its bars, when they cover at least MIN_PADDED_SHARE of it; if it passes then,
the cropped image is what is checked and scanned, and the result says so. Any
image the gate accepts is scanned as it is: dark side bands, common on the
training X-rays, are part of what the model learnt, and cutting them changes
its score (one pneumonia X-ray of the training set went from 92 to 11).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from edge_app.intake.adjustments import CROPPED_PADDING, with_adjustment
from edge_app.intake.preprocess import SOURCE_SIZE_KEY, grayscale_array
from edge_app.intake.quality import check_quality
from edge_app.reasons import SATURATED_IMAGE, ImageRejected

MIN_PADDED_SHARE = 0.10
"""Cut padding only when the bars cover at least this share of the image's area."""
UNIFORM_SHARE = 0.99
"""A row or column is padding when this share of its pixels is within TOLERANCE of the padding colour."""
TOLERANCE = 0.03
"""Of the image's full scale: JPEG compression leaves the bars a few levels from their colour."""
_ANALYSIS_SIDE = 1024


def checked_quality(image: Image.Image) -> Image.Image:
    """`check_quality` of the image, or of the image without its wide bars when only they made it look
    saturated; the image that passed (raises the first rejection when neither does)."""
    try:
        check_quality(image)
        return image
    except ImageRejected as rejected:
        cropped = crop_padding(image) if rejected.reason == SATURATED_IMAGE else image
        if cropped is image:
            raise
        try:
            check_quality(cropped)
        except ImageRejected:
            raise rejected from None
        return cropped


def crop_padding(image: Image.Image) -> Image.Image:
    """The image without its wide uniform bars (noted as CROPPED_PADDING), or the image itself."""
    box = padding_box(image)
    if box is None:
        return image
    width, height = image.size
    source_width, source_height = image.info.get(SOURCE_SIZE_KEY, image.size)
    cropped = with_adjustment(image.crop(box), CROPPED_PADDING)
    cropped.info[SOURCE_SIZE_KEY] = (
        round(source_width * (box[2] - box[0]) / width),
        round(source_height * (box[3] - box[1]) / height),
    )
    return cropped


def padding_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the picture inside wide uniform bars; None when there are none."""
    pixels = grayscale_array(_shrunk(image))
    if pixels.ndim != 2 or min(pixels.shape) < 8:
        return None
    tolerance = TOLERANCE * (255.0 if pixels.max() <= 255 else float(pixels.max()))
    top, bottom = _bars(pixels, tolerance)
    left, right = _bars(pixels.T, tolerance)
    rows, columns = pixels.shape
    kept = (rows - top - bottom) * (columns - left - right)
    if kept <= 0 or 1.0 - kept / (rows * columns) < MIN_PADDED_SHARE:
        return None
    ratio_x, ratio_y = image.width / columns, image.height / rows
    return (
        round(left * ratio_x),
        round(top * ratio_y),
        image.width - round(right * ratio_x),
        image.height - round(bottom * ratio_y),
    )


def _shrunk(image: Image.Image) -> Image.Image:
    """The image reduced by a whole factor to about _ANALYSIS_SIDE (as is, in modes Pillow cannot reduce)."""
    factor = int(np.ceil(max(image.size) / _ANALYSIS_SIDE))
    if factor <= 1:
        return image
    try:
        return image.reduce(factor)
    except ValueError:
        return image


def _bars(pixels: np.ndarray, tolerance: float) -> tuple[int, int]:
    """How many rows at the top and at the bottom are uniform bars of one colour."""
    return _bar(pixels, tolerance), _bar(pixels[::-1], tolerance)


def _bar(pixels: np.ndarray, tolerance: float) -> int:
    colour = float(np.median(pixels[0]))
    near = np.abs(pixels - colour) <= tolerance
    uniform = near.mean(axis=1) >= UNIFORM_SHARE
    return int(np.argmin(uniform)) if not uniform.all() else len(uniform)
