"""The order-statistic promise about new children: exact binomial tail, and it holds when simulated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_app.site import metrics, promise


@pytest.mark.parametrize(("rank", "n", "target"), [(1, 59, 0.95), (3, 120, 0.95), (5, 200, 0.9), (2, 40, 0.92)])
def test_the_confidence_is_the_binomial_tail_summed_term_by_term(rank, n, target):
    miss = 1.0 - target
    tail = sum(math.comb(n, j) * miss**j * target ** (n - j) for j in range(rank, n + 1))
    assert promise.confidence_of(rank, n, target) == pytest.approx(tail, abs=1e-12)


def test_the_promise_equals_the_exact_lower_bound_of_the_children_caught():
    n, target, confidence = 150, 0.95, 0.95
    rank = promise.highest_rank(n, target, confidence)
    assert metrics.exact_lower_bound(n - rank + 1, n, confidence) >= target
    assert metrics.exact_lower_bound(n - rank, n, confidence) < target


def test_simulated_sites_keep_the_promise_at_the_stated_confidence():
    """Skewed scores from a Beta law: the share of sites whose chosen threshold keeps the true sensitivity at the
    target is the stated confidence or more, and not far more (the rule takes the highest rank it may)."""
    rng = np.random.default_rng(7)
    n, target, confidence = 80, 0.93, 0.9
    rank = promise.highest_rank(n, target, confidence)
    kept = 0
    trials = 4000
    for _ in range(trials):
        threshold = np.sort(rng.beta(5, 2, n))[rank - 1]
        population = rng.beta(5, 2, 20_000)
        kept += (population >= threshold).mean() >= target
    expected = promise.confidence_of(rank, n, target)
    assert expected >= confidence
    assert abs(kept / trials - expected) < 0.02


def test_more_children_move_the_threshold_one_score_up():
    more = promise.more_for_next_step(65, 0.95, 0.95)
    assert promise.highest_rank(65 + more, 0.95, 0.95) == 2
    assert promise.highest_rank(65 + more - 1, 0.95, 0.95) == 1


def test_the_held_out_share_matches_a_simulation_of_finite_held_out_sets():
    rng = np.random.default_rng(3)
    n, held_out, target = 40, 30, 0.93
    rank = promise.highest_rank(n, target, 0.9)
    met = 0
    trials = 4000
    for _ in range(trials):
        scores = rng.uniform(size=n + held_out)
        threshold = np.sort(scores[:n])[rank - 1]
        met += (scores[n:] >= threshold).mean() >= target
    assert abs(met / trials - promise.held_out_share(rank, n, held_out, target)) < 0.02
    assert promise.held_out_share(rank, n, held_out, target) < promise.confidence_of(rank, n, target)
