"""Measure a model variant the way the device will run it.

Every .tflite is scored through `edge_app.inference.runtime.TFLiteClassifier` (LiteRT,
quantizing inputs with the model's own parameters), so the numbers in the
report and in the metadata are the device's numbers, not TensorFlow's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge_app.inference.runtime import TFLiteClassifier
from edge_app.site import metrics


def tflite_scores(model_content: bytes, x: np.ndarray) -> np.ndarray:
    classifier = TFLiteClassifier(model_content)
    return np.array([classifier.predict(image) for image in x], dtype=np.float64)


def keras_scores(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x, batch_size=256, verbose=0).ravel().astype(np.float64)


def evaluate_scores(
    scores: dict[str, np.ndarray], labels: dict[str, np.ndarray], target_sensitivity: float, seed: int = 0
) -> dict:
    """Threshold chosen on this model's own validation scores, then a screening
    summary (AUC, sensitivity, specificity with 95% CIs) of every split."""
    threshold = metrics.threshold_for_sensitivity(labels["val"], scores["val"], target_sensitivity)
    return {
        "threshold": threshold,
        **{name: metrics.screening_summary(labels[name], scores[name], threshold, seed=seed) for name in scores},
    }


def parity_check(reference_auc: float, variant_aucs: dict[str, float], max_drop: float) -> dict:
    """Which variants lose more than `max_drop` validation AUC against the float reference."""
    checks = {
        name: {"auc": auc, "drop": reference_auc - auc, "ok": bool(reference_auc - auc <= max_drop)}
        for name, auc in variant_aucs.items()
    }
    return {
        "reference_auc": reference_auc,
        "max_auc_drop": max_drop,
        "checks": checks,
        "passed": all(c["ok"] for c in checks.values()),
    }


@dataclass
class EvaluationData:
    """The preprocessed evaluation splits and how thresholds are chosen on them."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    target_sensitivity: float
    seed: int = 0

    def _evaluate(self, score: Callable[[np.ndarray], np.ndarray], splits: tuple[str, ...]) -> dict:
        return evaluate_scores(
            {name: score(self.x[name]) for name in splits}, self.y, self.target_sensitivity, self.seed
        )

    def keras(self, model, splits: tuple[str, ...] = ("val", "test")) -> dict:
        return self._evaluate(lambda x: keras_scores(model, x), splits)

    def tflite(self, content: bytes, splits: tuple[str, ...] = ("val", "test")) -> dict:
        return self._evaluate(lambda x: tflite_scores(content, x), splits)
