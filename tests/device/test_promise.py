"""The order-statistic promise about the next children: exact tails, and it holds when simulated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_app.site import metrics
from edge_app.site.promise import Promise, more_than_beyond


@pytest.mark.parametrize(("rank", "n", "target"), [(1, 59, 0.95), (3, 120, 0.95), (5, 200, 0.9), (2, 40, 0.92)])
def test_the_long_run_confidence_is_the_binomial_tail_summed_term_by_term(rank, n, target):
    miss = 1.0 - target
    tail = sum(math.comb(n, j) * miss**j * target ** (n - j) for j in range(rank, n + 1))
    assert Promise(target, next_children=None).confidence_of(rank, n) == pytest.approx(tail, abs=1e-12)


@pytest.mark.parametrize(("rank", "n", "batch", "target"), [(1, 64, 100, 0.95), (3, 120, 50, 0.93), (2, 40, 22, 0.91)])
def test_the_batch_confidence_counts_the_orderings_of_calibration_and_new_scores(rank, n, batch, target):
    """j of `batch` new scores under the rank-th smallest of n: C(j+k-1, j) C(batch-j+n-k, batch-j) of the
    C(n+batch, batch) equally likely interleavings."""
    allowed = math.floor(batch * (1 - target) + 1e-9)
    orderings = sum(math.comb(j + rank - 1, j) * math.comb(batch - j + n - rank, batch - j) for j in range(allowed + 1))
    exact = orderings / math.comb(n + batch, batch)
    assert Promise(target, next_children=batch).confidence_of(rank, n) == pytest.approx(exact, abs=1e-12)


def test_the_long_run_promise_equals_the_exact_lower_bound_of_the_children_caught():
    n, target, confidence = 150, 0.95, 0.95
    rank = Promise(target, confidence, None).highest_rank(n)
    assert metrics.exact_lower_bound(n - rank + 1, n, confidence) >= target
    assert metrics.exact_lower_bound(n - rank, n, confidence) < target


def test_simulated_sites_keep_the_promise_on_their_next_children_at_the_stated_confidence():
    """Skewed scores from a Beta law: the share of sites whose next 30 children with pneumonia are caught at the
    target is the stated confidence or more, and not far more (the rule takes the highest rank it may)."""
    rng = np.random.default_rng(7)
    n, batch, target, confidence = 80, 30, 0.93, 0.9
    promise = Promise(target, confidence, batch)
    rank = promise.highest_rank(n)
    trials = 4000
    kept = 0
    for _ in range(trials):
        threshold = np.sort(rng.beta(5, 2, n))[rank - 1]
        kept += (rng.beta(5, 2, batch) >= threshold).sum() >= batch - promise.misses_allowed
    expected = promise.confidence_of(rank, n)
    assert expected >= confidence
    assert abs(kept / trials - expected) < 0.02


def test_a_long_run_promise_is_kept_by_a_small_batch_less_often_than_stated():
    """Why the promise names its batch: the long-run rule's threshold, checked on 30 next children, meets the
    target less often than its confidence."""
    n, target, confidence = 80, 0.93, 0.9
    rank = Promise(target, confidence, None).highest_rank(n)
    assert Promise(target, confidence, 30).confidence_of(rank, n) < confidence


def test_a_large_batch_converges_to_the_long_run_rule():
    for rank, n in ((1, 70), (4, 150)):
        assert Promise(0.95, 0.95, 20_000).confidence_of(rank, n) == pytest.approx(
            Promise(0.95, 0.95, None).confidence_of(rank, n), abs=0.01
        )


def test_more_children_move_the_threshold_one_score_up():
    promise = Promise(0.95, 0.95, 100)
    more = promise.more_for_next_step(65)
    assert promise.highest_rank(65 + more) == 2
    assert promise.highest_rank(65 + more - 1) == 1


@pytest.mark.parametrize(("target", "n"), [(0.95, 70), (0.93, 120), (0.91, 45)])
def test_the_children_a_batch_expects_caught_keep_the_promise_at_the_chosen_rank(target, n):
    promise = Promise(target, 0.95, 100)
    rank = promise.highest_rank(n)
    caught = more_than_beyond(rank - 1, n, 100, 0.95)
    assert caught >= 100 - promise.misses_allowed
    assert more_than_beyond(rank, n, 100, 0.95) < 100 - promise.misses_allowed  # one score higher breaks it
    assert more_than_beyond(n, n, 100, 0.95) == 0
