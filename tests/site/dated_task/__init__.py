"""A small benchmark of the site's tests, loaded by path (`--task tests/site/dated_task`): sample i asks for 2*i,
is dated `created_at` = the first of month i counted from 2023-01, is `easy` below 12 and `hard` from 12 on, and has
the `parity` of i. Its metrics are the engine's default for pass/fail tasks, broken down by difficulty only; the
dates and parities are stored with each sample too (for the site's contamination view and its breakdowns from
verdicts)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator

from harness.metrics import pass_fail_metrics
from harness.task import DataSource, LoadOptions, Task
from harness.types import Answer, Metrics, Prompt, Sample, SampleResult, Status, Verdict

SIZE = 24


def created_at(i: int) -> str:
    return f"{2023 + i // 12}-{i % 12 + 1:02d}-01"


class DatedTask(Task):
    name = "dated"
    version = "1"
    description = "double a number; samples dated month by month (site test fixture)"
    metadata_keys = ("created_at", "difficulty", "parity")

    def source(self, options: LoadOptions) -> DataSource:
        return DataSource(f"{SIZE} dated numbers", f"dated-{SIZE}")

    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        for i in range(SIZE):
            yield Sample(id=f"d{i:03d}", inputs={"x": i}, reference=2 * i,
                         metadata={"created_at": created_at(i), "difficulty": "easy" if i < 12 else "hard",
                                   "parity": "even" if i % 2 == 0 else "odd"})

    def render(self, sample, template) -> Prompt:
        return Prompt.chat(template.render(x=sample.inputs["x"]))

    def extract(self, sample, text: str) -> Answer:
        numbers = re.findall(r"-?\d+", text)
        return Answer(int(numbers[-1]) if numbers else None, numbers[-1] if numbers else "")

    def grade(self, sample, answer) -> Verdict:
        ok = answer.value == sample.reference
        return Verdict(Status.PASS if ok else Status.FAIL, float(ok), {"expected": sample.reference})

    def reference_response(self, sample) -> str:
        return f"The answer is {sample.reference}"

    def aggregate(self, results: Iterable[SampleResult], samples_per_problem: int) -> Metrics:
        return pass_fail_metrics(results, ("difficulty",))


TASK = DatedTask(Path(__file__).parent)
