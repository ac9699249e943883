"""COFFE: is generated code correct and fast?  Speed is CPU instructions counted under valgrind, not wall time.

One task, four splits:
  function            398 function-level problems (164 HumanEval + 234 MBPP); the code's entry point is called
  file                358 file-level problems (300 APPS + 58 CodeContests); a program, stdin in, stdout compared
  function-official   the same problems, the answer cleaned up as COFFE's own pipeline does (NOTES.md says where
  file-official       and why that differs; use these splits to reproduce the official numbers)

--data takes a folder laid out like COFFE's `datasets/` (`--data ../shared/data/coffe`) or hf:<repo>[@revision].
Sample ids: the dataset's task id at function level (`HumanEval/0`, `Mbpp/2`); at file level, where the data has
no id, the source and the first 12 hex digits of the prompt's sha256 (`apps/3f2a...`, `code_contests/...`).
The prompt is the dataset's own `final_prompt`.  Grading (grader.py) and metrics (metrics.py) are described there.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

import jinja2

from harness.sandbox.images import image_tag
from harness.task import DataSource, LoadOptions, Task
from harness.types import Answer, Metrics, Prompt, Sample, SampleResult, Verdict

from . import data, extract
from .grader import Grader
from .metrics import aggregate

HERE = Path(__file__).resolve().parent
CHECK_PROGRAM = HERE / "check.py"
SIZES = {"function": 398, "file": 358}


def _grading_code_hash() -> str:
    """Part of the task version: a change of what runs in the sandbox invalidates cached verdicts."""
    h = hashlib.sha256()
    for name in ("check.py", "grader.py", "extract.py"):
        h.update((HERE / name).read_bytes())
    return h.hexdigest()[:8]


class Coffe(Task):
    name = "coffe"
    version = f"1+{_grading_code_hash()}"
    description = "COFFE: correct and efficient code (pass@k, efficient@k, speedup by CPU instruction counts)"
    splits = ("function", "file", "function-official", "file-official")
    default_split = "function"
    grader_image = image_tag("python")  # the recipe-hashed tag; counts are keyed by the image's id too

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.grader = Grader(CHECK_PROGRAM, workers=2)

    @staticmethod
    def level(split: str | None) -> str:
        return (split or "function").split("-")[0]

    # --- data -----------------------------------------------------------------------------------------
    def smoke_options(self) -> LoadOptions | None:
        """The project's own fixture problems, function level; left out where no Docker engine answers."""
        from harness.sandbox import engine_available

        if not engine_available()[0]:
            return None
        return LoadOptions(split="function", data=str(self.folder / "fixtures"))

    def size(self, split: str | None = None) -> int | None:
        return SIZES[self.level(self.split_or_default(split))]

    def source(self, options: LoadOptions) -> DataSource:
        level = self.level(self.split_or_default(options.split))
        folder = data.resolve(options.data)
        return DataSource(f"{folder.describe} ({level} level)", folder.sha256(level))

    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        split = self.split_or_default(options.split)
        level = self.level(split)
        folder = data.resolve(options.data)
        official = split.endswith("-official")
        for i, sample in enumerate(data.load_level(folder, level)):
            if options.limit is not None and i >= options.limit:
                return
            yield replace(sample, metadata={**sample.metadata, "official": True}) if official else sample

    # --- prompt, answer, grade --------------------------------------------------------------------------
    def render(self, sample: Sample, template: jinja2.Template) -> Prompt:
        text = template.render(prompt=sample.inputs["prompt"], level=sample.metadata["level"],
                               dataset=sample.metadata["dataset"])
        return Prompt.chat(text)

    def extract(self, sample: Sample, text: str) -> Answer:
        code = self.program(sample, text)
        return Answer(value=code, canonical=code)

    def program(self, sample: Sample, text: str, official: bool | None = None) -> str:
        inputs = sample.inputs
        if sample.metadata.get("official") if official is None else official:
            return extract.extract_official(text, inputs["prompt"], inputs["entry_point"], inputs["code_prompt"])
        if sample.metadata["level"] == "function":
            return extract.extract_function(text, inputs["prompt"], inputs["entry_point"], inputs["code_prompt"])
        return extract.extract_file(text, inputs["prompt"])

    def reference_code(self, sample: Sample) -> str:
        """The best reference as graded: its response put through our extraction (the official splits too: the
        baseline is not an answer to clean up), so that the oracle's program is byte-identical to the reference's
        and their counts are equal."""
        return self.program(sample, self.reference_response(sample), official=False)

    def grade(self, sample: Sample, answer: Answer) -> Verdict:
        return self.grader.grade(sample, answer.value, self.reference_code(sample))

    def reference_response(self, sample: Sample) -> str:
        return f"```python\n{sample.reference['solution'].strip(chr(10))}\n```\n"

    # --- metrics ----------------------------------------------------------------------------------------
    def aggregate(self, results: Iterable[SampleResult], samples_per_problem: int) -> Metrics:
        return aggregate(results)


TASK = Coffe(HERE)
