"""From a model's response to the program that is graded.

Ours (`-T extraction=harness`, the default):
  1. <think> blocks are dropped; fenced blocks (```python / ``` ) are found, including a block left open by a
     prompt that ends with "```python" (the response is then code up to the first closing fence).
  2. Function level: the block that defines the entry point (or `solution`) is taken, else the first block that
     parses; file level: the longest block that parses.  No fence at all: the longest run of lines that parses.
  3. Import statements that the other blocks have and the chosen one lacks are put in front of it.
  4. Function level: a HumanEval-style completion (the code does not define the entry point) is completed with
     its prompt; the prompt's own imports (e.g. `from typing import List`) are put in front of code that lacks
     them; top-level statements that only exercise the code (print, assert, input, calls of the entry point, the
     __main__ block) are dropped; `solution = <entry point>` is appended (the entry point renamed, recursion
     unaffected).

Official (`-T extraction=official`), COFFE's pipeline as documented: the longest block only, no
imports recovered from other blocks or from the prompt, the prompt put in front only when the code does not start
with `def`.  NOTES.md lists why and where the two differ.
"""

from __future__ import annotations

import ast
import re

THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
CODE_LANGS = {"", "python", "py", "python3", "Python", "Python3"}


def parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def code_blocks(text: str, prompt: str = "") -> list[str]:
    text = THINK.sub("", text)
    blocks: list[str] = []
    if prompt.rstrip().endswith("```python") and not text.lstrip().startswith("```"):
        head, sep, _ = text.partition("```")
        if sep and head.strip():
            blocks.append(head)
    for lang, body in FENCE.findall(text):
        if lang in CODE_LANGS:
            blocks.append(body)
    return [b.strip("\n") for b in blocks if b.strip()]


def longest_parsing_run(text: str) -> str:
    """Bare text: the longest run of whole lines that parses as Python (prose before or after is dropped)."""
    text = THINK.sub("", text)
    if parses(text):
        return text
    lines = text.splitlines()
    best = ""
    starts = [i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith((" ", "\t"))] or [0]
    for s in starts[:200]:
        for e in range(len(lines), s, -1):
            if e - s <= best.count("\n") + 1:
                break
            chunk = "\n".join(lines[s:e])
            if parses(chunk):
                best = chunk
                break
    return best


def defines(code: str, name: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def last_definition(code: str, name: str) -> int:
    """Line of the last top-level definition of `name` (def or assignment), 0 if none."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return 0
    line = 0
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name:
            line = n.lineno
        elif isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets):
            line = n.lineno
    return line


def as_solution(code: str, entry_point: str) -> str:
    """Make `solution` the entry point: an alias appended after the code (recursive calls keep working), unless
    the code defines `solution` itself after the entry point (the reference solutions do)."""
    entry = last_definition(code, entry_point)
    if entry and last_definition(code, "solution") < entry:
        return code.rstrip("\n") + f"\n\n\nsolution = {entry_point}\n"
    return code


def import_lines(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    lines = code.splitlines()
    return ["\n".join(lines[n.lineno - 1:n.end_lineno]) for n in tree.body
            if isinstance(n, (ast.Import, ast.ImportFrom))]


def _with_imports(code: str, sources: list[str]) -> str:
    have = set(import_lines(code))
    extra = []
    for src in sources:
        for imp in import_lines(src):
            if imp not in have and imp not in extra:
                extra.append(imp)
    return "\n".join(extra) + "\n\n" + code if extra else code


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)


def _exercises(node: ast.stmt, names: set[str]) -> bool:
    """A top-level statement that only exercises the code: print(...), assert, a bare call of the entry point,
    input(), or the __main__ block."""
    if isinstance(node, ast.Assert) or _is_main_guard(node):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        called = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        return bool(called & (names | {"print", "input"}))
    return False


def drop_test_statements(code: str, entry_point: str) -> str:
    """Drop top-level statements that only exercise the code (examples the model added); keep the rest."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    names = {entry_point, "solution"}
    drop = [n for n in tree.body if _exercises(n, names)]
    if not drop:
        return code
    lines = code.splitlines()
    keep = []
    for node in tree.body:
        if node in drop:
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        keep.append("\n".join(lines[start - 1:node.end_lineno]))
    return "\n".join(keep) + "\n"


def extract_function(text: str, prompt: str, entry_point: str, code_prompt: str = "") -> str:
    blocks = code_blocks(text, prompt)
    chosen = next((b for b in blocks if defines(b, entry_point) or defines(b, "solution")), None)
    if chosen is None:
        chosen = next((b for b in blocks if parses(b)), None)
    if chosen is None:
        chosen = blocks[0] if blocks else longest_parsing_run(text) or text
    code = _with_imports(chosen, [b for b in blocks if b is not chosen])
    head = code_prompt
    if head and not (defines(code, entry_point) or defines(code, "solution")):
        completed = head.rstrip() + "\n" + code
        if parses(completed) and defines(completed, entry_point):
            code = completed
    code = _with_imports(code, [head])
    return as_solution(drop_test_statements(code, entry_point), entry_point)


def extract_file(text: str, prompt: str) -> str:
    blocks = [b for b in code_blocks(text, prompt) if parses(b)]
    if blocks:
        chosen = max(blocks, key=len)
        return _with_imports(chosen, [b for b in blocks if b is not chosen]).rstrip("\n") + "\n"
    blocks = code_blocks(text, prompt)
    return (blocks[0] if blocks else longest_parsing_run(text) or text).rstrip("\n") + "\n"


# ----------------------------------------------------------------------------------------- official
def extract_official(text: str, prompt: str, entry_point: str | None, code_prompt: str = "") -> str:
    """COFFE's clean-up as documented: the longest parsing block alone; HumanEval completions get the prompt only
    when they do not start with `def`; the entry point is renamed (here: aliased) to `solution`."""
    blocks = [b for b in code_blocks(text, prompt) if parses(b)]
    code = max(blocks, key=len) if blocks else longest_parsing_run(text) or text
    if entry_point is None:
        return code.rstrip("\n") + "\n"
    if code_prompt and not code.lstrip().startswith("def"):
        code = code_prompt.rstrip() + "\n" + code
    return as_solution(drop_test_statements(code, entry_point), entry_point)
