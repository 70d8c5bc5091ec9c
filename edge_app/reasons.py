"""Why an image got no result: every reason code, in one place.

Reason codes are stable: they are stored in the history database and printed
in JSON and CSV output, so scripts and later audits can rely on them. Status
`rejected` means the image is not one the model may be trusted on; status
`error` means the device failed, not the image. `edge_app.quality.REASONS`
and `edge_app.gate.REASONS` explain each rejection in one line.
"""

# Rejected while reading the file (edge_app.image_file.read_image_file).
NOT_FOUND = "not_found"
NOT_A_FILE = "not_a_file"
FILE_TOO_LARGE = "file_too_large"
# Rejected while decoding (edge_app.preprocess.decode_image).
EMPTY_FILE = "empty_file"
NOT_AN_IMAGE = "not_an_image"
UNSUPPORTED_FORMAT = "unsupported_format"
CORRUPT_IMAGE = "corrupt_image"
DECOMPRESSION_BOMB = "decompression_bomb"
# Rejected by the quality gate (edge_app.quality.check_quality).
TOO_SMALL = "too_small"
EXTREME_ASPECT_RATIO = "extreme_aspect_ratio"
BLANK_IMAGE = "blank_image"
SATURATED_IMAGE = "saturated_image"
COLOUR_PHOTO = "colour_photo"
# Rejected by the chest X-ray gate (edge_app.gate).
NOT_A_CHEST_XRAY = "not_a_chest_xray"
WRONG_ORIENTATION = "wrong_orientation"
INVERTED_IMAGE = "inverted_image"
# Rejected while reading a DICOM file (edge_app.dicom_input).
DICOM_SUPPORT_MISSING = "dicom_support_missing"
WRONG_MODALITY = "wrong_modality"
LATERAL_VIEW = "lateral_view"
MULTI_FRAME = "multi_frame"
NO_PIXEL_DATA = "no_pixel_data"
NO_DECODER = "no_decoder"
NOT_GRAYSCALE = "not_grayscale"
CORRUPT_DICOM = "corrupt_dicom"

# Status error (edge_app.scanner).
UNREADABLE_FILE = "unreadable_file"
"""The file could not be read (permissions, removed, I/O error)."""
INFERENCE_FAILED = "inference_failed"
"""The model failed on a decoded image: a fault of the device, not the image."""
