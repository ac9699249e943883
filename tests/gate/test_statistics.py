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


@pytest.mark.parametrize("n,discordance,table", [
    (100, 0.10, 7.8), (100, 0.30, 13.5), (300, 0.05, 3.2), (500, 0.20, 5.0), (1000, 0.10, 2.5),
    (1319, 0.30, 3.7), (3152, 0.20, 2.0), (50, 0.20, 15), (50, 0.30, 19)])
def test_mcnemar_mde_reproduces_the_research_table(n, discordance, table):
    # research/gate_site.md A7 (computed there from Connor 1987; test_mcnemar_mde_has_the_stated_power checks the
    # formula itself by simulation): one-sided alpha 0.05, power 0.8, in percentage points
    assert round(100 * stats.mde_mcnemar(n, discordance, 0.05), 0 if n == 50 else 1) == table


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


def test_mcnemar_is_one_sided_for_a_regression_on_random_tables():
    # many random tables against scipy's binomial test; a regression is b (baseline-only passes) large
    rng = np.random.default_rng(11)
    for b, c in rng.integers(0, 120, size=(300, 2)):
        b, c = int(b), int(c)
        t = stats.mcnemar_regression(b, c)
        greater = scipy_stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0
        assert t.p_exact == pytest.approx(greater, rel=1e-9, abs=1e-300)
        assert t.p_mid == pytest.approx(greater - scipy_stats.binom.pmf(b, b + c, 0.5) / 2, rel=1e-7, abs=1e-300)
        # the two directions' mid-p add up to one: exactly one of them can be at most alpha
        assert t.p_mid + stats.mcnemar_regression(c, b).p_mid == pytest.approx(1.0)
    assert stats.mcnemar_regression(20, 2).p_mid < 1e-4 < 0.9999 < stats.mcnemar_regression(2, 20).p_mid


@pytest.mark.parametrize("m", [2, 5, 9, 13, 16])
def test_exact_sign_flip_matches_scipy_with_zeros_and_ties(m):
    rng = np.random.default_rng(m)
    for decimals in (0, 1, 3):
        d = np.round(rng.normal(-0.2, 1, size=m), decimals)
        d[rng.random(m) < 0.2] = 0.0  # units with no difference
        if not d.any():
            continue
        t = stats.sign_flip_test(d)
        assert t.exact and t.resamples == 2 ** int(np.count_nonzero(d))
        assert t.p == pytest.approx(_scipy_sign_flip(d), abs=1e-12)


def test_sampled_sign_flip_counts_the_observed_vector():
    # p = (1 + hits) / (B + 1): never 0, and 1 / (B + 1) when no drawn vector is as extreme as the observed one
    t = stats.sign_flip_test([-1.0] * 40, resamples=999)
    assert not t.exact and t.p == 1 / 1000
    # against scipy's Monte Carlo permutation test (the same +1 correction), within sampling error
    rng = np.random.default_rng(4)
    d = rng.normal(-0.15, 1, size=60)
    ours = stats.sign_flip_test(d).p
    theirs = _scipy_sign_flip(d, resamples=20_000)
    assert abs(ours - theirs) < 4 * math.sqrt(theirs * (1 - theirs) * (1 / 10_000 + 1 / 20_000))


def test_sign_flip_over_clusters_of_different_sizes_keeps_the_level():
    # 12 clusters of 1 to 40 items with a cluster effect and no true difference: exact sign-flip over the cluster
    # sums rejects at about alpha (a test over the items would not)
    rng = np.random.default_rng(6)
    alarms, naive, trials = 0, 0, 400
    for _ in range(trials):
        sizes = rng.integers(1, 41, size=12)
        labels = np.repeat(np.arange(12), sizes)
        d = rng.normal(0, 0.3, size=12)[labels] + rng.normal(0, 0.3, size=len(labels))
        alarms += stats.sign_flip_test(np.bincount(labels, weights=d)).p <= 0.05
        naive += stats.sign_flip_test(d, resamples=500).p <= 0.05
    assert 0.02 <= alarms / trials <= 0.09 and naive > 3 * alarms, (alarms, naive)


def test_paired_bootstrap_of_unequal_clusters_is_the_item_mean_of_the_drawn_clusters():
    sums, sizes = np.array([-3.0, 1.0, 0.5, -0.5]), np.array([10, 1, 2, 5])
    lo, hi = stats.paired_bootstrap_interval(sums, sizes, 0.9, resamples=4000)
    # every resample's value is sum(drawn sums) / sum(drawn sizes): bounded by the extreme cluster means
    assert min(sums / sizes) <= lo < sums.sum() / sizes.sum() < hi <= max(sums / sizes)
    # the level: a wider interval at higher confidence, and the 1 - 2 alpha interval the gate uses
    lo99, hi99 = stats.paired_bootstrap_interval(sums, sizes, 0.99, resamples=4000)
    assert lo99 <= lo and hi <= hi99


@pytest.mark.parametrize("n,discordance", [(100, 0.2), (300, 0.1), (1000, 0.3)])
def test_mcnemar_mde_has_the_stated_power(n, discordance):
    # simulate the drop the MDE names (p10 - p01 = mde, p10 + p01 = discordance): mid-p McNemar at alpha 0.05
    # finds it about 80% of the time
    mde = stats.mde_mcnemar(n, discordance, 0.05)
    rng = np.random.default_rng(n)
    p10, p01 = (discordance + mde) / 2, (discordance - mde) / 2
    tables = rng.multinomial(n, [p10, p01, 1 - discordance], size=2000)
    b, c = tables[:, 0], tables[:, 1]
    p_mid = scipy_stats.binom.sf(b, b + c, 0.5) + scipy_stats.binom.pmf(b, b + c, 0.5) / 2
    power = float(np.mean(p_mid <= 0.05))
    assert 0.76 <= power <= 0.85, power


def test_sign_flip_gives_the_other_direction_from_the_same_vectors():
    rng = np.random.default_rng(12)
    d = np.round(rng.normal(0.3, 1, size=12), 1)
    t = stats.sign_flip_test(d)
    greater = scipy_stats.permutation_test((d,), lambda x, axis: np.sum(x, axis=axis), permutation_type="samples",
                                           alternative="greater", n_resamples=np.inf).pvalue
    assert t.p_rise == pytest.approx(greater, abs=1e-12)
    assert t.p + t.p_rise >= 1  # the observed vector (and its ties) count in both directions
    sampled = stats.sign_flip_test(np.concatenate([d, d]), exact_max_units=10)
    assert sampled.p_rise == stats.sign_flip_test(-np.concatenate([d, d]), exact_max_units=10).p
