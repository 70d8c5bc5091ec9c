"""Training-time augmentation for X-rays, applied to already preprocessed inputs.

This is not a second preprocessing: inputs come from `edge_app.intake.preprocess`,
and these random changes only widen what the model sees in training, towards
what other sites and devices produce: other framing (random-resized crops with
aspect jitter, small rotations), detector noise and blur, and residual contrast
differences that equalisation does not remove. No flips: the heart sits on the left, and a
mirrored chest is not a plausible X-ray.
"""

from __future__ import annotations

import numpy as np

from lab.keras_env import keras, tf

FRAMING_AREA = (0.5, 1.2)
"""Area of the random box relative to the image: from a crop of half the image to a 20% zoom-out."""
FRAMING_MAX_ASPECT = 1.33
"""Largest width:height (or height:width) ratio the box is stretched to."""


def reframe(images: tf.Tensor, area: tuple[float, float], max_aspect: float) -> tf.Tensor:
    """Random-resized framing: each image is cut (or padded) to a box of random
    area and aspect ratio at a random place, then resized back to the input size.

    Other sites frame the chest differently (tighter or looser collimation,
    other detector aspect ratios, all squashed to a square by preprocessing).
    A model trained on one framing leans on it: on external images its AUC
    falls when they are centre-cropped. An area above 1 zooms out, with a
    black (-1) border as on a film.
    """
    shape = tf.shape(images)
    batch = shape[0]
    scale = tf.random.uniform([batch], area[0], area[1])
    aspect = tf.exp(tf.random.uniform([batch], -np.log(max_aspect), np.log(max_aspect)))
    height, width = tf.sqrt(scale / aspect), tf.sqrt(scale * aspect)
    top = tf.random.uniform([batch]) * (1.0 - height)
    left = tf.random.uniform([batch]) * (1.0 - width)
    boxes = tf.stack([top, left, top + height, left + width], axis=1)
    return tf.image.crop_and_resize(images, boxes, tf.range(batch), shape[1:3], extrapolation_value=-1.0)


def photometric(images: tf.Tensor) -> tf.Tensor:
    """Per-image random gamma, contrast, blur and noise on [-1, 1] inputs."""
    batch = tf.shape(images)[0]
    unit = (images + 1.0) / 2.0
    gamma = tf.exp(tf.random.uniform([batch, 1, 1, 1], -0.35, 0.35))
    unit = tf.pow(tf.clip_by_value(unit, 1e-4, 1.0), gamma)
    contrast = tf.random.uniform([batch, 1, 1, 1], 0.8, 1.2)
    mean = tf.reduce_mean(unit, axis=[1, 2, 3], keepdims=True)
    unit = (unit - mean) * contrast + mean
    blurred = tf.nn.avg_pool2d(unit, 3, 1, "SAME")
    blur_amount = tf.random.uniform([batch, 1, 1, 1], 0.0, 1.0) * tf.cast(
        tf.random.uniform([batch, 1, 1, 1]) < 0.3, tf.float32
    )
    unit = unit * (1.0 - blur_amount) + blurred * blur_amount
    noise_sigma = tf.random.uniform([batch, 1, 1, 1], 0.0, 0.04)
    unit = unit + tf.random.normal(tf.shape(unit)) * noise_sigma
    return tf.clip_by_value(unit * 2.0 - 1.0, -1.0, 1.0)


def random_rotation(seed: int) -> keras.layers.Layer:
    """Small rotations (up to 0.03 turn, about 11 degrees), the corners filled black as on a film."""
    return keras.layers.RandomRotation(0.03, fill_mode="constant", fill_value=-1.0, seed=seed)


def make_augmenter(seed: int):
    rotate = random_rotation(seed)

    def augment(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        framed = reframe(rotate(images, training=True), FRAMING_AREA, FRAMING_MAX_ASPECT)
        return photometric(framed), labels

    return augment
