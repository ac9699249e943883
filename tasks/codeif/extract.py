"""The code in a response: its fenced blocks, each with the language its fence names.

CodeIF stores the whole raw response and its judge reads it all, prose included; the checkers read the code.
A response without any fence is taken as code as a whole (models often answer with bare code). A fence opened
and never closed (a response cut off at the token limit) runs to the end of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .templates import LANGUAGE_NAMES, language_of

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n]*$", re.MULTILINE)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_UNCLOSED_THINK = re.compile(r"<think>.*\Z", re.DOTALL)

# Fence tags that name no programming language: data, markup, shell sessions, plain text. A block tagged with
# one of these is neither the task's code nor evidence of "another programming language".
NOT_PROGRAMS = frozenset({
    "", "text", "txt", "plaintext", "output", "console", "shell", "sh", "bash", "zsh", "cmd", "powershell", "ps1",
    "json", "yaml", "yml", "xml", "html", "toml", "ini", "properties", "gradle", "groovy", "makefile", "make",
    "cmake", "dockerfile", "docker", "sql", "csv", "markdown", "md", "diff", "log", "env", "conf", "mod",
})


# Fence tags that certainly name another programming language (a block tagged with one breaks template 1). A tag
# that is neither this, nor the task's language, nor in NOT_PROGRAMS is unknown: it decides nothing.
PROGRAMS = frozenset({
    "python", "java", "cpp", "c", "go", "kotlin", "javascript", "js", "typescript", "ts", "jsx", "tsx", "ruby", "rb",
    "rust", "rs", "php", "swift", "scala", "csharp", "c#", "cs", "fsharp", "f#", "perl", "r", "lua", "haskell", "dart",
    "objective-c", "objc", "objectivec", "matlab", "julia", "elixir", "erlang", "clojure", "fortran", "pascal",
    "vb", "vbnet", "visual-basic", "zig", "nim", "ocaml", "solidity", "assembly", "asm", "nasm", "cobol", "lisp",
    "scheme", "prolog", "groovy-script", "coffeescript", "vue", "svelte",
})
# Spellings of a language's fence tag beyond `templates.LANGUAGE_NAMES` (a version suffix is dropped too).
FENCE_ALIASES = {"pycon": "python", "ipython": "python", "python-repl": "python", "py3": "python", "c++": "cpp",
                 "cplusplus": "cpp", "hxx": "cpp", "cuda": "cpp", "golang": "go", "kt": "kotlin"}


def fence_language(tag: str) -> str:
    """The language a fence's tag names, as our name: `{.python}`, `Python3.10`, `cpp17`, `c++11`, `py3` too."""
    t = tag.strip().lower().strip("{}").lstrip(".")
    t = re.split(r"[\s,;:=]", t)[0] if t else ""
    for candidate in (t, re.sub(r"[\d.]+$", "", t)):
        if candidate in FENCE_ALIASES:
            return FENCE_ALIASES[candidate]
        if candidate in LANGUAGE_NAMES:
            return language_of(candidate)
    return language_of(t)


@dataclass(frozen=True)
class CodeBlock:
    language: str  # our name of the fence's language ("" when the fence names none)
    code: str
    first_line: int  # 1-based line of the response where the code starts
    fenced: bool


def clean(text: str | None) -> str:
    """A response as the checkers read it: Windows and old-Mac line ends made `\n` (a fence closed by "```\r"
    is closed), and what UTF-8 cannot carry (a lone surrogate from a JSON `\ud800` escape) made U+FFFD."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return encodable(text)


def encodable(text: str) -> str:
    """`text` with every lone surrogate (which UTF-8 cannot encode) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def code_blocks(response: str) -> tuple[CodeBlock, ...]:
    """Every fenced block of the response, in order; the whole response when it has no fence."""
    text = _THINK.sub("", clean(response))
    text = _UNCLOSED_THINK.sub("", text)  # a response cut off while thinking: what follows is not its answer
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
        blocks.append(CodeBlock(fence_language(opening.group(2)), code.rstrip("\n"), line, True))
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
    return tuple(sorted({b.language for b in blocks if b.language not in same and b.language in PROGRAMS}))


def unknown_tags(blocks: tuple[CodeBlock, ...], language: str) -> tuple[str, ...]:
    """Fence tags that name neither the task's language, nor a known other one, nor data, markup or a shell."""
    same = {language} | ({"c", "cpp"} if language in ("c", "cpp") else set())
    return tuple(sorted({b.language for b in blocks
                         if b.language not in same and b.language not in PROGRAMS and b.language not in NOT_PROGRAMS}))
