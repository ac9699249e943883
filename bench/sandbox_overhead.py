"""Per-sample cost of running a trivial Python program, four ways, with 1 and 2 workers.

  bare        subprocess on the host (no isolation): the floor
  fresh       one hardened container per sample (docker run --rm, the program inline)
  exec        `docker exec` per sample in one long-lived hardened container
  pool        our warm pool: the runner forks a fresh child per sample (files sent over the attach stream)

Usage: python bench/sandbox_overhead.py [--samples 40] [--fresh-samples 16]
Prints a table of per-sample latency (median, p90) and throughput.  Needs a Docker engine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from harness.sandbox import ContainerLimits, WarmPool, docker_client, ensure_image
from harness.sandbox.engine import owner_labels
from harness.sandbox.hardening import hardened_kwargs

PROGRAM = "print(sum(range(100)))\n"
EXPECT = "4950\n"
LIMITS = ContainerLimits(memory_mb=256, cpus=1.0, pids=64)


def measure(one: Callable[[], str], samples: int, workers: int, warmup: int = 2) -> dict[str, float]:
    for _ in range(warmup * workers):
        assert one() == EXPECT
    lat: list[float] = []

    def timed(_: int) -> None:
        t = time.perf_counter()
        out = one()
        lat.append(time.perf_counter() - t)
        assert out == EXPECT, out

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(timed, range(samples)))
    total = time.perf_counter() - start
    lat.sort()
    return {"median_ms": statistics.median(lat) * 1e3, "p90_ms": lat[int(0.9 * (len(lat) - 1))] * 1e3,
            "per_s": samples / total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--fresh-samples", type=int, default=16)
    args = ap.parse_args()

    client = docker_client()
    image = ensure_image("python", client=client)
    host_dir = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    (host_dir / "main.py").write_text(PROGRAM)

    def bare() -> str:
        return subprocess.run(["/usr/bin/python3", "main.py"], cwd=host_dir, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin"}).stdout

    def fresh() -> str:
        kw = hardened_kwargs(LIMITS, labels=owner_labels("bench"))
        return client.containers.run(image.tag, ["python3", "-c", PROGRAM], remove=True, **kw).decode()

    keep = client.containers.run(image.tag, ["sleep", "infinity"], detach=True,
                                 **hardened_kwargs(LIMITS, labels=owner_labels("bench")))

    def exec_() -> str:
        return keep.exec_run(["python3", "-c", PROGRAM]).output.decode()

    rows = []
    try:
        for workers in (1, 2):
            with WarmPool(image.tag, LIMITS, size=workers, recycle_after=10_000, image_id=image.id,
                          client=client) as pool:
                pool.wait_warm()

                def pooled() -> str:
                    return pool.run(["python3", "main.py"], files={"main.py": PROGRAM}).stdout

                for name, fn, n in (("bare subprocess (host)", bare, args.samples),
                                    ("fresh container per sample", fresh, args.fresh_samples),
                                    ("docker exec per sample", exec_, args.samples),
                                    ("warm pool (ours)", pooled, args.samples)):
                    r = measure(fn, n, workers)
                    rows.append((name, workers, n, r))
                    print(f"  {name:<28} workers={workers} n={n}: median {r['median_ms']:.1f} ms", flush=True)
    finally:
        keep.remove(force=True)

    print()
    print(f"{'mode':<28} {'workers':>7} {'n':>4} {'median ms':>10} {'p90 ms':>8} {'samples/s':>10}")
    for name, workers, n, r in rows:
        print(f"{name:<28} {workers:>7} {n:>4} {r['median_ms']:>10.1f} {r['p90_ms']:>8.1f} {r['per_s']:>10.1f}")
    by = {(name.split()[0], w): r["median_ms"] for name, w, _, r in rows}
    for w in (1, 2):
        print(f"workers={w}: pool/bare = {by[('warm', w)] / by[('bare', w)]:.2f}x (goal <= 2x), "
              f"fresh/pool = {by[('fresh', w)] / by[('warm', w)]:.1f}x (goal >= 5x)")


if __name__ == "__main__":
    main()
