"""Self-supervised pretraining of the network on the training images (SimCLR), labels unused.

Why: a model trained only to separate the labels leans on whatever separates them in one
hospital's images, including how the chest is framed. Learning first to recognise two random
views of the same X-ray as one image (against every other image in the batch) gives the
network features of the anatomy itself. On a later collection this raised specificity at
the validation threshold across seeds (benchmarks/results/generalization.md).

The two views use the training augmentation (`train.augment`) with a tighter framing range:
nothing here is a second preprocessing.
"""

from __future__ import annotations

import numpy as np

from lab.keras_env import keras, tf
from train.augment import FRAMING_MAX_ASPECT, photometric, random_rotation, reframe

BATCH_SIZE = 256
"""Images per step; each is contrasted with the 2 x 255 other views of its batch."""
TEMPERATURE = 0.2
LEARNING_RATE = 1e-3
VIEW_AREA = (0.3, 1.0)
"""Framing of the two views: crops of 30% to all of the image, no zoom-out."""
PROJECTION = (128, 64)
"""Widths of the projection head; it is thrown away after pretraining."""
FEATURES_LAYER = "pool"


def contrastive_loss(first: tf.Tensor, second: tf.Tensor, temperature: float = TEMPERATURE) -> tf.Tensor:
    """NT-Xent: each view must pick its partner out of the 2N - 1 other views of the batch."""
    z = tf.math.l2_normalize(tf.concat([first, second], axis=0), axis=1)
    n = tf.shape(first)[0]
    similarity = tf.matmul(z, z, transpose_b=True) / temperature
    similarity -= tf.eye(2 * n) * 1e9  # a view is not its own partner
    partners = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(partners, similarity))


class ContrastivePretrainer(keras.Model):
    """The classifier's layers up to global pooling, a projection head, and a train step that
    compares two augmented views of each image. Trains the classifier's own layers in place."""

    def __init__(self, classifier: keras.Model, seed: int) -> None:
        super().__init__()
        self.encoder = keras.Model(classifier.input, classifier.get_layer(FEATURES_LAYER).output)
        self.head = keras.Sequential(
            [keras.layers.Dense(PROJECTION[0], activation="relu"), keras.layers.Dense(PROJECTION[1])]
        )
        self.rotate = random_rotation(seed)

    def _view(self, images: tf.Tensor) -> tf.Tensor:
        return photometric(reframe(self.rotate(images, training=True), VIEW_AREA, FRAMING_MAX_ASPECT))

    def call(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.head(self.encoder(images, training=training), training=training)

    def train_step(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        first, second = self._view(images), self._view(images)
        with tf.GradientTape() as tape:
            projected = self(tf.concat([first, second], axis=0), training=True)
            loss = contrastive_loss(*tf.split(projected, 2))
            # gradients are summed over replicas when training is distributed
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        self.optimizer.minimize(scaled, self.trainable_variables, tape=tape)
        return {"loss": loss}


def pretrain(classifier: keras.Model, x: np.ndarray, epochs: int, seed: int, strategy, callbacks=()) -> list[float]:
    """Pretrain `classifier`'s layers up to pooling on the images `x`; returns the loss of each epoch.

    The batch shrinks to the data when there are fewer images than `BATCH_SIZE`, and a last
    partial batch is dropped so every step contrasts the same number of views.
    """
    batch_size = min(BATCH_SIZE, len(x))
    images = (
        tf.data.Dataset.from_tensor_slices(x)
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    steps = epochs * (len(x) // batch_size)
    with strategy.scope():
        pretrainer = ContrastivePretrainer(classifier, seed)
        schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
        pretrainer.compile(optimizer=keras.optimizers.Adam(schedule))
    history = pretrainer.fit(images, epochs=epochs, callbacks=list(callbacks), verbose=2)
    return [float(loss) for loss in history.history["loss"]]
