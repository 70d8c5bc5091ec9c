"""ANDROID.md for the Android export: how to run the model and reproduce the preprocessing in Kotlin.

The guide and its Kotlin are template files shipped in quantize/templates, so the Kotlin can be read,
edited and compiled as Kotlin. `PneumoScanPreprocessing.kt` is a line-by-line port of
`edge_app.intake.preprocess` (ITU-R 601 luma, Pillow's antialiased bilinear resize of a float image, histogram
equalisation, Pillow's JPEG draft scale) and of `TFLiteClassifier`'s input quantization, with no Android
calls, so the tests compile and check it on a JVM; `PneumoScanAndroid.kt` holds the Android calls
(decoding, EXIF, the LiteRT interpreter). The export's test vector pins the result: an app whose port
reproduces the input SHA-256 and the int8 output is running the same model on the same numbers.
"""

from __future__ import annotations

import re
from importlib import resources

PREPROCESSING_KOTLIN = "PneumoScanPreprocessing.kt"
ANDROID_KOTLIN = "PneumoScanAndroid.kt"
TEST_KOTLIN = "PneumoScanTestVector.kt"
GUIDE = "ANDROID.md"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render_template(name: str, values: dict[str, object]) -> str:
    """A template from quantize/templates with every {{placeholder}} filled; a missing value is an error."""
    text = resources.files("quantize").joinpath("templates", name).read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)


def render_android_guide(metadata: dict, vector: dict, model_file: str) -> str:
    quantization = metadata["input"]["quantization"]
    values = {
        "model_version": metadata["model_version"],
        "variant": metadata["variant"],
        "intended_use": metadata["intended_use"],
        "preprocessing": metadata["input"]["preprocessing"],
        "preprocessing_version": metadata["input"]["preprocessing_version"],
        "size": metadata["input"]["size"],
        "input_scale": f"{quantization['scale']:.9g}",
        "input_zero_point": quantization["zero_point"],
        "model_file": model_file,
        "threshold": f"{metadata['threshold']:.6f}",
        "threshold_short": f"{metadata['threshold']:.4f}",
        "target_sensitivity": metadata["target_sensitivity"],
        "positive": metadata["positive_label"],
        "image_width": vector["image_width"],
        "image_height": vector["image_height"],
        "input_sha256": vector["input_int8_sha256"],
        "input_head": vector["input_int8_head"],
        "raw_output": vector["output_int8"],
        "probability": f"{vector['probability']:.8f}",
    }
    for key, name in (
        ("preprocessing_kotlin", PREPROCESSING_KOTLIN),
        ("android_kotlin", ANDROID_KOTLIN),
        ("test_kotlin", TEST_KOTLIN),
    ):
        values[key] = render_template(name, values).rstrip()
    return render_template(GUIDE, values)
