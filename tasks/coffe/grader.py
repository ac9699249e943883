"""Grading one COFFE sample in the sandbox: correctness first (fail fast), then instruction counts.

Everything that runs code -- the model's, the reference's, the stressful-input generators -- runs in the
harness-python image through check.py; the host only sends files and reads the result line.

1. Reference time on the correctness tests (native, cached): sets the candidate's per-test limit,
   max(TIME_FLOOR_S, TIME_FACTOR x reference time).  A reference that fails its own tests makes the problem
   ungradable (a data problem, reported, never counted against the model).
2. The candidate on the correctness tests: pass / fail (an output differs) / error (syntax, exception, limit).
3. Only for a passing candidate: the best reference's count on every stressful test (cached by solution, test,
   image id and method; counted once, in one valgrind process per problem), then the candidate's, on the tests
   where the reference has a count, each test limited to max(STRESS_FLOOR_S, TIME_FACTOR x VALGRIND_SLOWDOWN x
   the reference's native time).  A stressful test whose input cannot be built (a generator that fails on this
   Python) or on
   which the reference fails is excluded for both and listed.  A candidate that fails or runs past the limit on
   a stressful test gets no total (COFFE's INF): never efficient, left out of speedup.
"""

from __future__ import annotations

import atexit
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from harness.sandbox import ContainerLimits, Ending, InfraError, RunLimits, RunResult, WarmPool, ensure_image
from harness.sandbox.grading import infra_verdict, run_details
from harness.types import Sample, Status, Verdict

from .cache import Entry, ReferenceCache, sha

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
    """check.py gave no result line (it was killed, or the code broke out of it)."""

    def __init__(self, result: RunResult, why: str):
        super().__init__(why)
        self.result = result


class Grader:
    def __init__(self, check_program: Path, workers: int = 2, cache: ReferenceCache | None = None):
        self.check_src = Path(check_program).read_text(encoding="utf-8")
        # the cache's method column names the check program too: a change of what is counted is a new method
        self.count_method = f"{METHOD}/check-{sha(self.check_src)[:12]}"
        self.time_method = f"{TIME_METHOD}/check-{sha(self.check_src)[:12]}"
        self.workers = workers
        self._cache = cache
        self._pool: WarmPool | None = None
        self._image = None
        self._lock = threading.Lock()
        self._problem_locks: dict[str, threading.Lock] = {}
        self.stats = {"reference_runs": 0, "candidate_runs": 0}

    # ------------------------------------------------------------------------------------- resources
    @property
    def cache(self) -> ReferenceCache:
        with self._lock:
            if self._cache is None:
                self._cache = ReferenceCache()
            return self._cache

    def pool(self) -> WarmPool:
        with self._lock:
            if self._pool is None:
                self._image = ensure_image("python")
                self._pool = WarmPool(self._image.tag, CONTAINER, size=self.workers, recycle_after=50,
                                      image_id=self._image.id)
                atexit.register(self.close)
            return self._pool

    @property
    def image_id(self) -> str:
        self.pool()
        return self._image.id

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _problem_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._problem_locks.setdefault(key, threading.Lock())

    # ------------------------------------------------------------------------------------------- runs
    def _check(self, job: dict[str, Any], timeout_s: float, count: str | None = None,
               env: dict[str, str] | None = None) -> tuple[int, dict, RunResult]:
        """Run check.py on a job; (exit code, result object, run).  Sandbox failures are retried, then raised."""
        nonce = secrets.token_hex(12)
        files = {"check.py": self.check_src, "job.json": json.dumps(job)}
        limits = RunLimits(timeout_s=min(RUN_CAP_S, timeout_s), cpu_s=int(min(RUN_CAP_S, timeout_s)) + 2,
                           output_cap_bytes=1 << 20)
        last: Exception | None = None
        for attempt in range(INFRA_RETRIES + 1):
            try:
                result = self.pool().run(["python3", "check.py"], files=files, stdin=nonce + "\n", limits=limits,
                                         env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
                                         count=count)
                break
            except InfraError as exc:
                last = exc
                time.sleep(attempt + 1)
        else:
            assert last is not None
            raise last
        marker = f"@@coffe {nonce} "
        lines = [ln for ln in result.stdout.splitlines() if ln.startswith(marker)]
        if result.ending is not Ending.EXITED or not lines:
            raise CheckFailed(result, "no result from the check program")
        return result.exit_code, json.loads(lines[-1][len(marker):]), result

    # -------------------------------------------------------------------------------------- reference
    def reference_times(self, sample: Sample, ref_code: str) -> tuple[list[float] | None, str | None]:
        """The reference's native time on each correctness test, or (None, why) when it fails them."""
        tests = sample.reference["tests"]
        level = sample.metadata["level"]
        keys = [sha(json.dumps(t, sort_keys=True)) for t in tests]
        sol = sha(ref_code)
        with self._problem_lock(f"time:{sample.id}"):
            failed = self.cache.get_many(sol, [_all_key(keys)], self.image_id, self.time_method)
            if failed:
                return None, failed[_all_key(keys)].error
            found = self.cache.get_many(sol, keys, self.image_id, self.time_method)
            if len(found) == len(set(keys)):
                return [found[k].value for k in keys], None
            job = {"level": level, "mode": "correct", "code": ref_code, "tests": tests,
                   "limits": [REF_TEST_LIMIT_S] * len(tests)}
            self.stats["reference_runs"] += 1
            try:
                code, res, _ = self._check(job, REF_TEST_LIMIT_S * len(tests) + 30)
            except CheckFailed as exc:
                code, res = 2, {"reason": f"the reference run ended: {exc.result.ending.value} {exc.result.detail}"}
            if code != 0:
                why = f"the best reference solution fails its own correctness tests here: {res.get('reason')}"
                self.cache.put_many(sol, self.image_id, self.time_method, {_all_key(keys): Entry(None, None, why)})
                return None, why
            times = [round(t, 6) for t in res["times"]]
            self.cache.put_many(sol, self.image_id, self.time_method,
                                {k: Entry(t, None, None) for k, t in zip(keys, times)})
            return times, None

    def _count_job(self, sample: Sample, code: str, usable: list[int], limits: list[int]) -> dict[str, Any]:
        """The one shape of every counting job: the reference's and a candidate's differ only in `code`, so that
        the oracle's job is byte-identical to the reference's (in-process counts shift with the heap layout that
        the job itself leaves: measured up to a few % on small tests)."""
        return {"level": sample.metadata["level"], "mode": "count", "code": code,
                "stress": sample.reference["stress"], "stress_only": usable, "limits": limits}

    def _count(self, sample: Sample, code: str, usable: list[int], limits: list[int], who: str) -> dict[int, Entry]:
        """Instructions of `code` on each usable stressful test under callgrind (an entry with the reason where
        the counting run itself ended badly)."""
        try:
            _, res, run = self._check(self._count_job(sample, code, usable, limits), sum(limits) + 60,
                                      count="callgrind")
            return _entries(res, run, usable, who=who)
        except CheckFailed as exc:
            why = f"the {who}'s counting run ended: {exc.result.ending.value} {exc.result.detail}"
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
        with self._problem_lock(f"count:{sample.id}"):
            native = self.cache.get_many(sol, keys, self.image_id, self.time_method)
            missing = [i for i, k in enumerate(keys) if k not in native]
            if missing:
                job = self._count_job(sample, ref_code, missing, [int(REF_NATIVE_STRESS_LIMIT_S)] * len(missing))
                self.stats["reference_runs"] += 1
                try:
                    _, res, run = self._check(job, REF_NATIVE_STRESS_LIMIT_S * len(missing) + 30,
                                              env={"PYTHONPATH": "/opt/harness"})
                    new = _entries(res, run, missing, who="reference", counted=False)
                except CheckFailed as exc:
                    why = f"the reference's run ended: {exc.result.ending.value} {exc.result.detail}"
                    new = {i: Entry(None, None, why) for i in missing}
                self.cache.put_many(sol, self.image_id, self.time_method, {keys[i]: e for i, e in new.items()})
                native.update({keys[i]: e for i, e in new.items()})
            usable = [i for i, k in enumerate(keys) if native[k].value is not None]
            limits = [int(max(STRESS_FLOOR_S, TIME_FACTOR * VALGRIND_SLOWDOWN * native[keys[i]].value))
                      for i in usable]
            counts = self.cache.get_many(sol, [keys[i] for i in usable], self.image_id, self.count_method)
            if usable and len(counts) < len(set(keys[i] for i in usable)):
                self.stats["reference_runs"] += 1
                new = self._count(sample, ref_code, usable, limits, who="reference")
                self.cache.put_many(sol, self.image_id, self.count_method, {keys[i]: e for i, e in new.items()})
                counts.update({keys[i]: e for i, e in new.items()})
            entries = {i: native[k] if native[k].value is None else counts[k] for i, k in enumerate(keys)}
            return entries, usable, limits

    # ------------------------------------------------------------------------------------------ grade
    def grade(self, sample: Sample, code: str, ref_code: str) -> Verdict:
        if sample.metadata.get("ungradable"):
            return ungradable(sample.metadata["ungradable"])
        try:
            return self._grade(sample, code, ref_code)
        except InfraError as exc:
            return infra_verdict(exc, INFRA_RETRIES + 1)

    def _grade(self, sample: Sample, code: str, ref_code: str) -> Verdict:
        level, tests = sample.metadata["level"], sample.reference["tests"]
        ref_times, why = self.reference_times(sample, ref_code)
        if ref_times is None:
            return ungradable(why)
        limits = [round(max(TIME_FLOOR_S, TIME_FACTOR * t), 3) for t in ref_times]
        job = {"level": level, "mode": "correct", "code": code, "tests": tests, "limits": limits}
        self.stats["candidate_runs"] += 1
        try:
            exit_code, res, run = self._check(job, sum(limits) + 20)
        except CheckFailed as exc:
            details = run_details(exc.result)
            reason = {Ending.TIMED_OUT: "timeout", Ending.MEMORY_KILLED: "memory limit exceeded",
                      Ending.CRASHED: "crashed"}.get(exc.result.ending, "the code ended the check program")
            details["reason"] = f"{reason}: {exc.result.detail}".rstrip(": ")
            return Verdict(Status.ERROR, 0.0, details)
        details: dict[str, Any] = {"tests": len(tests), "wall_s": round(run.wall_s, 3),
                                   "image_id": run.image_id}
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
        self.stats["candidate_runs"] += 1
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
