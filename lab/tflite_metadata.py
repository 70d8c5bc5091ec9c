"""Write the PneumoScan metadata into a .tflite file.

The TFLite schema has a `metadata` list of (name, buffer index) pairs; we
store one entry named `contract.METADATA_NAME` whose buffer is UTF-8 JSON.
It travels inside the model file, so a device can never pair a model with the
wrong threshold or preprocessing. `edge_app.inference.model_metadata` reads it back
without TensorFlow; the flatbuffer bindings used here are the same ones.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from edge_app.contract import LABELS, METADATA_NAME, POSITIVE_LABEL, PREPROCESSING_NAME, PREPROCESSING_VERSION
from edge_app.inference.model_metadata import TFLITE_FILE_IDENTIFIER, schema

SCHEMA_VERSION = 2
"""2 added `validation_scores` (every validation score of each class, so a device can recompute the stated
sensitivity and specificity at the threshold before it installs the model) and `reference_outputs` (the raw
outputs of fixed inputs under XNNPACK at build time, which every device must reproduce exactly)."""
INTENDED_USE = (
    "Screening aid (decision support) for anterior-posterior chest X-rays of children aged 1 to 5: "
    "it flags images for prompt review by a clinician. It is not a diagnosis and must not be used "
    "to rule pneumonia in or out on its own."
)
TRAINING_DATA = (
    "Kermany et al. pediatric chest X-rays (Guangzhou Women and Children's Medical Center, ages 1-5, "
    "AP view; Mendeley Data v2, doi:10.17632/rscbjbr9sj.2, CC BY 4.0), official train+val pooled and "
    "split by patient into train/val/test."
)


def set_metadata_entry(model_content: bytes, name: str, data: bytes) -> bytes:
    """The model with metadata entry `name` holding `data` (replaced if present).

    Anything appended after the flatbuffer (a zip of associated files) is not
    kept: add those after the last metadata entry.
    """
    tfl = schema()
    model = tfl.ModelT.InitFromPackedBuf(bytearray(model_content), 0)
    buffer = tfl.BufferT()
    buffer.data = np.frombuffer(data, dtype=np.uint8)
    model.metadata = list(model.metadata or [])
    existing = [entry for entry in model.metadata if entry.name.decode("utf-8") == name]
    if existing:
        model.buffers[existing[0].buffer] = buffer
    else:
        model.buffers.append(buffer)
        entry = tfl.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    return _pack(model, len(model_content) + len(data))


def remove_metadata_entry(model_content: bytes, name: str) -> bytes:
    """The model without metadata entry `name` (its buffer is emptied, so indices stay valid)."""
    tfl = schema()
    model = tfl.ModelT.InitFromPackedBuf(bytearray(model_content), 0)
    for entry in [e for e in model.metadata or [] if e.name.decode("utf-8") == name]:
        model.buffers[entry.buffer] = tfl.BufferT()
        model.metadata.remove(entry)
    return _pack(model, len(model_content))


def _pack(model, size_hint: int) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(model.Pack(builder), TFLITE_FILE_IDENTIFIER)
    return bytes(builder.Output())


def tensor_quantization(detail: dict) -> dict | None:
    """{"scale", "zero_point"} of an interpreter tensor, or None when it is float."""
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]) == np.float32 or not scale:
        return None
    return {"scale": float(scale), "zero_point": int(zero_point)}


def build_metadata(
    *,
    variant: str,
    model_version: str,
    input_detail: dict,
    threshold: float,
    target_sensitivity: float,
    metrics: dict,
    source_keras_sha256: str,
    data_splits: dict,
    validation_scores: dict,
    reference_outputs: dict,
    extra: dict | None = None,
) -> dict:
    """The JSON stored in every .tflite; its keys are described in docs/training.md (edge-quantize)."""
    size = int(input_detail["shape"][1])
    return {
        "schema_version": SCHEMA_VERSION,
        "name": "pneumoscan",
        "model_version": model_version,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "variant": variant,
        "labels": list(LABELS),
        "positive_label": POSITIVE_LABEL,
        "output": f"one value: P({POSITIVE_LABEL}); P({LABELS[0]}) = 1 - P({POSITIVE_LABEL})",
        "input": {
            "size": size,
            "channels": 1,
            "dtype": np.dtype(input_detail["dtype"]).name,
            "preprocessing": PREPROCESSING_NAME,
            "preprocessing_version": PREPROCESSING_VERSION,
            "value_range": [-1.0, 1.0],
            "quantization": tensor_quantization(input_detail),
        },
        "threshold": float(threshold),
        "threshold_method": (
            f"highest threshold whose sensitivity on the validation split, measured with this {variant} model "
            f"through LiteRT, is at least {target_sensitivity}"
        ),
        "target_sensitivity": float(target_sensitivity),
        "metrics": metrics,
        "training_data": TRAINING_DATA,
        "data_splits": data_splits,
        "validation_scores": validation_scores,
        "reference_outputs": reference_outputs,
        "source_keras_sha256": source_keras_sha256,
        "intended_use": INTENDED_USE,
        **(extra or {}),
    }


def embed_metadata(model_content: bytes, metadata: dict) -> bytes:
    return set_metadata_entry(model_content, METADATA_NAME, json.dumps(metadata, sort_keys=True).encode("utf-8"))
