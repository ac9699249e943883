"""Benchmark of COFFE grading: what counting costs, by method, and oracle runs with the reference cache cold and warm.

1. Slowdown per counting method: one compute-bound program (a quadratic loop, ~1 s native) run in the sandbox
   image natively and under valgrind's none, cachegrind (no cache simulation) and callgrind tools; wall time over
   native, start-up (an empty program's time) subtracted.  Repeated counts show which methods are deterministic.
2. The counting worker as COFFE grades with it (check.py, count mode): the reference of one problem counted,
   against the same job run natively.
3. Oracle runs (the best reference as the answer, graded by `--workers` threads as the runner's grade workers do):
   correctness only (`-T efficiency=off`) and counted, cold cache then warm, on the problems given (default: a
   handful whose stressful tests are cheap; `--problems all` for the whole function level, which takes hours).

    .venv/bin/python bench/coffe_grading.py [--data ../shared/data/coffe] [--workers 2] [--problems all|N|ids]
        [--modes correctness_only,counted] [--no-methods] [--worker-problem HumanEval/0]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.context import TaskContext
from harness.derived import DerivedCache
from harness.registry import get_task
from harness.sandbox import RunLimits
from harness.sandbox.grading import run_checked
from harness.task import LoadOptions

CHEAP = ["HumanEval/13", "HumanEval/60", "HumanEval/84", "HumanEval/92", "Mbpp/458", "Mbpp/311", "Mbpp/17",
         "Mbpp/16"]
QUADRATIC = "t = 0\nfor i in range(5000):\n    for j in range(i):\n        t += i ^ j\nprint(t)\n"
EMPTY = "pass\n"
METHODS = {
    "native": [],
    "valgrind none": ["valgrind", "--tool=none"],
    "cachegrind --cache-sim=no": ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"],
    "callgrind": ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"],
}
TOTAL = re.compile(r"^==\d+== (?:I\s+refs|Collected)\s*:\s*([\d,]+)\s*$")


def opened(data_dir: Path, workers: int, **raw: str):
    task = get_task("coffe")
    task = type(task)(task.folder)
    ctx = TaskContext(task, grade_workers=workers, args=task.parse_args(raw),
                      derived=DerivedCache(data_dir / "derived.sqlite"))
    task.open(ctx)
    return task, ctx


def _run(pool, prefix: list[str], program: str):
    return run_checked(pool, prefix + ["python3", "prog.py"], files={"prog.py": program},
                       env={"PYTHONHASHSEED": "0"}, limits=RunLimits(timeout_s=900, cpu_s=900))


def slowdown_per_method(pool, repeats: int) -> dict:
    """Wall time of a quadratic loop (12.5 million iterations) and of an empty program per method; the slowdown is
    (loop - empty) over the same for native, i.e. without interpreter and valgrind start-up."""
    out = {}
    for name, prefix in METHODS.items():
        walls, empty, counts = [], [], []
        for _ in range(repeats):
            run = _run(pool, prefix, QUADRATIC)
            walls.append(run.wall_s)
            totals = [m.group(1) for m in map(TOTAL.match, run.stderr.splitlines()) if m]
            if totals:
                counts.append(int(totals[-1].replace(",", "")))
            empty.append(_run(pool, prefix, EMPTY).wall_s)
        out[name] = {"wall_s": round(statistics.median(walls), 2), "start_up_s": round(statistics.median(empty), 2),
                     "instructions": sorted(set(counts)) or None}
    native = out["native"]["wall_s"] - out["native"]["start_up_s"]
    for row in out.values():
        row["slowdown"] = round((row["wall_s"] - row["start_up_s"]) / native, 1)
    return out


def counting_worker(task, sample) -> dict:
    g = task.grader
    ref = task.reference_code(sample)
    count, usable, limits, _ = g.reference_counts(sample, ref)
    walls = {}
    for counter in ("native", "cachegrind"):
        job = g._count_job(sample, ref, usable, limits, counter)
        t0 = time.perf_counter()
        res, _, why = g._run_count(job, "reference")
        walls[counter] = time.perf_counter() - t0
        assert why is None and all(r.get("ok") for r in res["tests"]), (why, res)
        if counter == "cachegrind":
            recount = res["count"]
    return {"problem": sample.id, "stressful_tests": len(usable), "instructions": count.total,
            "recounted": recount, "native_worker_s": round(walls["native"], 2),
            "cachegrind_worker_s": round(walls["cachegrind"], 2),
            "slowdown": round(walls["cachegrind"] / walls["native"], 1)}


def oracle_run(task, samples, workers: int, label: str) -> tuple[float, list]:
    """Grade every sample's reference as its answer; a line on stderr every 20 problems (a full run takes long)."""
    done = 0
    lock = threading.Lock()
    t0 = time.perf_counter()

    def one(s):
        nonlocal done
        verdict = task.grade(s, task.extract(s, task.reference_response(s)))
        with lock:
            done += 1
            if done % 20 == 0 or done == len(samples):
                print(f"{label}: {done}/{len(samples)} graded, {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                      flush=True)
        return verdict

    with ThreadPoolExecutor(workers) as ex:
        verdicts = list(ex.map(one, samples))
    return time.perf_counter() - t0, verdicts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "coffe"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--problems", default="cheap", help="cheap (default), all, a number (the first N), or ids")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="correctness_only,counted", help="which oracle runs (comma-separated)")
    ap.add_argument("--no-methods", action="store_true", help="skip the per-method slowdown")
    ap.add_argument("--worker-problem", default="HumanEval/13",
                    help="the problem whose reference the counting worker counts (HumanEval/0: ~6.5 s native)")
    args = ap.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="coffe-bench-"))
    report: dict = {"workers": args.workers}
    task, ctx = opened(cache, args.workers)
    try:
        by_id = {s.id: s for s in task.samples(LoadOptions(split="function", data=args.data))}
        if args.problems == "cheap":
            ids = CHEAP
        elif args.problems == "all":
            ids = list(by_id)
        elif args.problems.isdigit():
            ids = list(by_id)[:int(args.problems)]
        else:
            ids = args.problems.split(",")
        samples = [by_id[i] for i in ids]
        pool = task.grader.pool()
        pool.wait_warm()
        report["image"] = task.grader_image
        if not args.no_methods:
            report["slowdown_per_method"] = slowdown_per_method(pool, args.repeats)
        if args.worker_problem:
            report["counting_worker"] = counting_worker(task, by_id[args.worker_problem])
        modes = {"correctness_only": {"efficiency": "off"}, "counted": {}}
        for name in args.modes.split(","):
            raw = modes[name]
            t, c = opened(cache / name, args.workers, **raw)
            try:
                cold, verdicts = oracle_run(t, samples, args.workers, f"{name} cold")
                warm, again = oracle_run(t, samples, args.workers, f"{name} warm")
            finally:
                t.close()
                c.close()
            row = {"problems": len(samples), "passed": sum(v.passed for v in verdicts),
                   "cold_s": round(cold, 1), "cold_problems_per_min": round(60 * len(samples) / cold, 1),
                   "warm_s": round(warm, 1), "warm_problems_per_min": round(60 * len(samples) / warm, 1)}
            if name == "counted":
                effs = [v.details.get("efficiency") or {} for v in verdicts]
                row["oracle_equals_reference"] = sum(e.get("prediction_total") == e.get("reference_total")
                                                     is not None for e in effs)
                row["reference_instructions"] = sum(e.get("reference_total") or 0 for e in effs)
                row["same_counts_warm"] = [e.get("prediction_total") for e in effs] == [
                    (v.details.get("efficiency") or {}).get("prediction_total") for v in again]
            report[f"oracle_{name}"] = row
    finally:
        task.close()
        ctx.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
