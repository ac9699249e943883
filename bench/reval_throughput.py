"""Benchmark of REval: tracing the 154 programs (690 program runs) and grading the 10,146 oracle items.

Three phases, with the image already built (warm) and a derived-reference cache of this bench (cold at first):

  trace          every program traced in the sandbox on its inputs (`--workers` at a time), item counts per task
                 against the published ones (3,152 coverage, state and path; 690 output)
  grade, cold    every item's oracle answer extracted and graded, the truth already traced (the output items and
                 the state answers that need eval run in the sandbox; the rest is decided on the host)
  end to end     `harness run --task reval --model oracle` through the CLI with a fresh store and cache: the
                 figure a user sees (goal: under 2 minutes on 2 cores)

    .venv/bin/python bench/reval_throughput.py [--data ../shared/data/reval] [--workers 2] [--skip-cli]
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.context import TaskContext
from harness.derived import DerivedCache
from harness.registry import get_task
from harness.sandbox import ensure_image
from harness.task import LoadOptions

PUBLISHED = {"coverage": 3152, "state": 3152, "path": 3152, "output": 690}
REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "reval"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args()
    ensure_image("reval")
    task = get_task("reval")
    cache_dir = Path(tempfile.mkdtemp(prefix="reval-bench-"))
    ctx = TaskContext(task, grade_workers=args.workers, args=task.parse_args({}),
                      derived=DerivedCache(cache_dir / "derived.sqlite"))
    task.open(ctx)
    try:
        samples = list(task.samples(LoadOptions(data=args.data, args=task.parse_args({}))))
        counts = collections.Counter(s.inputs["task"] for s in samples)
        print("items per task:", dict(counts), "published:", PUBLISHED,
              "(match)" if dict(counts) == PUBLISHED else "(DIFFER)")
        programs, pairs = {}, {}
        for s in samples:
            programs.setdefault(s.inputs["program"]["task_id"], s)
            pairs.setdefault((s.inputs["program"]["task_id"], s.inputs["pair"]["input_index"]), s)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as ex:
            list(ex.map(task.grader.truth, programs.values()))  # one sandbox run per program, all its pairs
        took = time.perf_counter() - t0
        truths = [task.grader.truth(s) for s in pairs.values()]
        failed = [(k, t.get("error")) for k, t in zip(pairs, truths) if not t.get("ok")]
        print(f"trace: {len(programs)} programs ({len(pairs)} program runs) in {took:.1f} s "
              f"({len(programs) / took:.1f} programs/s, {args.workers} workers); reference failed on {len(failed)}")
        for key, why in failed[:10]:
            print("   ", key, why)

        def one(s):
            return task.grade(s, task.extract(s, task.reference_response(s)))

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as ex:
            verdicts = list(ex.map(one, samples))
        took = time.perf_counter() - t0
        by = collections.Counter((s.inputs["task"], v.status.value) for s, v in zip(samples, verdicts))
        print(f"grade (truth cached): {len(samples)} oracle items in {took:.1f} s ({len(samples) / took:.0f}/s); "
              f"sandbox runs: {task.grader.stats}")
        for (t, status), n in sorted(by.items()):
            print(f"    {t:9s} {status:10s} {n}")
    finally:
        task.close()
        ctx.close()
    if args.skip_cli:
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HARNESS_CACHE_DIR=str(Path(tmp) / "cache"), HARNESS_STORE=str(Path(tmp) / "s.sqlite"))
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--task", "reval", "--model", "oracle",
                              "--data", args.data, "--grade-workers", str(args.workers)],
                             env=env, capture_output=True, text=True, cwd=REPO)
        took = time.perf_counter() - t0
        print(f"end to end (CLI, cold truth cache, warm image): {took:.1f} s, exit {out.returncode}")
        print("\n".join(out.stdout.strip().splitlines()[-3:]))


if __name__ == "__main__":
    main()
