"""`edge-export android`: a folder (and a .zip) an Android developer drops into an app.

The folder is assembled in a temporary directory beside the target, checked
(the exported model loads, its two kinds of metadata read back, and it gives
exactly the source model's outputs), and only then renamed into place, so a
failure never leaves a half-written export where the final one should be.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from edge_app.files import SIDECAR_SUFFIX, atomic_write, sha256_hex, sha256_line
from edge_app.inference.model_metadata import is_tflite, read_metadata
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.intake.preprocess import preprocess
from quantize.android_guide import render_android_guide
from quantize.android_metadata import (
    LABELS_FILE,
    labels_text,
    packed_files,
    read_android_metadata,
    with_android_metadata,
)
from quantize.model_card import render_model_card

MODEL_FILE = "pneumoscan.tflite"
TEST_VECTOR_IMAGE = "test_vector.png"
TEST_VECTOR_FILE = "test_vector.json"
FILES = (
    MODEL_FILE,
    MODEL_FILE + SIDECAR_SUFFIX,
    LABELS_FILE,
    "model_card.md",
    "ANDROID.md",
    TEST_VECTOR_IMAGE,
    TEST_VECTOR_FILE,
)


class ExportError(Exception):
    """A model that cannot be exported; the message says what to pass instead."""


def load_source(path: Path) -> tuple[bytes, dict]:
    """A .tflite from edge-quantize: full int8 and carrying PneumoScan metadata."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file. Pass the pruned_int8.tflite written by edge-quantize.")
    content = path.read_bytes()
    if not is_tflite(content):
        raise ExportError(f"{path}: not a TFLite model. Pass the pruned_int8.tflite written by edge-quantize.")
    try:
        metadata = read_metadata(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: its PneumoScan metadata cannot be read ({exc}).") from exc
    if metadata is None:
        raise ExportError(
            f"{path}: carries no PneumoScan metadata (threshold, preprocessing). "
            "Pass a model written by edge-quantize, e.g. OUT/pruned_int8.tflite."
        )
    if metadata["input"]["dtype"] != "int8" or not metadata["input"].get("quantization"):
        raise ExportError(
            f"{path}: is the {metadata.get('variant')} variant with {metadata['input']['dtype']} input; "
            "the Android export ships the full int8 model. Pass OUT/pruned_int8.tflite."
        )
    return content, metadata


def test_vector_image(width: int = 150, height: int = 180) -> bytes:
    """A deterministic 8-bit grayscale PNG with chest-like structure, not square,
    so the test vector exercises the squash, the filter and the equalisation."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    body = 90 + 60 * np.exp(-(((x - width / 2) / (width * 0.45)) ** 2))
    lungs = sum(
        -55 * np.exp(-(((x - cx) / (width * 0.16)) ** 2 + ((y - height * 0.5) / (height * 0.3)) ** 2))
        for cx in (width * 0.32, width * 0.68)
    )
    ribs = 12 * np.sin(y / height * 40) * (np.abs(x - width / 2) > width * 0.08)
    noise = np.random.default_rng(0).normal(0, 4, (height, width))
    pixels = np.clip(body + lungs + ribs + noise, 0, 255).astype(np.uint8)
    stream = io.BytesIO()
    Image.fromarray(pixels).save(stream, format="PNG")
    return stream.getvalue()


def compute_test_vector(model_content: bytes, image: bytes) -> dict:
    """What the Python pipeline gives for `image`: the exact int8 input and output."""
    classifier = TFLiteClassifier(model_content)
    x = preprocess(image, classifier.input_size)
    tensor = classifier.input_tensor(x)
    probability = classifier.predict(x)
    output = classifier.interpreter.get_tensor(classifier.interpreter.get_output_details()[0]["index"])
    with Image.open(io.BytesIO(image)) as decoded:
        width, height = decoded.size
    return {
        "image": TEST_VECTOR_IMAGE,
        "image_width": width,
        "image_height": height,
        "image_sha256": sha256_hex(image),
        "input_int8_sha256": sha256_hex(tensor.tobytes()),
        "input_int8_head": [int(v) for v in tensor.reshape(-1)[:8]],
        "output_int8": int(output.reshape(-1)[0]),
        "probability": probability,
    }


def verify_export(source: bytes, exported: bytes, metadata: dict, probes: list[np.ndarray]) -> None:
    """The exported model must load, read back, and match the source bit for bit on `probes`."""
    android = read_android_metadata(exported)
    if android.version.decode("utf-8") != metadata["model_version"]:
        raise ExportError("the exported TFLITE_METADATA does not carry the model version")
    if packed_files(exported).get(LABELS_FILE) != labels_text().encode("utf-8"):
        raise ExportError(f"{LABELS_FILE} is not packed in the exported model")
    if read_metadata(exported) != metadata:
        raise ExportError("the PneumoScan metadata changed during export")
    before, after = TFLiteClassifier(source), TFLiteClassifier(exported)
    for x in probes:
        if before.predict(x) != after.predict(x):
            raise ExportError("the exported model gives different outputs from the source model")


def _probes(size: int, image: bytes) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [preprocess(image, size), *(rng.uniform(-1, 1, (size, size, 1)).astype(np.float32) for _ in range(4))]


def export_android(model: Path, out: Path) -> dict:
    """Write the Android folder `out` and `out`.zip; returns a summary."""
    source, metadata = load_source(model)
    out = Path(out)
    exported = with_android_metadata(source, metadata)
    image = test_vector_image()
    verify_export(source, exported, metadata, _probes(metadata["input"]["size"], image))
    vector = compute_test_vector(exported, image)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        contents = {
            MODEL_FILE: exported,
            MODEL_FILE + SIDECAR_SUFFIX: sha256_line(exported, MODEL_FILE).encode(),
            LABELS_FILE: labels_text().encode(),
            "model_card.md": render_model_card(metadata).encode(),
            "ANDROID.md": render_android_guide(metadata, vector, MODEL_FILE).encode(),
            TEST_VECTOR_IMAGE: image,
            TEST_VECTOR_FILE: json.dumps(vector, indent=2).encode(),
        }
        for name, data in contents.items():
            (staging / name).write_bytes(data)
        staging.chmod(0o755)  # mkdtemp makes it private; an export is meant to be shared
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    archive = out.with_name(out.name + ".zip")
    atomic_write(archive, lambda tmp: _zip_folder(out, tmp))
    return {"folder": out, "zip": archive, "sha256": sha256_hex(exported), "bytes": len(exported), "vector": vector}


def _replace_dir(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`, moving an earlier export aside first."""
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def _zip_folder(folder: Path, destination: Path) -> None:
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in FILES:
            archive.write(folder / name, f"{folder.name}/{name}")
    destination.chmod(0o644)
