"""The gate's statistics against hand-computed cases, published figures and reference implementations
(statsmodels' McNemar, Holm and clustered OLS errors; scipy's binomial and permutation tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.gate import stats

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy (the test extra) checks the permutation test")
contingency = pytest.importorskip("statsmodels.stats.contingency_tables",
                                  reason="statsmodels (the test extra) checks McNemar")


def test_mcnemar_by_hand():
    # b = 5 regressions, c = 1 improvement: P(X >= 5 | Bin(6, 1/2)) = (6 + 1) / 64; mid-p = 1/64 + 6/64 / 2
    t = stats.mcnemar_regression(5, 1)
    assert t.p_exact == 7 / 64 and t.p_mid == 4 / 64
    assert stats.mcnemar_regression(0, 0).p_mid == 0.5  # nothing discordant: no evidence either way
    assert stats.mcnemar_regression(0, 7).p_exact == 1.0


@pytest.mark.parametrize("b,c", [(0, 3), (3, 0), (5, 1), (7, 7), (12, 30), (40, 18), (150, 120), (4, 0)])
def test_mcnemar_matches_scipy_and_statsmodels(b, c):
    t = stats.mcnemar_regression(b, c)
    exact = scipy_stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0
    assert t.p_exact == pytest.approx(exact, rel=1e-9, abs=1e-15)
    pmf = scipy_stats.binom.pmf(b, b + c, 0.5)
    assert t.p_mid == pytest.approx(exact - pmf / 2, rel=1e-9, abs=1e-15)
    # statsmodels' exact two-sided McNemar is twice the smaller one-sided tail
    two_sided = contingency.mcnemar([[10, b], [c, 10]], exact=True).pvalue
    other = stats.mcnemar_regression(c, b).p_exact
    assert min(1.0, 2 * min(t.p_exact, other)) == pytest.approx(two_sided, rel=1e-9)


def test_sign_flip_by_hand():
    # sums -1, -2, +0.5: of the 8 sign vectors, totals -2.5 and -3.5 are at most the observed -2.5
    t = stats.sign_flip_test([-1.0, -2.0, 0.5, 0.0])
    assert t.exact and t.resamples == 8 and t.p == 2 / 8 and t.statistic == -2.5
    assert stats.sign_flip_test([0.0, 0.0]).p == 1.0


def _scipy_sign_flip(d, resamples=np.inf):
    res = scipy_stats.permutation_test((np.asarray(d),), lambda x, axis: np.sum(x, axis=axis),
                                       permutation_type="samples", alternative="less", n_resamples=resamples,
                                       random_state=1)
    return res.pvalue


@pytest.mark.parametrize("seed", range(4))
def test_exact_sign_flip_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    d = np.round(rng.normal(-0.3, 1, size=11), 1)  # rounded: ties between sign vectors happen
    assert stats.sign_flip_test(d).p == pytest.approx(_scipy_sign_flip(d), abs=1e-12)


def test_sampled_sign_flip_agrees_with_the_exact_one():
    rng = np.random.default_rng(7)
    d = rng.normal(-0.25, 1, size=19)
    exact = stats.sign_flip_test(d, exact_max_units=20).p
    sampled = stats.sign_flip_test(d, exact_max_units=10)
    assert not sampled.exact and sampled.resamples == stats.RESAMPLES
    assert abs(sampled.p - exact) < 4 * math.sqrt(exact * (1 - exact) / stats.RESAMPLES)
    assert stats.sign_flip_test(d, exact_max_units=10).p == sampled.p  # fixed seed: the same p every time


def test_binary_sign_flip_is_exact_mcnemar():
    # on +-1 differences the permutation test is McNemar's exact test
    d = [-1.0] * 9 + [1.0] * 3
    assert stats.sign_flip_test(d).p == pytest.approx(stats.mcnemar_regression(9, 3).p_exact)


def test_holm_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    p = [0.2, 0.001, 0.04, 0.013, 0.5, 0.0101]
    assert stats.holm(p) == pytest.approx(list(multitest.multipletests(p, method="holm")[1]))


def test_clustered_standard_error_matches_statsmodels_cluster_robust_ols():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(12), rng.integers(2, 9, size=12))
    d = rng.normal(0, 1, size=len(groups)) + rng.normal(0, 1, size=12)[groups]
    sums = np.bincount(groups, weights=d)
    sizes = np.bincount(groups)
    fit = sm.OLS(d, np.ones(len(d))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert stats.clustered_standard_error(sums, sizes) == pytest.approx(float(fit.bse[0]), rel=1e-10)
    # one item per unit: the usual standard error of a mean
    assert stats.clustered_standard_error(d, np.ones(len(d))) == pytest.approx(d.std(ddof=1) / math.sqrt(len(d)))


@pytest.mark.parametrize("n,discordance,published", [
    (100, 0.10, 7.8), (100, 0.30, 13.5), (300, 0.05, 3.2), (500, 0.20, 5.0), (1000, 0.10, 2.5),
    (1319, 0.30, 3.7), (3152, 0.20, 2.0), (50, 0.20, 15), (50, 0.30, 19)])
def test_mcnemar_mde_reproduces_the_published_table(n, discordance, published):
    # research/gate_site.md A7: one-sided alpha 0.05, power 0.8 (Connor 1987), in percentage points
    assert round(100 * stats.mde_mcnemar(n, discordance, 0.05), 0 if n == 50 else 1) == published


def test_mde_is_honest_when_the_runs_agree_everywhere():
    # no discordant pair: the drop must bring its own discordance, so about (z_a + z_b)^2 / n
    mde = stats.mde_mcnemar(200, 0.0, 0.05)
    assert 0.02 < mde < 0.04
    assert math.isinf(stats.minimum_detectable_effect(0.0, 1, 0.05))  # one unit: nothing is detectable
    # more units, smaller MDE; more noise, larger
    assert stats.mde_mcnemar(400, 0.2, 0.05) < stats.mde_mcnemar(100, 0.2, 0.05)
    assert stats.mde_mcnemar(400, 0.3, 0.05) > stats.mde_mcnemar(400, 0.1, 0.05)


def test_paired_bootstrap_resamples_whole_clusters():
    rng = np.random.default_rng(5)
    clusters = np.repeat(np.arange(20), 15)
    d = rng.normal(0, 0.2, size=300) + rng.normal(-0.05, 0.5, size=20)[clusters]  # a strong cluster effect
    lo_i, hi_i = stats.paired_bootstrap_interval(d, np.ones(300), 0.9)
    lo_c, hi_c = stats.paired_bootstrap_interval(np.bincount(clusters, weights=d), np.bincount(clusters), 0.9)
    assert lo_c < d.mean() < hi_c and lo_i < d.mean() < hi_i
    assert hi_c - lo_c > 2.5 * (hi_i - lo_i)  # ignoring the clusters would be far too confident
