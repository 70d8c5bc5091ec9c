"""The one way a PneumoScan model is fitted, shared by edge-train and the pruning fine-tunes in edge-quantize.

Both feed the same augmented, shuffled batches, use Adam on a cosine-decay
schedule with binary cross-entropy, and weight the classes equally, so a
fine-tune repairs a model under the very conditions it was trained in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lab.keras_env import keras, tf
from train.augment import make_augmenter


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Weights that make both classes count equally in the loss."""
    counts = np.bincount(y.astype(int), minlength=2)
    return {c: float(len(y) / (2.0 * counts[c])) for c in range(2)}


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return int(np.ceil(n_examples / batch_size))


def augmented_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """Reshuffled every epoch, then augmented batch by batch on the fly."""
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(make_augmenter(seed), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def compile_binary(model, learning_rate: float, decay_steps: int, metrics: list | None = None) -> None:
    """Adam from `learning_rate` down to zero over `decay_steps` by cosine decay, binary cross-entropy."""
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=keras.losses.BinaryCrossentropy(), metrics=metrics)


def fit_weighted(
    model,
    batches: tf.data.Dataset,
    y: np.ndarray,
    epochs: int,
    callbacks: Sequence = (),
    validation_data: tf.data.Dataset | None = None,
    verbose: int = 0,
):
    """`model.fit` on `batches` with class weights from the labels `y` the batches were made from."""
    return model.fit(
        batches,
        validation_data=validation_data,
        epochs=epochs,
        class_weight=class_weights(y),
        callbacks=list(callbacks),
        verbose=verbose,
    )
