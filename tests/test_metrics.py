"""Estimators checked against hand-computed values and published reference numbers."""

import math

import numpy as np
import pytest

from harness.metrics import bootstrap_interval, pass_at_k, paired_comparison, wilson_interval


def naive_pass_at_k(n, c, k):
    return 1 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize("n,c,k", [(1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 5), (20, 1, 10), (200, 37, 100), (5, 4, 2)])
def test_pass_at_k_matches_the_combinatorial_definition(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(naive_pass_at_k(n, c, k), rel=1e-12, abs=1e-12)


def test_pass_at_k_hand_values():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the fraction correct
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # C(2,2)/C(4,2) = 1/6
    assert pass_at_k(5, 3, 3) == 1.0  # fewer than k wrong attempts: always solved


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_wilson_interval_hand_value():
    # 8 of 10, z = 1.96: centre 0.7171, half-width 0.2266 (textbook example)
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small = rng.random(20)
    big = rng.random(2000)
    lo_s, hi_s = bootstrap_interval(lambda W: W @ small / len(small), len(small))
    lo_b, hi_b = bootstrap_interval(lambda W: W @ big / len(big), len(big))
    assert lo_s < small.mean() < hi_s
    assert lo_b < big.mean() < hi_b
    assert (hi_b - lo_b) < (hi_s - lo_s) / 3


def test_paired_comparison_counts_wins_and_losses():
    a = {f"s{i}": 1.0 for i in range(30)}
    b = dict(a)
    for i in range(8):
        b[f"s{i}"] = 0.0  # B lost 8 problems A solved
    cmp = paired_comparison(a, b)
    assert cmp.n == 30 and cmp.worse == 8 and cmp.better == 0
    assert cmp.difference == pytest.approx(-8 / 30)
    assert cmp.interval[1] < 0
    assert cmp.p_value == pytest.approx(2 / 2**8)  # exact sign test: 8 discordant pairs all one way


def test_paired_comparison_of_identical_runs_finds_no_difference():
    a = {f"s{i}": float(i % 2) for i in range(10)}
    cmp = paired_comparison(a, dict(a))
    assert cmp.difference == 0 and cmp.p_value == 1.0


def test_paired_comparison_needs_shared_problems():
    with pytest.raises(ValueError):
        paired_comparison({"a": 1.0}, {"b": 1.0})


def test_default_pass_fail_metrics_by_hand():
    from harness.metrics import pass_fail_metrics
    from harness.types import SampleResult, Status, Verdict

    p, f, u = Verdict(Status.PASS, 1.0), Verdict(Status.FAIL, 0.0), Verdict(Status.UNGRADABLE, 0.0)
    results = [SampleResult("a", (p, f, f), {"lang": "go"}), SampleResult("b", (p, p, p), {"lang": "py"}),
               SampleResult("c", (f, f, f), {"lang": "py"}), SampleResult("d", (u,), {"lang": "py"})]
    m = pass_fail_metrics(results, ("lang",))
    # pass@1 = mean of c/n = (1/3 + 1 + 0) / 3; pass@2 for a = 1 - C(2,2)/C(3,2) = 2/3; pass@3 for a = 1
    assert m.values["pass@1"] == pytest.approx((1 / 3 + 1) / 3)
    assert m.values["pass@2"] == pytest.approx((2 / 3 + 1) / 3)
    assert m.values["pass@3"] == pytest.approx(2 / 3)
    assert m.values["pass@1[lang=go]"] == pytest.approx(1 / 3) and m.values["pass@1[lang=py]"] == 0.5
    assert m.counts == {"problems": 3, "attempts": 9, "passed": 4, "ungradable": 1}
    lo, hi = m.intervals["pass@1"]
    assert 0 <= lo < m.values["pass@1"] < hi <= 1
    one = pass_fail_metrics([SampleResult("a", (p,)), SampleResult("b", (f,))])
    assert one.values == {"pass@1": 0.5} and one.intervals["pass@1"] == pytest.approx((0.0945, 0.9055), abs=1e-4)
