"""COFFE: is generated code correct and fast?  Speed is CPU instructions counted under valgrind, not wall time.

One task, two splits:
  function   398 function-level problems (164 HumanEval + 234 MBPP); the code's entry point is called
  file       358 file-level problems (300 APPS + 58 CodeContests); a program, stdin in, stdout compared

Options:
  -T extraction=harness|official   (default harness) `official` cleans the answer up and runs it as COFFE's own
                                   pipeline does (official.py), to reproduce the official numbers; NOTES.md says
                                   where and why ours differs
  -T efficiency=on|off             (default on) `off`: correctness only (pass@k), no instruction counting

--data takes a folder laid out like COFFE's `datasets/` (`--data ../shared/data/coffe`) or hf:<repo>[@revision].
Sample ids: the dataset's task id at function level (`HumanEval/0`, `Mbpp/2`); at file level, where the data has
no id, the source and the first 12 hex digits of the prompt's sha256 (`apps/3f2a...`, `code_contests/...`).
The prompt is the dataset's own `final_prompt`.  Grading (grader.py) and metrics (metrics.py) are described there.

Lifecycle: `open(ctx)` makes the grader; its sandbox pool (`ctx.sandbox_pool`, sized by --grade-workers) and
the reference measurements (`ctx.derived`, once per machine) are taken from the context on first use, so a run
whose verdicts are all cached starts no container.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import jinja2

from harness.sandbox.images import image_tag
from harness.task import DataSource, LoadOptions, Task, TaskOption
from harness.types import Answer, Metrics, Prompt, Sample, SampleResult, Verdict

from . import data, extract, official
from .grader import Grader, Program
from .metrics import aggregate

if TYPE_CHECKING:
    from harness.context import TaskContext

HERE = Path(__file__).resolve().parent
CHECK_PROGRAM = HERE / "check.py"
SIZES = {"function": 398, "file": 358}
EXTRACTIONS = ("harness", "official")
EFFICIENCY = ("on", "off")


class Coffe(Task):
    name = "coffe"
    version = "2"
    description = "COFFE: correct and efficient code (pass@k, efficient@k, speedup by CPU instruction counts)"
    splits = ("function", "file")
    default_split = "function"
    options = (TaskOption("extraction", str, "harness",
                          "how the program is taken from an answer and run: ours, or exactly as COFFE's pipeline "
                          "does (official: its clean-up, comparison and 300 s limits; tasks/coffe/NOTES.md)",
                          choices=EXTRACTIONS),
               TaskOption("efficiency", str, "on",
                          "count instructions of correct answers (efficient@k, speedup); off: pass@k only, "
                          "minutes instead of hours", choices=EFFICIENCY))
    metadata_keys = ("dataset",)  # per-dataset metrics (`pass@1[MBPP]`)
    grader_image = image_tag("python")  # the recipe-hashed tag; counts are keyed by the image's id too

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.grader: Grader | None = None

    # --- lifecycle ------------------------------------------------------------------------------------
    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.grader = Grader(CHECK_PROGRAM, ctx)

    def close(self) -> None:
        self.grader = None  # the context closes the pool
        super().close()

    def unavailable(self) -> str | None:
        from harness.sandbox import engine_available

        ok, why = engine_available()
        return None if ok else f"it grades in Docker containers: {why} (in a checkout: `make docker`)"

    # --- data -----------------------------------------------------------------------------------------
    def smoke_options(self) -> LoadOptions | None:
        """The project's own fixture problems, function level."""
        return LoadOptions(split="function", data=str(self.folder / "fixtures"))

    def size(self, split: str | None = None) -> int | None:
        return SIZES[self.split_or_default(split)]

    def source(self, options: LoadOptions) -> DataSource:
        level = self.split_or_default(options.split)
        folder = data.resolve(options.data)
        return DataSource(f"{folder.describe} ({level} level)", folder.sha256(level))

    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        level = self.split_or_default(options.split)
        folder = data.resolve(options.data)
        yield from data.load_level(folder, level)  # the engine applies --limit

    # --- prompt, answer, grade --------------------------------------------------------------------------
    def render(self, sample: Sample, template: jinja2.Template) -> Prompt:
        text = template.render(prompt=sample.inputs["prompt"], level=sample.metadata["level"],
                               dataset=sample.metadata["dataset"])
        return Prompt.chat(text)

    @property
    def extraction(self) -> str:
        """`-T extraction=...` of the open run; "harness" outside one."""
        if self.ctx is None:
            return "harness"
        return self.ctx.args.get("extraction") or "harness"

    @property
    def counting(self) -> bool:
        """`-T efficiency=...` of the open run: instruction counts are taken unless it is off."""
        return self.ctx is None or (self.ctx.args.get("efficiency") or "on") == "on"

    def extract(self, sample: Sample, text: str) -> Answer:
        program = self.program(sample, text)
        return Answer(value=program, canonical=program.canonical)

    def program(self, sample: Sample, text: str, official_clean_up: bool | None = None) -> Program:
        inputs, level = sample.inputs, sample.metadata["level"]
        if official_clean_up is None:
            official_clean_up = self.extraction == "official"
        if official_clean_up:
            cleaned = official.clean(text, level=level, dataset=sample.metadata["dataset"],
                                     entry_point=inputs["entry_point"], prompt=inputs["code_prompt"])
            return Program(cleaned.code, "official", cleaned.io)
        if level == "function":
            return Program(extract.extract_function(text, inputs["prompt"], inputs["entry_point"],
                                                    inputs["code_prompt"]))
        return Program(extract.extract_file(text, inputs["prompt"]))

    def reference_code(self, sample: Sample) -> str:
        """The best reference as graded: its response put through our extraction (with official extraction too:
        the baseline is not an answer to clean up), so that the oracle's program is byte-identical to the
        reference's and their counts are equal."""
        return self.program(sample, self.reference_response(sample), official_clean_up=False).code or ""

    def grade(self, sample: Sample, answer: Answer) -> Verdict:
        if self.grader is None:
            raise RuntimeError("the coffe task is not open: the engine calls open(ctx) before grading")
        return self.grader.grade(sample, answer.value, self.reference_code(sample), count=self.counting)

    def reference_response(self, sample: Sample) -> str:
        """The best reference as an answer: function level under the entry point's name (the data has it renamed
        to `solution`), so that COFFE's clean-up finds it too."""
        code = sample.reference["solution"].strip("\n")
        if sample.metadata["level"] == "function":
            code = extract.renamed(code, "solution", sample.inputs["entry_point"])
        return f"```python\n{code}\n```\n"

    # --- metrics ----------------------------------------------------------------------------------------
    def aggregate(self, results: Iterable[SampleResult], samples_per_problem: int) -> Metrics:
        return aggregate(results)


TASK = Coffe(HERE)
