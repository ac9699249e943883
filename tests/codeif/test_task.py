"""CodeIF through the real CLI and store: the oracle scores full marks on the project's own tasks, the example
answers break what they were written to break, metadata reaches the store, and the judge -- the official openai
client against a real HTTP server on 127.0.0.1 -- is asked once per task, retried on a reply of the wrong
length and then recorded as unjudged, cached, keyed into the verdicts, and compared with the checkers."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from harness.store import Store
from tests.codeif.conftest import FIXTURES, TASK, codeif_module
from tests.conftest import SHARED_DATA
from tests.models.conftest import FakeServer

judge = codeif_module("judge")

QUESTIONS = str(FIXTURES / "questions.jsonl")
PREDICTIONS = FIXTURES / "smoke_predictions.jsonl"


def expected_answers() -> dict[str, dict]:
    spec = importlib.util.spec_from_file_location("codeif_fixture_build", FIXTURES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECTED


@pytest.fixture
def server():
    srv = FakeServer().start()
    try:
        yield srv
    finally:
        srv.close()


def constraints(cli, run: str, sample: str) -> list[dict]:
    shown = json.loads(cli("show", run, sample, "--format", "json").stdout)
    return shown["attempts"][0]["details"]["constraints"]


def test_the_oracle_meets_every_constraint_of_the_projects_tasks(cli):
    cli("run", "--task", "codeif", "--model", "oracle", "--data", QUESTIONS, "-T", "judge=static")
    rep = cli.report()
    assert rep["metrics"]["CSR"] == 1.0 and rep["metrics"]["SSR"] == 1.0 and rep["metrics"]["RSR"] == 1.0
    assert rep["metrics"]["CCSR"] == 1.0 and rep["metric_counts"]["unjudged"] == 0
    assert rep["counts"]["pass"] == 8
    # metadata per task reaches the store, for the site's breakdowns and the gate's clustering
    store = Store(cli.store)
    meta = {sid: m for sid, _, _, m in store.run_samples(rep["run"])}
    assert meta["5"]["language"] == "cpp" and meta["5"]["difficulty"] == "easy"
    assert meta["5"]["categories"][:3] == ["global", "file", "class"]
    assert rep["metrics"]["SSR[language=cpp]"] == 1.0 and "SSR[category=combination]" in rep["metrics"]


def test_the_example_answers_break_exactly_what_they_were_written_to_break(cli):
    cli("run", "--task", "codeif", "--model", f"replay:{PREDICTIONS}", "--data", QUESTIONS, "-T", "judge=static")
    run = cli.report()["run"]
    for sample, expected in expected_answers().items():
        got = constraints(cli, run, sample)
        broken = [c["i"] for c in got if c["static"] == "no"]
        assert broken == expected["no"], (sample, [(c["i"], c["reason"]) for c in got if c["static"] != "yes"])
        undecided = [c["i"] for c in got if c["static"] == "undecided"]
        if isinstance(expected["undecided"], list):
            assert undecided == expected["undecided"], (sample, undecided)
        else:
            assert len(undecided) >= len(got) - 2, (sample, undecided)
        assert all(c["answer"] == ("unjudged" if c["static"] == "undecided" else c["static"]) for c in got)


def requirement_count(prompt: str) -> int:
    """How many numbered requirements a judge prompt lists (ours or the official wording)."""
    m = re.search(r"(?:# Requirements|Instructions:)\n(.*?)\n(?:# Answer under review|Model-generated code:)", prompt,
                  re.DOTALL)
    return len(re.findall(r"^\d+\. ", m.group(1), re.MULTILINE))


def scripted_judge(server: FakeServer, wrong_length_for: str = "Score a list", say: str = "Yes") -> None:
    def reply(hit):
        prompt = hit.user_text()
        n = requirement_count(prompt)
        if wrong_length_for and wrong_length_for in prompt:
            n += 1
        return server.Reply(200, server.chat_body("[" + ", ".join([f"'{say}'"] * n) + "]"))
    server.fallback = reply


def test_hybrid_asks_the_judge_only_where_the_checkers_cannot_decide(cli, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge-0000")
    scripted_judge(server)
    judge_args = ("--judge-model", "openai:judge-a", "--judge-base-url", server.url + "/v1")
    common = ("run", "--task", "codeif", "--model", f"replay:{PREDICTIONS}", "--data", QUESTIONS)
    cli(*common, *judge_args)
    # tasks 4, 6 and 8 have constraints the checkers leave open; task 4's replies are one entry too long, three
    # times (the first try and two more), and its open constraints are then recorded as unjudged
    assert len(server.hits) == 1 + 1 + 3
    rep = cli.report()
    run = rep["run"]
    task4 = constraints(cli, run, "4")
    assert {c["answer"] for c in task4 if c["static"] == "undecided"} == {"unjudged"}
    shown = json.loads(cli("show", run, "4", "--format", "json").stdout)["attempts"][0]["details"]["judge"]
    assert shown["tries"] == 3 and "entries, not 15" in shown["problem"]
    task6 = constraints(cli, run, "6")
    assert [c["by"] for c in task6 if c["static"] == "undecided"] == ["judge", "judge"]
    assert all(c["judge"] == "yes" for c in task6)  # asked about every constraint, for the agreement report
    counts = rep["metric_counts"]
    assert counts["unjudged"] == sum(c["static"] == "undecided" for c in task4) and counts["decided_by_judge"] == 15
    # the judge said yes to everything: it disagrees with each "no" of the checkers on tasks 6 and 8
    assert counts["checker_no_judge_yes"] == 2 and rep["metrics"]["agreement"] < 1
    assert rep["record"]["judge"]["spec"] == "openai:judge-a"
    # the same command again: nothing is asked twice
    cli(*common, *judge_args)
    assert len(server.hits) == 5
    # llm mode: the judge alone, for every task; the prompts of 4, 6 and 8 are the same, so their replies are reused
    cli(*common, *judge_args, "-T", "judge=llm")
    assert len(server.hits) == 5 + 5
    rep = cli.report()
    assert rep["metric_counts"]["decided_by_checkers"] == 0
    assert rep["metric_counts"]["agreement_pairs"] > 0 and "agreement[template=1]" in rep["metrics"]
    # another judge grades again
    cli(*common, "--judge-model", "openai:judge-b", "--judge-base-url", server.url + "/v1")
    assert len(server.hits) == 10 + 5


def test_another_judge_prompt_is_a_new_grading(cli, server, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge-0000")
    scripted_judge(server, wrong_length_for="")
    official = SHARED_DATA / "codeif" / "prompts" / "judge_en.txt"
    template = tmp_path / "judge.txt"
    if official.is_file():
        template.write_text(official.read_text(encoding="utf-8"), encoding="utf-8")
    else:  # a fresh clone has no ../shared: a template of the same shape
        template.write_text("Question:\n{question}\n\nInstructions:\n{instructions_str}\n\nModel-generated code:\n"
                            "{generated_code}\n\nReply with a list of 'Yes'/'No'.\n", encoding="utf-8")
    args = ("run", "--task", "codeif", "--model", f"replay:{PREDICTIONS}", "--data", QUESTIONS, "-T", "judge=llm",
            "--judge-model", "openai:judge-a", "--judge-base-url", server.url + "/v1")
    cli(*args, "-T", f"judge_template={template}")
    assert len(server.hits) == 8
    assert "Model-generated code:" in server.hits[0].user_text()
    rep = cli.report()
    assert rep["metric_counts"]["unjudged"] == 0 and rep["metrics"]["SSR"] == 1.0  # a judge that says Yes to all
    cli(*args, "-T", f"judge_template={template}")  # the same prompt: every verdict reused, nothing asked
    assert len(server.hits) == 8
    # the same file, other contents: a new judge prompt, so every task is judged (and its verdict made) again
    template.write_text(template.read_text(encoding="utf-8") + "\nBe strict.\n", encoding="utf-8")
    cli(*args, "-T", f"judge_template={template}")
    assert len(server.hits) == 16 and "Be strict." in server.hits[-1].user_text()
    # our own prompt is yet another grading
    cli(*args)
    assert len(server.hits) == 24 and "# Requirements" in server.hits[-1].user_text()
    bad = tmp_path / "bad.txt"
    bad.write_text("no placeholders here", encoding="utf-8")
    out = cli(*args, "-T", f"judge_template={bad}", ok=False)
    assert out.exit_code == 1 and "lacks the placeholder" in out.output


def test_a_judge_that_does_not_answer_is_infra_and_retried_on_resume(cli, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge-0000")
    server.fallback = lambda hit: server.openai_error(500, "overloaded")
    args = ("run", "--task", "codeif", "--model", f"replay:{PREDICTIONS}", "--data", QUESTIONS, "--limit", "4",
            "--judge-model", "openai:judge-a", "--judge-base-url", server.url + "/v1",
            "--judge-model-arg", "max_retries=1", "--judge-model-arg", "backoff=0.01")
    out = cli(*args, ok=False)
    assert out.exit_code == 3  # task 4 needs the judge; tasks 1-3 are decided by the checkers alone
    assert cli.report()["counts"]["infra"] == 1
    scripted_judge(server, wrong_length_for="")
    cli(*args)
    assert cli.report()["counts"]["infra"] == 0


def test_llm_mode_without_a_judge_is_refused(cli):
    out = cli("run", "--task", "codeif", "--model", "oracle", "--data", QUESTIONS, "-T", "judge=llm", ok=False)
    assert out.exit_code == 1 and "--judge-model" in out.output


@pytest.mark.parametrize("reply,count,values", [
    ("['Yes', 'No', 'Yes']", 3, (True, False, True)),
    ("[Yes, no, YES]", 3, (True, False, True)),
    ('<think>maybe ["No"]</think>Answer: ["Yes", "No"]', 2, (True, False)),
    ("First [No, No] then, corrected: ['Yes', 'Yes']", 2, (True, True)),
    ("['Yes', 'No',]", 2, (True, False)),
    ("[‘Yes’, “No”]", 2, (True, False)),  # typographic quotes
    ("[[\"Yes\", \"No\"]]", 2, (True, False)),
    ("Yes, No", 2, None),  # no list: asked again, then unjudged
    ("", 2, None),
    ("['Yes', 'No']", 3, None),
    ("I think all are met.", 2, None),
    ("['Yes', 'Maybe']", 2, None),
])
def test_the_judges_reply_is_read_robustly(reply, count, values):
    parsed = judge.parse_reply(reply, count)
    assert parsed.values == values
    if values is None:
        assert parsed.problem


def test_the_judge_prompt_holds_the_task_and_numbered_constraints():
    sample = next(iter(TASK.samples(__import__("harness.task", fromlist=["LoadOptions"]).LoadOptions(data=QUESTIONS))))
    template = judge.load_template(None)
    prompt = judge.render(template, sample.inputs["question"], sample.inputs["instructions"], "code {question}")
    text = prompt.text
    assert sample.inputs["question"] in text and "1. Your entire response" in text
    assert f"list of {len(sample.inputs['instructions'])} entries" in text
    assert "code {question}" in text  # a response is never substituted into


def test_a_response_utf8_cannot_encode_still_makes_a_judge_prompt():
    template = judge.load_template(None)
    prompt = judge.render(template, "q", ["Your code should use for-loop."], "```python\nx = '\ud800'\n```")
    assert prompt.key() and "\ufffd" in prompt.text  # hashing (and sending) the prompt needs UTF-8


def test_the_parsers_and_the_judge_prompt_are_in_every_verdict_key():
    sample = next(iter(TASK.samples(__import__("harness.task", fromlist=["LoadOptions"]).LoadOptions(data=QUESTIONS))))
    fingerprint = TASK.grader_fingerprint(sample)
    assert fingerprint["parsers"]["tree-sitter-python"] and fingerprint["parsers"]["tree-sitter-go"]
    assert fingerprint["judge_template"] == judge.load_template(None).sha256


def test_the_fixture_files_are_what_build_py_writes():
    spec = importlib.util.spec_from_file_location("codeif_fixture_build", FIXTURES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [json.loads(x) for x in open(FIXTURES / "questions.jsonl", encoding="utf-8")]
    assert rows == [module.row(t) for t in module.TASKS], "run python tasks/codeif/fixtures/build.py"
    answers = [json.loads(x) for x in open(PREDICTIONS, encoding="utf-8")]
    assert answers == [{"id": str(t["question_id"]), "response": t["answer"]} for t in module.TASKS]
