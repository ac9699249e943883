"""What a sandbox failure means for a COFFE verdict, with a scripted sandbox (no Docker): infra stays infra,
whoever ran; code that killed the sandbox runner on every attempt is the prediction's error, or, for the
reference, the reference failing (an ungradable problem, cached like any reference failure)."""

from __future__ import annotations

import json

import pytest

from harness.context import TaskContext
from harness.derived import DerivedCache
from harness.sandbox import Ending, InfraError, RunnerLost, RunResult
from harness.task import LoadOptions
from harness.types import Status

from .conftest import FIXTURE, new_task

SAMPLE = next(s for s in new_task().samples(LoadOptions(data=str(FIXTURE))) if s.id == "Mbpp/1")
WRONG = "```python\ndef mean_below(n):\n    return 0\n```"


class ScriptedPool:
    """Answers the reference's and the prediction's runs as told: "ok" (check.py's result line), "lost" (the
    runner was lost while the sample ran), "infra" (the engine failed)."""

    image_id = "sha256:scripted"

    def __init__(self, reference: str, prediction: str, reference_code: str):
        self.plan = {"reference": reference, "prediction": prediction}
        self.reference_code = reference_code
        self.calls = {"reference": 0, "prediction": 0}

    def run(self, argv, *, files=None, stdin="", env=None, limits=None, count=None):
        job = json.loads(files["job.json"])
        who = "reference" if job["code"] == self.reference_code else "prediction"
        self.calls[who] += 1
        what = self.plan[who]
        if what == "lost":
            raise RunnerLost("the runner in abc was lost while a sample ran: EOF", during_sample=True)
        if what == "infra":
            raise InfraError("Docker engine unreachable")
        nonce = stdin.splitlines()[0]
        if who == "reference":
            result, code = {"times": [0.001] * len(job["tests"])}, 0
        else:
            result, code = {"test": 0, "reason": "wrong output on correctness test 0", "got": "0",
                            "expected": "1.0"}, 1
        return RunResult(code, f"\n@@coffe {nonce} {json.dumps(result)}\n", "", False, False, 0.01, Ending.EXITED,
                         image_id=self.image_id)


@pytest.fixture
def scripted(tmp_path, monkeypatch):
    def make(reference: str, prediction: str = "ok", derived: DerivedCache | None = None):
        task = new_task()
        task.open(TaskContext(task, derived=derived or DerivedCache(tmp_path / "derived.sqlite")))
        pool = ScriptedPool(reference, prediction, task.reference_code(SAMPLE))
        task.grader._pool = pool
        monkeypatch.setattr(task.grader, "retry_wait_s", 0.0)
        return task, pool

    return make


def grade(task, text=WRONG):
    return task.grade(SAMPLE, task.extract(SAMPLE, text))


def test_a_reference_that_kills_the_runner_makes_the_problem_ungradable_and_is_cached(scripted, tmp_path):
    task, pool = scripted("lost")
    v = grade(task)
    assert v.status is Status.UNGRADABLE and "killed the sandbox runner" in v.details["ungradable"]
    assert pool.calls == {"reference": 3, "prediction": 0}  # retried, then the reference's own failure
    again, pool2 = scripted("ok", derived=DerivedCache(tmp_path / "derived.sqlite"))
    assert grade(again).status is Status.UNGRADABLE and pool2.calls["reference"] == 0  # measured once


def test_a_sandbox_failure_on_the_reference_is_infra_and_not_cached(scripted, tmp_path):
    task, pool = scripted("infra")
    v = grade(task)
    assert v.status is Status.INFRA and "unreachable" in v.details["reason"] and pool.calls["reference"] == 3
    again, _ = scripted("ok", derived=DerivedCache(tmp_path / "derived.sqlite"))
    assert grade(again).status is Status.FAIL  # the reference measured this time, the prediction graded


@pytest.mark.parametrize("failure,status", [("lost", Status.ERROR), ("infra", Status.INFRA)])
def test_a_prediction_s_sandbox_failure_gives_the_verdict(scripted, failure, status):
    task, pool = scripted("ok", failure)
    v = grade(task)
    assert v.status is status and v.details["attempts"] == 3 and pool.calls["prediction"] == 3
    if status is Status.ERROR:
        assert "killed the sandbox runner" in v.details["reason"]


def test_grading_needs_the_task_opened():
    with pytest.raises(RuntimeError, match="open"):
        grade(new_task())


def test_unavailable_and_smoke_options(monkeypatch):
    import harness.sandbox as sandbox

    task = new_task()
    assert task.smoke_options() == LoadOptions(split="function", data=str(task.folder / "fixtures"))
    monkeypatch.setattr(sandbox, "engine_available", lambda: (False, "no Docker engine answers (refused)."))
    why = task.unavailable()
    assert "no Docker engine answers" in why and "make docker" in why
    assert task.smoke_options() is not None  # the engine reports an unavailable task; it does not vanish
    monkeypatch.setattr(sandbox, "engine_available", lambda: (True, ""))
    assert task.unavailable() is None
