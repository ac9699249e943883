"""SWE-bench-Live's numbers: the share of instances resolved, overall, per repository and per month.

- `resolved`: the share of graded attempts that resolved their instance (with one attempt per instance, the share
  of instances: SWE-bench's "% resolved"), with a Wilson interval; several attempts give the mean over instances,
  with a bootstrap interval, and pass@k beside it. Ungradable instances (no test command, no FAIL_TO_PASS, a test
  patch that does not apply) are left out and counted.
- `resolved[repo=owner/name]` and `resolved[month=YYYY-MM]` (the month of created_at, in UTC).
- `resolved_validated`: the same over the instances whose validation (`harness validate`: the gold patch
  resolves and the empty patch does not, every repeat) is `ok`; the instances left out are counted by why:
  `left_out_broken`, `left_out_flaky`, `left_out_not_validated`. SWE-bench-Live advises this denominator, since
  some gold patches do not pass in every environment.
- counts of what went wrong per attempt: `patch_did_not_apply`, `timed_out`, `empty_patch`, and
  `disagreements` (the test command's exit code and the per-test results say different things), and
  `resolved_touching_test_runner` (resolved by a patch that changes conftest.py, pytest's settings or the
  interpreter's start-up: such a patch could report its own tests passed; read those by hand).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable

from harness.metrics import pass_fail_metrics
from harness.selection import as_instant
from harness.types import Metrics, SampleResult, Status, Verdict

# What `harness validate` found for an instance: "ok", "broken", "flaky", or None (not validated on this machine,
# or validated on other content)
ValidationLookup = Callable[[SampleResult], "str | None"]


def aggregate(results: Iterable[SampleResult], validation: ValidationLookup | None = None) -> Metrics:
    rows = []
    counts = {"patch_did_not_apply": 0, "timed_out": 0, "empty_patch": 0, "disagreements": 0,
              "resolved_touching_test_runner": 0}
    left_out = {"broken": 0, "flaky": 0, "not_validated": 0}
    validated = []
    for r in results:
        for v in r.verdicts:
            kind = error_kind(v)
            if kind:
                counts[kind] += 1
            if v.details.get("disagreement"):
                counts["disagreements"] += 1
            if v.status is Status.PASS and v.details.get("touches_test_runner"):
                counts["resolved_touching_test_runner"] += 1
        row = replace(r, metadata={"repo": r.metadata.get("repo"), "month": month_of(r.metadata.get("created_at"))})
        rows.append(row)
        if not any(v.status is not Status.UNGRADABLE for v in r.verdicts):
            continue  # ungradable: counted by pass_fail_metrics, in no denominator
        status = validation(r) if validation else None
        if status == "ok":
            validated.append(row)
        else:
            left_out[status if status in ("broken", "flaky") else "not_validated"] += 1
    base = pass_fail_metrics(rows, ("repo", "month"))
    out = Metrics(counts={"instances": base.counts["problems"], "attempts": base.counts["attempts"],
                          "resolved": base.counts["passed"], "ungradable": base.counts["ungradable"]})
    for name, value in base.values.items():
        out.add(name.replace("pass@1", "resolved", 1), value, base.intervals.get(name))
        if name == "pass@1":
            checked = pass_fail_metrics(validated)
            if "pass@1" in checked.values:
                out.add("resolved_validated", checked.values["pass@1"], checked.intervals.get("pass@1"))
    out.counts.update(counts)
    out.counts["validated"] = len(validated)
    out.counts.update({f"left_out_{k}": n for k, n in left_out.items()})
    return out


def error_kind(verdict: Verdict) -> str | None:
    """`patch_did_not_apply`, `timed_out`, `empty_patch`, or None: what kind of failure an attempt was."""
    details, reason = verdict.details, str(verdict.details.get("reason", ""))
    if details.get("empty_patch"):
        return "empty_patch"
    if verdict.status is Status.ERROR and reason.startswith("patch did not apply"):
        return "patch_did_not_apply"
    if verdict.status is Status.ERROR and "timed out" in reason:
        return "timed_out"
    return None


def month_of(created_at: object) -> str | None:
    """`2025-01` for a created_at in January 2025 (UTC); None where there is none or it is not a date."""
    if created_at in (None, ""):
        return None
    try:
        return as_instant(created_at).strftime("%Y-%m")
    except ValueError:
        return None
