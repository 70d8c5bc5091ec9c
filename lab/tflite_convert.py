"""Keras model -> .tflite bytes, in the three numeric forms we compare.

- float32: the reference for what conversion alone changes;
- dynamic range: int8 weights, float activations (a common half-way house);
- full int8: int8 weights, activations, input and output, the only form that
  runs on int8-only accelerators and the fastest on ARM CPUs.

The representative data set is made of already preprocessed training images
(`edge_app.intake.preprocess`), so the activation ranges are calibrated on exactly
the inputs the device will produce.
"""

from __future__ import annotations

import numpy as np


def _converter(model):
    from lab.keras_env import tf

    return tf.lite.TFLiteConverter.from_keras_model(model)


def to_float32(model) -> bytes:
    return _converter(model).convert()


def to_dynamic_range(model) -> bytes:
    from lab.keras_env import tf

    converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def to_int8(model, calibration: np.ndarray) -> bytes:
    """Full-integer conversion; `calibration` is (n, size, size, 1) float32 model inputs.

    A quantization-aware (QAT/PQAT) model carries its own ranges; the
    calibration images then only fill in the ranges QAT did not record.
    """
    from lab.keras_env import tf

    converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]

    def representative():
        for image in calibration:
            yield [image[np.newaxis].astype(np.float32)]

    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def calibration_sample(x_train: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` training inputs chosen at random (without replacement) for calibration."""
    if n >= len(x_train):
        return x_train
    index = np.random.default_rng(seed).choice(len(x_train), n, replace=False)
    return x_train[np.sort(index)]
