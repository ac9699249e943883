"""The gate's decision on synthetic paired runs of known effect: no effect passes (false alarms at about the
nominal rate), a clear drop is a regression, a small run is inconclusive, clusters keep a naive test from crying
wolf, repeats are averaged per sample, Holm corrects several comparisons, infra never counts against a model."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from harness.gate import GateError, Outcome, Settings, gate
from harness.metrics import wilson_interval

from .synthetic import PIN, binary_pair, run

FAST = dict(resamples=500)  # bootstrap draws for the interval only: p-values and decisions do not depend on it


def decide(base, cand, metrics=("pass@1",), **settings):
    return gate([base], [cand], list(metrics), Settings(**settings))


def test_no_effect_raises_false_alarms_at_about_the_nominal_rate():
    rng = np.random.default_rng(2024)
    trials, alarms = 300, 0
    for _ in range(trials):
        base, cand, _ = binary_pair(rng, 200)
        alarms += decide(base, cand, **FAST).outcome is Outcome.REGRESSION
    lo, hi = wilson_interval(alarms, trials, z=3.29)  # 99.9%: a test that fails by chance once in a thousand runs
    assert lo <= 0.05 <= hi, f"{alarms} false alarms in {trials} gates at alpha 0.05"


def test_a_clear_drop_is_a_regression():
    rng = np.random.default_rng(1)
    base, cand, _ = binary_pair(rng, 400, drop=0.15)
    result = decide(base, cand)
    c = result.comparisons[0]
    assert result.outcome is Outcome.REGRESSION and c.outcome is Outcome.REGRESSION
    assert c.evidence.test == "McNemar mid-p" and c.evidence.p_value < 1e-4
    assert c.evidence.interval[1] < 0 and c.evidence.difference == pytest.approx(
        c.evidence.candidate_mean - c.evidence.baseline_mean)
    b, cc = c.evidence.discordant
    assert b > cc and b + cc == c.evidence.worse + c.evidence.better


def test_a_small_run_is_inconclusive_and_says_what_it_could_detect():
    base = run("b", [[True]] * 15 + [[False]] * 5)
    cand = run("c", [[True]] * 14 + [[False]] * 6)
    c = decide(base, cand, min_effect=0.05).comparisons[0]
    assert c.outcome is Outcome.INCONCLUSIVE
    assert c.evidence.mde > 0.2 and "too small to tell" in c.reason and f"{c.evidence.mde:.3g}" in c.reason
    # the same run passes for a user who only cares about a drop that large
    assert decide(base, cand, min_effect=c.evidence.mde + 0.01).outcome is Outcome.PASS


def test_a_large_run_without_a_drop_passes():
    rng = np.random.default_rng(3)
    base, cand, _ = binary_pair(rng, 2000)
    c = decide(base, cand, min_effect=0.05).comparisons[0]
    assert c.outcome is Outcome.PASS and c.evidence.mde < 0.05


def test_clusters_keep_a_naive_test_from_crying_wolf():
    # 40 programs of 10 items: the candidate lost 5 items in each of 16 programs and won 2 in each of the other
    # 24. Items of a program go together, so this is 40 units, not 400: McNemar on items (b = 80, c = 48) cries
    # wolf; the sign-flip test over programs sees 16 worse and 24 better programs, no credible drop
    base, cand, programs = [], [], []
    for program in range(40):
        lost = program < 16
        for item in range(10):
            changed = item < (5 if lost else 2)
            both = item % 3 == 0  # the unchanged items: some pass in both runs, the rest fail in both
            base.append([lost if changed else both])
            cand.append([not lost if changed else both])
            programs.append(f"p{program}")
    base, cand = run("b", base, clusters=programs), run("c", cand, clusters=programs)
    naive = decide(base, cand).comparisons[0]
    assert naive.evidence.discordant == (80, 48) and naive.outcome is Outcome.REGRESSION
    clustered = decide(base, cand, cluster_key="program", min_effect=0.2).comparisons[0]
    assert clustered.evidence.test == "sign-flip permutation over clusters (10000 draws)"
    assert clustered.evidence.units == 40 and clustered.evidence.n == 400
    assert 0.05 < clustered.evidence.p_value < 0.15 and clustered.outcome is Outcome.PASS
    assert clustered.evidence.effective_n < 400 / 3 and clustered.evidence.mde < 0.2
    assert clustered.evidence.interval[1] - clustered.evidence.interval[0] > \
        1.5 * (naive.evidence.interval[1] - naive.evidence.interval[0])


def test_clustered_false_alarms_stay_near_nominal():
    rng = np.random.default_rng(5)
    trials, naive, clustered = 150, 0, 0
    for _ in range(trials):
        base, cand, _ = binary_pair(rng, 300, clusters=30, cluster_sd=1.5)
        naive += decide(base, cand, resamples=200).outcome is Outcome.REGRESSION
        clustered += decide(base, cand, cluster_key="program", resamples=200).outcome is Outcome.REGRESSION
    lo, hi = wilson_interval(clustered, trials, z=3.29)
    assert lo <= 0.05 <= hi and naive > 2 * max(clustered, 1), (naive, clustered)


def test_repeats_are_averaged_per_sample_before_the_test():
    # 3 attempts per sample: sample i passes k_i of 3; the gate tests 4 samples, not 12 attempts
    base = run("b", [[True, True, True], [True, True, False], [True, False, False], [True, True, True]])
    cand = run("c", [[True, False, False], [False, False, False], [True, False, False], [True, True, True]])
    c = decide(base, cand, metrics=("pass@1", "pass@3"), **FAST).comparisons
    e = c[0].evidence
    assert e.n == 4 and e.test.startswith("sign-flip permutation over samples (exact)")
    assert e.baseline_mean == pytest.approx((1 + 2 / 3 + 1 / 3 + 1) / 4)
    assert e.candidate_mean == pytest.approx((1 / 3 + 0 + 1 / 3 + 1) / 4)
    # pass@3 of a sample with 3 attempts: 1 if any passed
    assert c[1].evidence.baseline_mean == 1.0 and c[1].evidence.candidate_mean == 0.75
    # sums -2/3, -2/3, 0, 0: two non-zero units, so p = 1/4 (the most extreme of 4 sign vectors)
    assert e.p_value == 0.25


def test_holm_corrects_several_metrics_and_tasks():
    # b = 10, c = 3: one-sided mid-p (C(13,11) + C(13,12) + C(13,13) + C(13,10) / 2) / 2^13 = 235 / 8192,
    # significant alone, not after Holm over two comparisons
    base = run("b", [[True]] * 10 + [[False]] * 3 + [[True]] * 50)
    cand = run("c", [[False]] * 10 + [[True]] * 3 + [[True]] * 50)
    alone = decide(base, cand, min_effect=0.5).comparisons[0]
    assert alone.evidence.p_value == 235 / 8192 and alone.outcome is Outcome.REGRESSION
    two = decide(base, cand, metrics=("pass@1", "score"), min_effect=0.5).comparisons
    assert [c.p_holm for c in two] == [2 * 235 / 8192] * 2
    assert all(c.outcome is not Outcome.REGRESSION for c in two)
    other = replace(PIN, task="other")
    result = gate([base, run("b2", [[True]] * 63, pin=other)], [cand, run("c2", [[True]] * 63, pin=other)],
                  ["pass@1"], Settings(min_effect=0.5))
    assert [c.task for c in result.comparisons] == ["synthetic/default", "other/default"]
    assert result.comparisons[0].p_holm == pytest.approx(2 * alone.evidence.p_value)


def test_infra_never_counts_against_the_model_and_too_much_makes_the_gate_inconclusive():
    rng = np.random.default_rng(8)
    base, cand, _ = binary_pair(rng, 400, drop=0.3)
    # the candidate's first 40 samples died in the sandbox (10% of its attempts)
    samples = dict(cand.samples)
    for sid in list(samples)[:40]:
        samples[sid] = replace(samples[sid], attempts=(replace(samples[sid].attempts[0], status="infra",
                                                               score=None),))
    cand = replace(cand, samples=samples)
    c = decide(base, cand).comparisons[0]
    assert c.outcome is Outcome.INCONCLUSIVE and "40 of the candidate's 400 attempts" in c.reason
    assert c.evidence.n == 360 and len(c.paired.ungraded_in_candidate) == 40  # not paired, not failures
    assert decide(base, cand, max_infra=0.2).outcome is Outcome.REGRESSION


def test_samples_in_only_one_run_are_reported():
    base = run("b", [[True]] * 30, ids=[f"x{i}" for i in range(30)])
    cand = run("c", [[True]] * 30, ids=[f"x{i}" for i in range(5, 35)])
    c = decide(base, cand).comparisons[0]
    assert c.evidence.n == 25
    assert c.paired.only_in_baseline == [f"x{i}" for i in range(5)]
    assert c.paired.only_in_candidate == [f"x{i}" for i in range(30, 35)]


def test_ungradable_attempts_are_left_out():
    base = run("b", [[True], ["ungradable"], [False]])
    cand = run("c", [[True], ["ungradable"], [True]])
    c = decide(base, cand).comparisons[0]
    assert c.evidence.n == 2 and c.paired.ungraded_in_baseline == ["s00001"]


def test_runs_of_another_task_version_code_data_or_options_are_refused():
    base = run("b", [[True]] * 5)
    for change, word in ((dict(version="2"), "task version"), (dict(code_sha256="e" * 64), "task code"),
                         (dict(data_sha256="f" * 64), "data"), (dict(args={"mode": "cot"}), "task options")):
        with pytest.raises(GateError, match=word):
            decide(base, run("c", [[True]] * 5, pin=replace(PIN, **change)))
    # a prompt change is what a pull request tests: allowed, and shown
    c = decide(base, run("c", [[True]] * 5, pin=replace(PIN, prompt_sha256="q" * 64), model="other"))
    assert set(c.comparisons[0].changes) == {"prompt", "model"}


def test_bad_requests_are_one_clear_error():
    base = run("b", [[True]] * 5)
    with pytest.raises(GateError, match="unknown gate metric 'accuracy'"):
        decide(base, base, metrics=("accuracy",))
    with pytest.raises(GateError, match="has no baseline of its task"):
        gate([base], [run("c", [[True]] * 5, pin=replace(PIN, split="hard"))], ["pass@1"], Settings())
    with pytest.raises(GateError, match="no metadata 'repo'"):
        decide(base, base, cluster_key="repo")
    with pytest.raises(GateError, match="share no graded sample"):
        decide(base, run("c", [[True]] * 5, ids=list("abcde")))
    with pytest.raises(GateError, match="--min-effect"):
        Settings(min_effect=0)


def test_the_same_inputs_give_the_same_verdict():
    rng = np.random.default_rng(9)
    base, cand, _ = binary_pair(rng, 300, clusters=40, cluster_sd=0.5)
    one = decide(base, cand, cluster_key="program").comparisons[0].evidence
    two = decide(base, cand, cluster_key="program").comparisons[0].evidence
    assert one == two and not math.isnan(one.p_value)


def test_a_better_candidate_passes_however_small_the_run():
    # 30 samples, 12 improved and none worse: far too few to detect a 5-point drop, but a drop is ruled out
    base = run("b", [[False]] * 12 + [[True]] * 10 + [[False]] * 8)
    cand = run("c", [[True]] * 12 + [[True]] * 10 + [[False]] * 8)
    c = decide(base, cand).comparisons[0]
    assert c.evidence.mde > 0.05 and c.evidence.p_better < 0.001
    assert c.outcome is Outcome.PASS and "credibly better" in c.reason
    # on a continuous metric and over clusters too
    scores_b = [[0.2]] * 10 + [[0.5]] * 10
    scores_c = [[0.7]] * 10 + [[0.9]] * 10
    programs = [f"p{i // 2}" for i in range(20)]
    c = decide(run("b", scores_b, clusters=programs), run("c", scores_c, clusters=programs), metrics=("score",),
               cluster_key="program").comparisons[0]
    assert c.evidence.units == 10 and c.outcome is Outcome.PASS and "credibly better" in c.reason
    # a slightly better candidate on a small run is not credibly better: still too small to tell
    c = decide(run("b", [[False]] + [[True]] * 19), run("c", [[True]] * 20)).comparisons[0]
    assert c.evidence.p_better > 0.05 and c.outcome is Outcome.INCONCLUSIVE


def test_runs_that_agree_everywhere_need_enough_samples_to_pass():
    # no discordant pair: mid-p is 1/2 either way, and the MDE is what a drop would bring, about 6.2 / n
    small = decide(run("b", [[True]] * 50 + [[False]] * 50), run("c", [[True]] * 50 + [[False]] * 50)).comparisons[0]
    assert small.evidence.discordant == (0, 0) and small.evidence.p_value == small.evidence.p_better == 0.5
    assert small.outcome is Outcome.INCONCLUSIVE and 0.05 < small.evidence.mde < 0.07
    large = decide(run("b", [[True]] * 150 + [[False]] * 150), run("c", [[True]] * 150 + [[False]] * 150))
    assert large.outcome is Outcome.PASS and large.comparisons[0].evidence.mde < 0.03


def test_ties_between_regressions_and_improvements_are_no_evidence():
    # b = c: mid-p is exactly 1/2 in both directions (P(X > b) = P(X < b) by symmetry)
    base = run("b", [[True]] * 40 + [[False]] * 40 + [[True]] * 900)
    cand = run("c", [[False]] * 40 + [[True]] * 40 + [[True]] * 900)
    c = decide(base, cand).comparisons[0]
    assert c.evidence.discordant == (40, 40) and c.evidence.p_value == c.evidence.p_better == 0.5
    assert c.outcome is Outcome.PASS and c.evidence.difference == 0 and c.evidence.mde < 0.05
    # tied sums on a continuous metric: exact sign-flip, p = P(T* <= T) counts the ties
    d = decide(run("b", [[0.5]] * 4), run("c", [[0.25], [0.75], [0.5], [0.5]]), metrics=("score",)).comparisons[0]
    assert d.evidence.test.endswith("(exact)") and d.evidence.p_value == d.evidence.p_better == 0.75


def test_a_run_of_one_sample_can_show_nothing():
    for b, cc in (([True], [False]), ([False], [True]), ([True], [True])):
        c = decide(run("b", [b]), run("c", [cc])).comparisons[0]
        assert c.evidence.n == 1 and math.isinf(c.evidence.mde) and c.outcome is Outcome.INCONCLUSIVE
        assert c.evidence.p_value >= 0.25 and c.evidence.p_better >= 0.25


def test_a_score_that_is_not_a_number_is_refused_not_a_regression():
    base = run("b", [[0.5]] * 20)
    for bad in (float("nan"), float("inf")):
        for b, cc in ((base, run("c", [[0.5]] * 19 + [[bad]])), (run("c", [[0.5]] * 19 + [[bad]]), base)):
            with pytest.raises(GateError, match="not a finite number"):
                decide(b, cc, metrics=("score",))
    # pass@k reads statuses only: the same runs gate on pass@1
    assert decide(base, run("c", [[0.5]] * 19 + [[float("nan")]])).comparisons[0].evidence.n == 20


def test_junit_stays_well_formed_whatever_the_sample_ids():
    import xml.etree.ElementTree as ET

    from harness.gate import EXIT_CODES
    from harness.gate.output import as_junit

    ids = [f"case\x1b[{i}]<&>" for i in range(40)]  # a terminal escape and XML's own characters
    result = decide(run("b", [[True]] * 40, ids=ids), run("c", [[False]] * 20 + [[True]] * 20, ids=ids,
                                                          model="m\x07"), **FAST)
    root = ET.fromstring(as_junit(result, EXIT_CODES[result.outcome]).encode("utf-8"))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and "case\ufffd[0]<&>" in failure.text
