"""Screening metrics with their uncertainty, in numpy only.

Shared by training, quantization and the benchmarks (which may run on a device
without scikit-learn), so every number we publish is computed one way.
"""

from __future__ import annotations

import math
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


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's continued fraction for the incomplete beta (Numerical Recipes, betacf)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the cumulative distribution of Beta(a, b) at x (a, b > 0)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):  # the fraction converges fast on this side; use symmetry on the other
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def beta_quantile(probability: float, a: float, b: float) -> float:
    """The x with I_x(a, b) = probability, by bisection (the CDF is monotone; 60 halvings reach 1e-18)."""
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2.0
        if regularized_beta(middle, a, b) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def clopper_pearson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Two-sided exact (Clopper-Pearson) interval: each tail holds at most (1 - level) / 2."""
    _check_counts(successes, trials)
    tail = (1.0 - level) / 2.0
    low = 0.0 if successes == 0 else beta_quantile(tail, successes, trials - successes + 1)
    high = 1.0 if successes == trials else beta_quantile(1.0 - tail, successes + 1, trials - successes)
    return low, high


def exact_lower_bound(successes: int, trials: int, level: float = 0.95) -> float:
    """One-sided exact lower confidence bound of a proportion: the claim "at least this" holds
    with `level` confidence. With no failures it is (1 - level) ** (1 / trials): 59 of 59 -> 0.950."""
    _check_counts(successes, trials)
    if successes == 0:
        return 0.0
    return beta_quantile(1.0 - level, successes, trials - successes + 1)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), through the incomplete beta."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return regularized_beta(1.0 - p, n - k, k + 1)


def binomial_range(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """The central range [low, high] of Binomial(n, p) counts, each tail outside it at most (1 - level) / 2."""
    tail = (1.0 - level) / 2.0
    low = next(k for k in range(n + 1) if binomial_cdf(k, n, p) > tail)
    high = next(k for k in range(low, n + 1) if binomial_cdf(k, n, p) >= 1.0 - tail)
    return low, high


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
