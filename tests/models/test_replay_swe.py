"""`replay:` on SWE-bench predictions files: JSONL, a JSON list, an object keyed by instance id; a null or empty
`model_patch` is the empty patch; bad entries are named. (Grading them end to end through the CLI:
tests/swebench_live/test_grading.py.)"""

from __future__ import annotations

import json

import pytest

from harness.models import ModelError
from harness.models.replay import ReplayModel
from harness.types import GenParams, Prompt, Request, Sample

PATCH = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
IDS = ("owner__repo-1", "owner__repo-2", "owner__repo-3")


def replay(tmp_path, content, name="preds.json") -> dict[str, list[str]]:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    model = ReplayModel(f"replay:{path}", GenParams(), str(path))
    requests = [Request(Sample(i, {}), Prompt.chat("fix it"), (0,)) for i in IDS]
    return {req.sample.id: [(r.text, r.usage.get("missing_prediction")) for r in rs]
            for req, rs in zip(requests, model.generate(requests))}


def row(iid, patch):
    return {"instance_id": iid, "model_name_or_path": "agent-x", "model_patch": patch}


def test_a_json_list_of_predictions(tmp_path):
    out = replay(tmp_path, [row(IDS[0], PATCH), row(IDS[1], None)])
    assert out == {IDS[0]: [(PATCH, None)], IDS[1]: [("", None)], IDS[2]: [("", 1)]}  # null: the empty patch


def test_an_object_keyed_by_instance_id(tmp_path):
    out = replay(tmp_path, {IDS[0]: {"model_patch": PATCH, "model_name_or_path": "agent-x"},
                            IDS[1]: {"model_patch": "", "instance_id": IDS[1]}})
    assert out == {IDS[0]: [(PATCH, None)], IDS[1]: [("", None)], IDS[2]: [("", 1)]}


def test_jsonl_with_a_null_patch(tmp_path):
    lines = "".join(json.dumps(r) + "\n" for r in (row(IDS[0], None), row(IDS[2], PATCH)))
    assert replay(tmp_path, lines, "preds.jsonl") == {IDS[0]: [("", None)], IDS[1]: [("", 1)],
                                                      IDS[2]: [(PATCH, None)]}
    one = json.dumps(row(IDS[1], PATCH)) + "\n"  # one line: still JSONL, not an object keyed by id
    assert replay(tmp_path, one, "one.jsonl")[IDS[1]] == [(PATCH, None)]


@pytest.mark.parametrize("content,words", [
    ({IDS[0]: {"instance_id": IDS[1], "model_patch": PATCH}}, ["entry 'owner__repo-1'", "is not the key"]),
    ([row(IDS[0], PATCH), {"model_patch": PATCH}], ["item 2", "missing field 'id'"]),
    ([row(IDS[0], 7)], ["item 1", "must be a string"]),
    ([row(IDS[0], PATCH), "x"], ["item 2", "expected a JSON object"]),
    ("[" + json.dumps(row(IDS[0], PATCH)), ["not valid JSON"]),
    ([], ["has no predictions"]),
])
def test_bad_entries_are_named(tmp_path, content, words):
    with pytest.raises(ModelError) as err:
        replay(tmp_path, content)
    assert all(w in str(err.value) for w in words), str(err.value)
