"""SWE-bench-Live's metrics on hand-made verdicts: resolved overall, per repository and per month, the validated
score and who it leaves out, the error kinds; the per-month breakdown checked against pandas."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random

import pandas as pd
import pytest

from harness.metrics import wilson_interval
from harness.types import SampleResult, Status, Verdict

from ..conftest import REPO

_spec = importlib.util.spec_from_file_location("swebench_live_metrics", REPO / "tasks/swebench_live/metrics.py")
metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(metrics)

PASS, FAIL, ERROR, UNGRADABLE = Status.PASS, Status.FAIL, Status.ERROR, Status.UNGRADABLE


def result(iid, created_at, *verdicts):
    repo = iid.rsplit("-", 1)[0].replace("__", "/")
    return SampleResult(iid, tuple(Verdict(s, float(s is PASS), d) for s, d in verdicts),
                        {"repo": repo, "created_at": created_at})


HAND = [  # id, created_at, verdict; validation status
    (result("a__x-1", "2025-01-10T08:00:00Z", (PASS, {"touches_test_runner": ["conftest.py"]})), "ok"),
    (result("a__x-2", "2025-01-20", (FAIL, {"empty_patch": True})), "ok"),
    (result("b__y-1", "2025-02-01T00:30:00+01:00", (PASS, {})), "broken"),  # 2025-01-31T23:30Z: January
    (result("b__y-2", "2025-02-15T10:00:00", (ERROR, {"reason": "patch did not apply"})), "flaky"),
    (result("b__y-3", "2025-03-01T00:00:00Z", (ERROR, {"reason": "tests timed out after 1800 s"})), None),
    (result("c__z-1", "2025-03-02T00:00:00Z", (UNGRADABLE, {"reason": "no FAIL_TO_PASS"})), "ok"),
    (result("c__z-2", "2025-03-03T00:00:00Z", (PASS, {"disagreement": "exit 0 but tests/t.py::t is missing"})),
     "ok"),
]


def aggregate(rows):
    status = {r.sample_id: s for r, s in rows}
    return metrics.aggregate([r for r, _ in rows], lambda r: status[r.sample_id])


def test_hand_computed_run():
    m = aggregate(HAND)
    # six gradable instances (c/z-1 is ungradable), three resolved: a/x-1, b/y-1, c/z-2
    assert m.values["resolved"] == 0.5
    assert m.intervals["resolved"] == pytest.approx(wilson_interval(3, 6))
    assert {k: v for k, v in m.values.items() if "repo=" in k} == {
        "resolved[repo=a/x]": 0.5, "resolved[repo=b/y]": pytest.approx(1 / 3), "resolved[repo=c/z]": 1.0}
    assert {k: v for k, v in m.values.items() if "month=" in k} == {
        "resolved[month=2025-01]": pytest.approx(2 / 3), "resolved[month=2025-02]": 0.0,
        "resolved[month=2025-03]": 0.5}
    # validated: a/x-1, a/x-2, c/z-2 (c/z-1 is ok but ungradable: in no denominator)
    assert m.values["resolved_validated"] == pytest.approx(2 / 3)
    assert m.intervals["resolved_validated"] == pytest.approx(wilson_interval(2, 3))
    assert m.counts == {"instances": 6, "attempts": 6, "resolved": 3, "ungradable": 1, "validated": 3,
                        "left_out_broken": 1, "left_out_flaky": 1, "left_out_not_validated": 1,
                        "patch_did_not_apply": 1, "timed_out": 1, "empty_patch": 1, "disagreements": 1,
                        "resolved_touching_test_runner": 1}
    headline = [k for k in m.values if "[" not in k]
    assert headline == ["resolved", "resolved_validated"]  # the primary metric comes first


def test_nothing_validated_gives_no_validated_score_and_says_why():
    m = metrics.aggregate([r for r, _ in HAND])
    assert "resolved_validated" not in m.values
    assert m.counts["validated"] == 0 and m.counts["left_out_not_validated"] == 6


def test_several_attempts_give_the_mean_over_instances_and_pass_at_k():
    rows = [result("a__x-1", "2025-01-01", (PASS, {}), (FAIL, {})), result("a__x-2", "2025-01-02", (FAIL, {}),
                                                                          (FAIL, {}))]
    m = metrics.aggregate(rows, lambda r: "ok")
    assert m.values["resolved"] == 0.25 and m.values["pass@2"] == 0.5
    assert m.values["resolved_validated"] == 0.25
    assert m.counts["instances"] == 2 and m.counts["attempts"] == 4 and m.counts["resolved"] == 1


def test_per_month_breakdown_agrees_with_pandas():
    rng = random.Random(7)
    rows = []
    zones = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))]
    for i in range(400):
        at = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=rng.randrange(60 * 24 * 365))
        text = at.astimezone(rng.choice(zones)).isoformat()
        if rng.random() < 0.25:
            text = at.strftime("%Y-%m-%dT%H:%M:%S")  # no zone: UTC
        rows.append(result(f"r{i % 5}__p-{i}", text, (PASS if rng.random() < 0.3 else FAIL, {})))
    m = metrics.aggregate(rows)
    frame = pd.DataFrame({"created_at": [r.metadata["created_at"] for r in rows],
                          "resolved": [r.verdicts[0].passed for r in rows]})
    frame["month"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601").dt.strftime("%Y-%m")
    expected = frame.groupby("month")["resolved"].mean()
    ours = {k[len("resolved[month="):-1]: v for k, v in m.values.items() if k.startswith("resolved[month=")}
    assert len(expected) >= 12
    assert ours == pytest.approx(expected.to_dict())
