"""Dispatch efficiency of the Ray executor, and the per-sample overhead it adds over the local executor.

A local cluster of simulated nodes (tests/distributed/cluster_proc.py: a head and four sandbox nodes on this
machine) grades a sleep workload (tests/distributed/slow_task, `-T delay=`) through the whole runner: the
oracle's answers rendered, extracted, looked up, sent to the nodes' pool actors, written to the store.

- Dispatch efficiency E(n) = X(n) / (n X(1)) on 1, 2 and 4 nodes, X the samples per second with `slots`
  graded at once per node, each grading sleeping `delay` seconds (ideal: n * slots / delay). Goal: E(4) >= 0.9.
- Per-sample overhead: the time per sample of the Ray executor minus the local executor's, one sample at a
  time (one slot, nothing queued: every sample pays the round trip), and pipelined (one slot, the default two
  in flight per node), with no delay. Goal: under 5 ms.
- The ceiling: samples per second with no delay at all, the driver's own limit (this machine's cores are
  shared with the simulated nodes).

Rates are slopes between a small and a large run of each configuration, so start-up (connecting, opening the
task on the nodes, computing metrics) drops out. What this cannot show: real speed-up (the simulated nodes
share this machine's cores and Docker engine; the workload sleeps instead), network latency between
machines, image pulls.

    .venv/bin/python bench/ray_dispatch.py [--delay 0.2] [--slots 8] [--seconds 5] [--serial 400]
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # everything on 127.0.0.1 (see tests/distributed)
os.environ.setdefault("TQDM_DISABLE", "1")

from harness.cli import execute_run  # noqa: E402
from harness.store import Store  # noqa: E402
from harness.task import LoadOptions  # noqa: E402
from harness.types import GenParams  # noqa: E402
from tests.distributed.conftest import SLOW_TASK, LocalCluster  # noqa: E402


def timed_run(store: Store, size: int, delay: float, grade_workers: int, ray: dict | None) -> float:
    """Wall seconds of one fresh run of `size` samples."""
    t0 = time.perf_counter()
    kwargs: dict = {}
    if ray is not None:
        kwargs = dict(executor="ray", address=ray["address"], executor_args=ray["args"])
    with contextlib.redirect_stderr(io.StringIO()):  # the runs' own lines ("ray: started ...")
        _, summary = execute_run(store, str(SLOW_TASK), "oracle", GenParams(), LoadOptions(), fresh=True,
                                 grade_workers=grade_workers, progress=False,
                                 task_args={"size": str(size), "delay": str(delay)}, **kwargs)
    wall = time.perf_counter() - t0
    assert summary.counts.get("pass") == size, summary.counts
    return wall


def slope(store: Store, small: int, large: int, delay: float, grade_workers: int, ray: dict | None) -> float:
    """Seconds per sample between a run of `small` and one of `large` samples (after a warm-up run that
    starts the pool actors)."""
    timed_run(store, max(1, small // 4), delay, grade_workers, ray)
    t_small = timed_run(store, small, delay, grade_workers, ray)
    t_large = timed_run(store, large, delay, grade_workers, ray)
    return (t_large - t_small) / (large - small)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.2, help="seconds each grading sleeps")
    ap.add_argument("--slots", type=int, default=8, help="samples graded at once per node")
    ap.add_argument("--seconds", type=float, default=5.0, help="ideal length of the large runs")
    ap.add_argument("--serial", type=int, default=400, help="samples of the large overhead runs")
    args = ap.parse_args()
    faulthandler.dump_traceback_later(1800, exit=True)  # a hung Ray must not hang the benchmark

    tmp = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    t0 = time.perf_counter()
    cluster = LocalCluster(tmp)
    counts = (1, 2, 4)
    for i in range(max(counts)):  # node i offers bench-n for every n > i: `resource=bench-n` uses n nodes
        cluster.call(90, op="add", resources={f"bench-{n}": 1 for n in counts if i < n})
    print(f"local cluster: head + {max(counts)} nodes in {time.perf_counter() - t0:.1f} s")
    import ray

    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", logging_level="warning", log_to_driver=False)
    store = Store(tmp / "store.sqlite")
    try:
        def on(n: int, **extra: str) -> dict:
            return {"address": cluster.address, "args": {"resource": f"bench-{n}", "namespace": f"bench-{n}",
                                                          **{k: str(v) for k, v in extra.items()}}}

        print(f"\nsleep workload: {args.delay:g} s per grading, {args.slots} slots per node")
        print(f"{'nodes':>5}  {'samples/s':>9}  {'ideal':>6}  {'of ideal':>8}  {'E(n)':>5}")
        rates = {}
        for n in counts:
            ideal = n * args.slots / args.delay
            large = int(ideal * args.seconds)
            rates[n] = 1 / slope(store, large // 5, large, args.delay, args.slots, on(n, slots=args.slots))
            print(f"{n:>5}  {rates[n]:>9.1f}  {ideal:>6.0f}  {rates[n] / ideal:>8.2f}  "
                  f"{rates[n] / (n * rates[1]):>5.2f}")

        print("\nper-sample overhead over the local executor (no delay, one slot):")
        small, large = args.serial // 4, args.serial
        local = slope(store, small, large, 0.0, 1, None)
        serial = slope(store, small, large, 0.0, 1, on(1, slots=1, in_flight=1))
        piped = slope(store, small, large, 0.0, 1, on(1, slots=1))
        print(f"  local executor, 1 grade worker:        {1000 * local:6.2f} ms per sample")
        print(f"  ray, 1 node, one sample at a time:      {1000 * serial:6.2f} ms per sample "
              f"(+{1000 * (serial - local):.2f} ms)")
        print(f"  ray, 1 node, 2 in flight (the default): {1000 * piped:6.2f} ms per sample "
              f"(+{1000 * (piped - local):.2f} ms)")

        print(f"\nceiling (no delay, {args.slots} slots per node): what one driver dispatches and writes")
        large = 5 * args.serial
        local = 1 / slope(store, large // 5, large, 0.0, args.slots, None)
        remote = 1 / slope(store, large // 5, large, 0.0, args.slots, on(max(counts), slots=args.slots))
        print(f"  local executor, {args.slots} grade workers: {local:7.0f} samples/s")
        print(f"  ray, {max(counts)} nodes:                  {remote:7.0f} samples/s")
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
