"""edge_app.site.metrics against scikit-learn on random data.

The device-side metrics are numpy only, so scikit-learn is the independent
reference: every published AUC, sensitivity and specificity must agree with it.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, recall_score, roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from edge_app.site import metrics


def random_scores(seed: int, n: int = 300, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a class imbalance like the dataset's, and scores that separate them imperfectly."""
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.7
    scores = rng.normal(labels * 1.2, 1.0)
    scores = 1.0 / (1.0 + np.exp(-scores))
    if ties:
        scores = np.round(scores, 1)  # few distinct values, like an int8 model's output
    return labels, scores


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
def test_auc_matches_sklearn(seed, ties):
    labels, scores = random_scores(seed, ties=ties)
    assert metrics.roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auc_of_one_class_is_nan():
    assert np.isnan(metrics.roc_auc(np.ones(5), np.linspace(0, 1, 5)))


@pytest.mark.parametrize("ties", [False, True])
def test_roc_curve_matches_sklearn(ties):
    labels, scores = random_scores(7, ties=ties)
    fpr, tpr, thresholds = metrics.roc_curve(labels, scores)
    sk_fpr, sk_tpr, sk_thresholds = sk_roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thresholds[1:], sk_thresholds[1:])
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc_score(labels, scores))


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.61, 0.9])
def test_confusion_sensitivity_specificity_match_sklearn(threshold):
    labels, scores = random_scores(3)
    called = scores >= threshold
    tn, fp, fn, tp = confusion_matrix(labels, called, labels=[False, True]).ravel()
    assert metrics.confusion(labels, scores, threshold) == {"tp": tp, "fn": fn, "tn": tn, "fp": fp}
    assert metrics.sensitivity(labels, scores, threshold) == pytest.approx(recall_score(labels, called))
    assert metrics.specificity(labels, scores, threshold) == pytest.approx(recall_score(~labels, ~called))


def test_score_equal_to_threshold_counts_as_pneumonia():
    assert metrics.confusion(np.array([1, 0]), np.array([0.5, 0.5]), 0.5) == {"tp": 1, "fn": 0, "tn": 0, "fp": 1}


@pytest.mark.parametrize("target", [0.8, 0.9, 0.95, 1.0])
@pytest.mark.parametrize("ties", [False, True])
def test_threshold_for_sensitivity_is_the_highest_that_reaches_target(target, ties):
    labels, scores = random_scores(11, ties=ties)
    chosen = metrics.threshold_for_sensitivity(labels, scores, target)
    reaching = [t for t in np.unique(scores) if recall_score(labels, scores >= t) >= target]
    assert chosen == max(reaching)


def test_bootstrap_ci_resamples_each_class_and_matches_sklearn_statistic():
    labels, scores = random_scores(5, n=200)
    ours = metrics.bootstrap_ci(labels, scores, metrics.roc_auc, n_resamples=200, seed=1)
    reference = metrics.bootstrap_ci(labels, scores, roc_auc_score, n_resamples=200, seed=1)
    assert ours == pytest.approx(reference, abs=1e-12)
    point = roc_auc_score(labels, scores)
    assert ours[0] < point < ours[1]


def test_bootstrap_ci_narrows_with_more_data_and_is_reproducible():
    small = metrics.bootstrap_ci(*random_scores(2, n=100), metrics.roc_auc, n_resamples=300)
    large = metrics.bootstrap_ci(*random_scores(2, n=2000), metrics.roc_auc, n_resamples=300)
    assert large[1] - large[0] < (small[1] - small[0]) / 2
    assert metrics.bootstrap_ci(*random_scores(2, n=100), metrics.roc_auc, n_resamples=300) == small


def test_screening_summary_agrees_with_sklearn():
    labels, scores = random_scores(9, n=250)
    summary = metrics.screening_summary(labels, scores, threshold=0.55)
    called = scores >= 0.55
    assert summary["n"] == 250 and summary["n_positive"] == int(labels.sum())
    assert summary["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert summary["sensitivity"] == pytest.approx(recall_score(labels, called))
    assert summary["specificity"] == pytest.approx(recall_score(~labels, ~called))
    for name in ("auc", "sensitivity", "specificity"):
        low, high = summary[f"{name}_ci95"]
        assert low <= summary[name] <= high
