"""Exit-code grading: pass / fail / error with a reason / infra after bounded retries."""

from __future__ import annotations

import pytest

from harness.sandbox import InfraError, RunLimits, RunnerLost, grade_by_exit_code
from harness.types import Status

CHECK = "import sys\nfrom solution import add\nsys.exit(0 if add(2, 3) == 5 else 1)\n"


@pytest.mark.docker
@pytest.mark.parametrize("solution, status, reason", [
    ("def add(a, b):\n    return a + b\n", Status.PASS, None),
    ("def add(a, b):\n    return a - b\n", Status.FAIL, None),
    ("def add(a, b):\n    while True: pass\n", Status.ERROR, "timeout"),
    ("def add(a, b):\n    return bytearray(1 << 30)\n", Status.ERROR, "memory"),
    ("import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGSEGV)\n", Status.ERROR, "crashed"),
])
def test_verdicts(pool, solution, status, reason):
    v = grade_by_exit_code(pool, ["python3", "check.py"], files={"check.py": CHECK, "solution.py": solution},
                           limits=RunLimits(timeout_s=3))
    assert v.status is status, v
    if reason:
        assert reason in v.details["reason"]
    assert v.details.get("image_id", "").startswith("sha256:")




class FlakySandbox:
    def __init__(self, failures: int, error: Exception):
        self.calls, self.failures, self.error = 0, failures, error

    def run(self, argv, **kw):
        from harness.sandbox import Ending, RunResult

        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return RunResult(0, "", "", False, False, 0.01, Ending.EXITED)


@pytest.mark.docker
def test_a_sample_cannot_kill_the_runner(pool):
    # the runner is the container's PID 1: signals from inside the container do not reach it
    kill = "import os, signal, sys; os.kill(os.getppid(), signal.SIGKILL); os.kill(1, signal.SIGTERM); sys.exit(1)"
    v = grade_by_exit_code(pool, ["python3", "-c", kill], infra_retries=1, retry_wait_s=0)
    assert v.status is Status.FAIL, v  # the sample's own verdict, not infra
    assert pool.run(["true"]).ok


def test_a_sample_that_loses_the_runner_every_time_gets_an_error_not_infra():
    box = FlakySandbox(failures=10, error=RunnerLost("the runner was lost while a sample ran", during_sample=True))
    v = grade_by_exit_code(box, ["true"], infra_retries=1, retry_wait_s=0)
    assert v.status is Status.ERROR and "killed the sandbox runner" in v.details["reason"]


def test_infra_failures_are_retried_then_reported_as_infra():
    box = FlakySandbox(failures=10, error=InfraError("Docker engine unreachable"))
    v = grade_by_exit_code(box, ["true"], infra_retries=2, retry_wait_s=0)
    assert v.status is Status.INFRA and box.calls == 3
    assert "unreachable" in v.details["reason"]


def test_a_passing_retry_after_an_infra_failure_counts():
    box = FlakySandbox(failures=1, error=RunnerLost("container died"))
    v = grade_by_exit_code(box, ["true"], infra_retries=2, retry_wait_s=0)
    assert v.status is Status.PASS and v.details["infra_retries"] == 1


@pytest.mark.docker
def test_missing_image_is_infra(docker_client):
    from harness.sandbox import WarmPool

    with pytest.raises(InfraError, match="not found"):
        WarmPool("harness-no-such-image:000000000000", client=docker_client)


# A check that keeps the code under test in a child process: the child never sees the nonce (the first line
# of the check's stdin), and the check itself compares the child's answer before printing its completion line.
GUARDED_CHECK = """import subprocess, sys
nonce = sys.stdin.readline().strip()
child = subprocess.run([sys.executable, "-c", "from solution import add; print(add(2, 3))"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
if child.returncode != 0 or child.stdout.strip() != "5":
    sys.exit(1)
print("harness-checks-complete " + nonce)
"""


@pytest.mark.docker
@pytest.mark.parametrize("solution, status", [
    ("def add(a, b):\n    return a + b\n", Status.PASS),
    ("import os\nos._exit(0)\n", Status.FAIL),  # exits 0 before any check ran
    ("import sys\nprint('harness-checks-complete 0000')\ndef add(a, b):\n    return 0\n", Status.FAIL),  # a guess
])
def test_a_pass_needs_the_checks_to_have_run_to_the_end(pool, solution, status):
    v = grade_by_exit_code(pool, ["python3", "check.py"], files={"check.py": GUARDED_CHECK, "solution.py": solution},
                           limits=RunLimits(timeout_s=10), require_completion=True)
    assert v.status is status, v


@pytest.mark.docker
def test_exit_zero_without_the_completion_line_is_not_a_pass(pool):
    v = grade_by_exit_code(pool, ["python3", "-c", "import sys; sys.exit(0)"], require_completion=True)
    assert v.status is Status.FAIL and "ran to the end" in v.details["reason"]
