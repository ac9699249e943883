"""The Task contract: what a benchmark folder provides.

A task folder (`tasks/<name>/`, or any folder given with `--task ./path`) is a Python package whose
`__init__.py` defines `TASK`, an instance of a `Task` subclass. The engine calls only the methods below.

Required: `source`, `samples`, `render`, `extract`, `grade`, `reference_response`.
Optional, with defaults: `aggregate` (pass@k with intervals, per declared metadata key), `open`/`close` (the
resources a run needs, from the engine's `TaskContext`), `grader_fingerprint` (what besides the task's code can
change a sample's verdict), `unavailable` (why the task cannot run on this machine), `smoke_options`, `size`.
Declared: `options` (what `-T KEY=VALUE` accepts), `metadata_keys` (sample metadata stored with each run and
handed to `aggregate`), `grader_image`, `uses_judge`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import jinja2

from .types import Answer, Metrics, Prompt, Sample, SampleResult, Verdict

if TYPE_CHECKING:
    from .context import TaskContext


class TaskError(Exception):
    """A problem with a task's data or definition; the message names the file, row and field."""


@dataclass(frozen=True)
class DataSource:
    """Where a task's samples come from, and a hash of it for the reproducibility record."""

    description: str
    sha256: str


_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


@dataclass(frozen=True)
class TaskOption:
    """One `-T/--task-arg KEY=VALUE` a task accepts. `type` is str, int, float or bool; `choices` limits a str.
    `identity`: the option can change outputs or grading, so it is part of the run's identity and record and of
    every verdict key (False only for options that cannot: a cache folder, a verbosity)."""

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    identity: bool = True

    def parse(self, raw: str) -> Any:
        if self.type is bool:
            if raw.lower() not in _BOOLS:
                raise ValueError(f"expected true or false, got {raw!r}")
            return _BOOLS[raw.lower()]
        try:
            value = self.type(raw)
        except ValueError:
            raise ValueError(f"expected {self.type.__name__}, got {raw!r}") from None
        if self.choices and value not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {raw!r}")
        return value

    def describe(self) -> str:
        kind = "|".join(self.choices) if self.choices else self.type.__name__
        return f"{self.name}={kind} (default {self.default!r}): {self.help}"


@dataclass
class LoadOptions:
    split: str | None = None
    data: str | None = None  # a local file/folder, or `hf:<repo id>` for the Hugging Face hub
    limit: int | None = None  # applied by the engine; a task may use it to read less
    subset: str | None = None  # a name of the task's `subsets`, applied by the engine
    since: str | None = None  # --since/--until: ISO 8601 dates or datetimes, inclusive; the engine keeps the
    until: str | None = None  # samples whose metadata created_at is in the window (harness/selection.py)
    args: dict[str, Any] = field(default_factory=dict)  # the task's options, typed, defaults filled in


class Task(ABC):
    name: str = ""
    version: str = "1"  # a label for people; the engine also hashes the task's code (see harness.keys)
    description: str = ""
    splits: tuple[str, ...] = ("default",)
    default_split: str = "default"
    options: tuple[TaskOption, ...] = ()
    metadata_keys: tuple[str, ...] = ()  # sample metadata stored per run, given to aggregate, broken down by
    grader_image: str | None = None  # the sandbox image a task grades in; its digest is part of verdict keys
    uses_judge: bool = False  # grading can call the judge model (--judge-model)
    cluster_key: str | None = None  # a metadata key whose samples are not independent (a program, a repository):
    #                                 the gate resamples whole clusters
    subsets: dict[str, int] = {}  # named small subsets (`--subset pr`): name -> size; see harness/subsets.py

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.ctx: TaskContext | None = None

    # --- data -------------------------------------------------------------------------------------
    @abstractmethod
    def source(self, options: LoadOptions) -> DataSource:
        """Describe (and hash) the data that `samples` will read, without reading every row."""

    @abstractmethod
    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        """Yield samples one at a time (memory stays flat in the number of samples)."""

    def size(self, split: str | None = None) -> int | None:
        """Number of samples of a split without --data, when known cheaply (for `harness list`)."""
        return None

    def smoke_options(self) -> LoadOptions | None:
        """What `harness smoke` (`make run`) evaluates: a few samples of data that ships with the task
        (built in, or small fixtures of its own). None leaves the task out of the smoke suite."""
        return LoadOptions(limit=20)

    def unavailable(self) -> str | None:
        """Why this task cannot run on this machine (with the fix), or None. Checked before a run starts."""
        return None

    # --- lifecycle ------------------------------------------------------------------------------------
    def open(self, ctx: TaskContext) -> None:
        """Called by the runner before the first sample. Take what the run needs from `ctx` (sandbox pools,
        the judge, the derived-reference cache); the context closes what it made, whatever way the run ends."""
        self.ctx = ctx

    def close(self) -> None:
        """Called by the runner after the last sample, always (normal end, Ctrl-C, an exception)."""
        self.ctx = None

    # --- prompt, answer, grade ----------------------------------------------------------------------
    @abstractmethod
    def render(self, sample: Sample, template: jinja2.Template) -> Prompt: ...

    @abstractmethod
    def extract(self, sample: Sample, text: str) -> Answer:
        """The answer in a response. Raising is the model's fault (an `error` verdict), never the harness's."""

    @abstractmethod
    def grade(self, sample: Sample, answer: Answer) -> Verdict: ...

    @abstractmethod
    def reference_response(self, sample: Sample) -> str:
        """The response a perfect model would give (used by the `oracle` model)."""

    def grader_fingerprint(self, sample: Sample) -> Any:
        """What, besides the task's code and options, can change this sample's verdict: by default the digest
        of `grader_image` and the judge model's key. A task with an image per sample overrides this."""
        ctx = self.ctx
        if ctx is None:
            return None
        return {"image": ctx.image_id(self.grader_image) if self.grader_image else None,
                "judge": ctx.judge.key if (ctx.judge is not None and self.uses_judge) else None}

    # --- metrics --------------------------------------------------------------------------------------
    def aggregate(self, results: Iterable[SampleResult], samples_per_problem: int) -> Metrics:
        """The default for pass/fail tasks: pass@1 (and pass@k up to n) with intervals, overall and per value
        of each declared metadata key (`pass@1[language=go]`); ungradable samples left out and counted."""
        from .metrics import pass_fail_metrics

        return pass_fail_metrics(results, self.metadata_keys)

    # --- options and identity --------------------------------------------------------------------------
    def parse_args(self, raw: dict[str, str]) -> dict[str, Any]:
        """`-T KEY=VALUE` pairs -> typed options with defaults filled in; a one-line TaskError names a bad one."""
        known = {o.name: o for o in self.options}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            have = ", ".join(known) or "none"
            raise TaskError(f"task {self.name!r} has no option {unknown[0]!r} (-T); its options: {have}")
        out = {}
        for name, opt in known.items():
            if name in raw:
                try:
                    out[name] = opt.parse(raw[name])
                except ValueError as exc:
                    raise TaskError(f"task {self.name!r}, option -T {name}: {exc}") from None
            else:
                out[name] = opt.default
        return out

    def identity_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """The options that can change outputs or grading (part of the run's identity and the verdict keys)."""
        return {o.name: args.get(o.name, o.default) for o in self.options if o.identity}

    @functools.cached_property
    def code_hash(self) -> str:
        """sha256 of the task's code: its folder when it is a task folder (a package holding the Task's module),
        else the one module file that defines the Task (a plug-in module in site-packages)."""
        import sys

        from .keys import code_hash

        module_file = Path(getattr(sys.modules.get(type(self).__module__), "__file__", None) or self.folder)
        folder = self.folder.resolve()
        if (folder / "__init__.py").is_file() and folder in module_file.resolve().parents:
            return code_hash(folder)
        return code_hash(module_file)

    # --- prompt templates ----------------------------------------------------------------------------
    def template_path(self) -> Path:
        return self.folder / "prompt.jinja"

    def split_or_default(self, split: str | None) -> str:
        split = split or self.default_split
        if split not in self.splits:
            raise TaskError(f"task {self.name!r} has no split {split!r}; splits: {', '.join(self.splits)}")
        return split


def load_template(path: Path) -> tuple[jinja2.Template, str]:
    """Compile a prompt template; returns it with the sha256 of its text (for the run's record)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskError(f"cannot read prompt template {path}: {exc.strerror}") from exc
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
                             trim_blocks=True, lstrip_blocks=True)
    try:
        template = env.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TaskError(f"prompt template {path}, line {exc.lineno}: {exc.message}") from exc
    return template, hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def jsonl_rows(path: Path, task: str) -> Iterator[tuple[str, Any]]:
    """The rows of a JSON Lines data file as (where, value), `where` naming the file and line; blank lines are
    skipped. TaskError, prefixed with the task's name, when the file cannot be read or a line is not JSON."""
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise TaskError(f"{task}: cannot read {path}: {exc.strerror}") from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}, line {n}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskError(f"{task}: {where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
