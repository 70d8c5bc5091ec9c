"""Train the edge CNN and write the model, its splits and report.json.

The plain function behind `edge-train`; the CLI only parses options.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge_app import dataset, metrics
from edge_app.contract import DEFAULT_INPUT_SIZE, LABELS, PREPROCESSING_NAME, PREPROCESSING_VERSION
from edge_app.files import atomic_write_text, save_model_atomically
from edge_app.loading import load_examples

MODEL_FILE = "model.keras"
REPORT_FILE = "report.json"
SPLITS_FILE = "splits.json"
CHECKPOINT_DIR = "checkpoint"


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


def distribution_strategy():
    """Several workers when TF_CONFIG says so, several GPUs when present, else one device."""
    from train.keras_env import tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def library_versions() -> dict[str, str]:
    import PIL

    from train.keras_env import keras, tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "platform": platform.platform(),
    }


def write_splits(path: Path, root: Path, splits: dict[str, list[dataset.Example]], seed: int) -> None:
    """Record exactly which files each split holds, so quantization and the
    benchmarks evaluate on the very patients training never saw."""
    payload = {
        "seed": seed,
        "root": str(root.resolve()),
        "splits": {
            name: [
                {"path": str(e.path.relative_to(root)), "label": LABELS[e.label], "patient": e.patient} for e in items
            ]
            for name, items in splits.items()
        },
    }
    atomic_write_text(path, json.dumps(payload, indent=1))


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Weights that make both classes count equally in the loss."""
    counts = np.bincount(y.astype(int), minlength=2)
    return {c: float(len(y) / (2.0 * counts[c])) for c in range(2)}


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
    root = dataset.find_root(config.data)
    official = dataset.discover(root)
    pool = official["train"] + official.get("val", [])
    splits = dataset.patient_splits(pool, config.seed, config.val_fraction, config.test_fraction)
    for name, items in splits.items():
        log(f"{name}: {dataset.count_by_class(items)}")

    from train.augment import make_augmenter
    from train.keras_env import keras, tf
    from train.model import build_model

    strategy = distribution_strategy()  # before any other TensorFlow op: collective ops are configured at startup
    keras.utils.set_random_seed(config.seed)
    arrays, skipped = {}, []
    for name, items in splits.items():
        x, y, kept, bad = load_examples(items, config.image_size, name)
        arrays[name] = (x, y)
        splits[name] = kept
        skipped.extend(bad)
        if len(np.unique(y)) < 2:
            raise dataset.DatasetError(f"the {name} split has no readable images of one class.")
    if skipped:
        log(f"skipped {len(skipped)} unreadable files (listed in {REPORT_FILE})")

    config.out.mkdir(parents=True, exist_ok=True)
    write_splits(config.out / SPLITS_FILE, root, splits, config.seed)

    x_train, y_train = arrays["train"]
    steps_per_epoch = int(np.ceil(len(x_train) / config.batch_size))
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .map(make_augmenter(config.seed), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = tf.data.Dataset.from_tensor_slices(arrays["val"]).batch(256)

    with strategy.scope():
        model = build_model(config.image_size, dropout=config.dropout, width=config.width)
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=[keras.metrics.AUC(name="auc", num_thresholds=1000)],
        )
    log(f"model: {model.count_params():,} parameters, input {config.image_size}x{config.image_size}x1")

    # The best epoch's weights are kept in memory, not in a file: under MultiWorkerMirroredStrategy
    # only the chief worker's checkpoint files survive, and every worker needs the best weights.
    callbacks = [
        keras.callbacks.BackupAndRestore(str(config.out / CHECKPOINT_DIR)),
        keras.callbacks.EarlyStopping(
            monitor="val_auc", mode="max", patience=config.patience, restore_best_weights=True
        ),
    ]
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        class_weight=class_weights(y_train),
        callbacks=callbacks,
        verbose=2,
    )
    shutil.rmtree(config.out / CHECKPOINT_DIR, ignore_errors=True)  # finished: nothing left to resume

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

    save_model_atomically(model, config.out / MODEL_FILE)
    report = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "contract": {
            "labels": list(LABELS),
            "input_shape": [config.image_size, config.image_size, 1],
            "preprocessing": PREPROCESSING_NAME,
            "preprocessing_version": PREPROCESSING_VERSION,
        },
        "parameters": int(model.count_params()),
        "data": {
            "root": str(root.resolve()),
            "official_splits": {name: dataset.count_by_class(items) for name, items in official.items()},
            "splits": {name: dataset.count_by_class(items) for name, items in splits.items()},
            "split_method": "patient-level, duplicates kept together, official train+val pooled; "
            "official test (if present) evaluated only",
            "skipped_files": skipped,
        },
        "operating_threshold": {
            "value": threshold,
            "chosen_on": "val",
            "target_sensitivity": config.target_sensitivity,
        },
        "evaluation": evaluation,
        "epochs": _per_epoch(history),
        "seed": config.seed,
        "libraries": library_versions(),
        "strategy": type(strategy).__name__,
        "train_seconds": round(time.time() - started, 1),
    }
    atomic_write_text(config.out / REPORT_FILE, json.dumps(report, indent=2))
    return report
