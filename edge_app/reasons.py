"""Why an image got no result: every reason code, in one place.

Reason codes are stable: they are stored in the history database and printed
in JSON and CSV output, so scripts and later audits can rely on them. Status
`rejected` means the image is not one the model may be trusted on; status
`error` means the device failed, not the image. `EXPLANATIONS` explains each
rejection in one line; `explain` and `what_to_do` give every code's explanation and the health
worker's next step in any language (the English strings are marked for the catalogues here and
translated where they are shown). `ImageRejected` carries a code and the sentence shown to people
from wherever in the pipeline an image is refused.
"""

from collections.abc import Callable

from edge_app.language import N_

# Rejected while reading the file (edge_app.intake.image_file.read_image_file).
NOT_FOUND = "not_found"
NOT_A_FILE = "not_a_file"
FILE_TOO_LARGE = "file_too_large"
# Rejected while decoding (edge_app.intake.preprocess.decode_image, edge_app.intake.damage).
EMPTY_FILE = "empty_file"
NOT_AN_IMAGE = "not_an_image"
UNSUPPORTED_FORMAT = "unsupported_format"
CORRUPT_IMAGE = "corrupt_image"
DECOMPRESSION_BOMB = "decompression_bomb"
ANIMATED_IMAGE = "animated_image"
# Rejected by the quality gate (edge_app.intake.quality.check_quality).
TOO_SMALL = "too_small"
EXTREME_ASPECT_RATIO = "extreme_aspect_ratio"
BLANK_IMAGE = "blank_image"
SATURATED_IMAGE = "saturated_image"
COLOUR_PHOTO = "colour_photo"
# Rejected by the chest X-ray gate (edge_app.inference.gate).
NOT_A_CHEST_XRAY = "not_a_chest_xray"
WRONG_ORIENTATION = "wrong_orientation"
INVERTED_IMAGE = "inverted_image"
# Rejected while reading a DICOM file (edge_app.intake.dicom_input).
DICOM_SUPPORT_MISSING = "dicom_support_missing"
WRONG_MODALITY = "wrong_modality"
LATERAL_VIEW = "lateral_view"
MULTI_FRAME = "multi_frame"
NO_PIXEL_DATA = "no_pixel_data"
NO_DECODER = "no_decoder"
NOT_GRAYSCALE = "not_grayscale"
CORRUPT_DICOM = "corrupt_dicom"
# Rejected while straightening a phone photo of a film (edge_app.intake.film_photo).
PHOTO_SUPPORT_MISSING = "photo_support_missing"
FILM_NOT_FOUND = "film_not_found"
FILM_CUT_OFF = "film_cut_off"
PHOTO_TOO_DARK = "photo_too_dark"
PHOTO_GLARE = "photo_glare"
PHOTO_TOO_BLURRED = "photo_too_blurred"

# Status error (edge_app.scan.scanner).
UNREADABLE_FILE = "unreadable_file"
"""The file could not be read (permissions, removed, I/O error)."""
INFERENCE_FAILED = "inference_failed"
"""The model failed on a decoded image: a fault of the device, not the image."""


DICOM_INSTALL_HINT = 'pip install "pneumoscan[dicom]"'
"""The command that adds DICOM support to a device install."""
PHOTO_INSTALL_HINT = 'pip install "pneumoscan[photo]"'
"""The command that adds support for phone photos of films to a device install."""

FILE_REASONS = (NOT_FOUND, NOT_A_FILE, FILE_TOO_LARGE)
DECODING_REASONS = (EMPTY_FILE, NOT_AN_IMAGE, UNSUPPORTED_FORMAT, CORRUPT_IMAGE, DECOMPRESSION_BOMB, ANIMATED_IMAGE)
QUALITY_REASONS = (TOO_SMALL, EXTREME_ASPECT_RATIO, BLANK_IMAGE, SATURATED_IMAGE, COLOUR_PHOTO)
GATE_REASONS = (NOT_A_CHEST_XRAY, WRONG_ORIENTATION, INVERTED_IMAGE)
DICOM_REASONS = (
    DICOM_SUPPORT_MISSING,
    WRONG_MODALITY,
    LATERAL_VIEW,
    MULTI_FRAME,
    NO_PIXEL_DATA,
    NO_DECODER,
    NOT_GRAYSCALE,
    CORRUPT_DICOM,
)
PHOTO_REASONS = (PHOTO_SUPPORT_MISSING, FILM_NOT_FOUND, FILM_CUT_OFF, PHOTO_TOO_DARK, PHOTO_GLARE, PHOTO_TOO_BLURRED)
_INSTALL_HINTS = {PHOTO_SUPPORT_MISSING: PHOTO_INSTALL_HINT}

# Translators: why an image got no result, shown after "Not scanned:"; short, plain words.
_EXPLAINED: dict[str, str] = {
    NOT_FOUND: N_("no such file, or a link to a file that was moved"),
    NOT_A_FILE: N_("a folder, pipe, device or socket, not an image file (never read)"),
    FILE_TOO_LARGE: N_("the file is far larger than any X-ray image"),
    EMPTY_FILE: N_("the file is empty (0 bytes)"),
    NOT_AN_IMAGE: N_("the file is not a JPEG or PNG image"),
    UNSUPPORTED_FORMAT: N_("an image format other than JPEG or PNG"),
    CORRUPT_IMAGE: N_("the image file is damaged or truncated"),
    DECOMPRESSION_BOMB: N_("the image claims far more pixels than any X-ray"),
    ANIMATED_IMAGE: N_("an animated or multi-picture image: a viewer may show another picture than the one scanned"),
    TOO_SMALL: N_("too few pixels to show a chest X-ray's detail"),
    EXTREME_ASPECT_RATIO: N_("far longer than it is wide (or the reverse): not a whole chest X-ray"),
    BLANK_IMAGE: N_("nearly uniform: no picture to read"),
    SATURATED_IMAGE: N_("most pixels pure black or pure white (over- or under-exposed)"),
    COLOUR_PHOTO: N_("a colour photograph, not an X-ray"),
    NOT_A_CHEST_XRAY: N_("not a frontal chest X-ray (a photo, another body part or scan type, a drawing or noise)"),
    WRONG_ORIENTATION: N_("a chest X-ray turned on its side or upside down, and the turn could not be told for sure"),
    INVERTED_IMAGE: N_("a chest X-ray with white and black swapped, which could not be reversed for sure"),
    DICOM_SUPPORT_MISSING: N_("a DICOM file, and DICOM support is not installed ({install})"),
    WRONG_MODALITY: N_("a DICOM of another kind of imaging (CT, MR, ultrasound...), not a chest radiograph (CR/DX)"),
    LATERAL_VIEW: N_("a side (lateral) view; only frontal PA/AP chest X-rays can be screened"),
    MULTI_FRAME: N_("a DICOM holding several images (frames), not one X-ray"),
    NO_PIXEL_DATA: N_("a DICOM without an image in it"),
    NO_DECODER: N_("a DICOM compressed in a way no installed decoder can read"),
    NOT_GRAYSCALE: N_("a DICOM holding a colour image, not a radiograph"),
    CORRUPT_DICOM: N_("the DICOM file is damaged or truncated"),
    PHOTO_SUPPORT_MISSING: N_("a photo of a film, and photo support is not installed ({install})"),
    FILM_NOT_FOUND: N_("no whole X-ray film could be found in the photo"),
    FILM_CUT_OFF: N_("the film runs off the edge of the photo: part of the chest may be missing"),
    PHOTO_TOO_DARK: N_("the photo of the film is too dark to see the lungs"),
    PHOTO_GLARE: N_("a reflection (glare) in the photo covers part of the lungs"),
    PHOTO_TOO_BLURRED: N_("the photo of the film is too blurred to read"),
    UNREADABLE_FILE: N_("the file could not be read (no permission, removed, or a faulty disk or USB stick)"),
    INFERENCE_FAILED: N_("the model failed on this image: a fault of the device, not of the image"),
}

# Translators: the health worker's next step for an image that got no result; one short sentence.
_WHAT_TO_DO: dict[str, str] = {
    NOT_FOUND: N_("Check the file name, or choose the file again."),
    NOT_A_FILE: N_("Choose an X-ray image file, not a folder."),
    FILE_TOO_LARGE: N_("Choose one X-ray image file."),
    EMPTY_FILE: N_("Copy the X-ray again from the X-ray machine, then scan the new copy."),
    NOT_AN_IMAGE: N_("Choose an X-ray image: JPEG, PNG or DICOM."),
    UNSUPPORTED_FORMAT: N_("Save the X-ray as JPEG or PNG, or use its DICOM file."),
    CORRUPT_IMAGE: N_("Copy the X-ray again from the X-ray machine, then scan the new copy."),
    DECOMPRESSION_BOMB: N_("Choose the original X-ray image from the X-ray machine."),
    ANIMATED_IMAGE: N_("Save the one X-ray as a still JPEG or PNG, then scan it."),
    TOO_SMALL: N_("Use the full-size X-ray, not a small copy or a cut-out."),
    EXTREME_ASPECT_RATIO: N_("Use an X-ray that shows the whole chest."),
    BLANK_IMAGE: N_("Check that this is the right file, or take the X-ray again."),
    SATURATED_IMAGE: N_("Take the X-ray again with better exposure."),
    COLOUR_PHOTO: N_("Use the X-ray image from the X-ray machine, not a colour photo."),
    NOT_A_CHEST_XRAY: N_("Use a chest X-ray taken from the front or the back."),
    WRONG_ORIENTATION: N_("Turn the image so the head is at the top, then scan again."),
    INVERTED_IMAGE: N_("Use the original X-ray: bones white, lungs dark."),
    DICOM_SUPPORT_MISSING: N_("Ask the technician to install DICOM support, or use a JPEG or PNG copy."),
    WRONG_MODALITY: N_("Choose the chest X-ray (CR or DX), not another kind of scan."),
    LATERAL_VIEW: N_("Use the chest X-ray taken from the front or the back."),
    MULTI_FRAME: N_("Export one X-ray image from the X-ray machine, then scan it."),
    NO_PIXEL_DATA: N_("Export the X-ray again from the X-ray machine, with its image."),
    NO_DECODER: N_("Export the X-ray again as JPEG or PNG, or as uncompressed DICOM."),
    NOT_GRAYSCALE: N_("Export the X-ray again in black and white (grey scale)."),
    CORRUPT_DICOM: N_("Copy the DICOM file again from the X-ray machine, then scan the new copy."),
    PHOTO_SUPPORT_MISSING: N_("Ask the technician to install photo support, or use the X-ray image file."),
    FILM_NOT_FOUND: N_(
        "Take the photo again: hold the phone straight over the film, with the whole film in the picture, "
        "away from lamps."
    ),
    FILM_CUT_OFF: N_(
        "Take the photo again: hold the phone straight over the film, with the whole film in the picture, "
        "away from lamps."
    ),
    PHOTO_TOO_DARK: N_("Take the photo again with the film lit from behind (a lightbox or a bright window)."),
    PHOTO_GLARE: N_("Take the photo again: hold the phone straight over the film, away from lamps and reflections."),
    PHOTO_TOO_BLURRED: N_("Take the photo again: hold the phone still until the picture is sharp."),
    UNREADABLE_FILE: N_("Check the USB stick or the disk, then scan again."),
    INFERENCE_FAILED: N_("Scan again. If it happens again, run the device self-test and call the technician."),
}


def explain(reason: str, gettext: Callable[[str], str] = str) -> str:
    """Why an image got no result, in plain words; `gettext` translates it (English when left out).

    An unknown code (from a newer version's history) is shown as the code itself.
    """
    explanation = _EXPLAINED.get(reason)
    return (
        reason
        if explanation is None
        else gettext(explanation).format(install=_INSTALL_HINTS.get(reason, DICOM_INSTALL_HINT))
    )


def what_to_do(reason: str, gettext: Callable[[str], str] = str) -> str:
    """The health worker's next step for an image that got no result; empty for an unknown code."""
    action = _WHAT_TO_DO.get(reason)
    return "" if action is None else gettext(action)


EXPLANATIONS: dict[str, str] = {
    reason: explain(reason)
    for reason in FILE_REASONS + DECODING_REASONS + QUALITY_REASONS + GATE_REASONS + DICOM_REASONS + PHOTO_REASONS
}
"""Every rejection code with a one-line explanation (for `edge-scan info` and docs); stable, like the codes."""


class ImageRejected(ValueError):
    """An image that cannot or must not be scanned, raised by whichever step of the pipeline refuses it.

    `reason` is a stable, machine-readable code (stored in history and JSON
    output); the message is the plain sentence shown to people.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
