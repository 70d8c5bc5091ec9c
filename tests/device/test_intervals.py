"""Binomial intervals in edge_app.site.metrics against published and scipy reference values.

The device has no scipy, so the exact (Clopper-Pearson) bounds come from our own
incomplete beta function; these references are what keeps it honest.
"""

from __future__ import annotations

import math

import pytest

from edge_app.site import metrics

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat Med 17:857-872,
# Table II: method 5 (exact Clopper-Pearson), rounded to 4 places as published.
NEWCOMBE = [
    # successes, trials, Clopper-Pearson
    (81, 263, (0.2527, 0.3676)),
    (15, 148, (0.0578, 0.1617)),
    (0, 20, (0.0, 0.1684)),
    (1, 29, (0.0009, 0.1776)),
]

# scipy.stats.beta.ppf(0.025, k, n-k+1), beta.ppf(0.975, k+1, n-k) and beta.ppf(0.05, k, n-k+1) (scipy 1.x)
SCIPY_EXACT = [
    (3, 10, (0.066739, 0.652453), 0.087264),
    (50, 62, (0.686314, 0.895790), 0.705353),
    (114, 119, (0.904669, 0.986219), 0.913689),
    (950, 1000, (0.934610, 0.962665), 0.937137),
]


@pytest.mark.parametrize(("k", "n", "exact"), NEWCOMBE)
def test_clopper_pearson_matches_newcombes_table(k, n, exact):
    assert metrics.clopper_pearson_interval(k, n) == pytest.approx(exact, abs=6e-5)


@pytest.mark.parametrize(("k", "n", "exact", "lower_bound"), SCIPY_EXACT)
def test_exact_bounds_match_scipy(k, n, exact, lower_bound):
    assert metrics.clopper_pearson_interval(k, n) == pytest.approx(exact, abs=2e-6)
    assert metrics.exact_lower_bound(k, n) == pytest.approx(lower_bound, abs=2e-6)


@pytest.mark.parametrize("n", [1, 10, 30, 59, 200])
def test_no_misses_lower_bound_is_the_closed_form(n):
    """With every positive caught the exact bound is (1 - level)^(1/n): 59 of 59 gives 0.9505."""
    assert metrics.exact_lower_bound(n, n) == pytest.approx(0.05 ** (1 / n), abs=1e-9)
    assert metrics.clopper_pearson_interval(n, n)[0] == pytest.approx(0.025 ** (1 / n), abs=1e-9)


def test_intervals_hold_the_estimate_and_stay_in_the_unit_interval():
    for n in (1, 7, 40):
        for k in range(n + 1):
            interval = metrics.clopper_pearson_interval(k, n)
            assert 0.0 <= interval[0] <= k / n <= interval[1] <= 1.0


def test_binomial_cdf_and_range():
    # P(X <= 3) for Binomial(100, 0.3) and the 99% central range, from scipy.stats.binom
    assert metrics.binomial_cdf(3, 100, 0.3) == pytest.approx(4.425285341991663e-12, rel=1e-9)
    assert metrics.binomial_cdf(50, 100, 0.3) == pytest.approx(0.9999909653138043, rel=1e-12)
    assert metrics.binomial_range(100, 0.3) == (19, 42)
    assert math.isclose(sum(math.comb(10, k) * 0.5**10 for k in range(4)), metrics.binomial_cdf(3, 10, 0.5))


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError):
        metrics.clopper_pearson_interval(5, 4)
    with pytest.raises(ValueError):
        metrics.clopper_pearson_interval(-1, 4)
