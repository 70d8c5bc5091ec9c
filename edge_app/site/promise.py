"""The promise about the next children: which order statistic of a site's pneumonia scores can be the threshold.

Take the scores of n children with pneumonia, one per child, and the next children
with pneumonia from the same site. Whatever the scores' distribution, the k-th
smallest of the n scores, s_(k), leaves F(s_(k)) ~ Beta(k, n - k + 1) of new
children under it (F: the distribution of a new child's score; the conformal, or
tolerance-interval, argument; a tie at the threshold is caught, so ties only err
on the safe side).

The promise is about a batch: "of the next N children with pneumonia, at least
⌈target·N⌉ are flagged, with the stated confidence". The children missed in the
batch are Beta-Binomial(N, k, n - k + 1), exactly, so the promise holds when

    P(Beta-Binomial(N, k, n - k + 1) <= floor(N · (1 - target))) >= confidence.

A batch is what a clinic lives through and what it can check: a held-out set, or
the next hundred children, has its own share of misses scattering around the
long-run sensitivity, so a promise about the long run alone (N → ∞, where the
condition becomes P(Binomial(n, 1 - target) >= k) >= confidence) is met by a
finite batch less often than its confidence. The highest k that keeps the
promise refers the fewest healthy children. Profiles saved before batches were
promised keep their long-run rule (`next_children` None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_app.site import metrics

CONFIDENCE = 0.95
"""Default confidence of the promise: the level at which a clinical claim is usually made."""
NEXT_CHILDREN = 100
"""Default batch: "out of the next 100 children with pneumonia" is the sentence a health worker can repeat."""
MAX_CHILDREN_HINT = 100_000


def _beta_binomial_cdf(at_most: int, trials: int, a: int, b: int) -> float:
    """P(X <= at_most) for X ~ Beta-Binomial(trials, a, b), summed term by term in logs (exact up to rounding)."""
    log_norm = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    total = 0.0
    for count in range(min(at_most, trials) + 1):
        log_term = (
            math.lgamma(trials + 1)
            - math.lgamma(count + 1)
            - math.lgamma(trials - count + 1)
            + math.lgamma(count + a)
            + math.lgamma(trials - count + b)
            - math.lgamma(trials + a + b)
            - log_norm
        )
        total += math.exp(log_term)
    return min(total, 1.0)


def more_than_beyond(beyond: int, n: int, batch: int, confidence: float) -> int:
    """How many of the next `batch` children, with `confidence`, land on the right side of a threshold that
    `beyond` of n calibration children of the same class fell on the wrong side of: batch minus the
    `confidence` quantile of Beta-Binomial(batch, beyond + 1, n - beyond). Zero when all n fell beyond it."""
    if beyond >= n:
        return 0
    wrong = 0
    while _beta_binomial_cdf(wrong, batch, beyond + 1, n - beyond) < confidence:
        wrong += 1
    return batch - wrong


@dataclass(frozen=True)
class Promise:
    """Of the next `next_children` children with pneumonia, at least `target` of them are flagged, with
    `confidence`. `next_children` None: the long-run sensitivity (profiles saved before batches were promised)."""

    target: float
    confidence: float = CONFIDENCE
    next_children: int | None = NEXT_CHILDREN

    @property
    def misses_allowed(self) -> int:
        return math.floor(self.next_children * (1.0 - self.target) + 1e-9)

    def confidence_of(self, rank: int, n: int) -> float:
        """The probability that thresholding at the `rank`-th smallest of n scores keeps the promise."""
        if self.next_children is None:
            return 1.0 - metrics.binomial_cdf(rank - 1, n, 1.0 - self.target)
        return _beta_binomial_cdf(self.misses_allowed, self.next_children, rank, n - rank + 1)

    def highest_rank(self, n: int) -> int | None:
        """The largest k (1-based) whose order statistic keeps the promise; None when even the lowest cannot."""
        best = None
        for rank in range(1, n + 1):
            if self.confidence_of(rank, n) < self.confidence:
                break
            best = rank
        return best

    def children_needed(self) -> int | None:
        """The fewest children with pneumonia for any threshold to keep the promise (None: beyond any site)."""
        if self.next_children is None:
            return math.ceil(math.log(1.0 - self.confidence) / math.log(self.target) - 1e-12)
        return next((n for n in range(1, MAX_CHILDREN_HINT) if self.confidence_of(1, n) >= self.confidence), None)

    def more_for_next_step(self, n: int) -> int | None:
        """How many more children with pneumonia would let the rule move the threshold one score higher
        (the next order statistic): fewer healthy children referred for the same promise."""
        now = self.highest_rank(n) or 0
        rank = now
        for extra in range(1, MAX_CHILDREN_HINT):
            while rank < n + extra and self.confidence_of(rank + 1, n + extra) >= self.confidence:
                rank += 1
            if rank > now:
                return extra
        return None

    def in_words(self) -> str:
        if self.next_children is None:
            return f"catch at least {self.target:.0%} of the next children with pneumonia"
        caught = self.next_children - self.misses_allowed
        return f"catch at least {caught} of the next {self.next_children} children with pneumonia"


def sensitivity_at_least(caught: int, n: int, confidence: float) -> float:
    """The exact lower bound on new children's long-run sensitivity when `caught` of n children score at or above
    the threshold (one-sided Clopper-Pearson)."""
    return metrics.exact_lower_bound(caught, n, confidence) if n else 0.0
