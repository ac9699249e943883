"""The command line as a user meets it: list, generate, smoke, help, and environment variables."""

from __future__ import annotations

import json

from harness.registry import get_task
from harness.task import LoadOptions


def test_list_shows_tasks_with_splits_and_sizes(cli):
    out = cli("list").stdout
    line = next(l for l in out.splitlines() if l.startswith("tmbench"))
    assert "greek" in line and "100" in line


def test_smoke_suite_evaluates_the_embedded_models(cli):
    lines = cli("smoke").stdout.splitlines()
    oracle = next(l for l in lines if l.startswith("tmbench-") and " oracle " in l)
    replay = next(l for l in lines if l.startswith("tmbench-") and "replay:smoke_predictions.jsonl" in l)
    assert "100 [100, 100]" in oracle  # SWA of the reference answers
    assert "100 [100, 100]" not in replay  # the recorded imperfect model loses points
    coffe = [l.split() for l in lines if l.startswith("coffe-function-")]
    if coffe:  # where a Docker engine answers: the oracle passes everything, the recorded model does not
        assert coffe[0][1] == "oracle" and coffe[0][2] == "1"
        assert coffe[1][2] != "1"


def test_generate_writes_instances_the_task_can_load(cli, tmp_path):
    out = tmp_path / "new.jsonl"
    cli("generate", "tmbench", "-p", "count=12", "-p", "steps=8", "-p", "seed=7", "-o", str(out))
    samples = list(get_task("tmbench").samples(LoadOptions(data=str(out))))
    assert len(samples) == 12 and all(len(s.reference) <= 9 for s in samples)
    cli("run", "--task", "tmbench", "--model", "oracle", "--data", str(out))
    assert cli.report()["counts"]["pass"] == 12


def test_generate_rejects_unknown_parameters(cli):
    r = cli("generate", "tmbench", "-p", "colour=blue", ok=False)
    assert r.exit_code == 1 and "unknown parameter" in r.output and "count" in r.output


def test_options_come_from_the_environment(cli, monkeypatch):
    monkeypatch.setenv("HARNESS_TASK", "tmbench")
    monkeypatch.setenv("HARNESS_MODEL", "oracle")
    monkeypatch.setenv("HARNESS_LIMIT", "3")
    cli("run")
    rep = cli.report()
    assert rep["counts"]["pass"] == 3 and rep["model"] == "oracle"


def test_help_names_every_run_option_and_its_variable(cli):
    out = cli("run", "--help").stdout
    for option, env in [("--task", "HARNESS_TASK"), ("--model", "HARNESS_MODEL"), ("--limit", "HARNESS_LIMIT"),
                        ("--samples", "HARNESS_SAMPLES"), ("--data", "HARNESS_DATA"), ("--fresh", "HARNESS_FRESH")]:
        assert option in out and env in out


def test_report_without_runs_says_how_to_start(cli):
    r = cli("report", ok=False)
    assert r.exit_code == 1 and "no runs" in r.output and "harness run" in r.output


def test_report_json_is_pipeable(cli):
    cli("run", "--task", "tmbench", "--model", "oracle", "--limit", "2")
    data = json.loads(cli("report", "--format", "json").stdout)
    assert data["metrics"]["pass"] == 2 and data["intervals"]["pass_rate"][1] == 1.0
