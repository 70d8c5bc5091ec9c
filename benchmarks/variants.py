"""Which models a benchmark compares, and the threshold each is judged at.

A variant is named either by what `edge-quantize` wrote (float32,
dynamic_range, int8, pruned_int8), by `default` (the model shipped in
edge_app/models) or `keras` (the edge-train float model), or by a file path.
Each is judged at its own operating threshold: the one stored in its
metadata, or report.json's for the Keras model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_app.inference.model_metadata import FALLBACK_THRESHOLD, is_tflite, model_threshold, read_metadata
from edge_app.package_data import DEFAULT_MODEL
from lab.portable_paths import local_path

QUANTIZED_FILES = {
    "float32": "float32.tflite",
    "dynamic_range": "dynamic_range.tflite",
    "int8": "int8.tflite",
    "pruned_int8": "pruned_int8.tflite",
}
VARIANT_NAMES = ("keras", *QUANTIZED_FILES, "default")
QUANTIZE_REPORT = "quantize_report.json"


class BenchmarkError(Exception):
    """The benchmark cannot run as asked; the message says what to fix."""


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str  # "tflite" or "keras"
    path: Path
    threshold: float
    threshold_source: str


def check_tflite(path: Path) -> bytes:
    """The bytes of a .tflite file, or a clear error when the file is not one."""
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such model file.")
    content = path.read_bytes()
    if not is_tflite(content):
        raise BenchmarkError(
            f"{path}: not a TFLite model (no TFL3 flatbuffer identifier). "
            "Pass a .tflite written by edge-quantize, or a .keras file from edge-train."
        )
    return content


def tflite_variant(path: Path, name: str | None = None) -> Variant:
    content = check_tflite(path)
    try:
        meta = read_metadata(content) or {}
    except Exception as exc:  # a damaged flatbuffer raises whatever the generated reader hits
        raise BenchmarkError(f"{path}: TFLite file cannot be read ({exc}). Re-run edge-quantize.") from exc
    threshold, recorded = model_threshold(meta)
    source = "model metadata" if recorded else f"none in model; {FALLBACK_THRESHOLD} used"
    return Variant(name or meta.get("variant") or path.stem, "tflite", path, threshold, source)


def keras_variant(path: Path) -> Variant:
    """The edge-train model, at the threshold its report.json chose on validation."""
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such Keras model. Pass the model.keras that edge-train wrote.")
    report = path.parent / "report.json"
    if report.is_file():
        threshold = float(json.loads(report.read_text())["operating_threshold"]["value"])
        source = str(report)
    else:
        threshold, source = FALLBACK_THRESHOLD, f"no report.json beside the model; {FALLBACK_THRESHOLD} used"
    return Variant("keras", "keras", path, threshold, source)


def keras_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None and importlib.util.find_spec("tf_keras") is not None


def _by_name(name: str, quantized: Path | None, keras: Path | None) -> Variant:
    if name in QUANTIZED_FILES:
        if quantized is None:
            raise BenchmarkError(f"variant {name!r} needs --quantized OUT (the folder edge-quantize wrote).")
        return tflite_variant(quantized / QUANTIZED_FILES[name], name)
    if name == "default":
        if not DEFAULT_MODEL.is_file():
            raise BenchmarkError(f"variant 'default': no shipped model at {DEFAULT_MODEL}.")
        return tflite_variant(DEFAULT_MODEL, "default")
    if name == "keras":
        if keras is None:
            raise BenchmarkError("variant 'keras' needs --keras RUN/model.keras.")
        return keras_variant(keras)
    raise BenchmarkError(
        f"unknown variant {name!r}: use one of {', '.join(VARIANT_NAMES)}, or the path of a .tflite or .keras file."
    )


def _from_argument(argument: str, quantized: Path | None, keras: Path | None) -> Variant:
    path = Path(argument)
    if path.suffix == ".keras":
        return keras_variant(path)
    if path.suffix == ".tflite" or path.is_file():
        return tflite_variant(path)
    return _by_name(argument, quantized, keras)


def source_keras_model(quantized: Path | None) -> Path | None:
    """The Keras model edge-quantize started from (its quantize_report.json names it), if it is still there."""
    report = quantized / QUANTIZE_REPORT if quantized else None
    if report is None or not report.is_file():
        return None
    try:
        path = local_path(json.loads(report.read_text())["source"]["model"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    return path if path.is_file() else None


def resolve_variants(
    models: Sequence[str], quantized: Path | None, keras: Path | None, log=lambda message: None
) -> list[Variant]:
    """The variants to compare: those named in `models`, else everything available.

    Everything available means each file edge-quantize wrote into `quantized`,
    the shipped default model, and the Keras model (`keras`, else the one
    quantize_report.json names) when TensorFlow is installed.
    """
    keras = keras or source_keras_model(quantized)
    if models:
        variants = [_from_argument(m, quantized, keras) for m in models]
    else:
        if quantized is not None and not quantized.is_dir():
            raise BenchmarkError(f"{quantized}: no such folder. Pass the OUT folder edge-quantize wrote.")
        variants = []
        if keras is not None:
            if keras_available():
                variants.append(keras_variant(keras))
            else:
                log("TensorFlow is not installed: the Keras float32 model is left out.")
        if quantized is not None:
            variants += [_by_name(n, quantized, keras) for n, f in QUANTIZED_FILES.items() if (quantized / f).is_file()]
        if DEFAULT_MODEL.is_file():
            variants.append(tflite_variant(DEFAULT_MODEL, "default"))
    if not variants:
        raise BenchmarkError("no models to benchmark: pass --quantized OUT, --keras RUN/model.keras or --models FILE.")
    if any(v.kind == "keras" for v in variants) and not keras_available():
        raise BenchmarkError("a Keras model was asked for but TensorFlow is not installed (pip install '.[train]').")
    names = [v.name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BenchmarkError(f"two models share the name {duplicates[0]!r}; benchmark each file once.")
    return variants
