"""Training-time augmentation for X-rays, applied to already preprocessed inputs.

This is not a second preprocessing: inputs come from `edge_app.preprocess`,
and these random changes only widen what the model sees in training, towards
what other sites and devices produce: small positioning differences (shift,
rotation, zoom), detector noise and blur, and residual contrast differences
that equalisation does not remove. No flips: the heart sits on the left, and a
mirrored chest is not a plausible X-ray.
"""

from __future__ import annotations

from train.keras_env import keras, tf


def geometric_layers(seed: int) -> keras.Sequential:
    return keras.Sequential(
        [
            keras.layers.RandomRotation(0.03, fill_mode="constant", fill_value=-1.0, seed=seed),
            keras.layers.RandomZoom((-0.15, 0.1), fill_mode="constant", fill_value=-1.0, seed=seed + 1),
            keras.layers.RandomTranslation(0.06, 0.06, fill_mode="constant", fill_value=-1.0, seed=seed + 2),
        ],
        name="geometric_augmentation",
    )


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


def make_augmenter(seed: int):
    geometric = geometric_layers(seed)

    def augment(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return photometric(geometric(images, training=True)), labels

    return augment
