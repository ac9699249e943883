"""Ground truth traced in the sandbox, checked by hand on the project's own programs (loops, branches, an exception,
an early return, a helper call, class methods after setUp); answers graded against it; the output check against
answers that try to end the check early; the oracle end to end."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.types import Status

from .conftest import FIXTURES, module, samples

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_client")]
values = module("values")
SAMPLES = samples()


def truth(opened, sid):
    task = opened()
    sample = SAMPLES[sid]
    got = task.grader.truth(sample)
    assert got["ok"], got
    atom = got["atoms"][sample.inputs["atom"]]
    state = None if atom["state"].get("nil") else [values.decode(t) for t in atom["state"]["values"]]
    return atom["covered"], atom["next"], state


# (sample, covered, next lines, state values or None for Nil), worked out by hand from the programs in
# tasks/reval/fixtures/build.py
HAND = [
    # first_even_square([3, 5, 4, 7]): lines 2 3 4 5 3 4 5 3 4 5 6
    ("DREval/0/0/coverage/0", True, [5], [1, 2, 3]),  # seen after each `seen += 1`
    ("DREval/0/0/coverage/1", True, [-1], [4]),  # the early return is the last state: its own locals
    ("DREval/0/0/coverage/2", False, [-1], None),  # never reached
    # first_even_square([1, 3]): 2 3 4 5 3 4 5 3 7
    ("DREval/0/1/coverage/1", False, [-1], None),
    ("DREval/0/1/coverage/2", True, [-1], [2]),
    # safe_ratio(1, 0): 2 3(exception) 4 5 6 11 12 7
    ("DREval/1/1/coverage/0", True, [4], None),  # q is never assigned on line 3
    ("DREval/1/1/coverage/1", True, [6], [None]),
    ("DREval/1/1/coverage/2", True, [11], None),  # the next state is the helper's: no `label` there (REval's rule)
    ("DREval/1/0/coverage/0", True, [6], [0.5]),  # safe_ratio(1, 2): 2 3 6 11 13 7
    # Tally, test_add after setUp (not traced): add: 7 9 10 11
    ("DREval/2/0/coverage/0", True, [10], [15]),
    ("DREval/2/0/coverage/1", False, [-1], None),
    ("DREval/2/0/coverage/2", True, [11], [5]),
    ("DREval/2/0/coverage/3", False, [-1], None),  # __init__ ran in setUp, before tracing
    # Tally, test_try_add: 3 4 14 15 7 8 15(exception) 16 17 18 14 15 7 9 10 11 15(return) 21
    ("DREval/2/1/coverage/0", True, [10], [5]),
    ("DREval/2/1/coverage/1", True, [18], [[0]]),
    ("DREval/2/1/coverage/2", True, [11], [0]),  # self.history[0] after line 10
    ("DREval/2/1/coverage/3", True, [4], None),  # self.history does not exist yet after line 3: the tuple is Nil
]


@pytest.mark.parametrize("sid, covered, next_lines, state", HAND, ids=[h[0] for h in HAND])
def test_traced_truth_by_hand(opened, sid, covered, next_lines, state):
    assert truth(opened, sid) == (covered, next_lines, state)


def grade(task, sid, response):
    sample = SAMPLES[sid] if sid in SAMPLES else samples()[sid]
    return task.grade(sample, task.extract(sample, response))


@pytest.mark.parametrize("sid, response, status", [
    ("DREval/0/0/state/0", "<answer>3; int</answer>", Status.PASS),
    ("DREval/0/0/state/0", "<answer>4; int</answer>", Status.FAIL),
    ("DREval/0/0/state/0", "<answer>sorted([2, 3])[1]; int</answer>", Status.PASS),  # read in the sandbox
    ("DREval/0/0/state/2", "<answer>Nil</answer>", Status.PASS),
    ("DREval/0/0/state/0", "<answer>__import__('os')._exit(0); int</answer>", Status.FAIL),
    ("DREval/0/0/path/0", "<answer>5</answer>", Status.PASS),
    ("DREval/0/0/path/0", "<answer>if n % 2 == 0:</answer>", Status.PASS),
    ("DREval/0/0/coverage/2", "<answer>NO</answer>", Status.PASS),
    ("DREval/0/0/output", "<answer>assert first_even_square([3, 5, 4, 7]) == 16</answer>", Status.PASS),
    ("DREval/0/0/output", "<answer>assert first_even_square([3, 5, 4, 7]) == 4 ** 2</answer>", Status.PASS),
    ("DREval/0/0/output", "<answer>assert first_even_square([3, 5, 4, 7]) == 9</answer>", Status.FAIL),
    ("DREval/2/0/output", "<answer>result = self.tally.add(5)\nassertEqual(result, 15)\n"
                          "assertEqual(self.tally.history, [5])</answer>", Status.PASS),
    ("DREval/2/0/output", "<answer>result = self.tally.add(5)\nassertEqual(result, 15)\n"
                          "assertEqual(self.tally.history, [5, 5])</answer>", Status.FAIL),
    ("DREval/2/1/output", "<answer>assertIsNone(None)\ntally.try_add(4)\n"
                          "assertAlmostEqual(tally.total() / 2, 2.001, delta=0.01)</answer>", Status.PASS),
])
def test_answers_graded_against_the_truth(opened, sid, response, status):
    verdict = grade(opened(), sid, response)
    assert verdict.status is status, verdict.details


@pytest.mark.parametrize("hole", [
    "__import__('os')._exit(0)",  # end the answer's process with success
    "print('@@reval-holes {\"values\": {\"0\": [\"int\", 16]}}') or __import__('os')._exit(0)",  # fake its output
    "__import__('os').kill(__import__('os').getppid(), 9)",  # kill the check program itself
    "[__import__('os').remove(f) for f in __import__('os').listdir('.')]",  # delete the check's files
])
def test_an_answer_cannot_end_or_fake_the_output_check(opened, hole):
    verdict = grade(opened(), "DREval/0/0/output", f"<answer>assert first_even_square([3, 5, 4, 7]) == {hole}"
                                                   f"</answer>")
    assert verdict.status in (Status.FAIL, Status.ERROR), verdict.details


def test_the_second_hole_counts_even_if_the_first_is_right(opened):
    verdict = grade(opened(), "DREval/2/1/output", "<answer>tally = Tally(1)\nresult = tally.try_add(-3)\n"
                                                   "assertIsNone(None)\ntally.try_add(4)\n"
                                                   "assertAlmostEqual(tally.total() / 2, 3.0, delta=0.01)</answer>")
    assert verdict.status is Status.FAIL and "assertion failed" in verdict.details["reason"]


def test_a_program_that_does_not_run_is_ungradable_with_the_reason(opened, tmp_path):
    for name in ("DREval_data.jsonl", "DREval_tasks.jsonl"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    rows = [json.loads(x) for x in (tmp_path / "DREval_data.jsonl").read_text().splitlines()]
    # an annotation naming nothing: fine only if the harness's `from __future__ import annotations` leaked into
    # the compiled program (it must not: dont_inherit=True)
    rows[0]["code"] = rows[0]["code"].replace("def first_even_square(numbers):",
                                              "def first_even_square(numbers: NoSuchType):")
    (tmp_path / "DREval_data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    bad = samples(str(tmp_path))
    task = opened()
    for sid in ("DREval/0/0/coverage/0", "DREval/0/0/output"):
        verdict = task.grade(bad[sid], task.extract(bad[sid], "<answer>YES</answer>"))
        assert verdict.status is Status.UNGRADABLE
        assert "NameError: name 'NoSuchType' is not defined" in verdict.details["reason"]


def test_oracle_end_to_end(cli):
    cli("run", "--task", "reval", "--model", "oracle", "--grade-workers", "2")
    report = cli.report()
    m = report["metrics"]
    for name in ("coverage_acc", "coverage_f1", "state_acc", "path_acc", "output_acc", "ic"):
        assert m[name] == 100, name
    assert report["counts"]["pass"] == 66
    # the constant answers on the same items: coverage YES 15 of 20, state Nil 9 of 20, path -1 7 of 20
    assert m["coverage_acc_always_yes"] == 75 and m["state_acc_always_nil"] == 45
    assert m["path_acc_always_minus1"] == 35


def test_smoke_predictions_are_an_imperfect_model(cli):
    cli("run", "--task", "reval", "--model", f"replay:{FIXTURES / 'smoke_predictions.jsonl'}", "--grade-workers", "2")
    m = cli.report()["metrics"]
    assert 0 < m["ic"] < 100 and 0 < m["state_acc"] < 100 and m["coverage_acc"] < 100


def test_real_programs_traced_subset(shared_data, opened):
    """Every 8th of REval's 154 programs traced here (the full comparison with REval's own tracer: bench/)."""
    real = samples(str(shared_data / "reval"), task="coverage")
    picked = {}
    for s in real.values():
        index = int(s.metadata["program"].split("/")[1])
        if index % 8 == 0:
            picked.setdefault((s.metadata["program"], s.metadata["input"]), s)
    task = opened()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(task.grader.truth, picked.values()))
    assert len(picked) >= 80 and all(r["ok"] for r in results), [r.get("error") for r in results if not r["ok"]]
    for sample, result in zip(picked.values(), results):
        assert len(result["atoms"]) == len(sample.inputs["pair"]["atoms"])
