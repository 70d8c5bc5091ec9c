"""Why an image got no result: every reason code, in one place.

Reason codes are stable: they are stored in the history database and printed
in JSON and CSV output, so scripts and later audits can rely on them. Status
`rejected` means the image is not one the model may be trusted on; status
`error` means the device failed, not the image. `EXPLANATIONS` explains each
rejection in one line, and `ImageRejected` carries a code and the sentence shown to people
from wherever in the pipeline an image is refused.
"""

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

# Status error (edge_app.scan.scanner).
UNREADABLE_FILE = "unreadable_file"
"""The file could not be read (permissions, removed, I/O error)."""
INFERENCE_FAILED = "inference_failed"
"""The model failed on a decoded image: a fault of the device, not the image."""


DICOM_INSTALL_HINT = 'pip install "pneumoscan[dicom]"'
"""The command that adds DICOM support to a device install."""

FILE_REASONS = (NOT_FOUND, NOT_A_FILE, FILE_TOO_LARGE)
DECODING_REASONS = (EMPTY_FILE, NOT_AN_IMAGE, UNSUPPORTED_FORMAT, CORRUPT_IMAGE, DECOMPRESSION_BOMB)
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

EXPLANATIONS: dict[str, str] = {
    NOT_FOUND: "no such file, or a link to a file that was moved",
    NOT_A_FILE: "a folder, pipe, device or socket, not an image file (never read)",
    FILE_TOO_LARGE: "the file is far larger than any X-ray image",
    EMPTY_FILE: "the file is empty (0 bytes)",
    NOT_AN_IMAGE: "the file is not a JPEG or PNG image",
    UNSUPPORTED_FORMAT: "an image format other than JPEG or PNG",
    CORRUPT_IMAGE: "the image file is damaged or truncated",
    DECOMPRESSION_BOMB: "the image claims far more pixels than any X-ray",
    TOO_SMALL: "too few pixels to show a chest X-ray's detail",
    EXTREME_ASPECT_RATIO: "far longer than it is wide (or the reverse): not a whole chest X-ray",
    BLANK_IMAGE: "nearly uniform: no picture to read",
    SATURATED_IMAGE: "most pixels pure black or pure white (over- or under-exposed)",
    COLOUR_PHOTO: "a colour photograph, not an X-ray",
    NOT_A_CHEST_XRAY: "not a frontal chest X-ray (a photo, another body part or scan type, a drawing or noise)",
    WRONG_ORIENTATION: "a chest X-ray turned on its side or upside down, and the turn could not be told for sure",
    INVERTED_IMAGE: "a chest X-ray with white and black swapped, which could not be reversed for sure",
    DICOM_SUPPORT_MISSING: f"a DICOM file, and DICOM support is not installed ({DICOM_INSTALL_HINT})",
    WRONG_MODALITY: "a DICOM of another kind of imaging (CT, MR, ultrasound...), not a chest radiograph (CR/DX)",
    LATERAL_VIEW: "a side (lateral) view; only frontal PA/AP chest X-rays can be screened",
    MULTI_FRAME: "a DICOM holding several images (frames), not one X-ray",
    NO_PIXEL_DATA: "a DICOM without an image in it",
    NO_DECODER: "a DICOM compressed in a way no installed decoder can read",
    NOT_GRAYSCALE: "a DICOM holding a colour image, not a radiograph",
    CORRUPT_DICOM: "the DICOM file is damaged or truncated",
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
