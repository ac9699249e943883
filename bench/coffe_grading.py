"""Benchmark of COFFE grading: throughput (samples per minute) at function and file level, with the reference-count
cache cold and warm, and the cost of counting by each method available on this machine.

The "model" is the oracle (the best reference), graded by `--workers` threads as the runner's grade workers do,
on problems whose stressful tests are cheap (grading the whole benchmark costs hours of valgrind time).

    .venv/bin/python bench/coffe_grading.py [--data ../shared/data/coffe] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.context import TaskContext
from harness.derived import DerivedCache
from harness.registry import get_task
from harness.task import LoadOptions

CHEAP = {
    "function": ["HumanEval/13", "HumanEval/60", "HumanEval/84", "HumanEval/92", "Mbpp/458", "Mbpp/311",
                 "Mbpp/17", "Mbpp/16"],
    "file": ["code_contests/8da9b1342928", "code_contests/b4220db534f0", "code_contests/660ac1d19865",
             "code_contests/b1dcc8225944"],
}


def grade_all(task, samples, workers):
    def one(s):
        return task.grade(s, task.extract(s, task.reference_response(s)))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        verdicts = list(ex.map(one, samples))
    return time.perf_counter() - t0, verdicts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "coffe"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    task = get_task("coffe")
    # opened as the engine opens it, with a derived-reference cache of its own (cold at first)
    ctx = TaskContext(task, grade_workers=args.workers,
                      derived=DerivedCache(Path(tempfile.mkdtemp()) / "derived.sqlite"))
    task.open(ctx)
    try:
        report = run(task, args)
    finally:
        task.close()
        ctx.close()
    print(json.dumps(report, indent=2))


def run(task, args) -> dict:
    task.grader.pool().wait_warm()
    report = {"workers": args.workers, "image": task.grader_image}
    for level in ("function", "file"):
        by_id = {s.id: s for s in task.samples(LoadOptions(split=level, data=args.data))}
        samples = [by_id[i] for i in CHEAP[level]]
        cold, verdicts = grade_all(task, samples, args.workers)
        warm, _ = grade_all(task, samples, args.workers)
        assert all(v.passed for v in verdicts), [v.details.get("reason") for v in verdicts]
        instr = sum(v.details["efficiency"]["reference_total"] for v in verdicts)
        report[level] = {
            "samples": len(samples),
            "cold_cache_s": round(cold, 1), "cold_samples_per_min": round(60 * len(samples) / cold, 1),
            "warm_cache_s": round(warm, 1), "warm_samples_per_min": round(60 * len(samples) / warm, 1),
            "reference_instructions": instr,
        }
        # the cost of one counting job (all stressful tests of one problem) by each method
        g = task.grader
        sample = samples[0]
        ref = task.reference_code(sample)
        _, usable, limits = g.reference_counts(sample, ref)
        job = g._count_job(sample, ref, usable, limits)
        costs = {}
        for method, kwargs in (("native (no count)", {"env": {"PYTHONPATH": "/opt/harness"}}),
                               ("valgrind-callgrind (the solution call only)", {"count": "callgrind"}),
                               ("valgrind-cachegrind (whole process)",
                                {"count": "cachegrind", "env": {"PYTHONPATH": "/opt/harness"}})):
            t0 = time.perf_counter()
            _, _, run = g._check(job, 600, **kwargs)
            ic = run.instructions
            costs[method] = {"wall_s": round(time.perf_counter() - t0, 2),
                             "instructions": (sum(ic.per_call.values()) if ic and ic.per_call else ic and ic.total)}
        costs["perf_event_open"] = "unavailable here (no hardware PMU: perf_event_open gives ENOENT)"
        report[level]["count_cost_one_problem"] = {"problem": sample.id, "tests": len(usable), **costs}
    return report


if __name__ == "__main__":
    main()
