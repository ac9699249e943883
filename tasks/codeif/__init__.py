"""CodeIF: does generated code follow the constraints of its instruction? (arXiv 2502.19166)

1,200 tasks (600 easy, 600 hard; Python, Java, C++, Go), each with 5-21 atomic constraints from 50 templates
in 8 categories. Splits `full`, `easy`, `hard`. --data takes the release's question file, its `data/` folder
(`--data ../shared/data/codeif`) or hf:<repo id>[@revision].

Grading (`-T judge=...`, see grading.py): `static` decides each constraint with a checker over the code's
syntax tree (tree-sitter; the code is parsed, never compiled or run), `llm` asks the judge model
(`--judge-model`) as CodeIF does, `hybrid` (the default) uses the checkers where they decide and the judge for
the rest. `-T judge_template=FILE` replaces our judge prompt (e.g. with CodeIF's official one). Metrics
(metrics.py): CSR, SSR, RSR, CCSR overall, per difficulty, language and category, with the unjudged counted,
and the checkers' agreement with the judge per template (agreement.py).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import jinja2

from harness.task import DataSource, LoadOptions, Task, TaskError, TaskOption
from harness.types import Answer, Metrics, Prompt, Sample, SampleResult, Verdict

from . import data, grading, judge as judge_module, metrics

if TYPE_CHECKING:
    from harness.context import TaskContext

HERE = Path(__file__).resolve().parent
SIZES = {"full": 1200, "easy": 600, "hard": 600}
PARSER_PACKAGES = ("tree-sitter", "tree-sitter-python", "tree-sitter-java", "tree-sitter-cpp", "tree-sitter-go")


@functools.lru_cache(maxsize=1)
def parser_versions() -> dict[str, str | None]:
    """The installed tree-sitter and grammar releases (part of every verdict key)."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in PARSER_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


class CodeIF(Task):
    name = "codeif"
    version = "1"
    description = "CodeIF: instruction following in code generation (CSR, SSR, RSR, CCSR; checkers and a judge)"
    splits = ("full", "easy", "hard")
    default_split = "full"
    options = (
        TaskOption("judge", str, "hybrid", "who decides each constraint: the syntax-tree checkers (static), the "
                   "judge model (llm, as CodeIF scores), or the checkers where they can and the judge for the rest "
                   "(hybrid)", choices=grading.MODES),
        TaskOption("judge_template", str, "", "a judge prompt file to use instead of ours (with {question}, "
                   "{instructions_str}, {generated_code}; e.g. CodeIF's official judge_en.txt)"),
    )
    metadata_keys = ("language", "dataset_language", "difficulty", "categories")  # language first: the strata
    uses_judge = True
    subsets = {"pr": 120}  # for pull-request gates: 120 of the 1,200 tasks, in the languages' proportions

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.judge_template: judge_module.JudgeTemplate | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------
    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.judge_template = judge_module.load_template(ctx.args.get("judge_template") or None)
        mode = self.mode
        if mode == "llm" and ctx.judge is None:
            raise TaskError("codeif: -T judge=llm grades with the judge model alone: give one with --judge-model")
        if mode == "hybrid" and ctx.judge is None:
            ctx.log("codeif: no --judge-model: constraints the checkers cannot decide are recorded as unjudged "
                    "(they count as not met; -T judge=static says so up front)")

    def close(self) -> None:
        self.judge_template = None
        super().close()

    @property
    def mode(self) -> str:
        return (self.ctx.args.get("judge") if self.ctx is not None else None) or "hybrid"

    def grader_fingerprint(self, sample: Sample) -> Any:
        """Besides the task's code and options (the mode among them): the parsers the checkers read code with
        (another grammar release can parse, and so decide, differently), and unless the judge is never asked
        (static) the judge model's key and the judge prompt's contents."""
        base = super().grader_fingerprint(sample)
        if self.mode == "static":  # the judge is never asked: another judge changes nothing
            return {"judge": None, "parsers": parser_versions()}
        template = self.judge_template or judge_module.load_template(None)
        return {**(base or {}), "judge_template": template.sha256, "parsers": parser_versions()}

    def identity_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """The judge template by its contents, not its path: editing the file is another run (and grading), moving
        it is not (the engine keys a run by contents; the path stays in the record's `args`)."""
        out = super().identity_args(args)
        if out.get("judge_template"):
            out["judge_template"] = "sha256:" + judge_module.load_template(out["judge_template"]).sha256
        return out

    # --- data -------------------------------------------------------------------------------------------------
    def size(self, split: str | None = None) -> int | None:
        return SIZES[self.split_or_default(split)]

    def smoke_options(self) -> LoadOptions | None:
        """The project's own tasks, with code of our own that meets every constraint (the oracle's answers)."""
        return LoadOptions(split="full", data=str(self.folder / "fixtures" / "questions.jsonl"))

    def source(self, options: LoadOptions) -> DataSource:
        split = self.split_or_default(options.split)
        src = data.resolve(options.data)
        return DataSource(f"{src.describe} ({split})", src.sha256)

    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        split = self.split_or_default(options.split)
        yield from data.load(data.resolve(options.data), split)

    # --- prompt, answer, grade --------------------------------------------------------------------------------
    def render(self, sample: Sample, template: jinja2.Template) -> Prompt:
        instructions = list(sample.inputs["instructions"])
        return Prompt.chat(template.render(question=sample.inputs["question"], instructions=instructions,
                                           instructions_str=judge_module.numbered(instructions),
                                           language=sample.inputs["language"]))

    def extract(self, sample: Sample, text: str) -> Answer:
        return Answer(text, text)  # the whole response: the judge reads it all, the checkers its code blocks

    def grade(self, sample: Sample, answer: Answer) -> Verdict:
        template = self.judge_template or judge_module.load_template(None)
        judge = self.ctx.judge if self.ctx is not None else None
        return grading.grade(sample, answer.value or "", self.mode, judge, template)

    def reference_response(self, sample: Sample) -> str:
        """Code that meets every constraint, where the data has one (the project's fixtures); CodeIF itself
        ships no reference solutions, so on its data the oracle answers nothing."""
        if not sample.reference:
            return ""
        return f"```{sample.inputs['language']}\n{sample.reference.strip(chr(10))}\n```\n"

    # --- metrics ----------------------------------------------------------------------------------------------
    def aggregate(self, results: Iterable[SampleResult], samples_per_problem: int) -> Metrics:
        return metrics.aggregate(results)


TASK = CodeIF(HERE)
