"""The code in a response: its fenced blocks, each with the language its fence names.

CodeIF stores the whole raw response and its judge reads it all, prose included; the checkers read the code.
A response without any fence is taken as code as a whole (models often answer with bare code). A fence opened
and never closed (a response cut off at the token limit) runs to the end of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .templates import language_of

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n]*$", re.MULTILINE)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)

# Fence tags that name no programming language: data, markup, shell sessions, plain text. A block tagged with
# one of these is neither the task's code nor evidence of "another programming language".
NOT_PROGRAMS = frozenset({
    "", "text", "txt", "plaintext", "output", "console", "shell", "sh", "bash", "zsh", "cmd", "powershell", "ps1",
    "json", "yaml", "yml", "xml", "html", "toml", "ini", "properties", "gradle", "groovy", "makefile", "make",
    "cmake", "dockerfile", "docker", "sql", "csv", "markdown", "md", "diff", "log", "env", "conf", "mod",
})


@dataclass(frozen=True)
class CodeBlock:
    language: str  # our name of the fence's language ("" when the fence names none)
    code: str
    first_line: int  # 1-based line of the response where the code starts
    fenced: bool


def code_blocks(response: str) -> tuple[CodeBlock, ...]:
    """Every fenced block of the response, in order; the whole response when it has no fence."""
    text = _THINK.sub("", response or "")
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        opening = _FENCE.search(text, pos)
        if opening is None:
            break
        fence = opening.group(1)
        start = opening.end() + 1
        closing = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.MULTILINE)
        end_match = closing.search(text, start)
        end = end_match.start() if end_match else len(text)
        code = text[start:end] if start <= len(text) else ""
        line = text.count("\n", 0, start) + 1
        blocks.append(CodeBlock(language_of(opening.group(2)), code.rstrip("\n"), line, True))
        if end_match is None:
            break
        pos = end_match.end()
    if not blocks and text.strip():
        blocks.append(CodeBlock("", text.strip("\n"), 1, False))
    return tuple(blocks)


def blocks_in(blocks: tuple[CodeBlock, ...], language: str) -> tuple[CodeBlock, ...]:
    """The blocks that hold the task's code: tagged with its language, or untagged. C is read with C++'s
    grammar, so for a C task `c` and `cpp` blocks count alike."""
    same = {language} | ({"c", "cpp"} if language in ("c", "cpp") else set())
    return tuple(b for b in blocks if b.language in same or b.language == "")


def other_languages(blocks: tuple[CodeBlock, ...], language: str) -> tuple[str, ...]:
    """Programming languages other than the task's that fences name (shell, data and markup tags are not)."""
    same = {language} | ({"c", "cpp"} if language in ("c", "cpp") else set())
    return tuple(sorted({b.language for b in blocks if b.language not in same and b.language not in NOT_PROGRAMS}))
