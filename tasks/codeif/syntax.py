"""Parsing with tree-sitter, and what every language's fact extractor shares.

The grammars come from the per-language wheels (tree-sitter-python, -java, -cpp, -go), which carry them
compiled; nothing is downloaded at run time. Code is only parsed: never compiled, imported or run. Parsers are
per thread (a tree-sitter parser is not safe to share), languages are loaded once.

`Extractor` walks one block's tree once for its tokens (keywords and names, strings and comments left out,
and which lines hold code) and once for its structure, calling `visit_<node type>` methods that each language
defines (and counting the constructs of its `CONSTRUCTS` table); a visitor returns the scope its children are seen
in, or `SKIP` to leave them unvisited.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable

from tree_sitter import Language, Node, Parser

from .facts import CodeFacts, Instantiation

GRAMMARS = {"python": "tree_sitter_python", "java": "tree_sitter_java", "cpp": "tree_sitter_cpp",
            "go": "tree_sitter_go", "c": "tree_sitter_cpp"}  # C is read with the C++ grammar
_LOCAL = threading.local()
_WORD = re.compile(r"^[A-Za-z_]\w*$")
SKIP = object()


@functools.lru_cache(maxsize=None)
def grammar(language: str) -> Language:
    import importlib

    module = importlib.import_module(GRAMMARS[language])
    return Language(module.language())


def parser(language: str) -> Parser:
    parsers = getattr(_LOCAL, "parsers", None)
    if parsers is None:
        parsers = _LOCAL.parsers = {}
    if language not in parsers:
        parsers[language] = Parser(grammar(language))
    return parsers[language]


def supported(language: str) -> bool:
    return language in GRAMMARS


def parses_cleanly(code: str, language: str) -> bool:
    return not parser(language).parse(code.encode("utf-8")).root_node.has_error


def text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def error_places(root: Node, block: int, limit: int = 3) -> list[str]:
    out = []
    stack = [root]
    while stack and len(out) < limit:
        node = stack.pop()
        if node.is_error or node.is_missing:
            what = f"missing {node.type!r}" if node.is_missing else f"unexpected {text(node)[:30]!r}"
            out.append(f"block {block + 1}, line {node.start_point[0] + 1}: {what}")
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return out


@dataclass(frozen=True)
class Scope:
    kind: str = "module"  # module | class | function | block
    owner: str | None = None  # the enclosing class (or Go receiver type)
    function: Any = None  # the enclosing function's node
    type_key: Any = None  # the key of the enclosing type declaration's record, where a language keeps one
    main_guard: bool = False  # Python: under `if __name__ == "__main__":`
    namespace: str | None = None  # C++: the enclosing namespace

    def but(self, **changes: Any) -> Scope:
        return replace(self, **changes)


class Extractor:
    language = ""
    # Leaf node types that are names written by the programmer (everything else that is a word is a keyword).
    NAME_TYPES = frozenset({"identifier", "type_identifier", "field_identifier", "namespace_identifier",
                            "package_identifier", "property_identifier", "statement_identifier", "label_name"})
    # Node types whose text is data, not code: their insides give neither keywords nor names.
    OPAQUE_TYPES: frozenset[str] = frozenset()
    COMMENT_TYPES: frozenset[str] = frozenset({"comment"})
    # Node types that are a construct the checkers count (a loop, a lambda, a list literal): type -> the counts.
    CONSTRUCTS: dict[str, tuple[str, ...]] = {}
    # Leaf node types that `names_in` reads as names in an argument.
    ARGUMENT_NAME_TYPES: frozenset[str] = frozenset({"identifier"})

    def __init__(self, code: str, block: int):
        self.code = code
        self.source = code.encode("utf-8")
        self.block = block
        self.facts = CodeFacts(language=self.language, blocks=1, lines=code.split("\n"))
        self.code_rows: set[int] = set()
        self.package: str | None = None

    def run(self) -> CodeFacts:
        tree = parser(self.language).parse(self.source)
        root = tree.root_node
        if root.has_error:
            self.facts.errors = error_places(root, self.block)
        self._tokens(root)
        self._structure(root)
        return self.facts

    # --- tokens -----------------------------------------------------------------------------------------------
    def _tokens(self, root: Node) -> None:
        keywords, names, rows = self.facts.keywords, self.facts.identifiers, self.code_rows
        stack = [root]
        while stack:
            node = stack.pop()
            kind = node.type
            if kind in self.COMMENT_TYPES:
                continue
            if kind in self.OPAQUE_TYPES:
                rows.update(range(node.start_point[0], node.end_point[0] + 1))
                continue
            if node.child_count == 0:
                rows.add(node.start_point[0])
                word = text(node)
                if kind in self.NAME_TYPES:
                    names[word] += 1
                elif _WORD.match(word):
                    keywords[word] += 1
                continue
            stack.extend(node.children)

    def code_lines_in(self, node: Node) -> int:
        return sum(1 for r in range(node.start_point[0], node.end_point[0] + 1) if r in self.code_rows)

    def body_lines_in(self, body: Node | None) -> int | None:
        """Code lines of a function's body alone: for a braced body the rows strictly between its braces' rows
        (a row holding a brace and code is not counted: this is the fewest any reading counts), for Python's
        indented block every row of it."""
        if body is None:
            return None
        start, end = body.start_point[0], body.end_point[0]
        rows = range(start, end + 1) if self.language == "python" else range(start + 1, end)
        return sum(1 for r in rows if r in self.code_rows)

    # --- structure ------------------------------------------------------------------------------------------
    def _structure(self, root: Node, scope: Scope | None = None) -> None:
        """Walk a subtree: the whole tree in the module's scope, or a part of it in a given one (C's typedef'd
        anonymous struct)."""
        stack: list[tuple[Node, Scope]] = [(root, scope or Scope())]
        while stack:
            node, scope = stack.pop()
            for construct in self.CONSTRUCTS.get(node.type, ()):
                self.facts.constructs[construct] += 1
            visitor: Callable[[Node, Scope], Any] | None = getattr(self, "visit_" + node.type, None)
            inner = scope
            if visitor is not None:
                result = visitor(node, scope)
                if result is SKIP:
                    continue
                if isinstance(result, Scope):
                    inner = result
            stack.extend((child, inner) for child in reversed(node.children))

    def lines_of(self, node: Node) -> int:
        return node.end_point[0] - node.start_point[0] + 1

    def names_in(self, node: Node) -> list[str]:
        """The identifiers written in an expression (an argument), its strings and comments left out."""
        out, stack = [], [node]
        while stack:
            n = stack.pop()
            if n.type in self.ARGUMENT_NAME_TYPES:
                out.append(text(n))
            elif n.type not in self.OPAQUE_TYPES and n.type not in self.COMMENT_TYPES:
                stack.extend(reversed(n.children))
        return out

    def _record_instantiation(self, target: str, class_name: str | None, arg_nodes: list[Node], form: str,
                              arg_names: list[str] | None = None) -> None:
        """Record an object made and bound to `target`; `arg_names` where the language reads more from its
        arguments than the names in them (Python's keyword names)."""
        self.facts.instantiations.append(Instantiation(
            target, class_name, tuple(text(a) for a in arg_nodes),
            tuple(arg_names if arg_names is not None else (n for a in arg_nodes for n in self.names_in(a))), form,
            self.block))

