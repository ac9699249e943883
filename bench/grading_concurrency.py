"""Benchmark of grading concurrency: a grader that takes a fixed time per sample (the echo fixture task with
ECHO_TASK_DELAY), N samples, --grade-workers W. Ideal wall time is N x delay / W (plus start-up); grading
handed out per list instead of per sample shows up as a wall time near N x delay whatever W is.

    .venv/bin/python bench/grading_concurrency.py [--samples 32] [--delay 0.2] [--workers 1 2 4 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ECHO = REPO / "tests" / "fixtures" / "echo_task"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    args = ap.parse_args()
    env = {**os.environ, "TQDM_DISABLE": "1", "ECHO_TASK_DELAY": str(args.delay)}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harness.cli", "--store", f"{tmp}/x.sqlite", "list"], check=True,
                       capture_output=True, env=env)
        startup = time.perf_counter() - t0
        print(f"{'workers':>7} {'wall s':>7} {'ideal s':>8} {'grading s':>10} {'efficiency':>10}")
        for w in args.workers:
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "harness.cli", "--store", f"{tmp}/s{w}.sqlite", "run",
                                   "--task", str(ECHO), "--model", "oracle", "--limit", str(args.samples),
                                   "--grade-workers", str(w)], capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                sys.exit(proc.stderr)
            ideal = args.samples * args.delay / w
            grading = wall - startup
            print(f"{w:>7} {wall:>7.2f} {ideal:>8.2f} {grading:>10.2f} {ideal / grading:>10.2f}")
        print(f"(start-up and imports: {startup:.2f} s, subtracted in 'grading s'; efficiency = ideal / grading)")


if __name__ == "__main__":
    main()
