"""A local Ray cluster of simulated nodes for the Ray executor's tests, and drivers run as `harness` processes.

Skipped with the reason where Ray is not installed. Every step that could hang has a hard time-out: the
cluster lives in a process of its own (cluster_proc.py, its own session, killed whole with SIGKILL when a step
overruns), and every driver is a subprocess with a time-out (SIGKILL). Everything binds to 127.0.0.1 and keeps
its files in a fresh RAY_TMPDIR.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

RAY_MISSING = None if importlib.util.find_spec("ray") else \
    "the Ray executor's tests need Ray: pip install 'harness[ray]' (make test installs it)"

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SLOW_TASK = HERE / "slow_task"
NAMESPACE = "harness-test"  # the pool actors of these tests, apart from any real harness namespace
START_TIMEOUT_S = 90  # the head, and each node added
DRIVER_TIMEOUT_S = 150


class LocalCluster:
    """Head (no sandbox resource) plus simulated sandbox nodes, driven through cluster_proc.py."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="rayt", dir="/tmp"))  # short: Ray's socket paths are long
        self.env = {**os.environ, "RAY_TMPDIR": str(self.ray_tmp), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                    "XDG_CACHE_HOME": str(tmp / "cache"), "HF_HOME": str(tmp / "hf"), "HF_HUB_OFFLINE": "1",
                    "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
        self.log = tmp / "cluster.log"
        read_fd, write_fd = os.pipe()
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([sys.executable, str(HERE / "cluster_proc.py"), str(write_fd)],
                                         stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True,
                                         env=self.env, pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        self._replies = os.fdopen(read_fd)
        self.address = self._reply(START_TIMEOUT_S, "starting the head")["address"]
        self.nodes: list[str] = []

    def _reply(self, timeout: float, what: str) -> dict[str, Any]:
        ready, _, _ = select.select([self._replies], [], [], timeout)
        line = self._replies.readline() if ready else ""
        if not line:
            self.kill()
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            pytest.fail(f"the local Ray cluster did not answer ({what}) within {timeout:.0f} s:\n{tail}")
        reply = json.loads(line)
        if "error" in reply:
            raise AssertionError(f"cluster_proc: {what}: {reply['error']}")
        return reply

    def call(self, timeout: float = 60, **cmd: Any) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._reply(timeout, cmd["op"])

    def add_node(self, env: dict[str, str] | None = None, resource: str = "harness_sandbox") -> str:
        node = self.call(START_TIMEOUT_S, op="add", env=env, resources={resource: 1})
        self.nodes.append(node["node_id"])
        return node["node_id"]

    def remove_node(self, node_id: str) -> None:
        self.call(op="remove", node_id=node_id, graceful=False)
        self.nodes.remove(node_id)

    def pools(self) -> dict[str, dict[str, Any]]:
        return self.call(op="pools", namespace=NAMESPACE)["pools"]

    def shutdown(self) -> None:
        try:
            if self.proc.poll() is None:
                self.call(op="kill_pools", namespace=NAMESPACE)
                self.call(op="shutdown")
                self.proc.wait(timeout=60)
        except (Exception, pytest.fail.Exception):  # noqa: BLE001 - whatever happened, kill it all
            pass
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL to the cluster's whole session (Ray's processes stay in it), then its files go."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    c = LocalCluster(tmp_path_factory.mktemp("ray"))
    try:
        c.add_node()
        c.add_node()
        yield c
    finally:
        c.shutdown()


class Driver:
    """`harness run ... --executor ray --address A` as a process of its own (so a test can SIGKILL it)."""

    def __init__(self, cluster: LocalCluster, store: Path):
        self.cluster, self.store = cluster, store

    def at(self, store: Path) -> "Driver":
        """The same driver with another store (a local run to compare with)."""
        return Driver(self.cluster, store)

    def argv(self, *args: str, ray: bool = True) -> list[str]:
        extra = ["--executor", "ray", "--address", self.cluster.address, "--executor-arg",
                 f"namespace={NAMESPACE}"] if ray else []
        return [sys.executable, "-m", "harness.cli", "--store", str(self.store), "run", *args, *extra]

    def run(self, *args: str, ray: bool = True, ok: bool = True, env: dict[str, str] | None = None):
        proc = subprocess.run(self.argv(*args, ray=ray), capture_output=True, text=True, cwd=REPO,
                              env={**self.cluster.env, **(env or {})}, timeout=DRIVER_TIMEOUT_S)
        if ok and proc.returncode != 0:
            raise AssertionError(f"harness run exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self, *args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), stdout=stdout, stderr=subprocess.PIPE, text=True,
                                cwd=REPO, env=self.cluster.env)


@pytest.fixture(scope="module")
def python_image(docker_client):
    from harness.sandbox import ensure_image

    return ensure_image("python", client=docker_client)


@pytest.fixture
def driver(cluster: LocalCluster, tmp_path: Path) -> Driver:
    return Driver(cluster, tmp_path / "store.sqlite")


def results(store: Path) -> list[tuple[str, int, str, str | None]]:
    """(sample_id, idx, status, verdict_key) of every stored result, sorted."""
    if not store.exists():
        return []
    with sqlite3.connect(store, timeout=30) as conn:
        try:
            return sorted(conn.execute("SELECT sample_id, idx, status, verdict_key FROM results"))
        except sqlite3.OperationalError as exc:  # a driver that has just created the file, not yet its tables
            if "no such table" in str(exc):
                return []
            raise


def wait_for(predicate, timeout: float, what: str, every: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def containers_of(pids: list[int]) -> list[str]:
    """Sandbox containers (running or not) whose owner is one of these processes."""
    found = []
    for pid in pids:
        out = subprocess.run(["docker", "ps", "-aq", "--filter", "label=harness.sandbox=1", "--filter",
                              f"label=harness.sandbox.owner_pid={pid}"], capture_output=True, text=True,
                             timeout=60).stdout.split()
        found += out
    return found
