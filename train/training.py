"""Train the edge CNN and write the model, its splits and report.json.

The plain function behind `edge-train`; the CLI only parses options.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_app.contract import DEFAULT_INPUT_SIZE, LABELS, PREPROCESSING_NAME, PREPROCESSING_VERSION
from edge_app.files import atomic_write_text, save_model_atomically
from edge_app.site import dataset, metrics
from lab import external
from lab.config import config_dict
from lab.loading import load_examples
from lab.portable_paths import portable_path
from lab.splits import SPLITS_FILE, write_splits

MODEL_FILE = "model.keras"
REPORT_FILE = "report.json"
CHECKPOINT_DIR = "checkpoint"
PRETRAIN_CHECKPOINT_DIR = "pretrain_checkpoint"


@dataclass
class TrainConfig:
    data: Path
    out: Path
    epochs: int = 40
    image_size: int = DEFAULT_INPUT_SIZE
    seed: int = 42
    batch_size: int = 64
    learning_rate: float = 2e-3
    target_sensitivity: float = 0.95
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    patience: int = 10
    width: float = 1.0
    dropout: float = 0.3
    pretrain_epochs: int = 60
    """Epochs of self-supervised pretraining on the training images before fitting (0: none)."""
    external: Path | None = None
    """Labelled folder from another site, scored for the report only (see lab.external)."""


def distribution_strategy():
    """Several workers when TF_CONFIG says so, several GPUs when present, else one device."""
    from lab.keras_env import tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _per_epoch(history) -> list[dict[str, float]]:
    """Metrics of each epoch this process ran, numbered as in the whole run (a resumed
    run starts after the epochs its checkpoint already holds)."""
    keys = sorted(history.history)
    return [
        {"epoch": epoch + 1, **{k: float(history.history[k][i]) for k in keys}} for i, epoch in enumerate(history.epoch)
    ]


def train(config: TrainConfig, log=lambda message: print(message, file=sys.stderr, flush=True)) -> dict:
    """Run the whole recipe; returns the report that is also written to disk."""
    started = time.time()
    root, official, splits = split_by_patient(config, log)
    from lab.keras_env import keras, library_versions
    from train import fit

    strategy = distribution_strategy()  # before any other TensorFlow op: collective ops are configured at startup
    keras.utils.set_random_seed(config.seed)
    arrays, skipped = load_splits(splits, config.image_size, log)
    # loaded before training, so a wrong folder fails in seconds rather than after the run
    external_images = external.load_external(config.external, config.image_size) if config.external else None
    config.out.mkdir(parents=True, exist_ok=True)
    write_splits(config.out / SPLITS_FILE, root, splits, config.seed)

    batches = fit.augmented_batches(*arrays["train"], config.batch_size, config.seed)
    model = build_compiled_model(config, strategy, len(arrays["train"][0]))
    log(f"model: {model.count_params():,} parameters, input {config.image_size}x{config.image_size}x1")
    pretraining = pretrain_encoder(model, arrays["train"][0], config, strategy, log)
    history = fit_best(model, batches, arrays, config)
    threshold, evaluation = evaluate(model, arrays, official, config, skipped)
    if external_images is not None:
        evaluation["external"] = evaluate_external(model, external_images, threshold, config)

    save_model_atomically(model, config.out / MODEL_FILE)
    report = {
        "config": config_dict(config),
        "contract": contract_summary(config.image_size),
        "parameters": int(model.count_params()),
        "data": data_summary(root, official, splits, skipped),
        "operating_threshold": {
            "value": threshold,
            "chosen_on": "val",
            "target_sensitivity": config.target_sensitivity,
        },
        "evaluation": evaluation,
        "pretraining": pretraining,
        "epochs": _per_epoch(history),
        "seed": config.seed,
        "libraries": library_versions(),
        "strategy": type(strategy).__name__,
        "train_seconds": round(time.time() - started, 1),
    }
    atomic_write_text(config.out / REPORT_FILE, json.dumps(report, indent=2))
    return report


def split_by_patient(config: TrainConfig, log) -> tuple[Path, dict, dict[str, list[dataset.Example]]]:
    """The dataset root, its official splits, and the pooled train+val images split by patient."""
    root = dataset.find_root(config.data)
    official = dataset.discover(root)
    pool = official["train"] + official.get("val", [])
    splits = dataset.patient_splits(pool, config.seed, config.val_fraction, config.test_fraction)
    for name, items in splits.items():
        log(f"{name}: {dataset.count_by_class(items)}")
    return root, official, splits


def load_splits(
    splits: dict[str, list[dataset.Example]], image_size: int, log
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list]:
    """(x, y) of each split through the one preprocessing. Unreadable files are dropped from
    `splits` (so splits.json lists only what was used) and returned to be reported."""
    arrays, skipped = {}, []
    for name, items in splits.items():
        x, y, kept, bad = load_examples(items, image_size, name)
        arrays[name] = (x, y)
        splits[name] = kept
        skipped.extend(bad)
        if len(np.unique(y)) < 2:
            raise dataset.DatasetError(f"the {name} split has no readable images of one class.")
    if skipped:
        log(f"skipped {len(skipped)} unreadable files (listed in {REPORT_FILE})")
    return arrays, skipped


def build_compiled_model(config: TrainConfig, strategy, n_train: int):
    """The network, compiled for the whole cosine schedule, inside the distribution strategy."""
    from lab.keras_env import keras
    from train import fit
    from train.model import build_model

    with strategy.scope():
        model = build_model(config.image_size, dropout=config.dropout, width=config.width)
        decay_steps = config.epochs * fit.steps_per_epoch(n_train, config.batch_size)
        fit.compile_binary(
            model, config.learning_rate, decay_steps, metrics=[keras.metrics.AUC(name="auc", num_thresholds=1000)]
        )
    return model


def pretrain_encoder(model, x: np.ndarray, config: TrainConfig, strategy, log) -> dict:
    """Self-supervised pretraining (train.pretrain), resumable like the fit. Skipped when the fit
    itself is being resumed: its checkpoint restores weights that already include pretraining."""
    if not config.pretrain_epochs:
        return {"epochs": 0}
    if (config.out / CHECKPOINT_DIR).exists():
        log("pretraining: skipped, resuming the fit from its checkpoint")
        return {"epochs": config.pretrain_epochs, "resumed_after": True}
    from lab.keras_env import keras
    from train.pretrain import pretrain

    log(f"pretraining: {config.pretrain_epochs} epochs of contrastive learning on the training images")
    started = time.time()
    backup = keras.callbacks.BackupAndRestore(str(config.out / PRETRAIN_CHECKPOINT_DIR))
    losses = pretrain(model, x, config.pretrain_epochs, config.seed, strategy, [backup])
    shutil.rmtree(config.out / PRETRAIN_CHECKPOINT_DIR, ignore_errors=True)  # finished: nothing left to resume
    return {"epochs": config.pretrain_epochs, "loss": losses, "seconds": round(time.time() - started, 1)}


def fit_best(model, batches, arrays: dict[str, tuple[np.ndarray, np.ndarray]], config: TrainConfig):
    """Fit with early stopping on validation AUC, resumable after an interruption; leaves the
    best epoch's weights in `model` and returns the Keras history."""
    from lab.keras_env import keras, tf
    from train import fit

    # The best epoch's weights are kept in memory, not in a file: under MultiWorkerMirroredStrategy
    # only the chief worker's checkpoint files survive, and every worker needs the best weights.
    callbacks = [
        keras.callbacks.BackupAndRestore(str(config.out / CHECKPOINT_DIR)),
        keras.callbacks.EarlyStopping(
            monitor="val_auc", mode="max", patience=config.patience, restore_best_weights=True
        ),
    ]
    val_batches = tf.data.Dataset.from_tensor_slices(arrays["val"]).batch(256)
    history = fit.fit_weighted(
        model, batches, arrays["train"][1], config.epochs, callbacks, validation_data=val_batches, verbose=2
    )
    shutil.rmtree(config.out / CHECKPOINT_DIR, ignore_errors=True)  # finished: nothing left to resume
    return history


def evaluate(model, arrays: dict, official: dict, config: TrainConfig, skipped: list) -> tuple[float, dict]:
    """The operating threshold chosen on validation, and the screening summary of each held-out
    split at it (the official test folder, when present, is only evaluated)."""
    scores = {name: model.predict(x, batch_size=256, verbose=0).ravel() for name, (x, _) in arrays.items()}
    threshold = metrics.threshold_for_sensitivity(arrays["val"][1], scores["val"], config.target_sensitivity)
    evaluation = {
        name: metrics.screening_summary(arrays[name][1], scores[name], threshold, seed=config.seed)
        for name in ("val", "test")
    }
    if "test" in official:
        x, y, _, bad = load_examples(official["test"], config.image_size, "official test")
        skipped.extend(bad)
        official_scores = model.predict(x, batch_size=256, verbose=0).ravel()
        evaluation["official_test"] = metrics.screening_summary(y, official_scores, threshold, seed=config.seed)
    return threshold, evaluation


def evaluate_external(model, images: tuple[np.ndarray, np.ndarray, list], threshold: float, config: TrainConfig):
    """The external folder at the threshold validation chose: reporting only, nothing is tuned on it."""
    x, y, skipped = images
    scores = model.predict(x, batch_size=256, verbose=0).ravel()
    return external.external_summary(config.external, y, scores, threshold, skipped, seed=config.seed)


def contract_summary(image_size: int) -> dict:
    return {
        "labels": list(LABELS),
        "input_shape": [image_size, image_size, 1],
        "preprocessing": PREPROCESSING_NAME,
        "preprocessing_version": PREPROCESSING_VERSION,
    }


def data_summary(root: Path, official: dict, splits: dict, skipped: list) -> dict:
    return {
        "root": portable_path(root),
        "official_splits": {name: dataset.count_by_class(items) for name, items in official.items()},
        "splits": {name: dataset.count_by_class(items) for name, items in splits.items()},
        "split_method": "patient-level, duplicates kept together, official train+val pooled; "
        "official test (if present) evaluated only",
        "skipped_files": skipped,
    }
