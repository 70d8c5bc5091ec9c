"""Why a calibration is refused: the stable codes of the `findings.Finding`s that `calibration` and `variety`
give (the profile keeps only their English sentences)."""

TOO_FEW_IMAGES = "too_few_images"
"""Fewer usable images of one class than calibration needs (facts: `label`, `found`, `needed`, `missing`)."""
NO_PNEUMONIA_IMAGES = "no_pneumonia_images"
"""No usable PNEUMONIA image at all: no threshold can be chosen."""
FOLDERS_SWAPPED = "folders_swapped"
"""The PNEUMONIA X-rays look healthier than the NORMAL ones."""
TOO_FEW_CHILDREN_FOR_PROMISE = "too_few_children_for_promise"
"""Too few children with pneumonia for the promise (`children`, `needed` and `missing`; `needed` absent when
no site could have enough)."""
SAME_XRAY_BOTH_LABELS = "same_xray_both_labels"
"""One X-ray filed under both labels (`xrays`: how many)."""
TOO_FEW_CHILDREN = "too_few_children"
"""Too few different children behind one class's images (`label`, `found`, `needed`)."""

CODES = (
    TOO_FEW_IMAGES,
    NO_PNEUMONIA_IMAGES,
    FOLDERS_SWAPPED,
    TOO_FEW_CHILDREN_FOR_PROMISE,
    SAME_XRAY_BOTH_LABELS,
    TOO_FEW_CHILDREN,
)
