"""The Ray executor's parts that need no cluster (most need no Ray either): settings, the CLI's checks, the pool
actor's bookkeeping driven directly, the driver's context, and that the default install never imports Ray."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from harness.distributed import ExecutorError, parse_settings
from harness.distributed.cluster import import_ray, is_loopback
from harness.distributed.executor import DriverContext
from harness.distributed.pool_actor import NodeUnusable, SandboxNode
from harness.keys import task_key
from harness.registry import get_task
from harness.sandbox import InfraError
from harness.types import Answer, Sample, Status

from .conftest import REPO

ECHO = str(REPO / "tests" / "fixtures" / "echo_task")


def test_settings_have_defaults_and_refuse_what_they_do_not_know():
    s = parse_settings(None, {})
    assert (s.address, s.namespace, s.resource, s.gpus) == (None, "harness", "harness_sandbox", 1.0)
    assert (s.node_slots(3), s.node_in_flight(3)) == (3, 6)
    s = parse_settings("10.0.0.1:6379", {"slots": "4", "in_flight": "5", "gpus": "0"})
    assert (s.address, s.node_slots(2), s.node_in_flight(2), s.gpus) == ("10.0.0.1:6379", 4, 5, 0.0)
    with pytest.raises(ExecutorError, match=r"--executor-arg slot: unknown setting; the Ray executor takes "
                                            r"namespace .*slots \(samples graded at once per node\)"):
        parse_settings(None, {"slot": "4"})
    with pytest.raises(ExecutorError, match=r"slots=four: expected int"):
        parse_settings(None, {"slots": "four"})
    with pytest.raises(ExecutorError, match=r"slots=0: must be positive"):
        parse_settings(None, {"slots": "0"})
    with pytest.raises(ExecutorError, match=r"gpus=-1: must be >= 0"):
        parse_settings(None, {"gpus": "-1"})


def test_loopback_addresses_are_recognised():
    assert is_loopback("127.0.0.1:6379") and is_loopback("localhost:6379") and is_loopback("ray://127.0.0.1:10001")
    assert not is_loopback("10.1.2.3:6379") and not is_loopback(None) and not is_loopback("auto")


def test_the_cli_refuses_ray_settings_without_the_ray_executor_and_unknown_ones(cli):
    out = cli("run", "--task", ECHO, "--model", "oracle", "--address", "127.0.0.1:6379", ok=False)
    assert out.exit_code == 1 and "--address and --executor-arg are settings of --executor ray" in out.output
    out = cli("run", "--task", ECHO, "--model", "oracle", "--executor", "ray", "--executor-arg", "slot=2", ok=False)
    assert out.exit_code == 1 and "--executor-arg slot: unknown setting" in out.output


def test_without_ray_the_message_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ExecutorError, match=r"needs Ray, which is not installed: pip install 'harness\[ray\]'"):
        import_ray()


def test_without_ray_a_ray_run_stops_before_anything_is_stored(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    out = cli("run", "--task", ECHO, "--model", "oracle", "--executor", "ray", ok=False)
    assert out.exit_code == 1 and "--executor ray needs Ray, which is not installed" in out.output
    if cli.store.exists():  # no failed run left behind
        with sqlite3.connect(cli.store) as conn:
            assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_the_default_install_never_imports_ray():
    code = ("import sys, harness.cli, harness.runner, harness.distributed; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- the pool actor, driven directly (no Ray) ---------------------------------------------------------------
def node() -> SandboxNode:
    n = SandboxNode.__new__(SandboxNode)
    n._setup("a" * 56, "127.0.0.1", reap_every=0.05)
    return n


def echo_key(args: dict) -> str:
    task = get_task(ECHO)
    return task_key(task.name, task.version, task.code_hash, task.identity_args(args))


def sample(i: int) -> Sample:
    return Sample(id=f"n{i:05d}", inputs={"x": i}, reference=2 * i, metadata={"parity": "even"})


def test_the_pool_actor_opens_a_task_once_per_key_and_grades_with_its_own_instance():
    n, args = node(), {"scale": 2}
    key = echo_key(args)
    first = n.open_task(key, ECHO, args, 2, "run-a", 900)
    assert first["reused"] is False
    assert n.open_task(key, ECHO, args, 2, "run-b", 900)["reused"] is True
    status, verdict = n.grade(key, sample(3), Answer(6, "6"))
    assert status == "ok" and verdict.status is Status.PASS
    assert n.grade(key, sample(3), Answer(7, "7"))[1].status is Status.FAIL
    assert n.info()["tasks"][key]["sessions"] == ["run-a", "run-b"]
    assert n._tasks[key].task is not get_task(ECHO)  # a copy: the module's TASK stays the driver's
    assert n.close_task(key, "run-a") is False  # run-b still uses it
    assert n.close_task(key, "run-b") is True
    assert n.grade(key, sample(3), Answer(6, "6")) == ("not-open", "")


def test_a_grader_that_raises_comes_back_as_one_line(monkeypatch):
    n, args = node(), {"scale": 2}
    key = echo_key(args)
    n.open_task(key, ECHO, args, 1, "run", 900)
    monkeypatch.setenv("ECHO_TASK_BROKEN_GRADER", "1")
    assert n.grade(key, sample(1), Answer(2, "2")) == ("raised", "RuntimeError: grader bug")


def test_a_node_with_other_code_or_options_is_unusable():
    n = node()
    with pytest.raises(NodeUnusable, match=r"node aaaaaaaaaaaa \(127.0.0.1\) has other code for task 'echo'"):
        n.open_task(echo_key({"scale": 3}), ECHO, {"scale": 2}, 1, "run", 900)
    with pytest.raises(NodeUnusable, match=r"cannot load the task '/nowhere'"):
        n.open_task("k", "/nowhere", {}, 1, "run", 900)


def test_an_idle_task_is_closed_and_opened_again_on_demand():
    n, args = node(), {"scale": 2}
    key = echo_key(args)
    n.open_task(key, ECHO, args, 1, "killed-driver", 0.1)
    deadline = time.monotonic() + 10
    while key in n._tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert key not in n._tasks  # a driver that never came back: closed after idle_close
    assert n.grade(key, sample(1), Answer(2, "2"))[0] == "not-open"


# --- the driver's context ---------------------------------------------------------------------------------
def test_the_drivers_context_takes_digests_from_here_or_from_a_node_and_runs_nothing(monkeypatch):
    import harness.sandbox.images as images

    asked = []
    monkeypatch.setattr(images, "image_id", lambda tag: "sha256:local" if tag == "here:1" else None)
    resolve = lambda tag: asked.append(tag) or ("sha256:node" if tag == "there:1" else f"unavailable:{tag}")  # noqa
    ctx = DriverContext(get_task(ECHO), resolve=resolve)
    assert ctx.image_id("here:1") == "sha256:local" and asked == []
    assert ctx.image_id("there:1") == "sha256:node" and ctx.image_id("there:1") == "sha256:node"
    assert asked == ["there:1"]  # remembered
    assert ctx.image_id("nowhere:1") == "unavailable:nowhere:1"
    assert ctx.image_id("nowhere:1") == "unavailable:nowhere:1" and asked.count("nowhere:1") == 2  # not remembered
    pool = ctx.sandbox_pool("there:1")
    assert pool.image_id == "sha256:node"
    with pytest.raises(InfraError, match="graded on the sandbox nodes"):
        pool.run(["true"])
    assert ctx.image_ids == {"here:1": "sha256:local", "there:1": "sha256:node"}


def test_remove_containers_takes_only_those_with_every_label_given():
    from types import SimpleNamespace

    from harness.sandbox.engine import LABEL, owned_by, remove_containers

    removed, asked = [], []

    class Containers:
        def list(self, all, sparse, filters):
            asked.append(filters)
            return [SimpleNamespace(attrs={"Labels": {}}, remove=lambda force: removed.append(force))]

    client = SimpleNamespace(containers=Containers())
    labels = owned_by(4242, "node-7")
    assert remove_containers(only_stale=False, client=client, labels=labels) == 1 and removed == [True]
    assert asked == [{"label": [f"{LABEL}=1", *sorted(f"{k}={v}" for k, v in labels.items())]}]
    assert sorted(labels.values()) == ["4242", "node-7"]
    remove_containers(only_stale=False, client=client)
    assert asked[-1] == {"label": [f"{LABEL}=1"]}
