"""A response read for the checkers: its code blocks in the task's language, parsed into one set of facts."""

from __future__ import annotations

from dataclasses import dataclass

from . import lang_cpp, lang_go, lang_java, lang_python
from .extract import CodeBlock, blocks_in, clean, code_blocks
from .facts import CodeFacts
from .syntax import parses_cleanly, supported

EXTRACTORS = {
    "python": lang_python.extract,
    "java": lang_java.extract,
    "cpp": lang_cpp.extract,
    "c": lambda code, block: lang_cpp.extract(code, block, language="c"),
    "go": lang_go.extract,
}


@dataclass(frozen=True)
class Program:
    language: str  # the language the task asks for (from its instruction 1)
    response: str
    blocks: tuple[CodeBlock, ...]  # every block of the response
    code: tuple[CodeBlock, ...]  # the blocks read as the task's code
    facts: CodeFacts | None  # None where there is no grammar for the language (or no code)

    @property
    def has_code(self) -> bool:
        return any(b.code.strip() for b in self.code)


def read_program(response: str, language: str) -> Program:
    """Parse the response's code. Blocks tagged with the task's language are its code; untagged blocks are too,
    unless the response has tagged ones and the untagged block does not parse (sample output, a directory tree)."""
    response = clean(response)
    blocks = code_blocks(response)
    candidates = blocks_in(blocks, language)
    if not supported(language):
        return Program(language, response, blocks, candidates, None)
    tagged = [b for b in candidates if b.language]
    code = tuple(b for b in candidates if b.language or not tagged or parses_cleanly(b.code, language))
    if not any(b.code.strip() for b in code):
        return Program(language, response, blocks, code, None)
    facts = CodeFacts(language=language)
    for i, block in enumerate(code):
        try:
            facts.merge(EXTRACTORS[language](block.code, i))
        except Exception as exc:  # noqa: BLE001 - an extractor bug: the block is unread, so nothing is absent
            facts.errors.append(f"block {i + 1}: could not be read ({type(exc).__name__}: {exc})")
    return Program(language, response, blocks, code, facts)
