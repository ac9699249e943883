"""Instruction counts: valgrind in the container (deterministic with PYTHONHASHSEED fixed), perf where a PMU is."""

from __future__ import annotations

import errno
import importlib.util
from pathlib import Path

import pytest

from harness.sandbox import CountMethod, RunLimits

pytestmark = pytest.mark.docker

PROGRAM = "d = {str(i): i for i in range(2000)}\nprint(sum(range(10**5)) + len(d))\n"


def test_whole_program_count_is_identical_three_times(pool):
    counts = []
    for _ in range(3):
        r = pool.run(["python3", "main.py"], files={"main.py": PROGRAM}, count=CountMethod.CACHEGRIND,
                     limits=RunLimits(timeout_s=60))
        assert r.ok, r
        assert r.stdout == "4999952000\n".replace("4999952000", str(sum(range(10**5)) + 2000))
        assert r.instructions.method == "valgrind-cachegrind" and r.instructions.error is None
        counts.append(r.instructions.total)
    assert counts[0] == counts[1] == counts[2], counts
    assert 10_000_000 < counts[0] < 500_000_000  # interpreter start-up + the loop: tens of millions


def _host_has_pmu() -> tuple[bool, str]:
    spec = importlib.util.spec_from_file_location(
        "harness_runner", Path(__file__).resolve().parents[2] / "sandboxes" / "common" / "runner.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    try:
        import os

        os.close(runner.perf_open_instructions(0))
        return True, ""
    except OSError as exc:
        reason = {errno.ENOENT: "no hardware instruction counter (no PMU: a VM without perf passthrough)",
                  errno.EOPNOTSUPP: "hardware counters not supported here",
                  errno.EACCES: "kernel.perf_event_paranoid forbids it (set it to 2 or lower)"}.get(exc.errno, "")
        return False, f"perf_event_open failed on this host: {exc} {reason}"


def test_perf_count_in_a_container(python_image, docker_client):
    ok, why = _host_has_pmu()
    if not ok:
        pytest.skip(why)
    from harness.sandbox import WarmPool

    with WarmPool(python_image.tag, size=1, allow_perf=True, client=docker_client) as p:
        counts = [p.run(["python3", "-c", "sum(range(10**6))"], count="perf").instructions for _ in range(3)]
    assert all(c.error is None and c.total for c in counts), counts
    spread = (max(c.total for c in counts) - min(c.total for c in counts)) / counts[0].total
    assert spread < 0.01  # hardware counts move a little from run to run
