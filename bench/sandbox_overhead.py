"""Per-sample cost of running a trivial Python program, four ways, with 1 and 2 workers.

  bare        subprocess on the host (no isolation): the floor
  fresh       one hardened container per sample (docker run --rm, the program inline)
  exec        `docker exec` per sample in one long-lived hardened container
  pool        our warm pool: the runner starts a fresh child per sample (files sent over the attach stream),
              with the pool's default recycle_after (recycling is part of what the pool costs)

Usage: python bench/sandbox_overhead.py [--samples 200] [--fresh-samples 16] [--recycle-after N]
Prints a table of per-sample latency (median, p90) and throughput, and the pool/bare ratios.  Needs a Docker
engine.  Goals: pool latency <= 2x bare, pool throughput >= 0.8x bare, fresh/pool >= 5x.
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
from harness.sandbox.pool import RECYCLE_AFTER

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
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--fresh-samples", type=int, default=16)
    ap.add_argument("--recycle-after", type=int, default=RECYCLE_AFTER, help="the pool's (default: its default)")
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
            with WarmPool(image.tag, LIMITS, size=workers, recycle_after=args.recycle_after, image_id=image.id,
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
                print(f"  pool: recycle_after={pool.recycle_after}, containers started {pool.started}, "
                      f"retired {pool.retired}", flush=True)
    finally:
        keep.remove(force=True)

    print()
    print(f"{'mode':<28} {'workers':>7} {'n':>4} {'median ms':>10} {'p90 ms':>8} {'samples/s':>10}")
    for name, workers, n, r in rows:
        print(f"{name:<28} {workers:>7} {n:>4} {r['median_ms']:>10.1f} {r['p90_ms']:>8.1f} {r['per_s']:>10.1f}")
    by = {(name.split()[0], w): r for name, w, _, r in rows}
    for w in (1, 2):
        pool, bare, fresh = by[("warm", w)], by[("bare", w)], by[("fresh", w)]
        print(f"workers={w}: pool/bare latency = {pool['median_ms'] / bare['median_ms']:.2f}x (goal <= 2x), "
              f"throughput = {pool['per_s'] / bare['per_s']:.2f}x (goal >= 0.8x), "
              f"fresh/pool = {fresh['median_ms'] / pool['median_ms']:.1f}x (goal >= 5x)")


if __name__ == "__main__":
    main()
