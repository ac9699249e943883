"""REval's metrics on hand-made verdicts: accuracy, coverage F1, the constant-answer baselines, and IC."""

from __future__ import annotations

import pytest

from harness.types import SampleResult, Status, Verdict

from .conftest import module

metrics = module("metrics")


def result(program, task, atom, passed, source="HumanEval", **details):
    status = Status.PASS if passed else Status.FAIL
    return SampleResult(f"{program}/0/{task}/{atom}", (Verdict(status, float(passed), details),),
                        {"program": program, "source": source, "task": task, "input": 0,
                         "atom": None if task == "output" else atom})


def test_ic_scores_only_a_right_prefix():
    assert metrics.ic_score(True, True, True, True) == 1
    assert metrics.ic_score(True, True, True, False) == 0.5
    assert metrics.ic_score(True, True, False, False) == 0.25
    assert metrics.ic_score(True, False, False, False) == 0.125
    assert metrics.ic_score(False, True, True, True) == 0  # right answers after a wrong one earn nothing
    assert metrics.ic_score(True, False, True, False) == 0


def test_hand_computed_run():
    # program A: two atoms, its output right. atom 0: c s p o right -> 1; atom 1: c right, s p wrong, o right ->
    # 0 (not a prefix: 0.125 needs o wrong too).  program B: one atom, c wrong -> 0.
    rows = [
        result("A", "coverage", 0, True, truth=True, predicted="YES", baseline=True),
        result("A", "state", 0, True, baseline=False), result("A", "path", 0, True, baseline=True),
        result("A", "coverage", 1, True, truth=False, predicted="NO", baseline=False),
        result("A", "state", 1, False, baseline=True), result("A", "path", 1, False, baseline=False),
        result("A", "output", None, True),
        result("B", "coverage", 0, False, truth=True, predicted="NO", baseline=True, source="ClassEval"),
        result("B", "state", 0, True, baseline=False, source="ClassEval"),
        result("B", "path", 0, False, baseline=True, source="ClassEval"),
        result("B", "output", None, False, source="ClassEval"),
    ]
    m = metrics.aggregate(rows).values
    assert m["coverage_acc"] == pytest.approx(200 / 3)
    assert m["state_acc"] == pytest.approx(200 / 3) and m["path_acc"] == pytest.approx(100 / 3)
    assert m["output_acc"] == 50
    assert m["avg_acc"] == pytest.approx((200 / 3 + 200 / 3 + 100 / 3 + 50) / 4)
    assert m["ic"] == pytest.approx(100 / 3)
    # YES positive: tp 1 (A0), fn 1 (B0), fp 0 -> precision 100, recall 50, F1 66.7
    assert m["coverage_precision"] == 100 and m["coverage_recall"] == 50
    assert m["coverage_f1"] == pytest.approx(200 / 3)
    assert m["coverage_acc_always_yes"] == pytest.approx(200 / 3)
    assert m["coverage_f1_always_yes"] == pytest.approx(80)  # precision 2/3, recall 1
    assert m["state_acc_always_nil"] == pytest.approx(100 / 3)
    assert m["path_acc_always_minus1"] == pytest.approx(200 / 3)
    assert m["coverage_acc[source=ClassEval]"] == 0 and m["ic[source=HumanEval]"] == 50


def test_ungradable_items_are_left_out_and_counted():
    rows = [result("A", "coverage", 0, True, truth=True, predicted="YES", baseline=True),
            SampleResult("A/0/state/0", (Verdict(Status.UNGRADABLE, 0.0, {"reason": "x"}),),
                         {"program": "A", "source": "HumanEval", "task": "state", "input": 0, "atom": 0})]
    out = metrics.aggregate(rows)
    assert out.counts["ungradable_state"] == 1 and "state_acc" not in out.values
