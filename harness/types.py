"""The nouns of the flow: Sample -> Prompt -> Response -> Answer -> Verdict -> Metrics.

Typed dataclasses at every seam; anything that goes into the store is JSON-serialisable.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


def stable_hash(*parts: Any) -> str:
    """A sha256 over the canonical JSON of the parts: the key of every cache in the store. Values JSON cannot
    hold are turned into what they contain (arrays into lists, sets sorted, paths and enums into text); anything
    else is refused, so that two different values can never hash alike."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    import dataclasses
    import pathlib

    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=lambda v: json.dumps(v, sort_keys=True, default=_jsonable))
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, (pathlib.PurePath, enum.Enum)):
        return str(value.value if isinstance(value, enum.Enum) else value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot key a value of type {type(value).__name__} ({value!r:.60}): give samples and "
                    f"options plain JSON values (str, numbers, lists, dicts)")


@dataclass(frozen=True)
class Sample:
    """One benchmark item: a stable id, its inputs, its reference, and metadata."""

    id: str
    inputs: dict[str, Any]
    reference: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Prompt:
    """What the model is asked: chat messages; `text` joins them for completion-style backends."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs

    @classmethod
    def chat(cls, user: str, system: str | None = None) -> "Prompt":
        msgs = ((("system", system),) if system else ()) + (("user", user),)
        return cls(messages=msgs)

    @property
    def text(self) -> str:
        return "\n\n".join(content for _, content in self.messages)

    def as_openai(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def key(self) -> str:
        """sha256 over the messages, each part length-prefixed (unambiguous, and cheaper than JSON)."""
        h = hashlib.sha256()
        for role, content in self.messages:
            for part in (role, content):
                data = part.encode("utf-8")
                h.update(b"%d:" % len(data))
                h.update(data)
        return h.hexdigest()


@dataclass(frozen=True)
class GenParams:
    """Generation parameters; part of every response's cache key."""

    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    extra: tuple[tuple[str, str], ...] = ()  # backend-specific --model-arg KEY=VALUE pairs

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "seed": self.seed,
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class Request:
    """One sample's prompt, and which of its sample indices (0..n-1) still need a response."""

    sample: Sample
    prompt: Prompt
    indices: tuple[int, ...]


@dataclass(frozen=True)
class Response:
    """One completion. `error` set means no usable text came back for reasons that are ours or the
    provider's (an infra failure), never the model's: such a response is not cached and is retried on resume.
    `usage["withdrawn"]` (a reason) means the adapter withdraws the attempt from the metrics (a replayed file
    that marks its prompt invalid): it is recorded as ungradable with that reason, neither graded nor cached."""

    text: str | None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)

    @classmethod
    def failed(cls, error: str) -> "Response":
        return cls(text=None, error=error)


@dataclass(frozen=True)
class Answer:
    """What was extracted from a response. `canonical` is a string that identifies it for the verdict cache."""

    value: Any
    canonical: str


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the model's fault: bad syntax, crash, timeout
    INFRA = "infra"  # ours: image missing, daemon down, sandbox died; never counted against the model
    UNGRADABLE = "ungradable"  # the data's: no tests for this sample, a broken reference; reported apart


@dataclass(frozen=True)
class Verdict:
    status: Status
    score: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS


@dataclass(frozen=True)
class SampleResult:
    """Every graded attempt of one sample, as the aggregator sees it (infra verdicts already left out)."""

    sample_id: str
    verdicts: tuple[Verdict, ...]
    metadata: dict[str, Any] = field(default_factory=dict)  # the sample's values of the task's metadata_keys

    @property
    def n(self) -> int:
        return len(self.verdicts)

    @property
    def correct(self) -> int:
        return sum(v.passed for v in self.verdicts)


@dataclass
class Metrics:
    """A benchmark's own numbers, each optionally with a (low, high) confidence interval."""

    values: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, value: float, interval: tuple[float, float] | None = None) -> None:
        self.values[name] = value
        if interval is not None:
            self.intervals[name] = interval
