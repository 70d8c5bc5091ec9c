"""Screening metrics with their uncertainty, in numpy only.

Shared by training, quantization and the benchmarks (which may run on a device
without scikit-learn), so every number we publish is computed one way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate and thresholds, highest threshold first."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    thresholds = np.unique(scores)[::-1]
    tpr = np.array([(scores[labels] >= t).mean() for t in thresholds])
    fpr = np.array([(scores[~labels] >= t).mean() for t in thresholds])
    return np.r_[0.0, fpr], np.r_[0.0, tpr], np.r_[np.inf, thresholds]


def confusion(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts at a threshold; a score at or above it is called PNEUMONIA."""
    labels = np.asarray(labels).astype(bool)
    called = np.asarray(scores) >= threshold
    return {
        "tp": int((called & labels).sum()),
        "fn": int((~called & labels).sum()),
        "tn": int((~called & ~labels).sum()),
        "fp": int((called & ~labels).sum()),
    }


def sensitivity(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    c = confusion(labels, scores, threshold)
    return c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else float("nan")


def specificity(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    c = confusion(labels, scores, threshold)
    return c["tn"] / (c["tn"] + c["fp"]) if c["tn"] + c["fp"] else float("nan")


def threshold_for_sensitivity(labels: np.ndarray, scores: np.ndarray, target: float) -> float:
    """The highest threshold whose sensitivity still reaches `target`.

    Highest, because among thresholds that catch enough pneumonia it refers
    the fewest healthy children.
    """
    positives = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(labels).astype(bool)])
    if len(positives) == 0:
        raise ValueError("no positive examples to choose a threshold on")
    allowed_misses = int(np.floor(len(positives) * (1.0 - target) + 1e-9))
    return float(positives[allowed_misses])


def bootstrap_ci(
    labels: np.ndarray,
    scores: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], float],
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of `statistic(labels, scores)`.

    Resamples positives and negatives separately so every resample can be
    scored (a resample without negatives has no specificity).
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    pos, neg = np.flatnonzero(labels), np.flatnonzero(~labels)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        values.append(statistic(labels[idx], scores[idx]))
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.nanpercentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def screening_summary(labels: np.ndarray, scores: np.ndarray, threshold: float, seed: int = 0) -> dict:
    """AUC, sensitivity and specificity at `threshold`, each with a 95% bootstrap CI."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    summary: dict = {"n": int(len(labels)), "n_positive": int(labels.sum()), "threshold": float(threshold)}
    for name, fn in (
        ("auc", roc_auc),
        ("sensitivity", lambda y, s: sensitivity(y, s, threshold)),
        ("specificity", lambda y, s: specificity(y, s, threshold)),
    ):
        summary[name] = fn(labels, scores)
        summary[f"{name}_ci95"] = list(bootstrap_ci(labels, scores, fn, seed=seed))
    summary["confusion"] = confusion(labels, scores, threshold)
    return summary
