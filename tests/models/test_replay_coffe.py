"""`replay:` on COFFE's own prediction files, `{prompt: [[outputs...], valid_flag]}`: matched by the prompt each
request carries, outputs as attempts, invalid prompts without a prediction, bad entries named.  (Grading such a
file end to end through the CLI: tests/coffe/test_grading.py.)"""

from __future__ import annotations

import json

import pytest

from harness.models import ModelError
from harness.models.replay import ReplayModel
from harness.registry import get_task
from harness.task import LoadOptions, load_template
from harness.types import GenParams, Request

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
    assert out["Mbpp/1"] == ["", ""]  # valid_flag false: COFFE's pipeline skips the prompt, so no prediction
    assert out["Mbpp/2"] == ["", ""]  # not in the file
    missing = [r.usage.get("missing_prediction") for rs in m.generate(requests()) for r in rs]
    assert missing == [None, None, None, 1, 1, 1, 1, 1]
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
