"""The model contract shared by training, conversion, benchmarks and the device.

Everything that must agree between the place a model is made and the place it
runs lives here, so changing one of these values is a visible, reviewed act
rather than a silent drift between two copies.
"""

from edge_app.language import N_

LABELS: tuple[str, str] = (N_("NORMAL"), N_("PNEUMONIA"))
"""Class names in output order: the model emits P(PNEUMONIA) as its one output. Also the verdict words
people read, so they are marked for the catalogues."""

POSITIVE_LABEL = "PNEUMONIA"

DEFAULT_INPUT_SIZE = 128
"""Side of the square, single-channel model input, in pixels."""

PREPROCESSING_NAME = "gray-squash-equalize"
PREPROCESSING_VERSION = 1
"""Bump the version whenever `edge_app.intake.preprocess` changes what it returns:
models record the version they were trained with, and the device refuses a
model whose preprocessing it does not implement."""

METADATA_NAME = "pneumoscan"
"""Name of the JSON metadata entry stored inside every .tflite we ship."""
