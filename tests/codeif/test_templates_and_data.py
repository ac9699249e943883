"""The instruction -> template matcher and the loader: near-variants, slot values, the release's 15,491
instructions, bad rows named by line and field, the hub path through `datasets`."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from harness.task import LoadOptions, TaskError
from tests.codeif.conftest import FIXTURES, TASK, codeif_module
from tests.conftest import write_jsonl

templates = codeif_module("templates")
data = codeif_module("data")


@pytest.mark.parametrize("text,template,slots", [
    ("Your code should define a class named `Solution`.", 34, {"class_name": "Solution"}),
    ("Your code should define a class named Box that implements the Shape interface.", 42,
     {"class_name": "Box", "interface_name": "Shape"}),
    ("Your code should be organized in a package named geo, which should contain these classes: A, B.", 47,
     {"package_name": "geo", "class_name_list": ("A", "B")}),
    ("Your code should be organized in a package named geo which should contain these functions .", 36,
     {"package_name": "geo"}),
    ("Your code should import the following libraries ['numpy', 'pandas'].", 37, {"library_list": ("numpy", "pandas")}),
    ("Your code should import the following libraries: `iostream`, `vector`.", 37,
     {"library_list": ("iostream", "vector")}),
    ("The function f should take no parameters.", 45, {"function_name": "f", "parameter_name_list": ()}),
    ("The function 'greet' should take 'name' as a parameter.", 45, {"function_name": "greet",
                                                                    "parameter_name_list": ("name",)}),
    ("Your code should not have more than 1 class.", 7, {"class_count": 1}),
    ("The function names in your code should follow the camelCase. naming convention", 30,
     {"naming_convention": "camelCase"}),
    ("The function names in your code should follow the 'snake_case' naming convention.", 30,
     {"naming_convention": "snake_case"}),
    ("Your function parse should not exceed 20 lines.", 49, {"function_name": "parse", "line_num": 20}),
    ("Variable total should not be a constant.", 28, {"variable_name": "total"}),
    ("Your code should not use the `goto` keyword.", 8, {"keyword": "goto"}),
    ("Your code should use the goto keyword.", 9, {"keyword": "goto"}),
    ("Make it fast.", None, {}),
])
def test_an_instruction_is_matched_to_its_template_and_slots(text, template, slots):
    c = templates.match(text)
    assert c.template == template
    assert c.slots == slots


def test_lists_are_split_whatever_their_spelling():
    assert templates.split_list("['a', 'b']") == ("a", "b")
    assert templates.split_list("`a`, `b` and `c`") == ("a", "b", "c")
    assert templates.split_list("[GaussianKernel, KernelValidator]") == ("GaussianKernel", "KernelValidator")
    assert templates.split_list("no parameters") == ()
    assert templates.split_list("`[]`") == ()


@pytest.mark.shared_data
def test_every_instruction_of_the_release_matches_a_template(shared_data):
    rows = [json.loads(x) for x in open(shared_data / "codeif/question/final_release_1200.jsonl", encoding="utf-8")]
    report = templates.match_report(templates.match(i["instruction"], k, i["type"])
                                    for r in rows for k, i in enumerate(r["instruction_list"]))
    assert report.instructions == 15491
    own_wording = report.matched - sum(report.variants.values())
    print(f"\nCodeIF instructions matched: {report.matched}/{report.instructions} ({report.rate:.2%}); "
          f"in a template's own wording {own_wording} ({own_wording / report.instructions:.2%}); variants "
          f"{dict(report.variants)}")
    assert report.rate == 1.0, report.unmatched[:10]
    # the counts the research notes give (instructions per template, longest template first)
    assert report.by_template[1] == 1200 and report.by_template[20] == 1011 and report.by_template[34] == 926
    assert report.by_template[36] == 695 and report.by_template[42] == 203 and report.by_template[48] == 92
    assert sum(report.by_template.values()) == 15491
    # the published templates themselves: each one's wording, slots filled, is matched to its own id
    for t in json.loads((shared_data / "codeif/instruction/en.json").read_text(encoding="utf-8")):
        text = t["instruction_format"]
        for key in t["format_keys"]:
            text = text.replace("{" + key + "}", "['a', 'b']" if key.endswith("_list") else "7" if key.endswith(
                ("_num", "_count")) else "Xyz")
        assert templates.match(text).template == t["id"], (t["id"], text)


def test_the_project_fixtures_load_with_language_from_the_instruction():
    samples = list(TASK.samples(LoadOptions(data=str(FIXTURES / "questions.jsonl"))))
    assert [s.id for s in samples] == [str(i) for i in range(1, 9)]
    assert Counter(s.metadata["language"] for s in samples) == {"python": 2, "java": 2, "cpp": 2, "go": 2}
    assert all(s.metadata["categories"] == s.inputs["categories"] for s in samples)
    hard = list(TASK.samples(LoadOptions(split="hard", data=str(FIXTURES / "questions.jsonl"))))
    assert [s.id for s in hard] == ["2", "4", "6", "8"]


def _row(**changes):
    row = {"question": "q", "meta_info": {"programming_language": "go", "item_set": "easy"},
           "instruction_list": [{"type": "global", "instruction": "Your entire response should be written in "
                                 "Python, the use of other programming languages is not allowed."}],
           "instruction_dependence": {}, "question_id": 7}
    row.update(changes)
    return row


def test_the_language_is_the_instructions_not_the_metadata(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [_row()])
    (sample,) = TASK.samples(LoadOptions(data=str(path)))
    assert sample.metadata["language"] == "python" and sample.metadata["dataset_language"] == "go"


@pytest.mark.parametrize("change,message", [
    ({"question": None}, "field 'question' is missing"),
    ({"meta_info": {"programming_language": "go", "item_set": "medium"}}, "field 'meta_info.item_set' must be easy"),
    ({"instruction_list": [{"type": "global", "instruction": ""}]}, "field 'instruction_list[0].instruction'"),
    ({"instruction_dependence": {"3": [0]}}, "field 'instruction_dependence' has key '3'"),
    ({"instruction_dependence": {"0": [5]}}, "field \"instruction_dependence['0']\" must list indices below 1"),
    ({"question_id": "7"}, "field 'question_id' must be int"),
])
def test_a_bad_row_is_named_by_line_and_field(tmp_path, change, message):
    path = write_jsonl(tmp_path / "q.jsonl", [_row(question_id=1), _row(**change)])
    with pytest.raises(TaskError) as err:
        list(TASK.samples(LoadOptions(data=str(path))))
    assert "line 2" in str(err.value) and message in str(err.value), str(err.value)


def test_missing_data_says_what_to_pass(tmp_path):
    with pytest.raises(TaskError, match="--data"):
        list(TASK.samples(LoadOptions()))
    with pytest.raises(TaskError, match="question/final_release_1200.jsonl"):
        TASK.source(LoadOptions(data=str(tmp_path)))


def test_the_hub_path_reads_through_datasets(tmp_path):
    """`hf:<repo>`: the real `datasets` loader, here on a local folder of the release's format (offline)."""
    folder = tmp_path / "hub"
    folder.mkdir()
    rows = [json.loads(x) for x in open(FIXTURES / "questions.jsonl", encoding="utf-8")]
    for r in rows:
        del r["reference"]
    write_jsonl(folder / "train.jsonl", rows)
    options = LoadOptions(data=f"hf:{folder}")
    samples = list(TASK.samples(options))
    local = list(TASK.samples(LoadOptions(data=str(FIXTURES / "questions.jsonl"))))
    assert [s.id for s in samples] == [s.id for s in local]
    # rows come back with every dependence key any row has (None where absent): the loader drops those
    assert [s.inputs for s in samples] == [s.inputs for s in local]
    assert TASK.source(options).sha256


@pytest.mark.shared_data
def test_the_release_loads_in_its_three_splits(shared_data):
    folder = str(shared_data / "codeif")
    full = list(TASK.samples(LoadOptions(data=folder)))
    easy = list(TASK.samples(LoadOptions(split="easy", data=folder)))
    hard = list(TASK.samples(LoadOptions(split="hard", data=folder)))
    assert (len(full), len(easy), len(hard)) == (1200, 600, 600)
    assert sum(len(s.inputs["instructions"]) for s in full) == 15491
    differ = Counter((s.metadata["dataset_language"], s.metadata["language"]) for s in full
                     if s.metadata["language"] != s.metadata["dataset_language"])
    # 47 tasks ask in their instruction for another language than their metadata says (46 if C counts as C++)
    assert differ == {("cpp", "python"): 16, ("go", "python"): 14, ("java", "python"): 12, ("java", "kotlin"): 3,
                      ("cpp", "java"): 1, ("cpp", "c"): 1}
    assert Counter(s.metadata["dataset_language"] for s in full) == {"java": 353, "python": 348, "cpp": 269, "go": 230}
