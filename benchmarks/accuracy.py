"""Accuracy of one variant on the labelled set, at its own operating threshold.

The metrics are edge_app.site.metrics's, so a benchmark AUC means exactly what the
training report's AUC means; the ROC points are kept for the plots.
"""

from __future__ import annotations

import numpy as np

from edge_app.site import metrics


def evaluate(labels: np.ndarray, scores: np.ndarray, threshold: float, seed: int = 0) -> dict:
    """AUC, sensitivity and specificity with 95% bootstrap CIs, the confusion matrix and the ROC curve."""
    summary = metrics.screening_summary(labels, scores, threshold, seed=seed)
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    summary["roc"] = {"fpr": np.round(fpr, 5).tolist(), "tpr": np.round(tpr, 5).tolist()}
    return summary


def agreement(scores: np.ndarray, reference: np.ndarray, threshold: float, reference_threshold: float) -> dict:
    """How far a variant's outputs stray from the float reference's on the same images."""
    difference = np.abs(np.asarray(scores) - np.asarray(reference))
    same_call = (np.asarray(scores) >= threshold) == (np.asarray(reference) >= reference_threshold)
    return {
        "max_abs_probability_difference": float(difference.max()),
        "mean_abs_probability_difference": float(difference.mean()),
        "same_call_fraction": float(same_call.mean()),
    }
