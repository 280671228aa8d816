"""The statistics every claim uses, defined once: fitted rates, rate decisions, equivalence.

Pure NumPy (float64): these run on results (a few hundred numbers), never in a hot loop.

- `loglog_slope`: the exponent of a power law fitted to the run-mean of a curve, with a
  bootstrap standard error over runs (runs resampled jointly across x: they are paired).
- `band_verdict`: where a confidence interval lies relative to a stated band (inside, outside,
  straddling). Agreement is an interval *inside* a band, never a failure to reject.
- `rate_decision`: a fitted exponent against the rate a paper claims and the nearest rate it
  distinguishes it from. The band is target +- gap/2 (the decision boundary between the two
  hypotheses), so it excludes the alternative by construction; the interval is slope +- 3 SE.
  When 3 SE >= gap/2 no outcome of the run could tell the two apart: "undecided" by design.
- `equivalence_ratio`: two independent samples (e.g. our runs and the authors' code's) have
  the same mean within a stated relative margin: two one-sided tests at level alpha, done as a
  (1 - 2 alpha) percentile-bootstrap interval of log(mean_a / mean_b) inside +- log(1 + margin).
- `paired_ratio`: the same interval for paired samples (same instances, same keys).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

SE_MULT = 3.0  # interval half-width in standard errors: ~0.27% two-sided for a normal estimate
INSIDE, OUTSIDE, UNDECIDED = "inside", "outside", "undecided"


def loglog_slope(x, y_runs, *, n_boot: int = 400, seed: int = 0, ddof: int = 1):
    """Slope of log(mean over runs of y) against log x, and its bootstrap SE over runs.

    y_runs: (n_x, runs). Returns (slope, se); se is 0.0 with a single run (nothing to resample).
    The generator is local (resampling only, never the simulation). `ddof` is the SE's
    degrees-of-freedom correction; 1 everywhere except the cited CNN width fits, which were
    computed with 0 (a factor sqrt(400/399) on the SE) before this module existed.
    """
    lx = np.log(np.asarray(x, np.float64))
    y = np.asarray(y_runs, np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[0] != lx.shape[0] or y.shape[0] < 2:
        raise ValueError(
            f"need >= 2 x values and one row of runs per x, got {y.shape} vs {lx.shape}"
        )
    slope = float(np.polyfit(lx, np.log(y.mean(axis=1)), 1)[0])
    runs = y.shape[1]
    if runs < 2:
        return slope, 0.0
    gen = np.random.default_rng(seed)
    idx = gen.integers(0, runs, size=(n_boot, runs))
    boots = [np.polyfit(lx, np.log(y[:, i].mean(axis=1)), 1)[0] for i in idx]
    return slope, float(np.std(boots, ddof=ddof))


def band_verdict(lo: float, hi: float, band_lo: float, band_hi: float) -> str:
    """INSIDE if [lo, hi] lies in [band_lo, band_hi], OUTSIDE if disjoint, else UNDECIDED."""
    if not all(math.isfinite(v) for v in (lo, hi)):
        return UNDECIDED
    if band_lo <= lo and hi <= band_hi:
        return INSIDE
    if hi < band_lo or lo > band_hi:
        return OUTSIDE
    return UNDECIDED


class RateDecision(NamedTuple):
    verdict: str  # INSIDE (the claimed rate), OUTSIDE (not it), UNDECIDED
    band: tuple[float, float]  # target +- gap/2
    interval: tuple[float, float]  # slope +- 3 SE
    powered: bool  # 3 SE < gap/2: some outcome of this run could decide

    def text(self) -> str:
        return (
            f"slope +- 3 SE = [{self.interval[0]:.4g}, {self.interval[1]:.4g}] "
            f"in target +- gap/2 = [{self.band[0]:.4g}, {self.band[1]:.4g}]"
        )


def rate_decision(
    slope: float, se: float, *, target: float, alternative: float, se_mult: float = SE_MULT
) -> RateDecision:
    """Is a fitted exponent the claimed rate (`target`) rather than `alternative`?

    gap = |alternative - target| is what separates the hypotheses over the fitted range; the
    band target +- gap/2 is the set of slopes closer to the target than to the alternative. The
    verdict is INSIDE when slope +- se_mult * se lies in the band, OUTSIDE when it misses the band
    entirely, UNDECIDED otherwise; an underpowered run (se_mult * se >= gap/2) is always UNDECIDED.
    """
    gap = abs(alternative - target)
    if not gap > 0:
        raise ValueError(f"alternative {alternative} must differ from target {target}")
    band = (target - gap / 2.0, target + gap / 2.0)
    half = se_mult * se if math.isfinite(se) else math.inf
    interval = (slope - half, slope + half)
    powered = half < gap / 2.0
    verdict = band_verdict(*interval, *band) if powered and math.isfinite(slope) else UNDECIDED
    return RateDecision(verdict, band, interval, powered)


class Equivalence(NamedTuple):
    verdict: str  # INSIDE (equivalent within margin), OUTSIDE (different), UNDECIDED
    ratio: float  # mean_a / mean_b
    interval: tuple[float, float]  # (1 - 2 alpha) bootstrap interval of the ratio
    margin: float  # relative: the band is [1 / (1 + margin), 1 + margin]
    alpha: float  # level of each one-sided test

    def text(self) -> str:
        return (
            f"ratio {self.ratio:.3g}, {100 * (1 - 2 * self.alpha):.0f}% interval "
            f"[{self.interval[0]:.3g}, {self.interval[1]:.3g}] vs band "
            f"[{1 / (1 + self.margin):.3g}, {1 + self.margin:.3g}]"
        )


def _ratio_verdict(boots: np.ndarray, ratio: float, margin: float, alpha: float) -> Equivalence:
    lo, hi = np.quantile(boots, [alpha, 1.0 - alpha])
    band = math.log1p(margin)
    verdict = band_verdict(float(lo), float(hi), -band, band)
    return Equivalence(verdict, ratio, (float(np.exp(lo)), float(np.exp(hi))), margin, alpha)


def equivalence_ratio(
    a, b, *, margin: float, alpha: float = 0.05, n_boot: int = 4000, seed: int = 0
) -> Equivalence:
    """Two one-sided tests on log(mean a / mean b) for independent positive samples a and b.

    Equivalent (INSIDE) when the (1 - 2 alpha) percentile-bootstrap interval of the log ratio
    lies in +- log(1 + margin) -- the bootstrap form of TOST at level alpha; OUTSIDE when it
    misses the band (the means differ by more than the margin), UNDECIDED otherwise.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 2 or b.size < 2 or (a <= 0).any() or (b <= 0).any():
        raise ValueError("equivalence_ratio needs >= 2 positive values per sample")
    gen = np.random.default_rng(seed)
    ma = a[gen.integers(0, a.size, (n_boot, a.size))].mean(axis=1)
    mb = b[gen.integers(0, b.size, (n_boot, b.size))].mean(axis=1)
    return _ratio_verdict(np.log(ma / mb), float(a.mean() / b.mean()), margin, alpha)


def paired_ratio(
    a, b, *, margin: float, alpha: float = 0.05, n_boot: int = 4000, seed: int = 0
) -> Equivalence:
    """As equivalence_ratio, for paired samples (a[i], b[i] share an instance): pairs resampled."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.size < 2 or (a <= 0).any() or (b <= 0).any():
        raise ValueError("paired_ratio needs two equal-length samples of >= 2 positive values")
    gen = np.random.default_rng(seed)
    idx = gen.integers(0, a.size, (n_boot, a.size))
    boots = np.log(a[idx].mean(axis=1) / b[idx].mean(axis=1))
    return _ratio_verdict(boots, float(a.mean() / b.mean()), margin, alpha)


def ols_slope(x, y, se):
    """Least-squares slope of y on x from independent points with standard errors `se`, and its
    SE: slope = sum_i w_i y_i with w_i = (x_i - mean x) / sum_j (x_j - mean x)^2, so
    var(slope) = sum_i w_i^2 se_i^2. Returns (slope, se)."""
    x, y, s = (np.asarray(a, np.float64) for a in (x, y, se))
    if not (x.shape == y.shape == s.shape) or x.size < 2 or np.ptp(x) == 0:
        raise ValueError("need >= 2 distinct x values, one y and one SE per x")
    w = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    return float(np.sum(w * y)), float(np.sqrt(np.sum((w * s) ** 2)))


def loglog_slope_from_means(x, mean, se):
    """Slope of log mean against log x from independent points (each x its own instances), with
    the delta-method SE (var(log m_i) ~ (se_i / m_i)^2) through ols_slope. Returns (slope, se)."""
    m, s = np.asarray(mean, np.float64), np.asarray(se, np.float64)
    if (m <= 0).any():
        raise ValueError("loglog_slope_from_means needs positive means")
    return ols_slope(np.log(np.asarray(x, np.float64)), np.log(m), s / m)


def mean_se(x) -> tuple[float, float]:
    """(mean, standard error of the mean) of independent values (ddof = 1)."""
    x = np.asarray(x, np.float64)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def mean_interval(x, *, level: float = 0.99) -> tuple[float, float, float]:
    """(mean, lo, hi): the two-sided Student-t interval at `level` for the mean of x (n >= 2
    independent values, e.g. one per seed; with few seeds the t quantile, not 3 SE, keeps the
    coverage: t_{0.995, 3} = 5.84). "A beats B" is this interval of paired differences above 0."""
    from scipy import stats as st

    x = np.asarray(x, np.float64)
    if x.size < 2 or not np.isfinite(x).all():
        raise ValueError(f"mean_interval needs >= 2 finite values, got {x.size}")
    m, se = mean_se(x)
    half = float(st.t.ppf(0.5 + level / 2, x.size - 1) * se)
    return m, m - half, m + half


def proportion_interval(k: int, n: int, *, level: float = 0.99) -> tuple[float, float, float]:
    """(k/n, lo, hi): the Clopper-Pearson (exact binomial) interval at `level` for a proportion
    of k successes in n independent trials. Unlike a t-interval over 0/1 values it keeps its
    coverage at the boundary (k = n gives [(alpha/2)^(1/n), 1], not a zero-width interval)."""
    from scipy import stats as st

    if not 0 <= k <= n or n < 1:
        raise ValueError(f"proportion_interval needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(st.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - a / 2, k + 1, n - k))
    return k / n, lo, hi
