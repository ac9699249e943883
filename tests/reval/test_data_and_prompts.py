"""The loader (local files and the `datasets` path), rows that are wrong, the sample layout, prompts, and the
output answer's structure check."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from harness.task import LoadOptions, TaskError, load_template

from .conftest import FIXTURES, TASK, module, samples

data = module("data")
output_answer = module("output_answer")


def test_fixture_samples_layout():
    got = samples()
    # 3 programs x 2 inputs; atoms 3, 3, 4 per input -> 20 atoms; each asked in 3 tasks, plus 6 output items
    assert len(got) == 20 * 3 + 6
    s = got["DREval/2/1/state/3"]
    assert s.metadata == {"program": "DREval/2", "source": "ClassEval", "task": "state", "input": 1, "atom": 3}
    assert s.inputs["pair"]["atoms"][3] == [3, "self.count, self.history"]
    assert set(samples(task="output")) == {f"DREval/{i}/{k}/output" for i in range(3) for k in range(2)}


def _copy_fixtures(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("DREval_data.jsonl", "DREval_tasks.jsonl"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path


def _rewrite(path, n, change):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    change(rows[n])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("file, change, message", [
    ("DREval_data.jsonl", lambda r: r.pop("code"), "line 1: field 'code' is missing"),
    ("DREval_data.jsonl", lambda r: r.update(code="def f(:\n"), "line 1: field 'code' is not valid Python"),
    ("DREval_data.jsonl", lambda r: r.update(outputs=["1"]), "line 1: field 'outputs' has 1 entries for 2 inputs"),
    ("DREval_tasks.jsonl", lambda r: r["tasks"][0].update(input_idx=7), "line 1, tasks[0]: field 'input_idx' 7"),
    ("DREval_tasks.jsonl", lambda r: r["tasks"][1]["task"][0].update(lineno=99),
     "line 1, tasks[1].task[0]: field 'lineno' 99 is not a line of the program"),
    ("DREval_tasks.jsonl", lambda r: r["tasks"][0].update(output_pred="assert f(1) == 2"), "has no ?? to fill"),
    ("DREval_tasks.jsonl", lambda r: r.update(task_id="DREval/9"), "field 'task_id' 'DREval/9' names no program"),
])
def test_bad_rows_name_the_file_row_and_field(tmp_path, file, change, message):
    folder = _copy_fixtures(tmp_path)
    _rewrite(folder / file, 0, change)
    with pytest.raises(TaskError, match=re.escape(message)):
        samples(str(folder))
    assert file in str(pytest.raises(TaskError, samples, str(folder)).value)


def test_missing_folder_says_what_to_pass(tmp_path):
    with pytest.raises(TaskError, match="holds no DREval_data.jsonl"):
        samples(str(tmp_path))


def test_hub_path_reads_through_datasets(tmp_path):
    folder = _copy_fixtures(tmp_path / "repo")
    local = samples()
    via_hub = samples(f"hf:{folder}")
    assert via_hub.keys() == local.keys()
    assert all(via_hub[k].inputs == local[k].inputs for k in local)
    assert TASK.source(LoadOptions(data=f"hf:{folder}")).description == f"hf:{folder}"


def test_shared_data_counts_match_the_paper(shared_data):
    got = samples(str(shared_data / "reval"))
    by_task = {t: sum(1 for s in got.values() if s.metadata["task"] == t) for t in ("coverage", "state", "path",
                                                                                    "output")}
    assert by_task == {"coverage": 3152, "state": 3152, "path": 3152, "output": 690}
    programs = {s.metadata["program"]: s.metadata["source"] for s in got.values()}
    assert len(programs) == 154 and sum(v == "HumanEval" for v in programs.values()) == 85
    # the ClassEval inputs are the first test of each test class REval finds, and their setUp is found
    cls = [s for s in got.values() if s.metadata["source"] == "ClassEval" and s.metadata["task"] == "output"]
    assert len(cls) == 294


def test_our_prompt_and_the_official_templates(shared_data, tmp_path):
    task = TASK
    s = samples()["DREval/0/0/path/0"]
    ours = task.render(s, load_template(task.template_path())[0]).text
    assert "first_even_square([3, 5, 4, 7])" in ours and "4          seen += 1" in ours and "<answer>" in ours
    official = load_template(shared_data / "reval" / "prompts" / "direct_path.txt")[0]
    text = task.render(s, official).text
    # REval shows HumanEval code numbered in path prompts, the call as f(args), the line as written
    code = s.inputs["program"]["code"]
    numbered = "".join(f"{i + 1}\t{ln}\n" for i, ln in enumerate(code.split("\n")))
    raw = (shared_data / "reval" / "prompts" / "direct_path.txt").read_text()
    assert text == raw.format(code=numbered, invocation="first_even_square([3, 5, 4, 7])",
                              invocation_abbr="first_even_square([3, 5, 4, 7])", codeline="        seen += 1")
    c = samples()["DREval/2/0/coverage/0"]
    raw = (shared_data / "reval" / "prompts" / "direct_coverage.txt").read_text()
    setup = "\n# setup code executed previously\n        self.tally = Tally(10)\n# "
    assert task.render(c, load_template(shared_data / "reval" / "prompts" / "direct_coverage.txt")[0]).text == \
        raw.format(code=c.inputs["program"]["code"], invocation=setup + "\n" + c.inputs["pair"]["input_text"].rstrip(),
                   invocation_abbr="the above test code", line=9, codeline="        self.count += amount")
    # inserted code is not scanned for fields: a program containing "{line}" keeps it
    assert "{line}" not in raw.format(code="", invocation="", invocation_abbr="", codeline="", line=1, var="")


QUESTION = "x = T(1)\nassertEqual(x.f(), ??)\nassertIn(2, ??)"


@pytest.mark.parametrize("answer, official, holes, problem", [
    ("x = T(1)\nassertEqual(x.f(), 5)\nassertIn(2, [1, 2])", False, ("5", "[1, 2]"), ""),
    ("x = T(1)\nself.assertEqual(x.f(), 5)\nassertIn(2, {2})", False, ("5", "{2}"), ""),
    ("assertEqual(x.f(), 5)\nassertIn(2, [2])", False, ("5", "[2]"), ""),  # padded with the setup line
    ("x = T(2)\nassertEqual(x.f(), 5)\nassertIn(2, [2])", False, (), "differs from the question"),
    ("import os\nos._exit(0)\nassertIn(2, [2])", False, (), "differs from the question"),
    ("x = T(1)\nassertEqual(x.f(), 5)\nassertTrue(True)", False, (), "does not fill"),
    ("x = T(1)\nassertEqual(x.f(), ??)\nassertIn(2, [2])", False, (), "not Python"),
    ("x = T(1)\nassertEqual(x.f(), 5)\nassertIn(2, [2]) and assert True", True, (), "penalty"),
])
def test_output_answer_must_be_the_question_filled(answer, official, holes, problem):
    got = output_answer.fill(answer, QUESTION, official)
    assert got.holes == holes and problem in got.problem


def test_bare_value_for_a_one_hole_question():
    assert output_answer.fill("16", "assert f([3]) == ??", official=False).holes == ("16",)
    assert not output_answer.fill("16", "assert f([3]) == ??", official=True).ok  # REval: fewer asserts
