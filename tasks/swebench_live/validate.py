"""Validating SWE-bench-Live instances: the gold patch must resolve, the empty patch must not, on every run.

`harness validate --task swebench-live` calls `validate_sample` per instance (the Task's `validate` hook):

1. Where the data has no FAIL_TO_PASS / PASS_TO_PASS (a freshly curated instance), they are derived from two
   runs of the whole test command, with the test patch applied: without the gold patch ("before") and with it
   ("after"), as SWE-bench-Live's Python validation does: FAIL_TO_PASS = the tests that failed or errored
   before and passed after; PASS_TO_PASS = those that passed in both; a test skipped in either run, or missing
   from either, is left out (and counted). An instance whose derived FAIL_TO_PASS is empty is `broken`.
2. The gold patch and the empty patch are then run `repeats` times each on exactly the listed tests, as a
   grade runs them (the two derivation runs count as the first repeat: `--repeats 1` costs two runs). A run of
   the gold patch resolves when the tests' exit code is 0 and every listed test passed; one of the empty patch
   when it would be graded resolved (exit code 0). On the whole test command (the derivation runs) only the
   listed tests count, since the others may fail in both.
3. The instance is `ok` (gold always resolves, empty never does), `flaky` (a listed test, or whether a patch
   resolves, differs between the runs of one patch), or `broken` (consistently: gold does not resolve, or empty
   does), with the reason.

What is found is stored in the derived cache (harness/derived.py, one SQLite file per machine) under the
instance id, a hash of what the result depends on in the instance (`content_sha256`: the repository, base
commit, patches, test command and given lists, not the problem statement) and the image's fingerprint
(tasks/swebench_live/images.py: the recipe's hash, or the image id), in a namespace of this file's and
evaluate.py's code. The latest validation of each instance id is kept too: `derived_tests(inst)` gives the
derived lists to the task's samples, and `status_of(result)` gives the metrics their `resolved_validated`.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.derived import DerivedCache
from harness.types import SampleResult, stable_hash
from harness.validate import Interrupted

from .data import Instance, instance_of

if TYPE_CHECKING:
    from harness.types import Sample
    from harness.validate import Validation

    from .evaluate import Outcome
    from .images import Images

HERE = Path(__file__).resolve().parent
TASK_NAME = "swebench-live"
PASSED = "passed"
FAILED = ("failed", "error")
LIST_LIMIT = 3  # test names quoted in a reason


@functools.lru_cache(maxsize=1)
def validation_code() -> str:
    """What computes the stored results: this file and the grading code it runs."""
    h = hashlib.sha256()
    for name in ("validate.py", "evaluate.py", "patches.py"):
        h.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return h.hexdigest()


def content_sha256(inst: Instance) -> str:
    """What a validation depends on in an instance: repository and commit, the two patches, the test command,
    the log parser, the image it names, and the lists the data gives (none, where they are derived)."""
    return stable_hash("swebench-live-instance", inst.instance_id, inst.repo, inst.base_commit, inst.patch,
                       inst.test_patch, list(inst.test_cmds), inst.log_parser, inst.image, list(inst.fail_to_pass),
                       list(inst.pass_to_pass))


def as_given(inst: Instance, store: ValidationStore) -> Instance:
    """The instance as its data gives it: lists that the task's samples filled in from a validation (they are
    the derived lists of an instance without lists) are taken out again."""
    bare = replace(inst, fail_to_pass=(), pass_to_pass=())
    if inst.fail_to_pass and derived_tests(bare, store=store) == (inst.fail_to_pass, inst.pass_to_pass):
        return bare
    return inst


# ------------------------------------------------------------------------------------------------ storage
class ValidationStore:
    """Validation records in the derived cache: by (instance id, content, image fingerprint), and the latest
    one by instance id."""

    def __init__(self, cache: DerivedCache | None = None):
        self.view = (cache or DerivedCache.shared()).view(TASK_NAME, "validation", validation_code(), "")

    @staticmethod
    def _exact(inst: Instance, fingerprint: str) -> str:
        return stable_hash("exact", inst.instance_id, content_sha256(inst), fingerprint)

    @staticmethod
    def _latest(instance_id: str) -> str:
        return stable_hash("latest", instance_id)

    def get(self, inst: Instance, fingerprint: str) -> dict[str, Any] | None:
        return self.view.get(self._exact(inst, fingerprint))

    def latest(self, instance_id: str) -> dict[str, Any] | None:
        return self.view.get(self._latest(instance_id))

    def put(self, inst: Instance, record: dict[str, Any]) -> None:
        self.view.put_many({self._exact(inst, record["fingerprint"]): record,
                            self._latest(inst.instance_id): record})


def derived_tests(inst: Instance, images: Images | None = None, *,
                  store: ValidationStore | None = None) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The FAIL_TO_PASS and PASS_TO_PASS derived for an instance that has none, or None (not validated here, or
    nothing could be derived). With `images`, only a validation in the image they would grade it in (by its
    fingerprint); without, the latest validation of this instance's content on this machine."""
    if inst.fail_to_pass or inst.pass_to_pass:
        return None
    store = store or ValidationStore()
    record = store.get(inst, images.plan(inst).fingerprint) if images else store.latest(inst.instance_id)
    if not record or record.get("content_sha256") != content_sha256(inst) or not record.get("derived"):
        return None
    if not record.get("fail_to_pass"):
        return None
    return tuple(record["fail_to_pass"]), tuple(record["pass_to_pass"])


def status_of(result: SampleResult, *, store: ValidationStore | None = None) -> str | None:
    """"ok", "broken" or "flaky": the latest validation of this instance id on this machine; None where there is
    none. (By id: a result does not say which content it graded; validate the data you run.)"""
    record = (store or ValidationStore()).latest(result.sample_id)
    return record.get("status") if record else None


# ------------------------------------------------------------------------------------------------ checking
def check_instance(inst: Instance, image: str, *, repeats: int, timeout_s: float,
                   stop: threading.Event | None = None, live: Any = None) -> dict[str, Any]:
    """Validate one instance in `image` (steps 1-3 above); the record to store (without its fingerprint).
    Raises Interrupted when `stop` is set between two runs, InfraError when Docker or the image fails. `live`
    (evaluate.LiveContainers): where its containers are tracked, so that closing the task removes them."""
    from .evaluate import run_instance

    stop = stop or threading.Event()
    started = time.monotonic()
    runs: list[dict[str, Any]] = []

    def one(patch_name: str, tests: Sequence[str] | None) -> Outcome:
        if stop.is_set():
            raise Interrupted()  # nothing of this instance is stored
        return run_instance(image, inst, inst.patch if patch_name == "gold" else "", tests=tests, timeout_s=timeout_s,
                            live=live)

    record: dict[str, Any] = {"instance_id": inst.instance_id, "content_sha256": content_sha256(inst),
                              "image": image, "repeats": repeats, "derived": not inst.fail_to_pass,
                              "fail_to_pass": list(inst.fail_to_pass), "pass_to_pass": list(inst.pass_to_pass),
                              "left_out": {}, "runs": runs}
    if record["derived"]:
        before, after = one("empty", None), one("gold", None)
        problem = _derivation_problem(before, after, timeout_s)
        f2p, p2p, left_out = derive(before.tests, after.tests)
        record.update(fail_to_pass=f2p, pass_to_pass=p2p, left_out=left_out)
        if problem is None and not f2p:
            problem = ("no test fails without the gold patch and passes with it (derived FAIL_TO_PASS is empty; "
                       f"{_counts_text(left_out)})")
        runs += [_summary("empty", "all", before, f2p + p2p), _summary("gold", "all", after, f2p + p2p)]
        if problem:
            return _finish(record, "broken", problem, started)
    lists = record["fail_to_pass"] + record["pass_to_pass"]
    for _ in range(repeats - (1 if record["derived"] else 0)):
        runs.append(_summary("gold", "lists", one("gold", lists), lists))
        runs.append(_summary("empty", "lists", one("empty", lists), lists))
    status, reason = verdict(runs)
    return _finish(record, status, reason, started)


def derive(before: dict[str, str], after: dict[str, str]) -> tuple[list[str], list[str], dict[str, int]]:
    """FAIL_TO_PASS, PASS_TO_PASS (sorted) and the counts of tests left out, by why. A file that pytest could
    not collect is reported as one error (`ERROR tests/x.py`, the test patch importing what the fix adds): its
    tests count as errors in that run."""
    f2p, p2p = [], []
    left_out = {"skipped": 0, "missing before": 0, "missing after": 0, "fail after": 0}
    uncollected = {t for t, status in before.items() if not _is_test(t) and status in FAILED}
    for test in sorted(t for t in before.keys() | after.keys() if _is_test(t)):
        b, a = before.get(test), after.get(test)
        if b is None and test.split("::", 1)[0] in uncollected:
            b = "error"
        if "skipped" in (a, b):
            left_out["skipped"] += 1
        elif a is None:
            left_out["missing after"] += 1
        elif a != PASSED:
            left_out["fail after"] += 1
        elif b is None:
            left_out["missing before"] += 1
        elif b == PASSED:
            p2p.append(test)
        else:
            f2p.append(test)
    return f2p, p2p, {k: n for k, n in left_out.items() if n}


def _is_test(nodeid: str) -> bool:
    """A test's node id (`tests/x.py::test_a`), not a file or module pytest reports an error for."""
    return "::" in nodeid and not nodeid.startswith("::")


def _derivation_problem(before: Outcome, after: Outcome, timeout_s: float) -> str | None:
    """Why the two derivation runs cannot give lists, or None."""
    for name, out in (("without the gold patch", before), ("with the gold patch", after)):
        if not out.test_patch_applied:
            return "the test patch does not apply"
        if not out.applied:
            return "the gold patch does not apply"
        if out.timed_out:
            return f"the test command timed out after {timeout_s:g} s {name}"
        if not out.tests:
            return f"the test command reported no per-test results {name} (exit {out.exit_code})"
    return None


def _summary(patch: str, scope: str, out: Outcome, lists: Sequence[str]) -> dict[str, Any]:
    """One run as stored: whether it resolved (see the module's step 2), and the listed tests' statuses."""
    tests = {t: out.tests.get(t, "missing") for t in lists}
    not_passed = [t for t in lists if tests[t] != PASSED]
    if not out.test_patch_applied:
        resolved, why = False, "the test patch does not apply"
    elif not out.applied:
        resolved, why = False, "the patch did not apply"
    elif out.timed_out:
        resolved, why = False, "the tests timed out"
    elif scope == "all":
        resolved, why = not not_passed, _tests_text("did not pass", not_passed, tests)
    elif patch == "gold":
        resolved = out.exit_code == 0 and not not_passed
        why = (_tests_text("did not pass", not_passed, tests) if not_passed
               else f"the tests exited {out.exit_code} though every listed test passed")
    else:
        resolved, why = out.exit_code == 0, "the tests exited 0"
    wrong = resolved != (patch == "gold")  # gold that does not resolve, empty that does: say why
    return {"patch": patch, "scope": scope, "resolved": resolved, "why": why if wrong else "",
            "exit_code": out.exit_code, "timed_out": out.timed_out, "seconds": round(sum(out.phases.values()), 1),
            "tests": tests}


def verdict(runs: list[dict[str, Any]]) -> tuple[str, str]:
    """(status, reason) from the runs of both patches."""
    by_patch = {p: [r for r in runs if r["patch"] == p] for p in ("gold", "empty")}
    changed = {}
    for p, rs in by_patch.items():
        for test in rs[0]["tests"] if rs else ():
            seen = [r["tests"][test] for r in rs]
            if len(set(seen)) > 1:
                changed.setdefault(test, f"{p}: {'/'.join(seen)}")
    gold = [r["resolved"] for r in by_patch["gold"]]
    empty = [r["resolved"] for r in by_patch["empty"]]
    if changed or len(set(gold)) > 1 or len(set(empty)) > 1:
        parts = [f"the gold patch resolved in {sum(gold)} of {len(gold)} runs"] if len(set(gold)) > 1 else []
        if len(set(empty)) > 1:
            parts.append(f"the empty patch resolved in {sum(empty)} of {len(empty)} runs")
        if changed:
            names = [f"{t} ({s})" for t, s in list(changed.items())[:LIST_LIMIT]]
            more = f" and {len(changed) - LIST_LIMIT} more" if len(changed) > LIST_LIMIT else ""
            parts.append(f"tests that changed between runs: {', '.join(names)}{more}")
        return "flaky", "; ".join(parts)
    if not all(gold):
        return "broken", f"the gold patch does not resolve: {by_patch['gold'][0]['why']}"
    if any(empty):
        return "broken", f"the empty patch resolves: {by_patch['empty'][0]['why']}"
    return "ok", ""


def _finish(record: dict[str, Any], status: str, reason: str, started: float) -> dict[str, Any]:
    record.update(status=status, reason=reason, seconds=round(time.monotonic() - started, 1), at=time.time())
    return record


def _tests_text(what: str, tests: Sequence[str], statuses: dict[str, str]) -> str:
    if not tests:
        return ""
    named = ", ".join(f"{t} ({statuses[t]})" for t in tests[:LIST_LIMIT])
    more = f" and {len(tests) - LIST_LIMIT} more" if len(tests) > LIST_LIMIT else ""
    return f"{named}{more} {what}"


def _counts_text(left_out: dict[str, int]) -> str:
    return ", ".join(f"{n} {why}" for why, n in left_out.items()) or "no test was left out"


def facts(record: dict[str, Any]) -> dict[str, Any]:
    """The table's columns for one record."""
    return {"lists": "derived" if record["derived"] else "given", "f2p": len(record["fail_to_pass"]),
            "p2p": len(record["pass_to_pass"]), "runs": len(record["runs"])}


# ------------------------------------------------------------------------------------------------ the hook
def validate_sample(task: Any, sample: Sample, *, repeats: int, fresh: bool,
                    stop: threading.Event) -> Validation:
    """The Task's `validate` (harness/validate.py): the stored validation of this instance in the image it
    grades in, where there is one of at least `repeats` runs (and not `fresh`); else a new one, stored."""
    from harness.validate import Validation

    store = ValidationStore()
    images = task._images()
    inst = as_given(instance_of(sample), store)
    record = None if fresh else store.get(inst, images.plan(inst).fingerprint)
    stored = record is not None and record.get("repeats", 0) >= repeats
    if not stored:
        with images.use(inst) as image:
            fingerprint = images.plan(inst).fingerprint  # once it is here: a pulled image's is its id, as later
            record = check_instance(inst, image, repeats=repeats, timeout_s=float(task._arg("test_timeout")),
                                    stop=stop, live=task.live)
        record["fingerprint"] = fingerprint
    store.put(inst, record)  # again when stored: it becomes the latest
    return Validation(sample.id, record["status"], record["reason"], facts(record), stored=stored,
                      seconds=0.0 if stored else record["seconds"])
