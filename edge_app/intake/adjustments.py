"""What intake changed about an image before the model saw it, so the result can say so.

An adjustment is kept in the decoded image's `info` (it travels with crops),
read by the scanner into the result's `correction` field (beside the gate's
turns and inversions) and explained in plain words in its message.
"""

from __future__ import annotations

from PIL import Image

from edge_app.language import N_

ADJUSTMENTS_KEY = "pneumoscan_adjustments"

FULL_RANGE = "full_range"
"""A DICOM's stored window or VOI LUT clipped much of the body to white or black; its full range was used."""

CROPPED_PADDING = "cropped_padding"
"""Wide uniform bars (letterbox padding) around the X-ray were cut away before it was checked and scanned."""

FILM_PHOTO = "film_photo"
"""A phone photo of a film: the film was found, straightened, cropped and evenly lit (edge_app.intake.film_photo)."""

SENTENCES = {
    FILM_PHOTO: N_(
        "Scanned from a photo of the film: the film was found, straightened and evenly lit; "
        "check in the report that the whole chest is shown."
    ),
    FULL_RANGE: N_(
        "The DICOM's stored window turned much of the chest pure white or black, "
        "so the full range of its values was scanned instead; check the picture in the report."
    ),
    CROPPED_PADDING: N_("Wide plain borders around the X-ray were cut away before it was checked and scanned."),
}


def with_adjustment(image: Image.Image, code: str) -> Image.Image:
    """The image, noting that intake made `code`'s change to it."""
    image.info[ADJUSTMENTS_KEY] = (*adjustments(image), code)
    return image


def adjustments(image: Image.Image) -> tuple[str, ...]:
    return tuple(image.info.get(ADJUSTMENTS_KEY, ()))
