"""Grading one COFFE sample in the sandbox: correctness first (fail fast), then instruction counts.

Everything that runs code -- the model's, the reference's, the stressful-input generators -- runs in the
harness-python image through check.py (by `harness.sandbox.grading.run_checked`, the one way to run in a
sandbox); the host only sends files and reads the result line.

1. Reference time on the correctness tests (native, cached): sets the candidate's per-test limit,
   max(TIME_FLOOR_S, TIME_FACTOR x reference time).  A reference that fails its own tests makes the problem
   ungradable (a data problem, reported, never counted against the model).  With `-T extraction=official` the
   limit is COFFE's own (300 s per test) and the reference is not needed for correctness.
2. The candidate on the correctness tests: pass / fail (an output differs) / error (syntax, exception, limit).
3. Only for a passing candidate, and unless `-T efficiency=off`: the best reference's total instruction count
   over the stressful tests (cached by solution, tests, image id and method), then the candidate's, counted the
   same way (check.py: a cachegrind worker, snapshot before the model's code, no client requests, no new
   processes), each test limited to max(STRESS_FLOOR_S, TIME_FACTOR x VALGRIND_SLOWDOWN x the reference's
   native time).  A stressful test whose input cannot be built, or on which the reference fails natively, is
   excluded for both and listed.  A candidate that fails or runs past the limit on a stressful test, or whose
   count does not add up (`tampered`), gets no total (COFFE's INF): never efficient, left out of speedup.

Sandbox failures are retried (run_checked); still failing, the sample's verdict is infra.  Code that killed the
sandbox runner on every attempt: a candidate's verdict is error; a reference's run counts as the reference
failing (an ungradable problem, or the stressful tests excluded), like any reference run that gave no result.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.sandbox import ContainerLimits, Ending, InfraError, RunLimits, RunResult, WarmPool
from harness.sandbox.grading import SandboxFailed, infra_verdict, run_checked, run_details
from harness.types import Sample, Status, Verdict

from .cache import Entry, ReferenceView, sha

if TYPE_CHECKING:
    from harness.context import TaskContext

METHOD = "valgrind-cachegrind-worker"  # whole-worker count minus a snapshot taken before the model's code
TIME_METHOD = "wall-native"
TIME_FACTOR = 10.0  # candidate limit = factor x reference time (COFFE's factor)
TIME_FLOOR_S = 2.0  # ... but never below this (start-up noise, a loaded machine)
OFFICIAL_TEST_LIMIT_S = 300.0  # COFFE's pipeline: max(0.1, 10 x a fixed reference time of 30 s)
OFFICIAL_RUN_CAP_S = 3600.0  # ... and the whole run: min(3600, sum of the limits) + 2
STRESS_FLOOR_S = 30.0  # per stressful test under valgrind
REF_TEST_LIMIT_S = 60.0  # the reference on one correctness test (native)
REF_NATIVE_STRESS_LIMIT_S = 60.0  # the reference on one stressful test, native (COFFE: 50 s)
VALGRIND_SLOWDOWN = 30.0  # cachegrind without cache simulation runs Python ~21x slower than native (bench/)
SETUP_LIMIT_S = {"native": 300.0, "cachegrind": 900.0}  # building every stressful input, before the first test
RUN_CAP_S = 3600.0  # one sandbox run, whatever the sum of its tests' limits
CONTAINER = ContainerLimits(memory_mb=4096, cpus=1.0, pids=64, tmpfs_mb=512, shm_mb=16)
INFRA_RETRIES = 2


@dataclass(frozen=True)
class Program:
    """What is graded: the program taken from an answer.  `code` None: COFFE's clean-up found nothing usable (its
    -1, a failure).  `semantics` "official": run as COFFE's pipeline runs it, `io` telling a stdin/stdout program
    from a function."""

    code: str | None
    semantics: str = "harness"
    io: bool = False

    @property
    def canonical(self) -> str:
        if self.semantics == "harness":
            return self.code or ""
        head = "# COFFE's clean-up: " + ("unusable (-1)" if self.code is None else "program" if self.io else "function")
        return head + "\n" + (self.code or "")


@dataclass(frozen=True)
class Count:
    """One counting run: the total over its tests (None where there is none), and per test why not."""

    total: int | None
    failed: dict[int, str]
    tampered: str | None = None
    error: str | None = None


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

    def _count_job(self, sample: Sample, code: str, usable: list[int], limits: list[int], counter: str,
                   stop_at_failure: bool = False) -> dict[str, Any]:
        """The one shape of every counting job: the reference's and a candidate's differ only in `code` (and
        whether a failure ends the run), so that the oracle's job is byte-identical to the reference's."""
        return {"level": sample.metadata["level"], "mode": "count", "code": code, "counter": counter,
                "stress": sample.reference["stress"], "stress_only": usable, "limits": limits,
                "setup_limit": SETUP_LIMIT_S[counter], "stop_at_failure": stop_at_failure}

    def _run_count(self, job: dict[str, Any], who: str) -> tuple[dict, RunResult | None, str | None]:
        """check.py's result of a counting job, the run, or (no result) why.  SandboxFailed for a prediction's
        run that the sandbox could not finish (infra) or that killed the sandbox runner (error)."""
        timeout = job["setup_limit"] + sum(job["limits"]) + 60
        try:
            _, res, run = self._check(job, timeout, reference=who == "reference")
            return res, run, None
        except CheckFailed as exc:
            return {}, exc.result, f"the {who}'s counting run ended: {exc.how}"

    def _count(self, sample: Sample, code: str, usable: list[int], limits: list[int], who: str) -> Count:
        """The instructions of `code` over the usable stressful tests, one cachegrind worker."""
        job = self._count_job(sample, code, usable, limits, "cachegrind", stop_at_failure=who == "prediction")
        res, run, why = self._run_count(job, who)
        if why:
            return Count(None, {}, error=why)
        failed = {row["i"]: _failure(row, who) for row in res.get("tests", []) if not row.get("ok")}
        if res.get("reason"):
            return Count(None, failed, error=str(res["reason"]))
        error = res.get("count_error")
        tampered = error[len("tampered: "):] if error and error.startswith("tampered: ") else None
        if run is not None and run.leftovers:  # the sandbox found something the counted run left behind
            tampered = "the counted run left something behind: " + ", ".join(run.leftovers)[:300]
        if tampered:
            return Count(None, failed, tampered=tampered)
        if failed or error or res.get("count") is None:
            return Count(None, failed, error=error or (None if failed else "no count came back"))
        return Count(int(res["count"]), {})

    def reference_counts(self, sample: Sample, ref_code: str) -> tuple[Count, list[int], list[int], dict[str, str]]:
        """The reference on the stressful tests: (its count, the usable tests, their counting limits, the excluded
        tests with why).

        Phase 1, native (cheap, per test, cached): which inputs can be built and run by the reference, and how
        long it takes; this sets every counting limit, max(STRESS_FLOOR_S, TIME_FACTOR x VALGRIND_SLOWDOWN x
        native time).  Phase 2, under cachegrind: the total over the usable tests (cached for that set of tests),
        in a job of the same shape as a candidate's."""
        stress = sample.reference["stress"]
        keys = [sha(s) for s in stress]
        sol = sha(ref_code)
        times, counted = self.view(TIME_METHOD), self.view(METHOD)
        with self._problem_lock(f"count:{sample.id}"):
            native = times.get_many(sol, keys)
            missing = [i for i, k in enumerate(keys) if k not in native]
            if missing:
                job = self._count_job(sample, ref_code, missing, [int(REF_NATIVE_STRESS_LIMIT_S)] * len(missing),
                                      "native")
                self._count_run("reference_runs")
                res, _, why = self._run_count(job, "reference")
                rows = {row["i"]: row for row in res.get("tests", [])}
                new = {}
                for i in missing:
                    row = rows.get(i)
                    if row is not None and row.get("ok"):
                        new[i] = Entry(float(row.get("wall_s") or 0.0), row.get("wall_s"), None)
                    else:
                        new[i] = Entry(None, None, why or res.get("reason") or _failure(row or {}, "reference"))
                times.put_many(sol, {keys[i]: e for i, e in new.items()})
                native.update({keys[i]: e for i, e in new.items()})
            usable = [i for i, k in enumerate(keys) if native[k].value is not None]
            excluded = {str(i): native[k].error or "" for i, k in enumerate(keys) if native[k].value is None}
            limits = [int(max(STRESS_FLOOR_S, TIME_FACTOR * VALGRIND_SLOWDOWN * native[keys[i]].value))
                      for i in usable]
            if not usable:
                return Count(None, {}), usable, limits, excluded
            tests_key = sha("stressful:" + ",".join(keys[i] for i in usable))
            found = counted.get_many(sol, [tests_key])
            if tests_key in found:
                e = found[tests_key]
                count = Count(None if e.value is None else int(e.value), {}, error=e.error)
            else:
                self._count_run("reference_runs")
                count = self._count(sample, ref_code, usable, limits, who="reference")
                why = count.error or count.tampered or "; ".join(f"test {i}: {r}" for i, r in count.failed.items())
                counted.put_many(sol, {tests_key: Entry(count.total, None, None if count.total is not None else why)})
            return count, usable, limits, excluded

    # ------------------------------------------------------------------------------------------ grade
    def grade(self, sample: Sample, program: Program, ref_code: str, *, count: bool = True) -> Verdict:
        if sample.metadata.get("ungradable"):
            return ungradable(sample.metadata["ungradable"])
        try:
            verdict = self._grade(sample, program, ref_code, count)
        except SandboxFailed as failed:  # infra (any run), or error: the prediction killed the sandbox runner
            return failed.verdict
        except InfraError as exc:  # no pool: the engine, the image
            return infra_verdict(exc, 1)
        if not count and verdict.status is not Status.UNGRADABLE:
            verdict.details["efficiency"] = {"skipped": "instruction counting is off (-T efficiency=off)"}
        return verdict

    def _grade(self, sample: Sample, program: Program, ref_code: str, count: bool) -> Verdict:
        level, tests = sample.metadata["level"], sample.reference["tests"]
        official = program.semantics == "official"
        if program.code is None:
            return Verdict(Status.FAIL, 0.0, {"tests": len(tests), "reason": "COFFE's clean-up found no usable code "
                                              "in the answer (its -1: counted as failed, nothing is run)"})
        if official:
            limits = [OFFICIAL_TEST_LIMIT_S] * len(tests)
            run_s = min(OFFICIAL_RUN_CAP_S, sum(limits)) + 20
        else:
            ref_times, why = self.reference_times(sample, ref_code)
            if ref_times is None:
                return ungradable(why)
            limits = [round(max(TIME_FLOOR_S, TIME_FACTOR * t), 3) for t in ref_times]
            run_s = sum(limits) + 20
        job = {"level": level, "mode": "correct", "code": program.code, "tests": tests, "limits": limits,
               "semantics": program.semantics, "io": program.io}
        self._count_run("candidate_runs")
        try:
            exit_code, res, run = self._check(job, run_s)
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
        if count:
            if official and program.io != (level == "file"):
                details["efficiency"] = {"method": METHOD, "ungradable": "COFFE's clean-up made a "
                                         + ("function" if level == "file" else "program") + " of this answer: "
                                         "it is not counted", "reference_total": None, "prediction_total": None}
            else:
                details["efficiency"] = self.efficiency(sample, program.code, ref_code)
        return Verdict(Status.PASS, 1.0, details)

    def efficiency(self, sample: Sample, code: str, ref_code: str) -> dict[str, Any]:
        ref, usable, limits, excluded = self.reference_counts(sample, ref_code)
        eff: dict[str, Any] = {"method": METHOD, "image_id": self.image_id, "excluded": excluded, "tests": usable,
                               "reference_total": ref.total, "prediction_total": None}
        if not usable:
            eff["ungradable"] = "no stressful test is usable: " + "; ".join(sorted(set(excluded.values())))
            return eff
        if ref.total is None:
            eff["ungradable"] = "the best reference could not be counted: " + str(ref.error)
            return eff
        if code == ref_code:  # the same program is the same work: not counted again (and not off by noise)
            eff.update(prediction_total=ref.total, same_as_reference=True)
            return eff
        self._count_run("candidate_runs")
        mine = self._count(sample, code, usable, limits, who="prediction")
        eff["prediction_total"] = mine.total
        if mine.tampered:
            eff["tampered"] = mine.tampered
        if mine.failed or mine.error:
            eff["failed"] = {str(i): r for i, r in mine.failed.items()} or {"count": mine.error}
        return eff


def _failure(row: dict, who: str) -> str:
    stage = "building the input" if row.get("stage") == "input" else f"the {who}"
    return f"{stage} failed: {row.get('reason') or 'did not reach this test'}"


def _all_key(keys: list[str]) -> str:
    return sha("correctness:" + ",".join(keys))


def ungradable(why: str) -> Verdict:
    """A problem the data does not let us grade: reported, excluded from every metric, never the model's fault."""
    return Verdict(Status.UNGRADABLE, 0.0, {"ungradable": why, "reason": f"ungradable problem: {why}"})
