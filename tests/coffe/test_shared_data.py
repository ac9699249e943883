"""The shared copy of COFFE: the oracle graded on a handful of problems with cheap stressful tests.

(Loading all 756 problems is checked in test_loader_and_rules.py.)  The problems below were picked because the
best reference runs every stressful test in under a few milliseconds natively (about a second under valgrind);
grading the whole function level would cost hours of valgrind time."""

from __future__ import annotations

import pytest

from harness.task import LoadOptions
from harness.types import SampleResult, Status

pytestmark = [pytest.mark.docker, pytest.mark.shared_data, pytest.mark.slow]

CHEAP = {
    "function": ["HumanEval/13", "HumanEval/60", "HumanEval/84", "Mbpp/458"],
    "file": ["code_contests/8da9b1342928", "code_contests/b4220db534f0"],
}


@pytest.mark.parametrize("split", ["function", "file"])
def test_the_oracle_passes_and_matches_the_reference_on_shared_problems(graded_task, shared_data, split):
    samples = {s.id: s for s in graded_task.samples(LoadOptions(split=split, data=str(shared_data / "coffe")))}
    results = []
    for sid in CHEAP[split]:
        sample = samples[sid]
        verdict = graded_task.grade(sample, graded_task.extract(sample, graded_task.reference_response(sample)))
        assert verdict.status is Status.PASS, (sid, verdict.details)
        eff = verdict.details["efficiency"]
        assert eff["prediction_total"] == eff["reference_total"] > 0, (sid, eff)
        results.append(SampleResult(sid, (verdict,)))
    m = graded_task.aggregate(results, 1)
    assert m.values["pass@1"] == 1 and m.values["speedup"] == 1.0 and m.values["efficient@1"] == 0
