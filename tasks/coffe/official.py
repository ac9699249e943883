"""COFFE's own clean-up of a model's answer (`-T extraction=official`), reimplemented to behave as COFFE's pipeline
does (JohnnyPeng18/Coffe @ 7979acb4, `coffe eval ... -m compilable_rate`), mistakes included: this mode exists to
reproduce the official numbers problem by problem.  Our own extraction (extract.py) is the one to use otherwise.

Three steps, as the pipeline runs them (NOTES.md, "The official clean-up"):

1. `sanitize`: text clean-up, then
   - file level: the first ```` ```python ```` block (else the first fenced block); text without any fence goes
     through the function-level path below with an empty entry point, as in COFFE;
   - function level: a HumanEval-style extraction.  The entry point is given only for HumanEval problems (MBPP
     gets "", so `def ` stands for it): the first fenced chunk that mentions `def <entry>` is taken; the text
     before the first `def <entry>(` is kept as a prefix; every `def <entry>(` part whose body has a `    return `
     is kept, and in those the unindented lines that are not `def`/`import`/`from` are cut, everything from the
     first unindented `if`/`print`/`\"\"\"` line on is cut; finally each `def` piece that does not parse alone is
     dropped (the entry point's are kept).
2. HumanEval only: when the result does not start with `def`, or does not parse, the problem's `prompt` field is
   put in front of it, the result's first line indented by four spaces.
3. `CodeProcessor`: the entry-point function (or, with no entry point, the last global function) is renamed to
   `solution`, names after its definition too; an answer whose functions are all methods gets a wrapper
   `def solution(*args): s = <LastClass>(); s.<its last method>(*args)` (without a return, as in COFFE); at file
   level, code that is not only functions and classes is a stdin/stdout program (io).  Code that does not parse,
   or is empty once imports and docstrings are removed, is unusable: COFFE's `-1`, a failure.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cleaned:
    """What COFFE's clean-up makes of an answer: the program and whether it is a stdin/stdout program (`io`), or
    `code` None: unusable (COFFE's -1; the problem counts as failed without running anything)."""

    code: str | None
    io: bool = False


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False


# ----------------------------------------------------------------------------------------------- step 1
def _cut_unindented(code: str, protect: str) -> str:
    """COFFE's line filter after the entry point's `def`: drop unindented lines other than def/import/from, and
    everything from the first unindented `if`, `print` or `\"\"\"` line on.  The first `protect` line is kept."""
    lines = code.splitlines()
    cut: set[int] = set()
    protected = False
    for i, line in enumerate(lines):
        if not protected and line.startswith(protect):
            protected = True
            continue
        if not line.strip() or line.startswith(("def ", "import ", "from ")):
            continue
        if len(line) == len(line.lstrip()):
            cut.add(i)
        if line.rstrip().startswith(('"""', "if", "print")):
            cut.update(range(i, len(lines)))
            break
    return "\n".join(line for i, line in enumerate(lines) if i not in cut)


def _three_to_four_spaces(code: str) -> str:
    return "".join((" " if len(line) - len(line.lstrip()) == 3 else "") + line + "\n" for line in code.splitlines())


def _file_block(text: str) -> str:
    if len(text.split("```python\n")) > 1:
        text = text.split("```python\n")[1]
    elif len(text.split("```")) > 2:
        text = text.split("```")[1]
    return text.split("```")[0].strip()


def sanitize(answer: str, entry_point: str, file_level: bool) -> str:
    text = answer.replace("\r\n", "\n").replace("\\_", "_").replace("if __name__", "if 1 or __name__")
    if "<|end_header_id|>" in text:
        text = text.split("<|end_header_id|>")[-1]
    if file_level and "```" in text:
        return _file_block(text)
    if text.endswith("```"):
        text = text[:-3]
    text = ("\n" + text).replace("\n```python\n", "\n```\n")
    head = "def " + entry_point
    if head in text:
        text = next(chunk for chunk in text.split("\n```\n") if head in chunk)
    else:
        text = text.split("```")[0]
    parts = re.split(re.escape(head) + r"\s*\(", text)
    bodies = [p for p in parts[1:] if "    return " in p.split("\ndef")[0]]
    opener = head + "("
    defs = _three_to_four_spaces(opener + opener.join(bodies) if bodies else "")
    code = parts[0] + _cut_unindented(defs, opener)
    pieces = code.split("\ndef ")
    kept = [pieces[0]] + [p for p in pieces[1:]
                          if p.strip().startswith((entry_point + " ", entry_point + "(")) or _parses("\ndef " + p)]
    return "\ndef ".join(kept).strip()


# ----------------------------------------------------------------------------------------------- step 2
def with_prompt(code: str, prompt: str) -> str:
    """HumanEval: the prompt in front of a result that does not start with `def` or does not parse."""
    if code.startswith("def") and _parses(code):
        return code
    lines = code.splitlines()
    if lines:
        lines[0] = "    " + lines[0]
    return prompt + "\n".join(lines)


# ----------------------------------------------------------------------------------------------- step 3
class _Stripped(ast.NodeTransformer):
    """Imports and docstring-like string statements removed, empty bodies filled with `pass` (COFFE analyses the
    answer in this form)."""

    def visit_Import(self, node):
        return None

    visit_ImportFrom = visit_Import

    def visit_Expr(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return node


_FILLED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.While, ast.AsyncFor, ast.With,
           ast.AsyncWith, ast.Try) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


def _fill_empty_bodies(node: ast.AST) -> None:
    """`pass` into an empty body; as in COFFE, the children of a node whose body was empty are not looked at."""
    if isinstance(node, _FILLED) and not node.body:
        node.body.append(ast.Pass())
        return
    for child in ast.iter_child_nodes(node):
        _fill_empty_bodies(child)


@dataclass
class _Shape:
    """COFFE's view of the (stripped) answer."""

    global_functions: list[str]  # FunctionDef names outside classes (nested functions included), in order
    functions: list[tuple[str, str]]  # (name, enclosing class or "global") of every FunctionDef
    classes: list[str]
    only_definitions: bool  # every top-level statement is a FunctionDef or a ClassDef

    @property
    def all_in_classes(self) -> bool:
        return bool(self.classes) and bool(self.functions) and all(c != "global" for _, c in self.functions)


def _shape(tree: ast.Module) -> _Shape:
    shape = _Shape([], [], [], all(isinstance(s, (ast.FunctionDef, ast.ClassDef)) for s in tree.body))
    owner = "global"  # one variable, as in COFFE: leaving any class (a nested one too) sets it back to "global"

    def walk(node: ast.AST) -> None:
        nonlocal owner
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                owner = child.name
                shape.classes.append(child.name)
                walk(child)
                owner = "global"
                continue
            if isinstance(child, ast.FunctionDef):
                shape.functions.append((child.name, owner))
                if owner == "global":
                    shape.global_functions.append(child.name)
            walk(child)

    walk(tree)
    return shape


class _Renamer(ast.NodeTransformer):
    """The chosen global function becomes `solution`, and so does every later Name that refers to it."""

    def __init__(self, target: str):
        self.target = target
        self.renamed: str | None = None
        self.owner = "global"

    def visit_ClassDef(self, node):
        self.owner = node.name
        self.generic_visit(node)
        self.owner = "global"
        return node

    def visit_FunctionDef(self, node):
        if node.name == self.target and self.owner == "global":
            self.renamed = node.name
            node.name = "solution"
        self.generic_visit(node)
        return node

    def visit_Name(self, node):
        if self.renamed is not None and node.id == self.renamed:
            node.id = "solution"
        return node


def _class_wrapper(tree: ast.Module, shape: _Shape) -> str:
    cls = shape.classes[-1]
    method = None
    for name, owner in shape.functions:
        if owner == cls:
            method = name
    if method is None:
        raise ValueError("the last class has no method")
    wrapper = ast.parse(f"def solution(*args):\n    s = {cls}()\n    s.{method}(*args)\n").body[0]
    tree.body.append(wrapper)
    return ast.unparse(tree)


def process(code: str, entry_point: str | None, function_level: bool) -> Cleaned:
    """COFFE's CodeProcessor: rename to `solution`, wrap classes, tell programs (io) from functions."""
    try:
        stripped = _Stripped().visit(ast.parse(code))
        _fill_empty_bodies(stripped)
        ast.fix_missing_locations(stripped)
        analysed = ast.unparse(stripped).strip()
        if not analysed:
            return Cleaned(None)
        shape = _shape(ast.parse(analysed))
        tree = ast.parse(code)
        if shape.all_in_classes:
            return Cleaned(_class_wrapper(tree, shape))
        if (shape.global_functions and shape.only_definitions) or function_level:
            target = entry_point or (shape.global_functions[-1] if shape.global_functions else None)
            if target is not None:
                _Renamer(target).visit(tree)
            return Cleaned(ast.unparse(tree))
        return Cleaned(code, io=True)
    except Exception:  # noqa: BLE001 - COFFE turns any failure here into -1
        return Cleaned(None)


# ----------------------------------------------------------------------------------------------- all
def clean(answer: str, *, level: str, dataset: str, entry_point: str | None, prompt: str) -> Cleaned:
    """The three steps for one answer.  `dataset` is our short source name (HumanEval, MBPP, APPS, CodeContests);
    `prompt` is the problem's `prompt` field (HumanEval: the signature and docstring, as COFFE prepends it)."""
    humaneval = dataset == "HumanEval"
    code = sanitize(answer, entry_point if humaneval and entry_point else "", file_level=level == "file")
    if humaneval:
        code = with_prompt(code, prompt)
    return process(code, entry_point if level == "function" else None, function_level=level == "function")
