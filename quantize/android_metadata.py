"""The standard TFLite Metadata that Android Studio's ML Model Binding and the
LiteRT support library read.

That standard stores a `ModelMetadata` flatbuffer (metadata_schema.fbs, file
identifier "M001") in the model's metadata entry "TFLITE_METADATA", and packs
associated files (labels.txt) as a zip archive appended to the model file, so
the .tflite is at once a valid flatbuffer and a valid zip.

Why not tflite-support's metadata writers: tflite-support 0.4.4 pins
protobuf < 4 and cannot be installed next to TensorFlow 2.21 (protobuf 5+);
its only wheels are for Python <= 3.11. Its metadata writers are a thin layer
over the generated flatbuffer bindings, so we vendor those bindings
(`quantize/metadata_schema_py_generated.py`, needing only `flatbuffers`,
which ai-edge-litert already installs) and write the same structures here.

Design of the tensor descriptions:
- the input is described as a feature tensor, not an image: the support
  library's image pipeline (resize + mean/std) cannot express our histogram
  equalisation, and ML Model Binding would silently apply the wrong one. The
  generated wrapper takes a TensorBuffer that the app fills with the ported
  preprocessing (ANDROID.md).
- the output has one value, P(PNEUMONIA), so its TENSOR_AXIS_LABELS file has
  one line; a two-line file would not match the axis and the support
  library's TensorLabel would reject it. P(NORMAL) is 1 - P(PNEUMONIA).
"""

from __future__ import annotations

import io
import zipfile

import flatbuffers

from edge_app.contract import LABELS, POSITIVE_LABEL
from edge_app.inference.model_metadata import metadata_entries
from lab.tflite_metadata import set_metadata_entry
from quantize import metadata_schema_py_generated as meta_fb

TFLITE_METADATA_NAME = "TFLITE_METADATA"
METADATA_FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"
"""Only fields of metadata schema 1.0.0 are written (no process units, tensor
groups, audio or custom metadata), so any metadata parser reads all of it."""
LABELS_FILE = "labels.txt"
OUTPUT_LABELS = (POSITIVE_LABEL,)


def labels_text() -> str:
    return "".join(f"{label}\n" for label in OUTPUT_LABELS)


def _feature_content() -> meta_fb.ContentT:
    content = meta_fb.ContentT()
    content.contentPropertiesType = meta_fb.ContentProperties.FeatureProperties
    content.contentProperties = meta_fb.FeaturePropertiesT()
    return content


def _stats(value_min: float, value_max: float) -> meta_fb.StatsT:
    stats = meta_fb.StatsT()
    stats.min, stats.max = [value_min], [value_max]
    return stats


def build_model_metadata(metadata: dict) -> bytes:
    """A ModelMetadata flatbuffer (with the M001 identifier) describing the model."""
    size, quantization = metadata["input"]["size"], metadata["input"]["quantization"]
    image = meta_fb.TensorMetadataT()
    image.name = "image"
    image.description = (
        f"Chest X-ray as a {size}x{size}x1 {metadata['input']['dtype']} tensor: preprocessing "
        f"'{metadata['input']['preprocessing']}' v{metadata['input']['preprocessing_version']} "
        "(grayscale, squash to square with Pillow's bilinear filter, histogram equalisation to [-1, 1])"
        + (
            f", then quantized: q = round(x / {quantization['scale']:.9g} + {quantization['zero_point']})."
            if quantization
            else "."
        )
        + " See ANDROID.md; a plain resize and normalisation give different outputs."
    )
    image.content = _feature_content()
    image.stats = _stats(-1.0, 1.0)

    labels = meta_fb.AssociatedFileT()
    labels.name = LABELS_FILE
    labels.description = f"The label of the one output value. {LABELS[0]} is the complement."
    labels.type = meta_fb.AssociatedFileType.TENSOR_AXIS_LABELS

    probability = meta_fb.TensorMetadataT()
    probability.name = "probability"
    probability.description = (
        f"P({POSITIVE_LABEL}). Refer the image for review when it is at or above {metadata['threshold']:.4f} "
        f"(chosen for sensitivity >= {metadata['target_sensitivity']} on validation)."
    )
    probability.content = _feature_content()
    probability.stats = _stats(0.0, 1.0)
    probability.associatedFiles = [labels]

    subgraph = meta_fb.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image]
    subgraph.outputTensorMetadata = [probability]

    model = meta_fb.ModelMetadataT()
    model.name = "PneumoScan pediatric pneumonia screening"
    model.description = metadata["intended_use"]
    model.version = metadata["model_version"]
    model.author = "PneumoScan"
    model.license = "Model: Apache-2.0. Training data: Kermany et al., CC BY 4.0."
    model.subgraphMetadata = [subgraph]
    model.minParserVersion = MIN_PARSER_VERSION

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), METADATA_FILE_IDENTIFIER)
    return bytes(builder.Output())


def with_android_metadata(model_content: bytes, metadata: dict) -> bytes:
    """The model with TFLITE_METADATA and labels.txt packed in the standard way."""
    flat = set_metadata_entry(model_content, TFLITE_METADATA_NAME, build_model_metadata(metadata))
    stream = io.BytesIO(flat)
    stream.seek(0, io.SEEK_END)
    # mode "a" on bytes that are not a zip appends a new archive after them;
    # stored, not deflated: the Android metadata extractor reads stored entries.
    with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(LABELS_FILE, labels_text())
    return stream.getvalue()


def read_android_metadata(model_content: bytes) -> meta_fb.ModelMetadataT:
    """Parse TFLITE_METADATA back (raises ValueError when absent or malformed)."""
    data = metadata_entries(model_content).get(TFLITE_METADATA_NAME)
    if not data:
        raise ValueError("the model has no TFLITE_METADATA entry")
    if not meta_fb.ModelMetadata.ModelMetadataBufferHasIdentifier(data, 0):
        raise ValueError("TFLITE_METADATA does not carry the M001 file identifier")
    return meta_fb.ModelMetadataT.InitFromObj(meta_fb.ModelMetadata.GetRootAs(data, 0))


def packed_files(model_content: bytes) -> dict[str, bytes]:
    """Associated files packed in the model's zip tail."""
    with zipfile.ZipFile(io.BytesIO(model_content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
