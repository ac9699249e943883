"""The runner under faults, against a real OpenAI-compatible server on 127.0.0.1 that misbehaves on demand:
Ctrl-C while every request hangs, a hang made visible, two identical commands at once, response facts that
belong to the response, predictions that match no sample, a killed run shown as interrupted."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from click.testing import CliRunner

from harness.cli import main
from harness.models import make_adapter
from harness.registry import get_task
from harness.runner import RunConfig, Runner
from harness.store import Store
from harness.task import LoadOptions, load_template
from harness.types import GenParams
from tests.conftest import REPO, write_jsonl

ECHO = str(REPO / "tests" / "fixtures" / "echo_task")


def start(store, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "--store", str(store), "run", "--task", ECHO,
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "OPENAI_API_KEY": "sk-test-0000", **(env or {})})


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def run_status(store) -> str:
    return sqlite3.connect(store).execute("SELECT status FROM runs").fetchone()[0]


def hang(server):
    server.fallback = lambda hit: server.Reply(200, server.chat_body("0"), delay=3600)


def start_hanging(server, store, concurrency: int, size: int) -> subprocess.Popen:
    """A run against a server that never answers, returned once `concurrency` requests hang."""
    hang(server)
    proc = start(store, "--model", "openai:fake", "--base-url", server.url + "/v1", "--concurrency",
                 str(concurrency), env={"ECHO_TASK_SIZE": str(size)})
    wait_for(lambda: len(server.hits) >= concurrency)
    return proc


def test_ctrl_c_stops_within_seconds_while_every_request_hangs(server, tmp_path):
    store = tmp_path / "s.sqlite"
    proc = start_hanging(server, store, concurrency=8, size=300)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10
    assert proc.returncode == 130 and "Resume with the same command" in err and "Traceback" not in err
    assert run_status(store) == "interrupted"


def test_a_second_ctrl_c_stops_at_once_and_leaves_the_run_resumable(server, tmp_path):
    store = tmp_path / "s.sqlite"
    proc = start_hanging(server, store, concurrency=4, size=50)
    proc.send_signal(signal.SIGINT)
    # The second Ctrl-C must come once the first is being handled (a fixed 0.3 s was not always enough on a loaded
    # machine): the runner marks the run interrupted inside its wind-down, where a Ctrl-C cuts the waiting short.
    wait_for(lambda: run_status(store) == "interrupted")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Resume with the same command" in err
    assert run_status(store) == "interrupted"


def test_a_second_ctrl_c_while_the_store_is_busy_still_leaves_the_run_resumable(server, tmp_path):
    """The first Ctrl-C writes the run's status, which waits while another process holds the store's lock; a
    second Ctrl-C then must not cut the wind-down short of closing the run."""
    store = tmp_path / "s.sqlite"
    proc = start_hanging(server, store, concurrency=4, size=50)
    busy = sqlite3.connect(store, isolation_level=None)
    busy.execute("BEGIN IMMEDIATE")  # as another harness process writing to the same store would
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)
    finally:
        busy.execute("COMMIT")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Resume with the same command" in err, err
    assert run_status(store) == "interrupted"


def test_a_hanging_endpoint_is_reported_while_it_hangs(server, tmp_path, capfd, monkeypatch):
    hang(server)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000")
    monkeypatch.setattr("harness.runner.HANG_WARN_S", 1.0)
    task = get_task(ECHO)
    params = GenParams(extra=(("max_retries", "0"), ("timeout", "4")))
    template, sha = load_template(task.template_path())
    cfg = RunConfig(task=task, adapter=make_adapter("openai:fake", params, task, base_url=server.url + "/v1"),
                    params=params, options=LoadOptions(limit=5, args=task.parse_args({})), template=template,
                    template_sha256=sha, template_path="prompt.jinja", progress=False)
    runner = Runner(cfg, Store(tmp_path / "s.sqlite"))
    seen = []
    thread = threading.Thread(target=lambda: seen.append(runner.run()), daemon=True)
    thread.start()
    wait_for(lambda: runner.in_flight.snapshot().get("openai:fake", (0, 0))[1] > 1.5)
    assert runner.in_flight.snapshot()["openai:fake"][0] == 5
    thread.join(timeout=30)
    err = capfd.readouterr().err
    assert "waiting on openai:fake: 5 request(s) in flight, the oldest for" in err
    assert "time-out 4 s per request" in err
    assert seen and seen[0].counts == {"infra": 5}


def test_the_same_command_twice_at_once_asks_each_prompt_once(server, tmp_path):
    # The server holds every answer until the second command says it waits, so the first cannot finish before
    # the second starts, however slowly the machine starts Python.
    gate = threading.Event()

    def held(hit):
        gate.wait(60)
        return server.Reply(200, server.chat_body("0"), delay=0.01)

    server.fallback = held
    store = tmp_path / "s.sqlite"
    args = ("--model", "openai:fake", "--base-url", server.url + "/v1", "--concurrency", "2", "--limit", "40")
    first = start(store, *args)
    wait_for(lambda: len(server.hits) >= 2)
    second = start(store, *args)
    lines: list[str] = []

    def read_second():
        for line in second.stderr:
            lines.append(line)
            if "waiting for it to finish" in line:
                gate.set()

    reader = threading.Thread(target=read_second, daemon=True)
    reader.start()
    wait_for(gate.is_set, timeout=60)
    second.wait(timeout=120)
    reader.join(timeout=10)
    out1, err1 = first.communicate(timeout=120)
    err2 = "".join(lines)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert len(server.hits) == 40
    assert "40 attempts were already done" in err2


def test_response_facts_belong_to_the_response_not_the_shared_verdict(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000")
    server.fallback = lambda hit: server.Reply(200, server.chat_body(""))
    store = tmp_path / "s.sqlite"
    cli = lambda *a: CliRunner().invoke(main, ["--store", str(store), *a], catch_exceptions=False)  # noqa: E731
    api = cli("run", "--task", ECHO, "--model", "openai:fake", "--base-url", server.url + "/v1", "--limit", "2",
              "--run-name", "api")
    assert api.exit_code == 0, api.output
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "n00000", "response": ""}])
    replay = cli("run", "--task", ECHO, "--model", f"replay:{preds}", "--limit", "2", "--run-name", "replay")
    assert replay.exit_code == 0 and "1 of 2 attempts had no prediction" in replay.output
    api_show = json.loads(cli("show", "api", "n00001", "--format", "json").output)["attempts"][0]
    replay_show = json.loads(cli("show", "replay", "n00001", "--format", "json").output)["attempts"][0]
    assert api_show["response_facts"] == ["empty"] and replay_show["response_facts"] == ["missing"]
    assert api_show["details"] == replay_show["details"]  # one shared verdict: it says only what grading found
    assert "note" not in api_show["details"]
    assert "2 were empty" in cli("report", "api").output
    assert "1 had no prediction in the replay file" in cli("report", "replay").output


def test_predictions_that_match_no_sample_are_an_error(tmp_path):
    store = tmp_path / "s.sqlite"
    cli = lambda *a: CliRunner().invoke(main, ["--store", str(store), *a], catch_exceptions=False)  # noqa: E731
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "HumanEval/0", "response": "0"}])
    out = cli("run", "--task", ECHO, "--model", f"replay:{preds}", "--limit", "3")
    assert out.exit_code == 1 and "none of the 3 attempts has a prediction" in out.output
    assert "'HumanEval/0'" in out.output and "'n00000'" in out.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    out = cli("run", "--task", ECHO, "--model", f"replay:{empty}")
    assert out.exit_code == 1 and "has no predictions" in out.output


def test_a_killed_run_is_shown_as_interrupted(tmp_path):
    store = tmp_path / "s.sqlite"
    proc = start(store, "--model", "oracle", "--run-name", "k", env={"ECHO_TASK_SIZE": "2000",
                                                                    "ECHO_TASK_DELAY": "0.01"})
    wait_for(lambda: store.exists() and sqlite3.connect(store).execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'results'").fetchone()[0] and sqlite3.connect(store).execute(
        "SELECT COUNT(*) FROM results").fetchone()[0] > 10)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert run_status(store) == "running"
    out = CliRunner().invoke(main, ["--store", str(store), "report", "k", "--format", "json"])
    assert json.loads(out.output)["status"] == "interrupted"
    assert run_status(store) == "interrupted"
