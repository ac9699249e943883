"""A test task for the Ray executor: sample i asks for 2 * i, as the echo task, but grading can be slow, logged
and sandboxed, so that the tests can kill a node or the driver while samples are in flight.

Options: `-T size=N` samples (default 40); `-T delay=S` seconds each grading sleeps; `-T log=PATH` appends one
line per grading, `<sample id> <pid of the grading process>`, so a test sees where and how often each sample was
graded; `-T sandbox=true` also runs `true` in a warm sandbox pool per grading (the pool opened by `open`, so every
node holds containers). delay and log cannot change a verdict: they are not part of the run's identity.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Iterator

from harness.sandbox import RunLimits
from harness.sandbox.images import image_tag
from harness.task import DataSource, LoadOptions, Task, TaskOption
from harness.types import Answer, Prompt, Sample, Status, Verdict


class SlowTask(Task):
    name = "ray-slow"
    description = "double a number, graded slowly (test fixture of the Ray executor)"
    options = (TaskOption("size", int, 40, "number of samples"),
               TaskOption("delay", float, 0.0, "seconds each grading sleeps", identity=False),
               TaskOption("log", str, "", "append '<sample id> <pid>' per grading to this file", identity=False),
               TaskOption("sandbox", bool, False, "also run `true` in a sandbox pool per grading"))

    def source(self, options: LoadOptions) -> DataSource:
        size = options.args.get("size", 40)
        return DataSource(f"{size} numbers", str(size))

    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        for i in range(options.args.get("size", 40)):
            yield Sample(id=f"s{i:04d}", inputs={"x": i}, reference=2 * i)

    def open(self, ctx) -> None:
        super().open(ctx)
        self.grader_image = image_tag("python") if ctx.args.get("sandbox") else None
        self.pool = ctx.sandbox_pool("python") if ctx.args.get("sandbox") else None

    def render(self, sample, template) -> Prompt:
        return Prompt.chat(template.render(x=sample.inputs["x"]))

    def extract(self, sample, text: str) -> Answer:
        numbers = re.findall(r"-?\d+", text)
        return Answer(int(numbers[-1]) if numbers else None, numbers[-1] if numbers else "")

    def grade(self, sample, answer) -> Verdict:
        args = self.ctx.args
        if args.get("log"):
            with open(args["log"], "a", encoding="utf-8") as f:
                f.write(f"{sample.id} {os.getpid()}\n")
        if args.get("delay"):
            time.sleep(args["delay"])
        if self.pool is not None:
            result = self.pool.run(["true"], limits=RunLimits(timeout_s=20))
            if result.exit_code != 0:
                return Verdict(Status.INFRA, 0.0, {"reason": f"the sandbox ended {result.ending.value}"})
        ok = answer.value == sample.reference
        return Verdict(Status.PASS if ok else Status.FAIL, float(ok), {"expected": sample.reference})

    def reference_response(self, sample) -> str:
        return f"The answer is {sample.reference}"


TASK = SlowTask(Path(__file__).parent)
