"""Grading one COFFE sample in the sandbox: correctness first (fail fast), then instruction counts.

Everything that runs code -- the model's, the reference's, the stressful-input generators -- runs in the
harness-python image through check.py (by `harness.sandbox.grading.run_checked`, the one way to run in a
sandbox); the host only sends files and reads the result line.

1. Reference time on the correctness tests (native, cached): sets the candidate's per-test limit,
   max(TIME_FLOOR_S, TIME_FACTOR x reference time).  A reference that fails its own tests makes the problem
   ungradable (a data problem, reported, never counted against the model).
2. The candidate on the correctness tests: pass / fail (an output differs) / error (syntax, exception, limit).
3. Only for a passing candidate: the best reference's count on every stressful test (cached by solution, test,
   image id and method; counted once, in one valgrind process per problem), then the candidate's, on the tests
   where the reference has a count, each test limited to max(STRESS_FLOOR_S, TIME_FACTOR x VALGRIND_SLOWDOWN x
   the reference's native time).  A stressful test whose input cannot be built (a generator that fails on this
   Python) or on which the reference fails is excluded for both and listed.  A candidate that fails or runs past
   the limit on a stressful test gets no total (COFFE's INF): never efficient, left out of speedup.

Sandbox failures are retried (run_checked); still failing, the sample's verdict is infra.  Code that killed the
sandbox runner on every attempt: a candidate's verdict is error; a reference's run counts as the reference
failing (an ungradable problem, or the stressful tests excluded), like any reference run that gave no result.
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.sandbox import ContainerLimits, Ending, InfraError, RunLimits, RunResult, WarmPool
from harness.sandbox.grading import SandboxFailed, infra_verdict, run_checked, run_details
from harness.types import Sample, Status, Verdict

from .cache import Entry, ReferenceView, sha

if TYPE_CHECKING:
    from harness.context import TaskContext

METHOD = "valgrind-callgrind"
TIME_METHOD = "wall-native"
TIME_FACTOR = 10.0  # candidate limit = factor x reference time (COFFE's factor)
TIME_FLOOR_S = 2.0  # ... but never below this (start-up noise, a loaded machine)
STRESS_FLOOR_S = 30.0  # per stressful test under valgrind
REF_TEST_LIMIT_S = 60.0  # the reference on one correctness test (native)
REF_NATIVE_STRESS_LIMIT_S = 60.0  # the reference on one stressful test, native (COFFE: 50 s)
VALGRIND_SLOWDOWN = 60.0  # callgrind runs Python ~60x slower than native (measured 57-68x)
RUN_CAP_S = 3600.0  # one sandbox run, whatever the sum of its tests' limits
CONTAINER = ContainerLimits(memory_mb=4096, cpus=1.0, pids=64, tmpfs_mb=512, shm_mb=16)
INFRA_RETRIES = 2


class CheckFailed(Exception):
    """check.py gave no result line: it was killed, the code broke out of it, or (a reference's run only) the
    code killed the sandbox runner on every attempt.  `how` says which; `result` is the run, where there is one."""

    def __init__(self, how: str, result: RunResult | None = None):
        super().__init__(how)
        self.how = how
        self.result = result


class Grader:
    """Grades samples of one run: the sandbox pool and the reference cache come from the run's TaskContext, on
    first use (a run whose verdicts are all cached starts no container)."""

    retry_wait_s = 1.0  # run_checked's wait before a retry (times the attempt number)

    def __init__(self, check_program: Path, ctx: TaskContext):
        self.check_src = Path(check_program).read_text(encoding="utf-8")
        # the reference cache's code: what runs (check.py) and how it is run (this file: limits, job shapes)
        self.check_sha = sha(self.check_src + Path(__file__).read_text(encoding="utf-8"))
        self.ctx = ctx
        self._pool: WarmPool | None = None
        self._views: dict[str, ReferenceView] = {}
        self._lock = threading.Lock()
        self._problem_locks: dict[str, threading.Lock] = {}
        self.stats = {"reference_runs": 0, "candidate_runs": 0}

    # ------------------------------------------------------------------------------------- resources
    def pool(self) -> WarmPool:
        """The run's pool of `--grade-workers` containers (made by the context, which closes it)."""
        with self._lock:
            if self._pool is None:
                self._pool = self.ctx.sandbox_pool("python", CONTAINER)
            return self._pool

    @property
    def image_id(self) -> str:
        return self.pool().image_id

    def view(self, method: str) -> ReferenceView:
        """The reference cache of one method (METHOD or TIME_METHOD) on the pool's image."""
        image = self.image_id
        with self._lock:
            if method not in self._views:
                self._views[method] = ReferenceView(self.ctx.derived(method, code=self.check_sha, image=image))
            return self._views[method]

    @property
    def cache_hits(self) -> int:
        return sum(v.hits for v in list(self._views.values()))

    @property
    def cache_misses(self) -> int:
        return sum(v.misses for v in list(self._views.values()))

    def _count_run(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def _problem_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._problem_locks.setdefault(key, threading.Lock())

    # ------------------------------------------------------------------------------------------- runs
    def _check(self, job: dict[str, Any], timeout_s: float, count: str | None = None,
               env: dict[str, str] | None = None, reference: bool = False) -> tuple[int, dict, RunResult]:
        """Run check.py on a job; (exit code, result object, run).  CheckFailed when it gave no result.

        Sandbox failures are retried by run_checked; then SandboxFailed carries the verdict (infra, or error when
        the code killed the sandbox runner on every attempt).  For a reference's run (`reference`) that error is
        the reference failing, a CheckFailed like any other way of ending without a result."""
        nonce = secrets.token_hex(12)
        files = {"check.py": self.check_src, "job.json": json.dumps(job)}
        limits = RunLimits(timeout_s=min(RUN_CAP_S, timeout_s), cpu_s=int(min(RUN_CAP_S, timeout_s)) + 2,
                           output_cap_bytes=1 << 20)
        try:
            result = run_checked(self.pool(), ["python3", "check.py"], files=files, stdin=nonce + "\n",
                                 limits=limits, count=count, infra_retries=INFRA_RETRIES,
                                 retry_wait_s=self.retry_wait_s,
                                 env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
        except SandboxFailed as failed:
            if reference and failed.verdict.status is Status.ERROR:
                raise CheckFailed(str(failed.verdict.details.get("reason"))) from None
            raise
        marker = f"@@coffe {nonce} "
        lines = [ln for ln in result.stdout.splitlines() if ln.startswith(marker)]
        if result.ending is not Ending.EXITED or not lines:
            raise CheckFailed(f"{result.ending.value} {result.detail}", result)
        return result.exit_code, json.loads(lines[-1][len(marker):]), result

    # -------------------------------------------------------------------------------------- reference
    def reference_times(self, sample: Sample, ref_code: str) -> tuple[list[float] | None, str | None]:
        """The reference's native time on each correctness test, or (None, why) when it fails them."""
        tests = sample.reference["tests"]
        level = sample.metadata["level"]
        keys = [sha(json.dumps(t, sort_keys=True)) for t in tests]
        sol = sha(ref_code)
        cache = self.view(TIME_METHOD)
        with self._problem_lock(f"time:{sample.id}"):
            failed = cache.get_many(sol, [_all_key(keys)])
            if failed:
                return None, failed[_all_key(keys)].error
            found = cache.get_many(sol, keys)
            if len(found) == len(set(keys)):
                return [found[k].value for k in keys], None
            job = {"level": level, "mode": "correct", "code": ref_code, "tests": tests,
                   "limits": [REF_TEST_LIMIT_S] * len(tests)}
            self._count_run("reference_runs")
            try:
                code, res, _ = self._check(job, REF_TEST_LIMIT_S * len(tests) + 30, reference=True)
            except CheckFailed as exc:
                code, res = 2, {"reason": f"the reference run ended: {exc.how}"}
            if code != 0:
                why = f"the best reference solution fails its own correctness tests here: {res.get('reason')}"
                cache.put_many(sol, {_all_key(keys): Entry(None, None, why)})
                return None, why
            times = [round(t, 6) for t in res["times"]]
            cache.put_many(sol, {k: Entry(t, None, None) for k, t in zip(keys, times)})
            return times, None

    def _count_job(self, sample: Sample, code: str, usable: list[int], limits: list[int]) -> dict[str, Any]:
        """The one shape of every counting job: the reference's and a candidate's differ only in `code`, so that
        the oracle's job is byte-identical to the reference's (in-process counts shift with the heap layout that
        the job itself leaves: measured up to a few % on small tests)."""
        return {"level": sample.metadata["level"], "mode": "count", "code": code,
                "stress": sample.reference["stress"], "stress_only": usable, "limits": limits}

    def _count(self, sample: Sample, code: str, usable: list[int], limits: list[int], who: str) -> dict[int, Entry]:
        """Instructions of `code` on each usable stressful test under callgrind (an entry with the reason where
        the counting run itself ended badly).  SandboxFailed for a prediction whose run the sandbox could not
        finish (infra), or that killed the sandbox runner (error)."""
        try:
            _, res, run = self._check(self._count_job(sample, code, usable, limits), sum(limits) + 60,
                                      count="callgrind", reference=who == "reference")
            return _entries(res, run, usable, who=who)
        except CheckFailed as exc:
            why = f"the {who}'s counting run ended: {exc.how}"
            return {i: Entry(None, None, why) for i in usable}

    def reference_counts(self, sample: Sample, ref_code: str) -> tuple[dict[int, Entry], list[int], list[int]]:
        """The reference on each stressful test: (entries by test, usable tests, their counting limits).

        Phase 1, native (cheap): which inputs can be built and run by the reference, and how long it takes; this
        sets every counting limit, max(STRESS_FLOOR_S, TIME_FACTOR x VALGRIND_SLOWDOWN x native time).
        Phase 2, under callgrind: the counts, in a job of the same shape as a candidate's.
        Entry.value None: the test is excluded for everyone, Entry.error says why."""
        stress = sample.reference["stress"]
        keys = [sha(s) for s in stress]
        sol = sha(ref_code)
        times, counted = self.view(TIME_METHOD), self.view(METHOD)
        with self._problem_lock(f"count:{sample.id}"):
            native = times.get_many(sol, keys)
            missing = [i for i, k in enumerate(keys) if k not in native]
            if missing:
                job = self._count_job(sample, ref_code, missing, [int(REF_NATIVE_STRESS_LIMIT_S)] * len(missing))
                self._count_run("reference_runs")
                try:
                    _, res, run = self._check(job, REF_NATIVE_STRESS_LIMIT_S * len(missing) + 30,
                                              env={"PYTHONPATH": "/opt/harness"}, reference=True)
                    new = _entries(res, run, missing, who="reference", counted=False)
                except CheckFailed as exc:
                    why = f"the reference's run ended: {exc.how}"
                    new = {i: Entry(None, None, why) for i in missing}
                times.put_many(sol, {keys[i]: e for i, e in new.items()})
                native.update({keys[i]: e for i, e in new.items()})
            usable = [i for i, k in enumerate(keys) if native[k].value is not None]
            limits = [int(max(STRESS_FLOOR_S, TIME_FACTOR * VALGRIND_SLOWDOWN * native[keys[i]].value))
                      for i in usable]
            counts = counted.get_many(sol, [keys[i] for i in usable])
            if usable and len(counts) < len(set(keys[i] for i in usable)):
                self._count_run("reference_runs")
                new = self._count(sample, ref_code, usable, limits, who="reference")
                counted.put_many(sol, {keys[i]: e for i, e in new.items()})
                counts.update({keys[i]: e for i, e in new.items()})
            entries = {i: native[k] if native[k].value is None else counts[k] for i, k in enumerate(keys)}
            return entries, usable, limits

    # ------------------------------------------------------------------------------------------ grade
    def grade(self, sample: Sample, code: str, ref_code: str) -> Verdict:
        if sample.metadata.get("ungradable"):
            return ungradable(sample.metadata["ungradable"])
        try:
            return self._grade(sample, code, ref_code)
        except SandboxFailed as failed:  # infra (any run), or error: the prediction killed the sandbox runner
            return failed.verdict
        except InfraError as exc:  # no pool: the engine, the image
            return infra_verdict(exc, 1)

    def _grade(self, sample: Sample, code: str, ref_code: str) -> Verdict:
        level, tests = sample.metadata["level"], sample.reference["tests"]
        ref_times, why = self.reference_times(sample, ref_code)
        if ref_times is None:
            return ungradable(why)
        limits = [round(max(TIME_FLOOR_S, TIME_FACTOR * t), 3) for t in ref_times]
        job = {"level": level, "mode": "correct", "code": code, "tests": tests, "limits": limits}
        self._count_run("candidate_runs")
        try:
            exit_code, res, run = self._check(job, sum(limits) + 20)
        except CheckFailed as exc:
            assert exc.result is not None  # a prediction's run always has one (else SandboxFailed)
            details = run_details(exc.result)
            reason = {Ending.TIMED_OUT: "timeout", Ending.MEMORY_KILLED: "memory limit exceeded",
                      Ending.CRASHED: "crashed"}.get(exc.result.ending, "the code ended the check program")
            details["reason"] = f"{reason}: {exc.result.detail}".rstrip(": ")
            return Verdict(Status.ERROR, 0.0, details)
        details: dict[str, Any] = {"tests": len(tests), "wall_s": round(run.wall_s, 3),
                                   "image_id": run.image_id}
        if run.infra_retries:
            details["infra_retries"] = run.infra_retries
        for k in ("test", "reason", "got", "expected", "error"):
            if k in res:
                details[k] = res[k]
        if exit_code == 1:
            return Verdict(Status.FAIL, 0.0, details)
        if exit_code != 0:
            details.setdefault("reason", f"the check program exited {exit_code}")
            return Verdict(Status.ERROR, 0.0, details)
        details["efficiency"] = self.efficiency(sample, code, ref_code)
        return Verdict(Status.PASS, 1.0, details)

    def efficiency(self, sample: Sample, code: str, ref_code: str) -> dict[str, Any]:
        ref, usable, limits = self.reference_counts(sample, ref_code)
        eff: dict[str, Any] = {"method": METHOD, "image_id": self.image_id,
                               "excluded": {str(i): ref[i].error for i in sorted(ref) if ref[i].value is None}}
        if any(ref[i].value is None for i in usable):  # the reference failed under valgrind: compare on the rest
            keep = [(i, lim) for i, lim in zip(usable, limits) if ref[i].value is not None]
            usable, limits = [i for i, _ in keep], [lim for _, lim in keep]
        if not usable:
            eff.update(ungradable="no stressful test is usable: " + "; ".join(sorted(set(eff["excluded"].values()))),
                       reference_total=None, prediction_total=None, tests=[])
            return eff
        self._count_run("candidate_runs")
        mine = self._count(sample, code, usable, limits, who="prediction")
        failed = {str(i): e.error for i, e in mine.items() if e.value is None}
        eff.update(tests=usable, reference_total=int(sum(ref[i].value for i in usable)),
                   prediction_total=None if failed else int(sum(mine[i].value for i in usable)),
                   per_test={str(i): [int(ref[i].value), None if mine[i].value is None else int(mine[i].value)]
                             for i in usable})
        if failed:
            eff["failed"] = failed
        return eff


def _all_key(keys: list[str]) -> str:
    return sha("correctness:" + ",".join(keys))


def _entries(res: dict, run: RunResult, indices: list[int], who: str, counted: bool = True) -> dict[int, Entry]:
    """Per-test counts from a counting run's result and the runner's per-call counts (counted=False: a native
    run, the value is the test's wall time)."""
    per_call = run.instructions.per_call if run.instructions else {}
    count_error = run.instructions.error if run.instructions else "no count came back"
    rows = {row["i"]: row for row in res.get("tests", [])}
    out = {}
    for i in indices:
        row = rows.get(i)
        if row is None:
            out[i] = Entry(None, None, res.get("reason") or f"the {who} did not reach this test")
        elif not row.get("ok"):
            stage = "building the input" if row.get("stage") == "input" else f"the {who}"
            out[i] = Entry(None, row.get("wall_s"), f"{stage} failed: {row.get('reason')}")
        elif not counted:
            out[i] = Entry(float(row.get("wall_s") or 0.0), row.get("wall_s"), None)
        elif f"s{i}" not in per_call:
            out[i] = Entry(None, row.get("wall_s"), f"no instruction count for this test ({count_error})")
        else:
            out[i] = Entry(float(per_call[f"s{i}"]), row.get("wall_s"), None)
    return out


def ungradable(why: str) -> Verdict:
    """A problem the data does not let us grade: reported, excluded from every metric, never the model's fault."""
    return Verdict(Status.UNGRADABLE, 0.0, {"ungradable": why, "reason": f"ungradable problem: {why}"})
