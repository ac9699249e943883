"""The Ray executor on a local cluster of simulated nodes (one head, two sandbox nodes, more added per test):
the same verdicts as the local executor (the echo task, and the sandbox task in real containers), a node lost
mid-run, a driver killed with SIGKILL and started again, Ctrl-C and a resume, a node that cannot start
containers, a local model in a generation actor, and the errors for a cluster without sandbox nodes and an
address where none answers. One cluster for the module; every step has a hard time-out (see conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .conftest import RAY_MISSING, REPO, SLOW_TASK, containers_of, results, wait_for

pytestmark = [pytest.mark.skipif(RAY_MISSING is not None, reason=RAY_MISSING or ""), pytest.mark.timeout(300)]

ECHO_TASK = REPO / "tests" / "fixtures" / "echo_task"
SANDBOX_TASK = REPO / "tests" / "fixtures" / "sandbox_task"


# a Docker engine (skipped with the reason where none answers, a failure under CI) and the sandbox image, built
# before any driver starts so that no driver's time-out includes a build
needs_docker = pytest.mark.usefixtures("docker_client", "python_image")


def statuses(rows) -> dict[tuple[str, int], tuple[str, str | None]]:
    return {(sid, idx): (status, vkey) for sid, idx, status, vkey in rows}


def graded_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("ray: graded ")]
    assert lines, stderr
    return lines[-1]


def pool_pids(cluster) -> dict[str, int]:
    """Node id -> pid of the pool actors on the cluster's nodes (not those of removed nodes, still being
    declared dead)."""
    return {info["node_id"]: info["pid"] for info in cluster.pools().values() if info["node_id"] in cluster.nodes}


def test_echo_task_gets_the_same_verdicts_as_the_local_executor(cluster, driver, tmp_path):
    rows = [{"id": f"n{i:05d}", "response": f"The answer is {2 * i}" if i % 3 else "no idea" if i % 2 else
             f"maybe {i + 1}"} for i in range(30)]  # 20 right, 5 without a number (error), 5 wrong
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ("--task", str(ECHO_TASK), "--model", f"replay:{preds}", "--limit", "30")
    local = driver.at(tmp_path / "local.sqlite").run(*args, ray=False)
    remote = driver.run(*args)
    ours, theirs = statuses(results(driver.store)), statuses(results(tmp_path / "local.sqlite"))
    assert ours == theirs and len(ours) == 30
    assert Counter(s for s, _ in ours.values()) == {"pass": 20, "fail": 5, "error": 5}
    assert local.stdout.splitlines()[-1] == remote.stdout.splitlines()[-1]  # the same metrics table row
    started = re.findall(r"ray: (?:started|re-attached to) (pool-\w+)", remote.stderr)
    assert len(set(started)) == 2, remote.stderr
    assert re.search(r"ray: graded 30 answer\(s\) on 2 node\(s\): \w+ \d+, \w+ \d+$", graded_line(remote.stderr))


@needs_docker
def test_sandbox_task_gets_the_same_verdicts_and_leaves_no_container(cluster, driver, tmp_path):
    preds = tmp_path / "preds.jsonl"
    answers = ["```python\ndef f(x):\n    return x + %d\n```" % (i if i % 3 else i + 1) for i in range(9)]
    answers[4] = "```python\ndef f(x):\n    raise SystemExit(3)\n```"
    preds.write_text("".join(json.dumps({"id": f"add{i}", "response": a}) + "\n" for i, a in enumerate(answers)))
    args = ("--task", str(SANDBOX_TASK), "--model", f"replay:{preds}", "--grade-workers", "2")
    env = {"SANDBOX_TASK_SIZE": "9"}
    driver.at(tmp_path / "local.sqlite").run(*args, ray=False, env=env)
    remote = driver.run(*args, env=env)
    ours, theirs = statuses(results(driver.store)), statuses(results(tmp_path / "local.sqlite"))
    assert ours == theirs and len(ours) == 9  # the verdict keys too: the driver's digest is the local one
    assert Counter(s for s, _ in ours.values())["pass"] == 5, ours
    assert "graded 9 answer(s) on 2 node(s)" in graded_line(remote.stderr)
    assert containers_of(list(pool_pids(cluster).values())) == []  # the run closed its pools on every node


@needs_docker
def test_a_node_that_cannot_start_containers_is_taken_out_and_the_run_completes(cluster, driver):
    broken = cluster.add_node(env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    try:
        proc = driver.run("--task", str(SANDBOX_TASK), "--model", "oracle", env={"SANDBOX_TASK_SIZE": "6"})
    finally:
        cluster.remove_node(broken)
    line = [ln for ln in proc.stderr.splitlines() if "taken out of rotation" in ln]
    assert len(line) == 1, proc.stderr
    assert line[0].startswith(f"ray: node {broken[:12]} (127.0.0.1) taken out of rotation: ")
    assert "cannot start sandbox containers for task 'sandbox-example'" in line[0]
    assert "no Docker engine answers" in line[0]
    assert [s for _, _, s, _ in results(driver.store)] == ["pass"] * 6
    assert f"{broken[:12]} 0 (out)" in graded_line(proc.stderr)


@needs_docker
def test_a_node_lost_mid_run_loses_nothing_and_leaves_no_container(cluster, driver, tmp_path):
    doomed = cluster.add_node()
    log = tmp_path / "grading.log"
    # long enough (60 samples on 3 nodes of 2 slots, 0.4 s each and a container call) that the node is removed
    # with samples still in flight, on a loaded machine too
    proc = driver.start("--task", str(SLOW_TASK), "--model", "oracle", "-T", "size=60", "-T", "delay=0.4",
                        "-T", f"log={log}", "-T", "sandbox=true", "--grade-workers", "2")
    try:
        pid = wait_for(lambda: pool_pids(cluster).get(doomed), 90, "the new node's pool actor")

        def graded_there() -> int:
            return log.exists() and sum(1 for ln in log.read_text().splitlines() if ln.endswith(f" {pid}")) >= 2

        wait_for(graded_there, 90, "two samples graded on the node to be removed")
        assert containers_of([pid])  # it holds warm containers
        cluster.remove_node(doomed)
        out, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    rows = results(driver.store)
    run_rows = [r for r in rows if r[0].startswith("s")]
    assert len(run_rows) == 60 and {r[2] for r in run_rows} == {"pass"}  # every sample once, none lost
    assert re.search(rf"ray: node {doomed[:12]} \(127.0.0.1\) taken out of rotation: lost \(Actor\w+Error\); "
                     rf"its \d+ sample\(s\) in flight go to the other nodes", err), err
    summary = graded_line(err)
    assert "graded 60 answer(s) on 3 node(s)" in summary and re.search(r"; \d+ re-sent after a node was lost",
                                                                        summary), summary
    graded = Counter(ln.split()[0] for ln in log.read_text().splitlines())
    assert set(graded) == {f"s{i:04d}" for i in range(60)}  # some twice: those in flight on the lost node
    assert containers_of([pid, *pool_pids(cluster).values()]) == []  # the lost node's too


def test_a_driver_killed_with_sigkill_resumes_on_the_same_actors(cluster, driver, tmp_path):
    log = tmp_path / "grading.log"
    args = ("--task", str(SLOW_TASK), "--model", "oracle", "-T", "size=40", "-T", "delay=0.5", "-T", f"log={log}",
            "--grade-workers", "2")
    proc = driver.start(*args)
    try:
        wait_for(lambda: len(results(driver.store)) >= 8, 90, "eight results stored")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    done = len(results(driver.store))
    assert 8 <= done < 40, done
    before = pool_pids(cluster)  # the detached actors outlived their driver: the ones that graded
    graders = {int(ln.split()[1]) for ln in log.read_text().splitlines()}
    assert len(before) == 2 and graders and graders <= set(before.values()), (before, graders)
    again = driver.run(*args)
    for node_id, pid in before.items():
        assert re.search(rf"ray: re-attached to pool-{node_id[:12]} on 127.0.0.1 \(pid {pid}, up \d+ s, its task "
                         rf"still open: warm\)", again.stderr), again.stderr
    assert "started pool-" not in again.stderr, again.stderr
    assert f"({done} attempts were already done and were skipped)" in again.stderr, again.stderr
    assert f"graded {40 - done} answer(s)" in graded_line(again.stderr)  # each sample written once in all
    rows = results(driver.store)
    assert len(rows) == 40 and {r[2] for r in rows} == {"pass"}
    assert pool_pids(cluster) == before


@pytest.mark.skipif(importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None,
                    reason="the hf backend needs torch and transformers: pip install 'harness[hf]'")
def test_a_local_model_generates_in_a_generation_actor_as_it_does_locally(cluster, driver, tmp_path):
    import sys

    sys.path.insert(0, str(REPO / "tests" / "models"))
    from tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny")
    args = ("--task", str(ECHO_TASK), "--model", f"hf:{model}", "--limit", "6", "--max-tokens", "6")
    driver.at(tmp_path / "local.sqlite").run(*args, ray=False)
    driver.run(*args, "--executor-arg", "gpus=0")
    ours, theirs = responses(driver.store), responses(tmp_path / "local.sqlite")
    assert ours == theirs and len(ours) == 6  # same response keys (fingerprint) and texts


def responses(store: Path) -> dict[str, str]:
    import sqlite3

    with sqlite3.connect(store) as conn:
        return dict(conn.execute("SELECT r.sample_id, t.text FROM results r "
                                 "JOIN responses t ON t.key = r.response_key"))


def test_a_node_that_joins_is_used_and_when_the_last_is_lost_the_rest_is_infra(cluster, driver, tmp_path):
    # nodes of their own resource, so the module's two nodes stay out of this run
    log = tmp_path / "grading.log"
    # work for 120 s on one node (the time the waits below allow the second node to join and grade), so that a
    # node slow to start on a loaded machine still joins a run in progress; the nodes are removed long before it
    # ends, and the rest is infra at once
    size = 240
    first = cluster.add_node(resource="solo")
    proc = driver.start("--task", str(SLOW_TASK), "--model", "oracle", "-T", f"size={size}", "-T", "delay=0.5",
                        "-T", f"log={log}", "--executor-arg", "resource=solo", "--executor-arg", "slots=1")
    nodes = [first]
    try:
        wait_for(lambda: log.exists() and log.read_text(), 90, "the first grading")
        nodes.append(cluster.add_node(resource="solo"))
        late = wait_for(lambda: pool_pids(cluster).get(nodes[1]), 60, "the joining node's pool actor")
        wait_for(lambda: f" {late}\n" in log.read_text(), 60, "a sample graded on the node that joined")
        for node_id in nodes:
            cluster.remove_node(node_id)
        nodes.clear()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        for node_id in nodes:
            cluster.remove_node(node_id)
    assert proc.returncode == 3, err  # some infra verdicts: run the same command again
    assert "joined the cluster" in err
    assert re.search(rf"ray: no Ray sandbox node is left to grade on \(node {first[:12]} \(127.0.0.1\): lost", err)
    rows = results(driver.store)
    infra = [r for r in rows if r[2] == "infra"]
    assert len(rows) == size and infra and {r[2] for r in rows} == {"pass", "infra"}
    assert "run the same command again to retry them" in err


def test_ctrl_c_keeps_what_came_back_in_its_grace_and_the_resume_grades_the_rest_once(cluster, driver, tmp_path):
    log = tmp_path / "grading.log"
    args = ("--task", str(SLOW_TASK), "--model", "oracle", "-T", "size=40", "-T", "delay=0.5", "-T", f"log={log}",
            "--grade-workers", "2")
    proc = driver.start(*args)
    try:
        wait_for(lambda: len(results(driver.store)) >= 6, 90, "six results stored")
        proc.send_signal(signal.SIGINT)
        started = {ln.split()[0] for ln in log.read_text().splitlines()}  # graded, or being graded, by now
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "Interrupted. Finished samples are saved" in err, err
    stored = {r[0] for r in results(driver.store)}
    # what was being graded came back within the runner's grace (5 s; each grading takes 0.5 s) and is kept
    assert started <= stored < {f"s{i:04d}" for i in range(40)}, (sorted(started - stored), len(stored))
    again = driver.run(*args)
    assert f"({len(stored)} attempts were already done and were skipped)" in again.stderr, again.stderr
    assert f"graded {40 - len(stored)} answer(s)" in graded_line(again.stderr)
    rows = results(driver.store)
    assert len(rows) == 40 and {r[2] for r in rows} == {"pass"}


def test_a_cluster_without_a_sandbox_node_is_a_clear_error(cluster, driver):
    proc = driver.run("--task", str(ECHO_TASK), "--model", "oracle", "--executor-arg", "resource=nobody_has_it",
                      ok=False)
    assert proc.returncode == 1, proc.stderr
    assert "the Ray cluster has no node offering the resource 'nobody_has_it': start sandbox nodes with `ray " \
           "start --address HEAD:6379 --resources='{\"nobody_has_it\": 1}'`" in proc.stderr, proc.stderr
    assert results(driver.store) == []


def test_an_address_where_no_cluster_answers_is_a_clear_error(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "harness.cli", "--store", str(tmp_path / "s.sqlite"), "run", "--task",
            str(ECHO_TASK), "--model", "oracle", "--executor", "ray", "--address", f"127.0.0.1:{port}",
            "--executor-arg", "connect_timeout=5"]
    env = {**os.environ, "RAY_TMPDIR": str(tmp_path / "ray"), "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=90)
    assert proc.returncode == 1, proc.stderr
    assert re.search(rf"Error: (no Ray cluster answered at 127.0.0.1:{port} within 5 s: check `ray status|"
                     rf"cannot connect to the Ray cluster at 127.0.0.1:{port}: )", proc.stderr), proc.stderr
