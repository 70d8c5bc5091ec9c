"""From a probability to what the health worker reads: the 0-100 score, the label, and whether to refer.

Standard library only, so the output and info commands can explain the score
without loading the model runtime.
"""

from __future__ import annotations

import math

UNCERTAIN_MARGIN = 20
"""Scores within 20 points of 50 (the threshold) are flagged uncertain and sent
for referral, whichever side they fall on: missing pneumonia in a child costs
more than an extra referral. On the odds scale this is a factor of 7/3 either
side of the threshold's odds, the same band for every model."""

_LOGIT_EPSILON = 1e-6


def threshold_score(probability: float, threshold: float) -> float:
    """The 0-100 score: 50 at the operating threshold, whatever the threshold is.

    A recall-first threshold is often low (say 0.08), so probability x 100 would
    call a "score 15" suspected pneumonia, which no one reads right. Instead the
    score is the probability's odds measured against the threshold's odds,
    100 * sigmoid(logit(p) - logit(t)), so 50 means the same for every model.
    """
    p = min(max(probability, _LOGIT_EPSILON), 1.0 - _LOGIT_EPSILON)
    t = min(max(threshold, _LOGIT_EPSILON), 1.0 - _LOGIT_EPSILON)
    z = math.log(p / (1.0 - p)) - math.log(t / (1.0 - t))
    return 100.0 / (1.0 + math.exp(-z))


def classify(probability: float, threshold: float, labels: tuple[str, ...]) -> tuple[str, bool, bool]:
    """(label, uncertain, refer) for a probability at a threshold; at or above the threshold is positive."""
    positive = probability >= threshold
    uncertain = abs(threshold_score(probability, threshold) - 50.0) < UNCERTAIN_MARGIN
    return labels[1] if positive else labels[0], uncertain, positive or uncertain
