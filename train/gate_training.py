"""Train the chest X-ray gate, convert it to int8 and write it with its metadata.

The plain function behind `edge-train-gate`. The shipped gate is judged through
LiteRT in int8, exactly as the device runs it, so the report's figures and the
thresholds in the metadata come from the int8 model, on validation data only.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_app.files import atomic_write_text, write_with_sidecar
from edge_app.inference.gate import (
    CLASS_NAMES,
    DEFAULT_CORRECTION_CONFIDENCE,
    DEFAULT_XRAY_THRESHOLD,
    GATE_INPUT_SIZE,
    GATE_METADATA_NAME,
    GATE_PREPROCESSING,
    ORIENTATIONS,
    Gate,
    open_gate,
    xray_class,
)
from edge_app.reasons import ImageRejected
from lab.config import config_dict
from train.gate_data import GateArrays, every_orientation, load_gate_arrays

GATE_FILE = "gate.tflite"
GATE_REPORT_FILE = "gate_report.json"


@dataclass
class GateTrainConfig:
    data: Path
    out: Path
    epochs: int = 60
    negatives: int = 8000
    xray_repeats: int = 2
    seed: int = 42
    batch_size: int = 64
    learning_rate: float = 3e-3
    calibration_images: int = 400


def _orient(images, is_xray):
    """Mirror, turn and invert each image at random (in that order, as `xray_class` counts); X-rays get the
    class of what was done, others stay class 0."""
    from lab.keras_env import tf

    batch = tf.shape(images)[0]
    mirrored = tf.random.uniform([batch]) < 0.5
    turns = tf.random.uniform([batch], 0, 4, tf.int32)
    inverted = tf.random.uniform([batch]) < 0.5
    images = tf.where(mirrored[:, None, None, None], tf.image.flip_left_right(images), images)
    turned = tf.gather(tf.stack([tf.image.rot90(images, k) for k in range(4)], axis=1), turns, batch_dims=1)
    images = tf.where(inverted[:, None, None, None], -turned, turned)
    found = 1 + ORIENTATIONS * tf.cast(mirrored, tf.int32) + 4 * tf.cast(inverted, tf.int32) + turns
    return images, tf.where(is_xray > 0, found, tf.zeros_like(turns))


def _training_dataset(arrays: GateArrays, config: GateTrainConfig):
    from lab.keras_env import tf
    from train.augment import make_augmenter

    xrays = np.concatenate([arrays.xrays["train"]] * config.xray_repeats)
    x = np.concatenate([xrays, arrays.negatives["train"]])
    is_xray = np.concatenate([np.ones(len(xrays), np.int32), np.zeros(len(arrays.negatives["train"]), np.int32)])
    return (
        tf.data.Dataset.from_tensor_slices((x, is_xray))
        .shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .map(make_augmenter(config.seed), num_parallel_calls=tf.data.AUTOTUNE)
        .map(_orient, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def labelled_split(arrays: GateArrays, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Every orientation of the split's X-rays plus its negatives (class 0), for validation and reports."""
    x, y = every_orientation(arrays.xrays[split])
    negatives = arrays.negatives[split]
    return np.concatenate([x, negatives]), np.concatenate([y, np.zeros(len(negatives), y.dtype)])


def fit_gate(arrays: GateArrays, config: GateTrainConfig, log) -> tuple:
    """The trained Keras gate (best validation accuracy) and its per-epoch metrics."""
    from lab.keras_env import keras
    from train.gate_model import build_gate_model

    keras.utils.set_random_seed(config.seed)
    train_ds = _training_dataset(arrays, config)
    model = build_gate_model()
    steps = int(train_ds.cardinality())
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps)
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    log(f"gate model: {model.count_params():,} parameters, {steps} steps per epoch")
    history = model.fit(
        train_ds,
        validation_data=labelled_split(arrays, "val"),
        epochs=config.epochs,
        callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=config.epochs, restore_best_weights=True)],
        verbose=2,
    )
    epochs = [{k: float(v[i]) for k, v in history.history.items()} for i in range(len(history.epoch))]
    return model, epochs


def decisions(gate: Gate, x: np.ndarray) -> list[str]:
    """What the gate does with each input: "pass", "correct:<class>" or the rejection reason."""
    outcomes = []
    for image in x:
        try:
            correction = gate.decide(gate.classifier.outputs(image))
        except ImageRejected as exc:
            outcomes.append(exc.reason)
            continue
        found = CLASS_NAMES[xray_class(correction.quarter_turns, correction.inverted, correction.mirrored)]
        outcomes.append(f"correct:{found}" if correction.needed else "pass")
    return outcomes


def _is_right(outcome: str, true_class: int) -> bool:
    return (outcome == "pass" and true_class == 1) or outcome == f"correct:{CLASS_NAMES[true_class]}"


def summarise(outcomes: list[str], y: np.ndarray) -> dict:
    """Counts that matter for safety: X-rays wrongly refused, wrongly turned; negatives let through. A
    mirrored X-ray turned and inverted right but left mirrored (the gate unsure of the mirror) is counted
    apart: the pneumonia model still sees a chest the right way up."""
    xray = y > 0
    upright = y == 1
    right = np.array([_is_right(o, t) for o, t in zip(outcomes, y, strict=True)], dtype=bool)
    mirrored = y > ORIENTATIONS
    still_mirrored = np.array(
        [m and _is_right(o, t - ORIENTATIONS) for o, t, m in zip(outcomes, y, mirrored, strict=True)], dtype=bool
    )
    accepted = np.array([o == "pass" or o.startswith("correct:") for o in outcomes])
    rejected_as_not_xray = np.array([o == "not_a_chest_xray" for o in outcomes])
    return {
        "upright_xrays": int(upright.sum()),
        "upright_rejected": int((upright & ~accepted).sum()),
        "upright_changed": int((upright & accepted & ~right).sum()),
        "xrays_any_orientation": int(xray.sum()),
        "xrays_rejected_as_not_xray": int((xray & rejected_as_not_xray).sum()),
        "xrays_accepted_with_wrong_orientation": int((xray & accepted & ~right & ~still_mirrored).sum()),
        "mirrored_xrays": int(mirrored.sum()),
        "mirrored_xrays_scanned_still_mirrored": int(still_mirrored.sum()),
        "xrays_rejected_for_orientation_or_inversion": int((xray & ~accepted & ~rejected_as_not_xray).sum()),
        "negatives": int((~xray).sum()),
        "negatives_accepted": int((~xray & accepted).sum()),
        "outcomes": dict(Counter(outcomes)),
    }


def gate_metadata(config: GateTrainConfig, report: dict) -> dict:
    return {
        "name": "pneumoscan_gate",
        "classes": list(CLASS_NAMES),
        "input": {"size": GATE_INPUT_SIZE, "channels": 1, "preprocessing": GATE_PREPROCESSING},
        "xray_threshold": DEFAULT_XRAY_THRESHOLD,
        "correction_confidence": DEFAULT_CORRECTION_CONFIDENCE,
        "training": {
            "command": f"edge-train-gate --data DATA --out OUT --epochs {config.epochs} --negatives {config.negatives}"
            f" --seed {config.seed}",
            "data": report["data"],
            "validation": report["evaluation"]["val"],
            "test": report["evaluation"]["test"],
        },
        "intended_use": "Refuses images that are not frontal chest X-rays and rights turned, inverted or mirrored ones "
        "before a pneumonia model sees them.",
    }


def train_gate(config: GateTrainConfig, log=lambda message: print(message, file=sys.stderr, flush=True)) -> dict:
    """Train, convert to int8, evaluate through LiteRT and write gate.tflite, its .sha256 and gate_report.json."""
    from lab.tflite_convert import calibration_sample, to_int8
    from lab.tflite_metadata import set_metadata_entry

    started = time.time()
    arrays = load_gate_arrays(config.data, config.negatives, config.seed)
    log(f"gate data: {arrays.counts}")
    model, epochs = fit_gate(arrays, config, log)
    calibration = calibration_sample(labelled_split(arrays, "train")[0], config.calibration_images, config.seed)
    content = to_int8(model, calibration)
    gate = open_gate(content)
    evaluation = {
        split: summarise(decisions(gate, x), y) for split in ("val", "test") for x, y in [labelled_split(arrays, split)]
    }
    report = {
        "config": config_dict(config),
        "data": arrays.counts,
        "parameters": int(model.count_params()),
        "epochs": epochs,
        "evaluation": evaluation,
        "train_seconds": round(time.time() - started, 1),
    }
    content = set_metadata_entry(content, GATE_METADATA_NAME, json.dumps(gate_metadata(config, report)).encode())
    config.out.mkdir(parents=True, exist_ok=True)
    write_with_sidecar(config.out / GATE_FILE, content)
    atomic_write_text(config.out / GATE_REPORT_FILE, json.dumps(report, indent=2))
    return report
