"""The Task contract: what a benchmark folder provides.

A task folder (`tasks/<name>/`, or any folder given with `--task ./path`) is a Python package whose
`__init__.py` defines `TASK`, an instance of a `Task` subclass. The engine calls only the methods below.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import jinja2

from .types import Answer, Metrics, Prompt, Sample, SampleResult, Verdict


class TaskError(Exception):
    """A problem with a task's data or definition; the message names the file, row and field."""


@dataclass(frozen=True)
class DataSource:
    """Where a task's samples come from, and a hash of it for the reproducibility record."""

    description: str
    sha256: str


@dataclass
class LoadOptions:
    split: str | None = None
    data: str | None = None  # a local file/folder, or `hf:<repo id>` for the Hugging Face hub
    limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Task(ABC):
    name: str = ""
    version: str = "1"
    description: str = ""
    splits: tuple[str, ...] = ("default",)
    default_split: str = "default"
    grader_image: str | None = None  # set by tasks that grade in a sandbox; part of the verdict cache key

    def __init__(self, folder: Path):
        self.folder = Path(folder)

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

    # --- prompt, answer, grade ----------------------------------------------------------------------
    @abstractmethod
    def render(self, sample: Sample, template: jinja2.Template) -> Prompt: ...

    @abstractmethod
    def extract(self, sample: Sample, text: str) -> Answer: ...

    @abstractmethod
    def grade(self, sample: Sample, answer: Answer) -> Verdict: ...

    @abstractmethod
    def reference_response(self, sample: Sample) -> str:
        """The response a perfect model would give (used by the `oracle` model)."""

    @abstractmethod
    def aggregate(self, results: Iterable[SampleResult], samples_per_problem: int) -> Metrics: ...

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
