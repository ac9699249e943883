"""The judge model (--judge-model) through the engine: built by the adapter factory, asked through the store's
response cache with the adapter's retries, and part of the verdict key. The official openai client against a
real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from harness.cli import main
from harness.judge import Judge
from harness.models import make_adapter
from harness.registry import get_task
from harness.store import Store
from harness.types import GenParams, Prompt

from tests.conftest import REPO, write_jsonl

TASK = str(REPO / "tests" / "fixtures" / "judged_task")


def judge_says_yes_to_hello(server):
    def reply(hit):
        asked = hit.user_text()
        who = re.search(r"addressed to (\w+)\?", asked).group(1)
        return server.Reply(200, server.chat_body("YES" if f"Hello, {who}" in asked else "NO"))
    server.fallback = reply


def cli(store, *args):
    return CliRunner().invoke(main, ["--store", str(store), *args], catch_exceptions=False)


def test_a_run_graded_by_a_judge_caches_and_keys_by_the_judge(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge-0000")
    judge_says_yes_to_hello(server)
    store = tmp_path / "s.sqlite"
    common = ("--task", TASK, "--judge-base-url", server.url + "/v1", "--judge-model", "openai:judge-a")
    first = cli(store, "run", "--model", "oracle", *common)
    assert first.exit_code == 0, first.output
    assert len(server.hits) == 5
    rep = json.loads(cli(store, "report", "--format", "json").output)
    assert rep["counts"]["pass"] == 5 and rep["record"]["judge"]["spec"] == "openai:judge-a"
    # another model: two answers differ; only those two are judged again
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": f"greet{i}", "response": r} for i, r in enumerate(
        ["Hello, Ada!", "Hello, Alan!", "Goodbye.", "Hello, Edsger!", "Hi there"])])
    second = cli(store, "run", "--model", f"replay:{preds}", *common)
    assert second.exit_code == 0, second.output
    assert len(server.hits) == 7
    rep = json.loads(cli(store, "report", "--format", "json").output)
    assert rep["counts"]["pass"] == 3 and rep["counts"]["fail"] == 2
    # another judge: every verdict it influences is its own
    third = cli(store, "run", "--model", "oracle", *common[:-1], "openai:judge-b")
    assert third.exit_code == 0, third.output
    assert len(server.hits) == 12


def test_a_task_without_a_judge_refuses_one(tmp_path):
    out = cli(tmp_path / "s.sqlite", "run", "--task", "tmbench", "--model", "oracle", "--judge-model", "oracle")
    assert out.exit_code == 1 and "does not grade with a judge" in out.output


def test_the_judge_retries_and_answers_from_the_store_the_second_time(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge-0000")
    server.push(server.openai_error(500, "overloaded"))
    server.fallback = lambda hit: server.Reply(200, server.chat_body("YES"))
    task = get_task(TASK)
    adapter = make_adapter("openai:judge", GenParams(extra=(("backoff", "0.01"),)), task,
                           base_url=server.url + "/v1")
    judge = Judge(adapter, GenParams(), Store(tmp_path / "s.sqlite"))
    prompt = Prompt.chat("Is 'Hello, Ada!' a greeting? Answer YES or NO.")
    assert judge.ask(prompt).text == "YES"
    assert len(server.hits) == 2  # the 500, then the answer
    assert judge.ask(prompt).text == "YES" and len(server.hits) == 2  # from the store
    assert judge.calls == 1
