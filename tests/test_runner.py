"""The engine end to end: resume, caches, interruption, kills, and bad input, through the real CLI and store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from harness.models.base import ModelAdapter
from harness.registry import get_task
from harness.runner import RunConfig, Runner
from harness.store import Store
from harness.task import LoadOptions, load_template
from harness.types import GenParams, Response

from .conftest import REPO, write_jsonl

ECHO = str(REPO / "tests" / "fixtures" / "echo_task")


class CountingModel(ModelAdapter):
    """A real adapter that answers correctly, counts its calls, and fails the first `failures` requests."""

    batch_size = 4

    def __init__(self, failures: int = 0):
        super().__init__("counting", GenParams())
        self.calls = 0
        self.failures = failures

    def generate(self, requests):
        out = []
        for req in requests:
            self.calls += len(req.indices)
            if self.failures > 0:
                self.failures -= 1
                out.append([Response.failed("503 from the provider") for _ in req.indices])
            else:
                out.append([Response(text=f"{2 * req.sample.inputs['x']}") for _ in req.indices])
        return out


def run_direct(store: Store, model: ModelAdapter, run_name: str, limit: int = 10, fresh: bool = False,
               samples: int = 1):
    task = get_task(ECHO)
    template, sha = load_template(task.template_path())
    cfg = RunConfig(task=task, adapter=model, params=GenParams(), options=LoadOptions(limit=limit),
                    template=template, template_sha256=sha, template_path="prompt.jinja", run_name=run_name,
                    fresh=fresh, progress=False, samples_per_problem=samples)
    return Runner(cfg, store).run()


def results_per_sample(store_path: Path, run: str) -> dict[str, int]:
    conn = sqlite3.connect(store_path)
    rows = conn.execute("SELECT sample_id, COUNT(*) FROM results WHERE run = ? GROUP BY sample_id", (run,))
    return dict(rows.fetchall())


def test_a_task_folder_given_by_path_runs_like_a_builtin(cli):
    cli("run", "--task", ECHO, "--model", "oracle", "--limit", "7")
    rep = cli.report()
    assert rep["task"] == "echo" and rep["metrics"]["pass@1"] == 1.0 and rep["counts"]["pass"] == 7


def test_running_again_resumes_and_extends(cli):
    cli("run", "--task", ECHO, "--model", "oracle", "--limit", "10")
    second = cli("run", "--task", ECHO, "--model", "oracle", "--limit", "25")
    assert "10 attempts were already done" in second.stderr
    rep = cli.report()
    assert rep["counts"]["pass"] == 25 and rep["metric_counts"]["problems"] == 25


def test_responses_and_verdicts_are_reused_and_fresh_ignores_them(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    model = CountingModel()
    run_direct(store, model, "first")
    assert model.calls == 10
    run_direct(store, model, "second")  # another run, same model, params and prompts: all from the cache
    assert model.calls == 10
    assert store.status_counts("second") == {"pass": 10}
    run_direct(store, model, "second", fresh=True)
    assert model.calls == 20


def test_each_sample_index_gets_its_own_response(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    model = CountingModel()
    run_direct(store, model, "n3", limit=4, samples=3)
    assert model.calls == 12
    assert set(results_per_sample(tmp_path / "s.sqlite", "n3").values()) == {3}


def test_infra_failures_are_not_counted_and_are_retried_on_resume(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    model = CountingModel(failures=3)
    summary = run_direct(store, model, "flaky")
    assert summary.counts == {"infra": 3, "pass": 7}
    assert store.get_run("flaky").status == "incomplete"
    calls = model.calls
    summary = run_direct(store, model, "flaky")
    assert model.calls == calls + 3  # only the failed ones are asked again
    assert store.status_counts("flaky") == {"pass": 10} and store.get_run("flaky").status == "complete"


def test_same_run_name_with_another_configuration_is_refused(cli, tmp_path):
    cli("run", "--task", ECHO, "--model", "oracle", "--limit", "3", "--run-name", "mine")
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "n00000", "response": "0"}])
    result = cli("run", "--task", ECHO, "--model", f"replay:{preds}", "--run-name", "mine", ok=False)
    assert result.exit_code == 1 and "different configuration" in result.output and "--fresh" in result.output


def test_garbage_responses_get_verdicts_not_crashes(cli, tmp_path):
    preds = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "n00000", "response": "\x00\ufffd garbage"},
        {"id": "n00001", "response": "2"},
        {"id": "n00002", "response": ""},
    ])
    cli("run", "--task", ECHO, "--model", f"replay:{preds}", "--limit", "4")
    rep = cli.report()
    assert rep["counts"]["error"] == 3 and rep["counts"]["pass"] == 1  # n00003 has no prediction at all
    shown = json.loads(cli("show", rep["run"], "n00003", "--format", "json").stdout)["attempts"][0]
    assert shown["response_facts"] == ["missing"] and "note" not in shown["details"]
    assert "no prediction for this sample in the replay file" in cli("show", rep["run"], "n00003").stdout
    assert "(the model's response was empty)" in cli("show", rep["run"], "n00002").stdout


def test_a_grader_bug_is_an_infra_verdict(cli, monkeypatch):
    monkeypatch.setenv("ECHO_TASK_BROKEN_GRADER", "1")
    result = cli("run", "--task", ECHO, "--model", "oracle", "--limit", "3", ok=False)
    assert result.exit_code == 3 and "infrastructure failures" in result.stderr
    rep = cli.report()
    assert rep["counts"]["infra"] == 3 and rep["counts"]["fail"] == 0
    monkeypatch.delenv("ECHO_TASK_BROKEN_GRADER")
    cli("run", "--task", ECHO, "--model", "oracle", "--limit", "3")
    assert cli.report()["counts"] == {**cli.report()["counts"], "pass": 3, "infra": 0}


def test_malformed_replay_file_names_the_line(cli, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "n00000", "response": "0"}\n{"id": "n00001", "resp\n')
    result = cli("run", "--task", ECHO, "--model", f"replay:{path}", ok=False)
    assert result.exit_code == 1 and f"{path}, line 2" in result.output and "Traceback" not in result.output


def test_unknown_task_and_model_are_one_clear_line(cli):
    r = cli("run", "--task", "nope", "--model", "oracle", ok=False)
    assert r.exit_code == 1 and "unknown task 'nope'" in r.output and "tmbench" in r.output
    r = cli("run", "--task", ECHO, "--model", "gpt-4o", ok=False)
    assert r.exit_code == 1 and "BACKEND:NAME" in r.output


def test_show_and_report_formats(cli):
    cli("run", "--task", ECHO, "--model", "oracle", "--limit", "2")
    rep = cli.report()
    assert set(rep) >= {"run", "task", "model", "metrics", "intervals", "counts", "record"}
    rec = rep["record"]
    assert rec["task"]["version"] == "1" and len(rec["prompt_template"]["sha256"]) == 64
    assert rec["model"]["spec"] == "oracle" and "harness" in rec
    md = cli("report", "--format", "markdown").stdout
    assert md.startswith("| run | model | pass@1") and "| oracle |" in md
    text = cli("show", rep["run"], "n00001").stdout
    assert "What is twice 1?" in text and "The answer is 2" in text and "PASS" in text


def _start(store: Path, *args: str, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, **env_extra}
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "--store", str(store), "run", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def _wait_for_results(store: Path, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.exists():
            try:
                n = sqlite3.connect(store).execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            if n >= at_least:
                return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} results after {timeout} s")


def test_sigkill_mid_run_then_resume_completes_every_sample_exactly_once(tmp_path):
    store = tmp_path / "kill.sqlite"
    env = {"ECHO_TASK_SIZE": "300", "ECHO_TASK_DELAY": "0.02"}
    args = ("--task", ECHO, "--model", "oracle", "--run-name", "killed")
    proc = _start(store, *args, env_extra=env)
    _wait_for_results(store, 40)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done_before = sum(results_per_sample(store, "killed").values())
    assert 40 <= done_before < 300
    proc = _start(store, *args, env_extra=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"{done_before} attempts were already done" in err
    per_sample = results_per_sample(store, "killed")
    assert len(per_sample) == 300 and set(per_sample.values()) == {1}


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    store = tmp_path / "int.sqlite"
    env = {"ECHO_TASK_SIZE": "3000", "ECHO_TASK_DELAY": "0.01"}
    proc = _start(store, "--task", ECHO, "--model", "oracle", "--run-name", "stopped", env_extra=env)
    _wait_for_results(store, 20)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Resume with the same command" in err and "Traceback" not in err
    assert Store(store).get_run("stopped").status == "interrupted"
    assert 20 <= sum(results_per_sample(store, "stopped").values()) < 3000


def test_retry_and_timeout_settings_do_not_change_the_run(cli):
    cli("run", "--task", ECHO, "--model", "oracle", "--limit", "5", "--model-arg", "timeout=5")
    again = cli("run", "--task", ECHO, "--model", "oracle", "--limit", "5", "--model-arg", "timeout=9",
                "--model-arg", "max_retries=1", "--model-arg", "batch_size=7")
    assert "5 attempts were already done" in again.stderr
    other = cli("run", "--task", ECHO, "--model", "oracle", "--limit", "5", "--model-arg", "top_k=3")
    assert "already done" not in other.stderr  # an argument that can change the answers is another run


def test_compare_two_runs_on_the_same_samples(cli, tmp_path):
    cli("run", "--task", ECHO, "--model", "oracle", "--limit", "20", "--run-name", "base")
    rows = [{"id": f"n{i:05d}", "response": str(2 * i if i >= 6 else -1)} for i in range(20)]
    preds = write_jsonl(tmp_path / "p.jsonl", rows)
    cli("run", "--task", ECHO, "--model", f"replay:{preds}", "--limit", "20", "--run-name", "cand")
    out = json.loads(cli("compare", "base", "cand", "--format", "json").stdout)
    assert out["samples"] == 20 and out["worse"] == 6 and out["better"] == 0
    assert out["difference"] == pytest.approx(-6 / 20)
    assert out["p_value"] == pytest.approx(2 / 2**6)
    assert "6 worse" in cli("compare", "base", "cand").stdout


def test_moving_the_predictions_file_keeps_the_run(cli, tmp_path):
    rows = [{"id": f"n{i:05d}", "response": str(2 * i)} for i in range(4)]
    first = write_jsonl(tmp_path / "a.jsonl", rows)
    cli("run", "--task", ECHO, "--model", f"replay:{first}", "--limit", "4", "--run-name", "mine")
    (tmp_path / "elsewhere").mkdir()
    moved = first.rename(tmp_path / "elsewhere" / "a.jsonl")
    again = cli("run", "--task", ECHO, "--model", f"replay:{moved}", "--limit", "4", "--run-name", "mine")
    assert "4 attempts were already done" in again.stderr


def _start_slow_grading(store: Path) -> subprocess.Popen:
    """A run whose every grade takes 30 s, returned once both graders are inside one (each grading writes a line
    to a log as it starts: a fixed sleep after the run appeared could end before, on a loaded machine)."""
    log = store.with_name("gradings.log")
    env = {"ECHO_TASK_SIZE": "20", "ECHO_TASK_DELAY": "30", "ECHO_TASK_GRADING_LOG": str(log)}
    proc = _start(store, "--task", ECHO, "--model", "oracle", "--run-name", "slow", env_extra=env)
    started = lambda: len(log.read_text().splitlines()) if log.exists() else 0  # noqa: E731
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and started() < 2:
        time.sleep(0.05)
    if proc.poll() is not None:
        raise AssertionError(f"the run ended before its graders started: {proc.communicate()[1]}")
    assert started() >= 2, f"{started()} gradings started within 60 s"
    return proc


def _wait_for_status(store: Path, run: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(store)) as conn:
            if conn.execute("SELECT status FROM runs WHERE name = ?", (run,)).fetchone() == (status,):
                return
        time.sleep(0.05)
    raise AssertionError(f"run {run} not {status} after {timeout} s")


def test_ctrl_c_while_samples_are_being_graded_stops_within_seconds(tmp_path):
    store = tmp_path / "slow.sqlite"
    proc = _start_slow_grading(store)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 12
    assert proc.returncode == 130 and "Resume with the same command" in err
    assert Store(store).get_run("slow").status == "interrupted"
    # what was generated is kept: resuming asks the model nothing again
    kept = sqlite3.connect(store).execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert kept >= 2


def test_a_second_ctrl_c_cuts_the_wait_short(tmp_path):
    store = tmp_path / "slow.sqlite"
    proc = _start_slow_grading(store)
    proc.send_signal(signal.SIGINT)
    # the second Ctrl-C once the first is being handled (after a fixed 0.5 s it could come before, on a loaded
    # machine): the run is marked interrupted inside the wind-down, where a second Ctrl-C cuts the waiting short
    _wait_for_status(store, "slow", "interrupted")
    second = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - second < 3
    assert proc.returncode == 130 and "Resume with the same command" in err and "Aborted" not in err
    assert Store(store).get_run("slow").status == "interrupted"


class InterruptingModel(CountingModel):
    """Answers, and presses Ctrl-C (in the main thread) at its first call; remembers being closed."""

    def __init__(self):
        super().__init__()
        self.closed = False

    def generate(self, requests):
        if not self.calls:
            import _thread

            _thread.interrupt_main()
        return super().generate(requests)

    def close(self):
        self.closed = True


class LockedOnce(Store):
    """A store whose first write of the run status `status` finds the lock held past its timeout (another
    process writing for over 30 s)."""

    def __init__(self, path, status: str):
        super().__init__(path)
        self.status, self.refused = status, 0

    def set_run_status(self, name, status):
        if status == self.status and not self.refused:
            self.refused += 1
            raise sqlite3.OperationalError("database is locked")
        super().set_run_status(name, status)


def test_ctrl_c_while_the_store_is_locked_past_its_timeout_still_winds_the_run_down(tmp_path):
    store = LockedOnce(tmp_path / "s.sqlite", "interrupted")
    model = InterruptingModel()
    try:
        summary = run_direct(store, model, "locked")
    except KeyboardInterrupt:  # never let it reach pytest
        pytest.fail("the Ctrl-C escaped the run")
    assert summary.interrupted and store.refused == 1
    assert model.closed  # the run was closed: its pools and containers too
    assert store.get_run("locked").status == "interrupted"  # written once the run was wound down


def test_a_run_that_fails_while_the_store_is_locked_is_closed_and_raises_its_own_error(tmp_path, monkeypatch):
    from harness.task import TaskError

    def cannot_open(self, ctx):
        raise TaskError("the image cannot be built")

    monkeypatch.setattr(type(get_task(ECHO)), "open", cannot_open)
    store = LockedOnce(tmp_path / "s.sqlite", "failed")
    model = InterruptingModel()
    model.calls = 1  # no Ctrl-C from this one
    with pytest.raises(TaskError, match="the image cannot be built"):
        run_direct(store, model, "locked")
    assert store.refused == 1 and model.closed
