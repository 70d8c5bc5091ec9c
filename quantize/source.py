"""What `edge-quantize` starts from: a trained Keras model and the splits it was trained on.

Everything here checks its input before any slow work starts, so a wrong path
or a foreign file fails in a second with a message that says what to pass
instead, not twenty minutes into a conversion.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_app.contract import LABELS
from edge_app.files import file_sha256
from edge_app.site import dataset
from lab.loading import load_examples
from lab.splits import SplitsError
from lab.splits import read_splits as read_splits_file

TRAIN_REPORT_FILE = "report.json"


class QuantizeError(Exception):
    """Input that `edge-quantize` cannot use; the message says what to fix."""


@dataclass(frozen=True)
class SourceModel:
    path: Path
    model: object  # a tf_keras Model
    sha256: str
    input_size: int


def load_source_model(path: Path) -> SourceModel:
    """Load a `model.keras` from edge-train and check it has the contract's shape:
    one (size, size, 1) image in, one probability out."""
    path = Path(path)
    if not path.is_file():
        raise QuantizeError(f"{path}: no such file. Pass the model.keras written by edge-train (--model).")
    if not zipfile.is_zipfile(path):
        raise QuantizeError(
            f"{path}: not a Keras model file (a .keras file is a zip archive). "
            "Pass the model.keras written by edge-train."
        )
    from lab.keras_env import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many unrelated types for a bad archive
        raise QuantizeError(
            f"{path}: could not be loaded as a Keras model ({type(exc).__name__}: {exc}). "
            "Pass the model.keras written by edge-train."
        ) from exc
    inputs, outputs = model.inputs, model.outputs
    input_shape = tuple(inputs[0].shape) if len(inputs) == 1 else None
    if (
        input_shape is None
        or len(input_shape) != 4
        or input_shape[1] is None
        or input_shape[1] != input_shape[2]
        or input_shape[3] != 1
    ):
        shapes = [tuple(t.shape) for t in inputs]
        raise QuantizeError(
            f"{path}: the model takes {shapes}, expected one square grayscale image (None, size, size, 1). "
            "Only models built by edge-train can be converted."
        )
    if len(outputs) != 1 or tuple(outputs[0].shape)[1:] != (1,):
        shapes = [tuple(t.shape) for t in outputs]
        raise QuantizeError(
            f"{path}: the model outputs {shapes}, expected one probability of shape (None, 1) "
            f"(P({LABELS[1]})). Only models built by edge-train can be converted."
        )
    return SourceModel(path, model, file_sha256(path), int(input_shape[1]))


def read_splits(splits_path: Path, data: Path | None) -> tuple[Path, dict[str, list[dataset.Example]]]:
    """The dataset root and the train/val/test examples recorded by edge-train.

    `data` overrides the root stored in splits.json, so a run can be converted
    on another machine where the dataset lives elsewhere.
    """
    splits_path = Path(splits_path)
    if not splits_path.is_file():
        raise QuantizeError(
            f"{splits_path}: no such file. edge-train writes splits.json next to model.keras; pass it with --splits."
        )
    try:
        recorded = read_splits_file(splits_path)
    except SplitsError as exc:
        raise QuantizeError(str(exc)) from exc
    missing = [name for name in ("train", "val", "test") if not recorded.entries.get(name)]
    if missing:
        raise QuantizeError(f"{splits_path}: has no {', '.join(missing)} split; rerun edge-train to recreate it.")
    if data is None and not recorded.root:
        raise QuantizeError(f"{splits_path}: records no dataset root; pass the dataset folder with --data.")
    try:
        root = dataset.find_root(Path(data)) if data is not None else Path(recorded.root)
    except dataset.DatasetError as exc:
        raise QuantizeError(str(exc)) from exc
    splits = {name: recorded.examples(name, root) for name in recorded.entries}
    present = sum(example.path.is_file() for example in splits["val"])
    if present == 0:
        raise QuantizeError(
            f"{root}: none of the {len(splits['val'])} validation images listed in {splits_path} are there "
            "(no images found). Point --data at the chest_xray folder edge-train was given."
        )
    return root, splits


def load_split_arrays(
    splits: dict[str, list[dataset.Example]], size: int, names: tuple[str, ...] = ("train", "val", "test")
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(x, y) arrays of each split through the one preprocessing; unreadable files are skipped."""
    arrays = {}
    for name in names:
        x, y, _, _ = load_examples(splits[name], size, name)
        if len(np.unique(y)) < 2:
            raise QuantizeError(
                f"the {name} split has readable images of only one class ({len(y)} images loaded); "
                "check that --data is the dataset edge-train used."
            )
        arrays[name] = (x, y)
    return arrays


def training_report(model_path: Path) -> dict:
    """edge-train's report.json next to the model ({} when absent): its target
    sensitivity and recipe travel into the quantized model's metadata and card."""
    report = Path(model_path).parent / TRAIN_REPORT_FILE
    try:
        return json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
