"""Read the PneumoScan metadata stored inside a .tflite file.

The TFLite flatbuffer schema has a `metadata` list of (name, buffer) pairs.
`edge-quantize` stores one entry named `pneumoscan` whose buffer is UTF-8
JSON: labels, input contract, operating threshold, metrics and provenance.
Reading it needs only the flatbuffers schema bindings that ai-edge-litert
ships (TensorFlow's copy is the fallback), never TensorFlow itself.
"""

from __future__ import annotations

import importlib
import json
import math

from edge_app.contract import METADATA_NAME

TFLITE_FILE_IDENTIFIER = b"TFL3"
"""The flatbuffer file identifier, at bytes 4 to 8 of every .tflite file."""
FALLBACK_THRESHOLD = 0.5
"""Used only for a model without metadata (a development model); callers say so where they show it."""

_SCHEMA_MODULES = ("ai_edge_litert.schema_py_generated", "tensorflow.lite.python.schema_py_generated")


def schema():
    """The generated TFLite flatbuffer schema module."""
    for name in _SCHEMA_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("No TFLite flatbuffer schema available; install ai-edge-litert.")


def metadata_entries(model_content: bytes) -> dict[str, bytes]:
    """Every metadata entry of a .tflite file, by name."""
    tfl = schema()
    model = tfl.Model.GetRootAsModel(bytearray(model_content), 0)
    entries = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        buffer = model.Buffers(entry.Buffer())
        if buffer.Size() and buffer.Offset() > 1:
            # large models keep buffer data after the flatbuffer itself
            data = model_content[buffer.Offset() : buffer.Offset() + buffer.Size()]
        else:
            data = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
        entries[entry.Name().decode("utf-8")] = data
    return entries


def is_tflite(content: bytes) -> bool:
    return content[4:8] == TFLITE_FILE_IDENTIFIER


def is_number(value: object) -> bool:
    """A finite int or float (JSON's numbers), not a bool or a string that looks like one."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def threshold_value(metadata: dict) -> float:
    """The model's threshold; ValueError with a sentence when it is missing, not a number, or outside [0, 1]."""
    value = metadata.get("threshold")
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"its threshold {value!r} is not a number between 0 and 1")
    return float(value)


def model_threshold(metadata: dict | None) -> tuple[float, bool]:
    """(operating threshold, whether the model recorded it): the metadata's threshold, else the fallback.
    ValueError when the recorded threshold is not a number between 0 and 1."""
    if metadata and "threshold" in metadata:
        return threshold_value(metadata), True
    return FALLBACK_THRESHOLD, False


def read_metadata(model_content: bytes) -> dict | None:
    """The PneumoScan JSON metadata of a model, or None when it carries none; ValueError when it is not
    shaped like PneumoScan metadata, so no reader meets a list where it expects a mapping."""
    data = metadata_entries(model_content).get(METADATA_NAME)
    if not data:
        return None
    try:
        metadata = json.loads(data.decode("utf-8"))
    except RecursionError as exc:
        raise ValueError("the model's PneumoScan metadata is nested too deeply") from exc
    check_shape(metadata)
    return metadata


def check_shape(metadata: object) -> None:
    """Raise ValueError unless `metadata` is a JSON object whose `input` is an object and `labels` a list of
    strings (each only when present); the threshold is checked where it is read (model_threshold)."""
    if not isinstance(metadata, dict):
        raise ValueError(f"the model's PneumoScan metadata is a {type(metadata).__name__}, not a JSON object")
    if not isinstance(metadata.get("input", {}), dict):
        raise ValueError("the model's metadata 'input' is not a JSON object")
    labels = metadata.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ValueError(f"the model's metadata 'labels' {labels!r} is not a list of names")
