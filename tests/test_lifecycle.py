"""The runner owns a task's resources: the sandboxed example task (tests/fixtures/sandbox_task) leaves no
container behind after a normal end, Ctrl-C, or an exception, and its pool follows --grade-workers. Real
`harness run` processes against a real Docker engine."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import docker.errors
import pytest

from harness.sandbox.engine import LABEL, LABEL_OWNER_PID

from .conftest import REPO, write_jsonl

TASK_DIR = str(REPO / "tests" / "fixtures" / "sandbox_task")
pytestmark = pytest.mark.docker


def containers_of(client, pid: int) -> list:
    return client.containers.list(all=True, sparse=True, filters={"label": [f"{LABEL}=1",
                                                                           f"{LABEL_OWNER_PID}={pid}"]})


def start(store, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "--store", str(store), "run", "--task", TASK_DIR,
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, **(env or {})})


def results(store) -> int:
    try:
        return sqlite3.connect(store).execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_a_normal_end_grades_in_the_sandbox_and_leaves_no_container(docker_client, tmp_path):
    store = tmp_path / "s.sqlite"
    wrong = write_jsonl(tmp_path / "p.jsonl", [{"id": "add1", "response": "```python\ndef f(x):\n    return x\n```"},
                                               {"id": "add2", "response": "```python\nimport os\nos._exit(0)\n```"}])
    proc = start(store, "--model", f"replay:{wrong}", "--limit", "4", "--grade-workers", "3")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert containers_of(docker_client, proc.pid) == []
    statuses = dict(sqlite3.connect(store).execute("SELECT sample_id, status FROM results"))
    # add1 is wrong; add2 exits 0 before any check ran (no completion line): both fail; add0, add3 are empty
    assert statuses["add1"] == "fail" and statuses["add2"] == "fail"
    oracle = start(store, "--model", "oracle", "--limit", "4")
    out, err = oracle.communicate(timeout=240)
    assert oracle.returncode == 0, err
    assert "pass@1" in out and " 1 [" in out
    assert containers_of(docker_client, oracle.pid) == []


def test_ctrl_c_leaves_no_container(docker_client, tmp_path):
    store = tmp_path / "s.sqlite"
    slow = write_jsonl(tmp_path / "slow.jsonl", [
        {"id": f"add{i}", "response": f"```python\nimport time\ntime.sleep(0.5)\ndef f(x):\n    return x + {i}\n```"}
        for i in range(40)])
    proc = start(store, "--model", f"replay:{slow}", env={"SANDBOX_TASK_SIZE": "40"})
    deadline = time.monotonic() + 180
    while results(store) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1]
    assert containers_of(docker_client, proc.pid), "the run should have its pool's containers while it grades"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert "Resume with the same command" in err
    assert containers_of(docker_client, proc.pid) == []


def test_an_exception_mid_run_leaves_no_container(docker_client, tmp_path):
    store = tmp_path / "s.sqlite"
    proc = start(store, "--model", "oracle", env={"SANDBOX_TASK_SIZE": "80", "SANDBOX_TASK_FAIL_AT": "70"})
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 1 and "broken (on purpose)" in err and "Traceback" not in err
    # the task opened its pool before the first sample (its containers were starting when loading failed)
    assert containers_of(docker_client, proc.pid) == []
    status = sqlite3.connect(store).execute("SELECT status FROM runs").fetchone()[0]
    assert status == "failed"


def test_ctrl_c_while_samples_run_in_the_sandbox_removes_their_containers(docker_client, tmp_path):
    """Samples that take 60 s: at Ctrl-C they are still running; the run stops within seconds anyway and
    removes the containers they were running in."""
    store = tmp_path / "s.sqlite"
    slow = write_jsonl(tmp_path / "slow.jsonl", [
        {"id": f"add{i}", "response": f"```python\nimport time\ntime.sleep(60)\ndef f(x):\n    return x + {i}\n```"}
        for i in range(6)])
    proc = start(store, "--model", f"replay:{slow}", "--grade-workers", "3", env={"SANDBOX_TASK_SIZE": "6"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(containers_of(docker_client, proc.pid)) < 3 and proc.poll() is None:
        time.sleep(0.2)
    assert len(containers_of(docker_client, proc.pid)) >= 3  # the pool follows --grade-workers

    def samples_running() -> int:
        """Containers in which a sample's check.py runs (each then sleeps its 60 s)."""
        n = 0
        for c in containers_of(docker_client, proc.pid):
            try:
                n += any("check.py" in " ".join(p) for p in c.top()["Processes"] or [])
            except docker.errors.APIError:  # not running (yet, or any more)
                pass
        return n

    # the samples are inside their 60 s sleep: seen, not assumed after a fixed sleep (on a loaded machine they may
    # not have started yet)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and samples_running() < 3 and proc.poll() is None:
        time.sleep(0.2)
    assert samples_running() == 3, proc.poll()  # one per grade worker
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert time.monotonic() - sent < 20
    assert proc.returncode == 130, err
    assert containers_of(docker_client, proc.pid) == []
