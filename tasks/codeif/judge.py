"""The LLM judge: one call per task, answering Yes or No for every constraint in order.

The prompt is ours (`judge_prompt.txt`); `-T judge_template=FILE` loads another, such as CodeIF's official
one, written with the same placeholders: `{question}`, `{instructions_str}` (the numbered constraints),
`{generated_code}` (the whole raw response, as CodeIF's judge sees it), and optionally `{count}`.

The reply is read robustly: `<think>` blocks dropped, every bracketed list of Yes/No items found (quoted or not),
and the last one of the right length taken. A reply with none is asked again (another attempt index, so a
cached reply is not simply returned) up to `TRIES` times in all; after that the task's constraints are recorded
as unjudged, never dropped from the denominator (CodeIF's own scripts silently drop such tasks).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness.task import TaskError
from harness.types import Prompt

from .extract import encodable

HERE = Path(__file__).resolve().parent
OWN_TEMPLATE = HERE / "judge_prompt.txt"
REQUIRED = ("{question}", "{instructions_str}", "{generated_code}")
TRIES = 3

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_LIST = re.compile(r"\[([^\[\]]*)\]")
_ITEM = re.compile(r"""^\s*["'`‘’“”]?\s*(yes|no)\s*["'`‘’“”]?\s*$""", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeTemplate:
    text: str
    sha256: str
    source: str  # "own", or the file it was read from


def load_template(path: str | None) -> JudgeTemplate:
    """Our own judge prompt, or the one in `path` (which must hold the three required placeholders)."""
    file = Path(path) if path else OWN_TEMPLATE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskError(f"codeif: cannot read the judge template {file} (-T judge_template): {exc.strerror}") from exc
    missing = [p for p in REQUIRED if p not in text]
    if missing:
        raise TaskError(f"codeif: the judge template {file} lacks the placeholder(s) {', '.join(missing)}; it must "
                        f"hold {', '.join(REQUIRED)} (and may hold {{count}})")
    return JudgeTemplate(text, hashlib.sha256(text.encode("utf-8")).hexdigest(), str(file) if path else "own")


def numbered(instructions: list[str]) -> str:
    return "\n".join(f"{i + 1}. {text}" for i, text in enumerate(instructions))


def render(template: JudgeTemplate, question: str, instructions: list[str], response: str) -> Prompt:
    """The judge's prompt: placeholders replaced as plain text (the template may hold other braces)."""
    text = template.text
    values = {"{question}": question, "{instructions_str}": numbered(instructions),
              "{generated_code}": encodable(response), "{count}": str(len(instructions))}  # a prompt is UTF-8
    # one pass, so a value that contains a placeholder's spelling is never substituted again
    pattern = re.compile("|".join(re.escape(k) for k in values))
    return Prompt.chat(pattern.sub(lambda m: values[m.group(0)], text))


@dataclass(frozen=True)
class ParsedReply:
    values: tuple[bool, ...] | None  # one per constraint, or None when the reply has no list of the right length
    problem: str | None = None


def parse_reply(reply: str, count: int) -> ParsedReply:
    """The Yes/No list in a judge's reply: the last bracketed list of `count` Yes/No items."""
    text = _THINK.sub("", reply or "")
    lists = []
    for m in _LIST.finditer(text):
        items = [x for x in m.group(1).split(",")]
        if items and items[-1].strip() == "" and len(items) > 1:
            items = items[:-1]  # a trailing comma
        parsed = [_ITEM.match(x) for x in items]
        if items and all(parsed):
            lists.append(tuple(p.group(1).lower() == "yes" for p in parsed))
    right = [x for x in lists if len(x) == count]
    if right:
        return ParsedReply(right[-1])
    if lists:
        lengths = ", ".join(str(len(x)) for x in lists)
        return ParsedReply(None, f"the reply's Yes/No list has {lengths} entries, not {count}")
    return ParsedReply(None, "the reply holds no list of Yes/No entries")


@dataclass(frozen=True)
class JudgeOutcome:
    values: tuple[bool, ...] | None  # None: unjudged (see `problem`) or the judge failed (see `infra`)
    tries: int
    reply: str  # the last reply (shortened)
    problem: str | None = None  # why the replies could not be used
    infra: str | None = None  # the judge did not answer (after the adapter's retries): retried on resume


def ask(judge, prompt: Prompt, count: int, tries: int = TRIES) -> JudgeOutcome:
    """Ask until a reply has a list of the right length, `tries` times at most."""
    reply, problem = "", None
    for attempt in range(tries):
        response = judge.ask(prompt, attempt=attempt)
        if response.error is not None:
            return JudgeOutcome(None, attempt + 1, reply, infra=response.error)
        reply = response.text or ""
        parsed = parse_reply(reply, count)
        if parsed.values is not None:
            return JudgeOutcome(parsed.values, attempt + 1, reply[-2000:])
        problem = parsed.problem
    return JudgeOutcome(None, tries, reply[-2000:], problem=f"{problem} (after {tries} tries)")
