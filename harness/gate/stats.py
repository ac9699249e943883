"""The statistics of the gate: one-sided paired tests of "the candidate is worse than the baseline", intervals of
the paired difference, the drop a comparison could detect, and Holm's correction over several comparisons.

Units are what is resampled or sign-flipped: items when the benchmark has no clusters, else clusters (all the
items of one program, one repository, one task). A unit enters as the sum of its items' differences
(candidate minus baseline) and its number of items, so the mean difference is sum(sums) / sum(sizes).

- McNemar (binary items, no clusters): with b items the baseline passed and the candidate failed and c the other
  way, under no difference b ~ Binomial(b + c, 1/2). One-sided regression p: exact P(X >= b), mid-p
  P(X > b) + P(X = b) / 2 (Fagerland, Lydersen and Laake 2013: mid-p keeps the nominal level, exact is
  conservative).
- Sign-flip permutation (anything else): T = sum of unit sums; under no difference each unit's sign is a fair
  coin. p = P(T* <= T), exactly over all 2^m sign vectors of the m non-zero units when m <= EXACT_MAX_UNITS,
  else (1 + #{T* <= T}) / (B + 1) over B random sign vectors from a fixed seed. The same vectors give the other
  direction's p, P(T* >= T), which the gate reads to call a candidate credibly better.
- Interval: percentile bootstrap over units, both runs resampled together (the ratio mean of the resample).
- Standard error: cluster-robust, sqrt(C / (C - 1) * sum_c (D_c - n_c * mean)^2) / n (Miller 2024, appendix A);
  with one item per unit it is the usual sd / sqrt(n).
- Minimum detectable effect (MDE): the smallest true drop found with the given power at the given one-sided
  level, from the normal approximation of the test: d = z_a sqrt(V) + z_b sqrt(V - d^2 / C), V the null
  variance of the mean difference (sum of squared unit sums over n^2), taken as at least d * R / C, what a drop
  of d brings when it falls on whole units with differences up to R (the hardest case, and what keeps the MDE
  honest when the two runs happen to agree everywhere). For binary pairs this is Connor's (1987) McNemar
  sample size, n = (z_a sqrt(p_d) + z_b sqrt(p_d - d^2))^2 / d^2, solved for d with p_d at least d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

from ..metrics import bootstrap_interval

RESAMPLES = 10_000
SEED = 0
EXACT_MAX_UNITS = 16  # 2^16 sign vectors: exact enumeration costs what 65,536 resamples cost
POWER = 0.8
_NORMAL = NormalDist()


# --- McNemar -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class McNemar:
    """One-sided McNemar test for a regression: b = baseline right and candidate wrong, c = the reverse."""

    b: int
    c: int
    p_exact: float  # P(X >= b), X ~ Binomial(b + c, 1/2)
    p_mid: float  # P(X > b) + P(X = b) / 2


def mcnemar_regression(b: int, c: int) -> McNemar:
    if b < 0 or c < 0:
        raise ValueError(f"mcnemar: counts must be non-negative, got b={b}, c={c}")
    n = b + c
    at = math.comb(n, b)
    above = sum(math.comb(n, i) for i in range(b + 1, n + 1))
    scale = 2**n
    return McNemar(b, c, p_exact=(above + at) / scale, p_mid=(2 * above + at) / (2 * scale))


# --- sign-flip permutation -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignFlip:
    """One-sided sign-flip permutation test of a drop: p = P(T* <= T) under random signs of the unit sums."""

    statistic: float  # T, the sum of the unit sums
    p: float
    exact: bool  # every sign vector enumerated, else `resamples` random ones
    resamples: int  # sign vectors used (2^m when exact)
    p_rise: float = 1.0  # the other direction from the same sign vectors: P(T* >= T), small for a credible rise


def sign_flip_test(unit_sums: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED,
                   exact_max_units: int = EXACT_MAX_UNITS) -> SignFlip:
    d = np.asarray(unit_sums, dtype=float)
    t_obs = float(d.sum())
    d = d[d != 0]  # a unit with no difference has the same sum under either sign
    m = len(d)
    if m == 0:
        return SignFlip(t_obs, 1.0, True, 1, 1.0)
    tolerance = 1e-9 * float(np.abs(d).sum())  # sums that are equal up to rounding count as ties
    if m <= exact_max_units:
        signs = 1 - 2 * ((np.arange(2**m)[:, None] >> np.arange(m)) & 1)  # every vector of +-1, one per row
        totals = signs @ d
        return SignFlip(t_obs, float(np.count_nonzero(totals <= t_obs + tolerance)) / 2**m, True, 2**m,
                        float(np.count_nonzero(totals >= t_obs - tolerance)) / 2**m)
    rng = np.random.default_rng(seed)
    chunk = max(1, 1_000_000 // m)
    hits = rises = 0
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        signs = 1.0 - 2.0 * rng.integers(0, 2, size=(b, m))
        totals = signs @ d
        hits += int(np.count_nonzero(totals <= t_obs + tolerance))
        rises += int(np.count_nonzero(totals >= t_obs - tolerance))
    return SignFlip(t_obs, (1 + hits) / (resamples + 1), False, resamples, (1 + rises) / (resamples + 1))


# --- interval, standard error, power ---------------------------------------------------------------------
def paired_bootstrap_interval(unit_sums: Sequence[float], unit_sizes: Sequence[int], confidence: float,
                              resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """Percentile interval of the mean item difference, resampling units (items or whole clusters)."""
    sums, sizes = np.asarray(unit_sums, dtype=float), np.asarray(unit_sizes, dtype=float)

    def mean_difference(counts: np.ndarray) -> np.ndarray:
        return (counts @ sums) / (counts @ sizes)

    return bootstrap_interval(mean_difference, len(sums), resamples=resamples, confidence=confidence, seed=seed)


def clustered_standard_error(unit_sums: Sequence[float], unit_sizes: Sequence[int]) -> float:
    """Cluster-robust standard error of the mean item difference (inf with fewer than two units)."""
    sums, sizes = np.asarray(unit_sums, dtype=float), np.asarray(unit_sizes, dtype=float)
    units, n = len(sums), float(sizes.sum())
    if units < 2:
        return math.inf
    mean = float(sums.sum()) / n
    return math.sqrt(units / (units - 1) * float(((sums - sizes * mean) ** 2).sum())) / n


def z_quantile(p: float) -> float:
    return _NORMAL.inv_cdf(p)


def minimum_detectable_effect(null_variance: float, units: int, alpha: float, power: float = POWER,
                              bound: float = 1.0) -> float:
    """Smallest drop d that a one-sided test at level `alpha` finds with probability `power`, for a mean
    difference over `units` independent units whose null variance (sum of squared unit sums over n^2) is
    `null_variance`: d = z_a sqrt(V) + z_b sqrt(V - d^2 / units), where V is at least d * bound / units, the
    variance the drop itself brings when it falls on whole units (the hardest case for differences bounded by
    `bound`). For binary pairs (V = p_d / n, bound 1) this is Connor's (1987) McNemar formula with the
    discordance at least d. inf when not even a drop of `bound` is in reach."""
    if units < 2:
        return math.inf
    za, zb = z_quantile(1 - alpha), z_quantile(power)

    def detected(d: float) -> bool:
        v = max(null_variance, d * bound / units)
        return za * math.sqrt(v) + zb * math.sqrt(max(v - d * d / units, 0.0)) <= d

    if not detected(bound):
        return math.inf
    lo, hi = 0.0, bound  # undetected below the root, detected above: bisect for it
    for _ in range(60):
        mid = (lo + hi) / 2
        if detected(mid):
            hi = mid
        else:
            lo = mid
    return hi


def mde_mcnemar(n: int, discordance: float, alpha: float, power: float = POWER) -> float:
    """The minimum detectable drop of a one-sided McNemar test on n pairs with this discordance rate."""
    return minimum_detectable_effect(discordance / n if n else 0.0, n, alpha, power)


# --- several comparisons -----------------------------------------------------------------------------------
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down, family-wise error rate), in the order given."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
