"""Benchmark of the engine's own overhead with an instant model (the oracle) on TMBench.

Prints: samples per second through render, generate (instant), extract, grade and store; the time to
resume a finished run (everything skipped); and the peak memory (max RSS) of runs of 1,000 and 10,000
samples. Each measurement is a fresh `harness` process, timed from outside, like a user would see it.

    .venv/bin/python bench/engine_overhead.py [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = [sys.executable, "-m", "harness.cli"]


def harness(store: Path, *args: str) -> tuple[float, int]:
    """Run one harness command; returns (wall seconds, peak RSS of that process in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([*HARNESS, "--store", str(store), *args], capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"harness {' '.join(args)} failed:\n{proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) // 1024


def peak_rss_mib(store: Path, *args: str) -> int:
    """Peak RSS of one command, measured by /usr/bin/time-like wait4 accounting of a single child."""
    proc = subprocess.Popen([*HARNESS, "--store", str(store), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "TQDM_DISABLE": "1"})
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"harness {' '.join(args)} failed with status {status}")
    return usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"{'samples':>8} {'run s':>7} {'samples/s':>10} {'engine s':>9} {'engine/s':>9} "
              f"{'resume s':>9} {'peak MiB':>9}")
        startup, _ = harness(tmp / "startup.sqlite", "list")
        for n in args.sizes:
            data = tmp / f"tm{n}.jsonl"
            subprocess.run([*HARNESS, "generate", "tmbench", "-p", f"count={n}", "-o", str(data)], check=True,
                           capture_output=True)
            store = tmp / f"s{n}.sqlite"
            run = ("run", "--task", "tmbench", "--model", "oracle", "--data", str(data), "--run-name", f"b{n}")
            peak = peak_rss_mib(store, *run[:-2], "--run-name", f"mem{n}")
            wall, _ = harness(store, *run)
            resume, _ = harness(store, *run)
            engine = max(wall - startup, 1e-9)
            print(f"{n:>8} {wall:>7.2f} {n / wall:>10.0f} {engine:>9.2f} {n / engine:>9.0f} {resume:>9.2f} "
                  f"{peak:>9}")
        print(f"(process start-up and imports, `harness list`: {startup:.2f} s; 'engine' columns subtract it)")


if __name__ == "__main__":
    main()
