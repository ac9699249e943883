"""REval (ICSE 2025): can a model reason about what a program does at run time, and consistently?

Each (program, input) pair of REval's 154 programs (85 from HumanEval, 69 from ClassEval) has atoms, a line and a
variable, asked about in three tasks, and one output question:

  coverage  is the line executed?                                  YES / NO
  state     the value and type of the variable after the line      `value; type`, or Nil
  path      the next line executed after it                        a line (number or code), or -1
  output    the call's result / the test's expected values         the assert with its ?? filled

Options: `-T task=coverage|state|path|output|all` (all: every item, and the Incremental Consistency score),
`-T setting=direct|cot` (the prompt asks for the answer alone, or for brief reasoning first), `-T parsing=
harness|official` (how answers are read: tolerant, or exactly REval's post-processing; see answers.py).
`--prompt-template` takes a template of ours (Jinja) or one of REval's own (`{code}` fields, e.g.
../shared/data/reval/prompts/direct_coverage.txt): it is used for every item of the run, so pair one with one task.

Sample ids: `DREval/<i>/<input>/<task>/<atom>` (output: `DREval/<i>/<input>/output`); metadata: the program id
(IC and the gate group by it), source, task, input and atom. --data: a folder with DREval_data.jsonl and
DREval_tasks.jsonl (e.g. ../shared/data/reval) or hf:<repo>[@revision]; without it, the task's own small fixtures.
Ground truth is traced in the sandbox (grading.py), metrics are in metrics.py, deliberate choices in NOTES.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import jinja2

from harness.sandbox.images import image_tag
from harness.task import DataSource, LoadOptions, Task, TaskError, TaskOption
from harness.types import Answer, Metrics, Prompt, Sample, SampleResult, Verdict

from . import answers, data, output_answer, values
from .grading import Grader
from .metrics import TASKS, aggregate

if TYPE_CHECKING:
    from harness.context import TaskContext

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
FORMAT_FIELDS = ("code", "invocation", "invocation_abbr", "line", "codeline", "var")
_FIELD = re.compile(r"\{(" + "|".join(FORMAT_FIELDS) + r")\}")
_SENTINEL = "\x00reval:{}\x00"
_SENTINEL_OR_FIELD = re.compile(r"\x00reval:(\w+)\x00|\{(" + "|".join(FORMAT_FIELDS) + r")\}")
SETUP_NOTE = "\n# setup code executed previously\n"
OUTPUT_PRELUDE = "\n# Test code starts here. Only write the completed test code in your answer.\n"


class Reval(Task):
    name = "reval"
    version = "1"
    description = "REval: predict coverage, state, next line and output of programs; Incremental Consistency"
    options = (
        TaskOption("task", str, "all", "which task's items (all: the four, and the IC score)",
                   choices=(*TASKS, "all")),
        TaskOption("setting", str, "direct", "direct answers, or chain of thought first", choices=("direct", "cot")),
        TaskOption("parsing", str, "harness", "how answers are read: tolerant, or exactly as REval does",
                   choices=("harness", "official")),
    )
    metadata_keys = ("program", "source", "task", "input", "atom")
    cluster_key = "program"  # the unit the gate resamples: a program's items are not independent
    grader_image = image_tag("reval")

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.grader: Grader | None = None
        self._template_styles: dict[int, bool] = {}

    # --- lifecycle ------------------------------------------------------------------------------------
    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.grader = Grader(ctx, harness_parsing=self._arg("parsing") == "harness")

    def close(self) -> None:
        self.grader = None
        super().close()

    def unavailable(self) -> str | None:
        from harness.sandbox import engine_available

        ok, why = engine_available()
        return None if ok else f"it traces and checks programs in Docker containers: {why}"

    def _arg(self, name: str) -> Any:
        default = next(o.default for o in self.options if o.name == name)
        return (self.ctx.args.get(name) if self.ctx is not None else None) or default

    # --- data -----------------------------------------------------------------------------------------
    def smoke_options(self) -> LoadOptions | None:
        return LoadOptions(data=None)  # the fixtures: a few programs of the project's own

    def source(self, options: LoadOptions) -> DataSource:
        ds = data.locate(options.data, FIXTURES)
        return DataSource(ds.description, ds.sha256)

    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        """Task by task; within a task, atom k of every pair before atom k + 1 of any, so that samples in a row
        belong to different pairs (their ground truth is traced in parallel, not one pair after another)."""
        selected = options.args.get("task") or "all"
        tasks = TASKS if selected == "all" else (selected,)
        pairs = []
        for program in data.programs(data.locate(options.data, FIXTURES)):
            own = [{"input_index": pair.input_index, "input_text": pair.input_text, "question": pair.question,
                    "expected": pair.expected, "atoms": [[a.lineno, a.var] for a in pair.atoms],
                    "setup": data.setup_source(program, pair.input_index) if program.kind == "class" else None}
                   for pair in program.pairs]
            # every pair of the program rides along: the tracer runs them all in one go, as REval does
            prog = {"task_id": program.task_id, "kind": program.kind, "entry_point": program.entry_point,
                    "code": program.code, "test": program.test, "pairs": own}
            pairs += [(program, prog, pair, pair_inputs) for pair, pair_inputs in zip(program.pairs, own)]
        for task in tasks:
            rounds = 1 if task == "output" else max((len(p[2].atoms) for p in pairs), default=0)
            for a in range(rounds):
                for program, prog, pair, pair_inputs in pairs:
                    if task != "output" and a >= len(pair.atoms):
                        continue
                    meta = {"program": program.task_id, "source": program.source, "input": pair.input_index,
                            "task": task, "atom": None if task == "output" else a}
                    sid = f"{program.task_id}/{pair.input_index}/" + ("output" if task == "output" else f"{task}/{a}")
                    yield Sample(sid, {"task": task, "atom": meta["atom"], "program": prog, "pair": pair_inputs},
                                 None, meta)

    # --- prompt ---------------------------------------------------------------------------------------
    def render(self, sample: Sample, template: jinja2.Template) -> Prompt:
        if self._is_format_template(template):
            fields = official_fields(sample)
            text = template.render(**{k: _SENTINEL.format(k) for k in self._variables(sample)})
            text = _SENTINEL_OR_FIELD.sub(lambda m: str(fields.get(m.group(1) or m.group(2), m.group(0))), text)
            return Prompt.chat(text)
        return Prompt.chat(template.render(**self._variables(sample)))

    def _is_format_template(self, template: jinja2.Template) -> bool:
        """A template with REval's `{code}`-style fields (str.format) rather than Jinja variables."""
        key = id(template)
        if key not in self._template_styles:
            try:
                probe = template.render(**{k: "" for k in self._variables(None)})
            except Exception:  # noqa: BLE001 - a Jinja template that needs real values
                probe = ""
            self._template_styles[key] = bool(_FIELD.search(probe))
        return self._template_styles[key]

    def _variables(self, sample: Sample | None) -> dict[str, Any]:
        names = ("task", "setting", "kind", "program", "call", "test", "setup", "line", "codeline", "var",
                 "question", *FORMAT_FIELDS)
        if sample is None:
            return {k: "" for k in names}
        program, pair, task = sample.inputs["program"], sample.inputs["pair"], sample.inputs["task"]
        lines = program["code"].split("\n")
        atom = pair["atoms"][sample.inputs["atom"]] if sample.inputs["atom"] is not None else [0, ""]
        width = len(str(len(lines)))
        ours = {"task": task, "setting": self._arg("setting"), "kind": program["kind"],
                "program": "\n".join(f"{i:>{width}}  {ln}".rstrip() for i, ln in enumerate(lines, 1)
                                     if i < len(lines) or ln.strip()),
                "call": data.call_text(program["entry_point"], pair["input_text"]) if program["kind"] == "function"
                else "", "test": pair["input_text"].rstrip() if program["kind"] == "class" else "",
                "setup": _setup_body(pair["setup"]), "line": atom[0],
                "codeline": lines[atom[0] - 1] if atom[0] else "", "var": atom[1], "question": pair["question"]}
        return {**official_fields(sample), **ours}

    # --- answers --------------------------------------------------------------------------------------
    def extract(self, sample: Sample, text: str) -> Answer:
        official, cot = self._arg("parsing") == "official", self._arg("setting") == "cot"
        task = sample.inputs["task"]
        if task == "coverage":
            value: dict[str, Any] = {"value": answers.coverage(text, official, cot)}
        elif task == "path":
            value = {"lines": answers.path(text, sample.inputs["program"]["code"], official, cot)}
        elif task == "state":
            value = {"text": answers.state_text(text, official, cot)}
        else:
            filled = output_answer.fill(answers.output_text(text, official, cot), sample.inputs["pair"]["question"],
                                        official)
            value = {"holes": list(filled.holes), "problem": filled.problem}
        return Answer(value, json.dumps(value, sort_keys=True))

    def grade(self, sample: Sample, answer: Answer) -> Verdict:
        if self.grader is None:
            raise RuntimeError("the reval task is not open: the engine calls open(ctx) before grading")
        return self.grader.grade(sample, answer.value)

    def reference_response(self, sample: Sample) -> str:
        task, pair = sample.inputs["task"], sample.inputs["pair"]
        if task == "output":
            if sample.inputs["program"]["kind"] == "class":
                return f"<answer>\n{pair['input_text'].strip()}\n</answer>"
            return f"<answer>\n{pair['question'].replace(data.HOLE, pair['expected'])}\n</answer>"
        if self.grader is None:
            raise TaskError("reval: the oracle's coverage, state and path answers come from the traced ground truth; "
                            "they are available only in a run (the task must be open)")
        truth = self.grader.truth(sample)
        if not truth.get("ok"):
            return "<answer>-1</answer>"
        atom = truth["atoms"][sample.inputs["atom"]]
        if task == "coverage":
            return f"<answer>{'YES' if atom['covered'] else 'NO'}</answer>"
        if task == "path":
            return f"<answer>{-1 if -1 in atom['next'] else min(atom['next'])}</answer>"
        state = atom["state"]
        if state.get("error") or state.get("nil"):
            return "<answer>Nil</answer>"
        text = self.grader.state_answer_for([values.decode(t) for t in state["values"]])
        return f"<answer>{text or 'Nil'}</answer>"

    # --- metrics --------------------------------------------------------------------------------------
    def aggregate(self, results: Iterable[SampleResult], samples_per_problem: int) -> Metrics:
        return aggregate(results)


def _setup_body(setup: str | None) -> str:
    """The statements of a setUp method, dedented (for our prompt)."""
    if not setup:
        return ""
    import textwrap

    return textwrap.dedent("\n".join(setup.rstrip("\n").split("\n")[1:])).strip("\n")


def official_fields(sample: Sample) -> dict[str, Any]:
    """The fields of REval's own templates, built exactly as REval's evaluation.py builds them."""
    program, pair, task = sample.inputs["program"], sample.inputs["pair"], sample.inputs["task"]
    code = program["code"]
    codelines = code.split("\n")
    atom = pair["atoms"][sample.inputs["atom"]] if sample.inputs["atom"] is not None else None
    fields: dict[str, Any] = {}
    if atom is not None:
        fields.update(line=atom[0], codeline=codelines[atom[0] - 1], var=atom[1])
    if program["kind"] == "function":
        call = f"{program['entry_point']}{pair['input_text'][:-2]})"
        if task == "output":
            fields.update(code=code, invocation="\n" + pair["question"])
        else:
            fields.update(invocation=call, invocation_abbr=call,
                          code="".join(f"{i + 1}\t{ln}\n" for i, ln in enumerate(codelines)) if task == "path"
                          else code)
        return fields
    setup_lines = (pair["setup"] or "").split("\n")[1:]
    if task in ("path", "output"):
        setup = SETUP_NOTE + "# " + "\n# ".join(setup_lines) if pair["setup"] else ""
    else:
        setup = SETUP_NOTE + "\n# ".join(setup_lines) if pair["setup"] else ""
    if task == "output":
        fields.update(code=code, invocation=setup + OUTPUT_PRELUDE + pair["question"])
    else:
        fields.update(code=code, invocation=setup + "\n" + pair["input_text"].rstrip(),
                      invocation_abbr="the above test code")
    return fields


TASK = Reval(HERE)
