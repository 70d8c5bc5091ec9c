"""The promise about the next children: which order statistic of a site's pneumonia scores can be the threshold.

Take the scores of n children with pneumonia, one per child, and a new child with
pneumonia from the same site. Whatever the scores' distribution, the k-th smallest
of the n scores, s_(k), leaves F(s_(k)) ~ Beta(k, n - k + 1) of new children under
it (F: the distribution of a new child's score). So the new children's sensitivity
1 - F(s_(k)) is at least `target` with probability

    P(F(s_(k)) <= 1 - target) = P(Binomial(n, 1 - target) >= k) = 1 - BinomCDF(k - 1; n, 1 - target),

exactly (the conformal, or tolerance-interval, argument; for tied scores it only
errs on the safe side, as a tie at the threshold is caught). The highest k whose
probability reaches the stated confidence refers the fewest healthy children.
The bound it gives equals the exact one-sided Clopper-Pearson lower bound of
n - k + 1 successes in n, which is how the report states it.
"""

from __future__ import annotations

import math

from edge_app.site import metrics

MAX_CHILDREN_HINT = 100_000


def confidence_of(rank: int, n: int, target: float) -> float:
    """The probability that thresholding at the `rank`-th smallest of n scores keeps sensitivity >= target."""
    return 1.0 - metrics.binomial_cdf(rank - 1, n, 1.0 - target)


def highest_rank(n: int, target: float, confidence: float) -> int | None:
    """The largest k (1-based) whose order statistic keeps the promise; None when even the lowest score cannot."""
    best = None
    for rank in range(1, n + 1):
        if confidence_of(rank, n, target) < confidence:
            break
        best = rank
    return best


def children_needed(target: float, confidence: float) -> int:
    """The fewest children with pneumonia for any threshold to keep the promise: t**n <= 1 - confidence."""
    return math.ceil(math.log(1.0 - confidence) / math.log(target) - 1e-12)


def more_for_next_step(n: int, target: float, confidence: float) -> int | None:
    """How many more children with pneumonia would let the rule move the threshold one score higher
    (the next order statistic): fewer healthy children referred for the same promise."""
    now = highest_rank(n, target, confidence) or 0
    rank = now
    for extra in range(1, MAX_CHILDREN_HINT):
        while confidence_of(rank + 1, n + extra, target) >= confidence:
            rank += 1
        if rank > now:
            return extra
    return None


def sensitivity_at_least(caught: int, n: int, confidence: float) -> float:
    """The exact lower bound on new children's sensitivity when `caught` of n children score at or above the
    threshold (also the promise of an order statistic: caught = n - k + 1)."""
    return metrics.exact_lower_bound(caught, n, confidence) if n else 0.0


def held_out_share(rank: int, n: int, held_out: int, target: float) -> float:
    """The chance that, of `held_out` further children, at least `target` of them score at or above the rank-th
    smallest of n: the number under it is Beta-Binomial(held_out, rank, n - rank + 1), exactly. A finite held-out
    set meets the target less often than the promise's confidence, as its own share scatters around the truth."""
    allowed = math.floor(held_out * (1.0 - target) + 1e-9)
    log_norm = math.lgamma(rank) + math.lgamma(n - rank + 1) - math.lgamma(n + 1)
    total = 0.0
    for under in range(allowed + 1):
        log_term = (
            math.lgamma(held_out + 1)
            - math.lgamma(under + 1)
            - math.lgamma(held_out - under + 1)
            + math.lgamma(under + rank)
            + math.lgamma(held_out - under + n - rank + 1)
            - math.lgamma(held_out + n + 1)
            - log_norm
        )
        total += math.exp(log_term)
    return total
