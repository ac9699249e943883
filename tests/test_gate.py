"""`harness gate` and `harness export` as CI meets them: real runs of the echo fixture through the CLI and the
SQLite store, exit codes, the baseline file, the step summary, JUnit XML, and the `make run` demo."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import gate_demo
from harness.gate import EXIT_INCONCLUSIVE, EXIT_PASS, EXIT_REGRESSION
from harness.store import Store

from .conftest import REPO, write_jsonl

ECHO = REPO / "tests" / "fixtures" / "echo_task"


def echo_run(cli, tmp_path: Path, name: str, wrong: set[int] = frozenset(), task: Path = ECHO,
             extra: tuple[str, ...] = (), ok: bool = True) -> str:
    """A run of the echo task (50 samples) answering 2i, except for the samples in `wrong`."""
    answers = [{"id": f"n{i:05d}", "response": f"The answer is {2 * i + (1 if i in wrong else 0)}"} for i in range(50)]
    path = write_jsonl(tmp_path / f"{name}.jsonl", answers)
    cli("run", "--task", str(task), "--model", f"replay:{path}", "--run-name", name, *extra, ok=ok)
    return name


@pytest.fixture
def runs(cli, tmp_path):
    return {"base": echo_run(cli, tmp_path, "base"), "same": echo_run(cli, tmp_path, "same", {40}),
            "worse": echo_run(cli, tmp_path, "worse", set(range(0, 50, 3)))}


def test_a_damaged_candidate_is_a_regression_with_its_evidence(cli, runs, tmp_path):
    junit, summary = tmp_path / "out" / "gate.xml", tmp_path / "summary.md"
    r = cli("gate", "--baseline", "base", "--candidate", "worse", "--junit", str(junit), "--summary", str(summary),
            ok=False)
    assert r.exit_code == EXIT_REGRESSION == 4
    out = r.stdout
    assert out.startswith("gate: REGRESSION (exit 4)")
    assert "echo/default pass@1: REGRESSION" in out and "McNemar mid-p" in out
    assert "17 passed only in the baseline, 0 only in the candidate" in out  # 17 of 50 answers damaged
    assert "fell most  n00000 (-1), n00003 (-1)" in out
    # JUnit: one test case per task and metric, the evidence in the failure
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuites" and suite.get("tests") == "1" and suite.get("failures") == "1"
    case = suite.find("testsuite/testcase")
    assert case.get("classname") == "echo/default" and case.get("name") == "pass@1"
    failure = case.find("failure")
    assert failure.get("type") == "regression" and failure.get("message").startswith("REGRESSION")
    assert "17 passed only in the baseline" in failure.text
    props = {p.get("name"): p.get("value") for p in case.find("properties")}
    assert float(props["difference"]) == pytest.approx(-0.34) and int(props["paired_samples"]) == 50
    # the step summary: a Markdown table, appended
    md = summary.read_text()
    assert md.startswith("### Evaluation gate: ❌ regression") and "| echo/default | pass@1 | 1 | 0.66 |" in md
    cli("gate", "--baseline", "base", "--candidate", "worse", "--summary", str(summary), ok=False)
    assert summary.read_text().count("### Evaluation gate") == 2


def test_a_run_too_small_for_the_effect_asked_is_inconclusive_else_pass(cli, runs):
    r = cli("gate", "--baseline", "base", "--candidate", "same", ok=False)
    assert r.exit_code == EXIT_INCONCLUSIVE == 5
    assert "INCONCLUSIVE" in r.stdout and "too small to tell" in r.stdout and "detects drops of 0.1" in r.stdout
    r = cli("gate", "--baseline", "base", "--candidate", "same", "--min-effect", "0.2")
    assert r.exit_code == EXIT_PASS and r.stdout.startswith("gate: PASS (exit 0)")


def test_json_output_and_several_metrics_are_holm_corrected(cli, runs):
    r = cli("gate", "-b", "base", "-c", "worse", "--metric", "pass@1", "--metric", "score", "--format", "json",
            ok=False)
    data = json.loads(r.stdout)
    assert data["outcome"] == "regression" and data["exit_code"] == 4
    a, b = data["comparisons"]
    assert (a["metric"], b["metric"]) == ("pass@1", "score")
    assert a["p_holm"] == pytest.approx(min(1, 2 * min(a["p_value"], b["p_value"])))
    assert a["discordant"] == [17, 0] and a["paired_samples"] == 50 and a["unpaired"]["only_in_baseline"] == []


def test_the_step_summary_goes_where_github_actions_says(cli, runs, tmp_path, monkeypatch):
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    cli("gate", "--baseline", "base", "--candidate", "same", "--min-effect", "0.2")
    assert "✅ pass" in summary.read_text()


def test_an_exported_baseline_gates_like_the_stored_run(cli, runs, tmp_path):
    baseline = tmp_path / "ci" / "baseline.json"
    r = cli("export", "base", "-o", str(baseline))
    assert "echo/default: 50 samples" in r.stderr
    text = baseline.read_text()
    cli("export", "base", "-o", str(baseline))
    assert baseline.read_text() == text  # the same run exports to the same bytes
    data = json.loads(text)
    assert data["format"] == "harness-gate-baseline" and data["format_version"] == 1
    (run,) = data["runs"]
    assert run["task"]["name"] == "echo" and run["task"]["version"] == "1" and len(run["samples"]) == 50
    assert run["samples"][0] == {"id": "n00000", "hash": run["samples"][0]["hash"], "metadata": {"parity": "even"},
                                 "attempts": [["pass", 1.0]]}
    assert len(text.splitlines()) < 80  # one sample per line
    from_file = json.loads(cli("gate", "-b", str(baseline), "-c", "worse", "--format", "json", ok=False).stdout)
    from_store = json.loads(cli("gate", "-b", "base", "-c", "worse", "--format", "json", ok=False).stdout)
    for result in (from_file, from_store):
        for c in result["comparisons"]:
            c["baseline"].pop("source")
    assert from_file == from_store


def test_an_edited_or_newer_baseline_file_is_refused(cli, runs, tmp_path):
    baseline = tmp_path / "baseline.json"
    cli("export", "base", "-o", str(baseline))
    text = baseline.read_text()
    baseline.write_text(text.replace('"attempts": [["pass", 1.0]]', '"attempts": [["fail", 0.0]]', 1))
    r = cli("gate", "-b", str(baseline), "-c", "worse", ok=False)
    assert r.exit_code == 1 and "was edited" in r.output and "harness export" in r.output
    baseline.write_text(text.replace('"format_version": 1', '"format_version": 2'))
    r = cli("gate", "-b", str(baseline), "-c", "worse", ok=False)
    assert r.exit_code == 1 and "upgrade the harness" in r.output
    baseline.write_text(text.replace('"model": "replay', '"model": 7, "x": "', 1))
    r = cli("gate", "-b", str(baseline), "-c", "worse", ok=False)
    assert r.exit_code == 1 and "run 0 (base): field 'model' has the wrong type" in r.output


def test_a_baseline_of_another_task_version_or_data_is_refused(cli, runs, tmp_path):
    folder = shutil.copytree(ECHO, tmp_path / "echo_v2", ignore=shutil.ignore_patterns("__pycache__"))
    init = folder / "__init__.py"
    init.write_text(init.read_text().replace('version = "1"', 'version = "2"'))
    echo_run(cli, tmp_path, "v2", task=folder)
    r = cli("gate", "-b", "base", "-c", "v2", ok=False)
    assert r.exit_code == 1 and "measure different things" in r.output
    assert "task version: baseline 1, candidate 2" in r.output and "harness export" in r.output
    data = write_jsonl(tmp_path / "data.jsonl", [{"id": f"n{i:05d}", "x": i, "expected": 2 * i} for i in range(50)])
    echo_run(cli, tmp_path, "other-data", extra=("--data", str(data)))
    r = cli("gate", "-b", "base", "-c", "other-data", ok=False)
    assert r.exit_code == 1 and "data: baseline" in r.output


def test_a_prompt_change_is_gated_and_shown(cli, runs, tmp_path):
    template = tmp_path / "prompt.jinja"
    template.write_text((ECHO / "prompt.jinja").read_text() + "\nThink first.\n")
    echo_run(cli, tmp_path, "new-prompt", set(range(0, 50, 3)), extra=("--prompt-template", str(template)))
    r = cli("gate", "-b", "base", "-c", "new-prompt", ok=False)
    assert r.exit_code == EXIT_REGRESSION and "changed    prompt:" in r.stdout


def test_infra_failures_make_the_gate_inconclusive_never_a_regression(cli, runs, tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_TASK_BROKEN_GRADER", "1")  # the grader raises: every attempt is infra
    r = echo_run(cli, tmp_path, "broken", extra=("--fresh",), ok=False)
    monkeypatch.delenv("ECHO_TASK_BROKEN_GRADER")
    out = cli("gate", "-b", "base", "-c", r, ok=False)
    assert out.exit_code == EXIT_INCONCLUSIVE and "50 of the candidate's 50 attempts hit infrastructure" in out.stdout


def test_clusters_come_from_stored_metadata(cli, runs):
    r = cli("gate", "-b", "base", "-c", "worse", "--cluster", "parity", ok=False)
    assert r.exit_code == EXIT_INCONCLUSIVE  # two clusters (even, odd): no drop could be credible
    assert "over 2 clusters of 'parity'" in r.stdout and "detects no drop at all" in r.stdout
    r = cli("gate", "-b", "base", "-c", "worse", "--cluster", "repo", ok=False)
    assert r.exit_code == 1 and "no metadata 'repo'" in r.output and "metadata_keys" in r.output


def test_missing_runs_and_help(cli, runs):
    r = cli("gate", "-b", "nope", "-c", "worse", ok=False)
    assert r.exit_code == 1 and "no run named 'nope'" in r.output and "base" in r.output
    help_text = cli("gate", "--help").stdout
    for code in ("0  pass", "4  regression", "5  inconclusive", "1  the gate cannot be made"):
        assert code in help_text
    assert "HARNESS_GATE_BASELINE" in help_text and "GITHUB_STEP_SUMMARY" in help_text


def test_the_make_run_demo_gates_the_oracle_against_a_damaged_oracle(tmp_path):
    text = gate_demo(Store(tmp_path / "store.sqlite"))
    assert "gate: REGRESSION (exit 4)" in text
    assert "tmbench/default pass@1: REGRESSION" in text and "tmbench/default score: REGRESSION" in text
    assert "7 passed only in the baseline, 0 only in the candidate" in text


def test_one_baseline_file_gates_several_tasks(cli, runs, tmp_path):
    cli("run", "--task", "tmbench", "--model", "oracle", "--limit", "5", "--run-name", "tm")
    baseline = tmp_path / "baseline.json"
    cli("export", "base", "tm", "-o", str(baseline))
    data = json.loads(cli("gate", "-b", str(baseline), "-c", "worse", "-c", "tm", "--format", "json",
                          ok=False).stdout)
    assert [c["task"] for c in data["comparisons"]] == ["echo/default", "tmbench/default"]
    assert data["outcome"] == "regression" and data["not_gated"] == []
    # a baseline with no candidate is said, not skipped in silence
    r = cli("gate", "-b", str(baseline), "-c", "worse", ok=False)
    assert r.exit_code == EXIT_REGRESSION and "not gated: the baseline of tmbench/default (tm)" in r.stdout
    r = cli("export", "base", "same", ok=False)
    assert r.exit_code == 1 and "one per task" in r.output


def test_a_better_candidate_passes(cli, runs):
    # the damaged run as baseline: the candidate fixed 17 of 50 samples and broke none; 50 samples could not
    # detect a 5-point drop, but the rise is credible, so no drop is possible
    r = cli("gate", "-b", "worse", "-c", "base")
    assert r.exit_code == EXIT_PASS and r.stdout.startswith("gate: PASS (exit 0)") and "credibly better" in r.stdout


def test_junit_has_one_valid_case_per_task_and_metric(cli, runs, tmp_path):
    cli("run", "--task", "tmbench", "--model", "oracle", "--limit", "5", "--run-name", "tm")
    baseline, junit = tmp_path / "baseline.json", tmp_path / "gate.xml"
    cli("export", "base", "tm", "-o", str(baseline))
    r = cli("gate", "-b", str(baseline), "-c", "worse", "-c", "tm", "--metric", "pass@1", "--metric", "score",
            "--junit", str(junit), ok=False)
    assert r.exit_code == EXIT_REGRESSION
    root = ET.fromstring(junit.read_bytes())  # well-formed, with its XML declaration
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert sorted((c.get("classname"), c.get("name")) for c in cases) == [
        ("echo/default", "pass@1"), ("echo/default", "score"), ("tmbench/default", "pass@1"),
        ("tmbench/default", "score")]
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert {c.get("classname") for c in failures} == {"echo/default"}  # the echo run regressed on both metrics
    assert {c.get("classname") for c in skipped} == {"tmbench/default"}  # 5 identical samples: too few to tell
    for node in (root, suite):
        assert (node.get("tests"), node.get("failures"), node.get("skipped")) == ("4", "2", "2")
    for c in failures:
        assert "Holm" in c.find("failure").text and "passed only in the baseline" in c.find("failure").text


def test_a_baseline_file_is_pinned_and_checked(cli, runs, tmp_path):
    from harness.export import _samples_sha256

    baseline = tmp_path / "baseline.json"
    cli("export", "base", "-o", str(baseline))
    text = baseline.read_text()
    # an edited pin (the task version) is refused like edited verdicts
    baseline.write_text(text.replace('"version": "1"', '"version": "2"', 1))
    r = cli("gate", "-b", str(baseline), "-c", "worse", ok=False)
    assert r.exit_code == 1 and "was edited" in r.output
    # a candidate of other task options (-T) than the baseline file's is refused, naming them
    echo_run(cli, tmp_path, "scaled", extra=("-T", "scale=3"))
    baseline.write_text(text)
    r = cli("gate", "-b", str(baseline), "-c", "scaled", ok=False)
    assert r.exit_code == 1 and "task options (-T)" in r.output and "harness export" in r.output
    # a score that is not a finite number is refused, even when the checksums were made to match
    data = json.loads(text)
    data["runs"][0]["samples"][0]["attempts"] = [["pass", float("nan")]]
    data["runs"][0]["samples_sha256"] = _samples_sha256(data["runs"][0]["samples"])
    baseline.write_text(json.dumps(data))
    r = cli("gate", "-b", str(baseline), "-c", "worse", ok=False)
    assert r.exit_code == 1 and "finite number" in r.output


def test_exporting_an_incomplete_run_warns(cli, runs, tmp_path):
    Store(tmp_path / "store.sqlite").set_run_status("base", "interrupted")
    r = cli("export", "base", "-o", str(tmp_path / "baseline.json"))
    assert "warning: run base is interrupted" in r.stderr and "a baseline should be a complete run" in r.stderr
    data = json.loads((tmp_path / "baseline.json").read_text())
    assert data["runs"][0]["status"] == "interrupted"
    r = cli("gate", "-b", str(tmp_path / "baseline.json"), "-c", "worse", ok=False)
    assert "base (replay" in r.stdout and "; interrupted;" in r.stdout  # the gate shows it too
