"""CSR, SSR, RSR, CCSR and per-category SSR on a case worked out by hand, unjudged constraints kept in the
denominator, and the agreement report."""

from __future__ import annotations

import math

import pytest

from harness.types import SampleResult, Status, Verdict
from tests.codeif.conftest import codeif_module

metrics = codeif_module("metrics")
agreement = codeif_module("agreement")


def verdict(answers: list[str], categories: list[str], dependence: dict[str, list[int]],
            static: list[str] | None = None, judge: list[str | None] | None = None) -> Verdict:
    static = static or ["undecided"] * len(answers)
    judge = judge or [None] * len(answers)
    constraints = [{"i": i, "template": 20 + i, "category": c, "answer": a,
                    "by": None if a == "unjudged" else "static", "static": s, "judge": j}
                   for i, (a, c, s, j) in enumerate(zip(answers, categories, static, judge))]
    ok = all(a == "yes" for a in answers)
    return Verdict(Status.PASS if ok else Status.FAIL, 0.0, {"constraints": constraints, "dependence": dependence})


def hand_case() -> list[SampleResult]:
    return [
        # CSR 0; SSR 3/4; RSR 2/4 (constraint 3 holds but its prerequisite 2 does not); CCSR 2/4
        SampleResult("1", (verdict(["yes", "yes", "no", "yes"], ["global", "global", "variable", "file"],
                                   {"3": [2]}),), {"difficulty": "easy", "language": "go"}),
        # everything: 1, 1, 1, 1
        SampleResult("2", (verdict(["yes", "yes", "yes"], ["variable", "variable", "file"], {}),),
                     {"difficulty": "hard", "language": "go"}),
        # an unjudged constraint counts as not met: CSR 0; SSR 1/3; RSR 0 (2 needs 0); CCSR 1/3
        SampleResult("3", (verdict(["no", "unjudged", "yes"], ["global", "file", "file"], {"2": [0]}),),
                     {"difficulty": "hard", "language": "python"}),
    ]


def test_the_published_definitions_on_a_hand_worked_case():
    m = metrics.aggregate(hand_case())
    v = m.values
    assert v["CSR"] == pytest.approx(1 / 3)
    assert v["SSR"] == pytest.approx((3 / 4 + 1 + 1 / 3) / 3)
    assert v["RSR"] == pytest.approx((2 / 4 + 1 + 0) / 3)
    assert v["CCSR"] == pytest.approx((2 / 4 + 1 + 1 / 3) / 3)
    # per category: pooled over problems (the leaderboard's full_<category>_SS are such ratios of integers)
    assert v["SSR[category=global]"] == pytest.approx(2 / 3)
    assert v["SSR[category=variable]"] == pytest.approx(2 / 3)
    assert v["SSR[category=file]"] == pytest.approx(3 / 4)
    assert v["CSR[difficulty=hard]"] == pytest.approx(1 / 2) and v["SSR[language=go]"] == pytest.approx(7 / 8)
    assert m.counts["unjudged"] == 1 and m.counts["problems_with_unjudged"] == 1
    # CodeIF's scripts would keep only the fully judged problems; that view is given apart, under its name
    assert v["CSR[fully_judged]"] == pytest.approx(1 / 2) and m.counts["problems[fully_judged]"] == 2
    lo, hi = m.intervals["CSR"]
    assert lo < 1 / 3 < hi  # Wilson at one attempt per problem
    assert m.intervals["SSR"][0] <= v["SSR"] <= m.intervals["SSR"][1]


def test_a_verdict_without_constraints_stays_in_the_denominator():
    """An `error` verdict (no answer could be read) lists no constraints: every constraint counts as not met,
    the problem is not dropped (CodeIF's scripts drop what they cannot score; we never do)."""
    ok = verdict(["yes", "yes"], ["global", "file"], {})
    error = Verdict(Status.ERROR, 0.0, {"reason": "no answer could be extracted"})
    m = metrics.aggregate([SampleResult("1", (ok,), {"categories": ["global", "file"]}),
                           SampleResult("2", (error,), {"categories": ["global", "global", "file"]})])
    assert m.counts["problems"] == 2 and m.counts["attempts_without_answer"] == 1
    assert m.values["CSR"] == pytest.approx(1 / 2) and m.values["SSR"] == pytest.approx(1 / 2)
    assert m.values["SSR[category=global]"] == pytest.approx(1 / 3)
    assert m.counts["constraints_without_template"] == 0  # its constraints are unread, not unmatched


def test_several_attempts_are_averaged_per_problem_first():
    a = verdict(["yes", "yes"], ["global", "global"], {})
    b = verdict(["yes", "no"], ["global", "global"], {})
    m = metrics.aggregate([SampleResult("1", (a, b), {}), SampleResult("2", (b, b), {})])
    assert m.values["CSR"] == pytest.approx((0.5 + 0) / 2)
    assert m.values["SSR"] == pytest.approx((0.75 + 0.5) / 2)


def test_agreement_per_template_with_kappa():
    static = ["yes", "yes", "no", "no"]
    judge = ["yes", "no", "no", "no"]
    results = [SampleResult(str(i), (verdict(["yes"] * 4, ["global"] * 4, {}, static, judge),), {}) for i in range(3)]
    rows = agreement.rows(a for r in metrics.collect(results) for a in r.attempts)
    total = rows[-1]
    assert total.pairs == 12 and total.both_yes == 3 and total.checker_yes_judge_no == 3 and total.both_no == 6
    # kappa by hand: p_o = 9/12; checker yes 6/12, judge yes 3/12 -> p_e = .5*.25 + .5*.75 = .5
    assert total.agreement == pytest.approx(0.75) and total.kappa == pytest.approx((0.75 - 0.5) / 0.5)
    per_template = {r.template: r for r in rows[:-1]}
    assert per_template[21].checker_yes_judge_no == 3 and per_template[20].agreement == 1.0
    assert math.isnan(per_template[20].kappa)  # both always said yes: chance agreement is total
    m = metrics.aggregate(results)
    assert m.values["agreement"] == pytest.approx(0.75) and m.counts["checker_yes_judge_no[template=21]"] == 3
    assert "21 " in agreement.table(rows) and "all" in agreement.table(rows)
