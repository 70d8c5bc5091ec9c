"""Load any benchmarked variant as a Predictor.

TFLite models run through the device runtime (edge_app.inference.runtime), exactly as
edge-scan runs them. The Keras model is the float32 reference; TensorFlow is
imported only when one is asked for, so the benchmarks run on a device that
has no TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.latency import Predictor
from edge_app.inference.runtime import TFLiteClassifier


class KerasPredictor:
    """The edge-train Keras model, called the way a naive deployment would: `predict` on one image."""

    def __init__(self, path: Path) -> None:
        from lab.keras_env import keras

        self.model = keras.models.load_model(path)
        self.input_size = int(self.model.input_shape[1])

    def predict(self, x: np.ndarray) -> float:
        return float(self.model.predict(x[np.newaxis], verbose=0)[0, 0])

    def predict_many(self, inputs: np.ndarray) -> np.ndarray:
        return self.model.predict(inputs, batch_size=256, verbose=0).ravel()


def load_predictor(kind: str, path: Path, num_threads: int = 1) -> Predictor:
    """A ready-to-call model of `kind` "tflite" or "keras"; `num_threads` applies to TFLite
    (Keras uses TensorFlow's own thread pool)."""
    if kind == "keras":
        return KerasPredictor(path)
    return TFLiteClassifier(path, num_threads=num_threads)


def predict_all(predictor: Predictor, inputs: np.ndarray) -> np.ndarray:
    """P(PNEUMONIA) for every input, batched where the model allows it."""
    if isinstance(predictor, KerasPredictor):
        return predictor.predict_many(inputs)
    return np.array([predictor.predict(x) for x in inputs], dtype=np.float64)
