"""`replay:` on COFFE's own prediction files, `{prompt: [[outputs...], valid_flag]}`: matched by the prompt each
request carries, outputs as attempts, invalid prompts withdrawn from the metrics (through the CLI, with a grader of
the test's own), bad entries named.  (Grading such a file in the sandbox through the CLI: tests/coffe/test_grading.py.)"""

from __future__ import annotations

import json

import pytest

from harness.models import ModelError
from harness.models.replay import ReplayModel
from harness.registry import get_task
from harness.task import LoadOptions, load_template
from harness.types import GenParams, Request, Status, Verdict

TASK = get_task("coffe")
SAMPLES = list(TASK.samples(LoadOptions(split="function", data=str(TASK.folder / "fixtures"))))
TEMPLATE, _ = load_template(TASK.template_path())


def requests(n: int = 2) -> list[Request]:
    return [Request(s, TASK.render(s, TEMPLATE), tuple(range(n))) for s in SAMPLES]


def model(tmp_path, content) -> ReplayModel:
    path = tmp_path / "GPT-X.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return ReplayModel(f"replay:{path}", GenParams(), str(path))


def test_a_coffe_file_is_matched_by_prompt_with_its_outputs_as_attempts(tmp_path):
    he0, he1, mb1, mb2 = (s.inputs["prompt"] for s in SAMPLES)
    m = model(tmp_path, {he0: [["first", "second"], True], he1: ["a single string", True], mb1: [["x"], False],
                         "a prompt of another benchmark": [["y"], True]})
    out = {req.sample.id: [r.text for r in rs] for req, rs in zip(requests(), m.generate(requests()))}
    assert out["HumanEval/0"] == ["first", "second"]
    assert out["HumanEval/1"] == ["a single string", ""]  # one output: the second attempt has none
    assert out["Mbpp/1"] == ["", ""]  # valid_flag false: withdrawn, as COFFE's pipeline skips the prompt
    assert out["Mbpp/2"] == ["", ""]  # not in the file
    usage = [r.usage for rs in m.generate(requests()) for r in rs]
    assert [u.get("missing_prediction") for u in usage] == [None, None, None, 1, None, None, 1, 1]
    assert [bool(u.get("withdrawn")) for u in usage] == [False] * 4 + [True, True] + [False] * 2
    assert "valid_flag false" in usage[4]["withdrawn"]
    assert m.fingerprint()["sha256"] and mb2 not in m.predictions


def test_a_jsonl_file_with_one_line_is_still_jsonl(tmp_path):
    m = model(tmp_path, json.dumps({"id": "HumanEval/0", "response": "def f(): pass"}) + "\n")
    assert not m.by_prompt and m.predictions == {"HumanEval/0": ["def f(): pass"]}


@pytest.mark.parametrize("entry,words", [
    ([["ok"], "yes"], ["entry 0", "valid_flag"]),
    ([["ok", 3], True], ["entry 0", "every output must be a string"]),
])
def test_bad_coffe_entries_name_the_entry_and_the_field(tmp_path, entry, words):
    with pytest.raises(ModelError) as err:
        model(tmp_path, {SAMPLES[0].inputs["prompt"]: entry})
    assert all(w in str(err.value) for w in words), str(err.value)


@pytest.fixture
def graded(monkeypatch) -> list[str]:
    """COFFE graded on the host by the test's own grader (no sandbox needed): the ids of the samples it grades."""
    seen: list[str] = []

    def grade(self, sample, answer):
        seen.append(sample.id)
        ok = "return" in answer.canonical
        return Verdict(Status.PASS if ok else Status.FAIL, float(ok), {"efficiency": {"skipped": "off"}})

    monkeypatch.setattr(type(TASK), "unavailable", lambda self: None)
    monkeypatch.setattr(type(TASK), "grade", grade)
    return seen


def test_a_withdrawn_prompt_is_ungradable_with_the_reason_through_the_cli(cli, tmp_path, graded):
    """valid_flag false: left out of the metrics (ungradable, not a failure), never graded, said by the run, the
    report and `harness show`; another run of the same file withdraws it again (nothing cached as its answer)."""
    he0, he1, mb1, _ = (s.inputs["prompt"] for s in SAMPLES)
    path = tmp_path / "GPT-X.json"
    path.write_text(json.dumps({he0: [["```python\ndef sum_of_squares(nums):\n    return 1\n```"], True],
                                he1: [["no code"], True], mb1: [["```python\nprint(1)\n```"], False]}))
    fixture = str(TASK.folder / "fixtures")
    out = cli("run", "--task", "coffe", "--model", f"replay:{path}", "--data", fixture, "-T", "efficiency=off")
    assert "1 attempt was withdrawn by the model adapter" in out.output and "valid_flag false" in out.output
    assert "1 of 4 attempts had no prediction" in out.output  # Mbpp/2 is not in the file
    assert "Mbpp/1" not in graded and sorted(graded) == ["HumanEval/0", "HumanEval/1", "Mbpp/2"]
    rep = cli.report()
    assert rep["counts"]["ungradable"] == 1 and rep["metric_counts"]["ungradable"] == 1
    assert rep["metric_counts"]["problems"] == 3  # Mbpp/1 is in no denominator
    assert rep["metrics"]["pass@1"] == pytest.approx(1 / 3) and rep["metrics"]["pass@1[MBPP]"] == 0
    assert "valid_flag false" in next(iter(rep["withdrawn"]))
    table = cli("report").stdout
    assert "1 attempt was withdrawn by the model adapter, left out of the metrics" in table
    shown = cli("show", rep["run"], "Mbpp/1").stdout
    assert "UNGRADABLE" in shown and "withdrawn from the metrics by the model adapter" in shown
    detail = json.loads(cli("show", rep["run"], "Mbpp/1", "--format", "json").stdout)["attempts"][0]
    assert detail["status"] == "ungradable" and detail["response"] is None  # not stored as an (empty) answer
    assert "valid_flag false" in detail["details"]["reason"]

    graded.clear()
    cli("run", "--task", "coffe", "--model", f"replay:{path}", "--data", fixture, "-T", "efficiency=off",
        "--run-name", "again")
    again = cli.report("again")
    assert again["counts"]["ungradable"] == 1 and again["metrics"]["pass@1"] == pytest.approx(1 / 3)
    assert graded == []  # every verdict came from the cache, none for Mbpp/1 as a model's answer


def test_a_file_that_matches_no_prompt_shows_a_short_example(cli, tmp_path, graded):
    prompt = "from typing import List\n\n\ndef other(nums: List[int]) -> int:\n" + "    # long\n" * 50
    path = tmp_path / "GPT-X.json"
    path.write_text(json.dumps({prompt: [["x"], True]}))
    out = cli("run", "--task", "coffe", "--model", f"replay:{path}", "--data", str(TASK.folder / "fixtures"),
              "-T", "efficiency=off", ok=False)
    assert out.exit_code == 1 and "none of the 4 attempts has a prediction" in out.output
    assert "prompts begin like 'from typing import List def other(nums: List[int]) -> int...'" in out.output
    assert "# long # long" not in out.output and "first sample is 'HumanEval/0'" in out.output
    assert "matched by the exact prompt" in out.output
