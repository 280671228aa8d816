"""theory.stats: the one definition of fitted rates, rate decisions and equivalence tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import stats


def test_loglog_slope_recovers_a_power_law_and_its_noise():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    gen = np.random.default_rng(0)
    y = x[:, None] ** 0.75 * np.exp(0.05 * gen.standard_normal((5, 400)))
    slope, se = stats.loglog_slope(x, y)
    # The run-mean's log has sd ~ 0.05 / sqrt(400) = 0.0025 per x; the slope's SE over
    # log2 spacing (sum (lx - mean)^2 = 4.8) is ~0.0025 / sqrt(4.8) ~ 1.1e-3: 5 SE = 6e-3.
    assert abs(slope - 0.75) < 6e-3
    assert 5e-4 < se < 2.5e-3
    assert stats.loglog_slope(x, x**2)[1] == 0.0  # one run: nothing to resample
    with pytest.raises(ValueError):
        stats.loglog_slope([1.0], [[1.0]])


def test_ols_slope_and_delta_method_se():
    slope, se = stats.ols_slope([0, 1, 2, 3], [1, 3, 5, 7], [0.1, 0.1, 0.1, 0.1])
    # w = (-3, -1, 1, 3) / 10, so se = 0.1 * sqrt(20) / 10.
    assert slope == pytest.approx(2.0) and se == pytest.approx(0.1 * np.sqrt(20) / 10)
    s2, _ = stats.loglog_slope_from_means([1, 2, 4], [1, 2**0.5, 2], [0.01, 0.01, 0.01])
    assert s2 == pytest.approx(0.5)


def test_rate_decision_three_ways():
    inside = stats.rate_decision(0.67, 0.001, target=2 / 3, alternative=0.70)
    assert inside.verdict == stats.INSIDE and inside.powered
    outside = stats.rate_decision(0.72, 0.001, target=2 / 3, alternative=0.70)
    assert outside.verdict == stats.OUTSIDE
    straddle = stats.rate_decision(0.683, 0.001, target=2 / 3, alternative=0.70)
    assert straddle.verdict == stats.UNDECIDED
    # 3 SE >= gap/2: no outcome could decide, so never "inside" even at the target itself.
    weak = stats.rate_decision(2 / 3, 0.01, target=2 / 3, alternative=0.70)
    assert weak.verdict == stats.UNDECIDED and not weak.powered
    with pytest.raises(ValueError):
        stats.rate_decision(0.5, 0.1, target=0.5, alternative=0.5)


def test_equivalence_needs_the_interval_inside_the_margin():
    gen = np.random.default_rng(1)
    a = gen.gamma(50.0, 1.0, 200)  # CV ~ 0.14: mean known to ~1% with 200 draws
    same = stats.equivalence_ratio(a, gen.gamma(50.0, 1.0, 200), margin=0.1)
    assert same.verdict == stats.INSIDE
    far = stats.equivalence_ratio(a, 1.5 * gen.gamma(50.0, 1.0, 200), margin=0.1)
    assert far.verdict == stats.OUTSIDE
    # Two draws each: the interval is wide, so equal means are not shown equivalent.
    few = stats.equivalence_ratio(a[:2], a[2:4] * 1.02, margin=0.01)
    assert few.verdict != stats.INSIDE
    paired = stats.paired_ratio(a, a * 1.001, margin=0.01)
    assert paired.verdict == stats.INSIDE


def test_proportion_interval_is_clopper_pearson():
    # Closed forms at the boundary: k = n gives lo = (alpha/2)^(1/n); k = 0 gives hi = 1 -
    # (alpha/2)^(1/n) (the exact binomial tails); an interior value covers the estimate and
    # matches scipy's own binomtest interval.
    from scipy.stats import binomtest

    p, lo, hi = stats.proportion_interval(50, 50, level=0.99)
    assert p == 1.0 and hi == 1.0 and math.isclose(lo, 0.005 ** (1 / 50), rel_tol=1e-12)
    p, lo, hi = stats.proportion_interval(0, 20, level=0.99)
    assert lo == 0.0 and math.isclose(hi, 1 - 0.005 ** (1 / 20), rel_tol=1e-12)
    p, lo, hi = stats.proportion_interval(37, 60, level=0.95)
    ref = binomtest(37, 60).proportion_ci(confidence_level=0.95, method="exact")
    assert math.isclose(lo, ref.low, rel_tol=1e-10) and math.isclose(hi, ref.high, rel_tol=1e-10)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.proportion_interval(5, 3)
