"""From a model's response to the program that is graded.

Ours (`-T extraction=harness`, the default):
  1. <think> blocks are dropped; fenced blocks (```python / ``` ) are found, including a block left open by a
     prompt that ends with "```python" (the response is then code up to the first closing fence).
  2. Function level: the block that defines the entry point (or `solution`) is taken, else the first block that
     parses; file level: the longest block that parses.  No fence at all: the longest run of lines that parses.
  3. File level: import statements that the other blocks have and the chosen one lacks are put in front of it.
  4. Function level: a HumanEval-style completion (the code does not define the entry point) is completed with
     its prompt; whatever the code uses but does not define -- an import, a helper function or class, a constant
     -- is taken from the answer's other blocks, else from the prompt (its `from typing import List`, its helper
     functions), and put in front; top-level statements that only exercise the code (print, assert, input, a
     call or an assignment that runs the answer's functions, the __main__ block) are dropped unless the code
     needs what they define; `solution = <entry point>` is appended (the entry point renamed, recursion
     unaffected), or, when the answer names its function otherwise, `solution = <its last function>`.

COFFE's own clean-up (`-T extraction=official`) is official.py.  NOTES.md lists where and why the two differ.
"""

from __future__ import annotations

import ast
import builtins
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


def compiles(code: str) -> bool:
    """Stricter than parses: also what only the compiler rejects (`return` outside a function).  Nothing runs."""
    try:
        compile(code, "<answer>", "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError, MemoryError, RecursionError):
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


def _tree(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _top_functions(code: str) -> list[str]:
    tree = _tree(code)
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] if tree else []


def renamed(code: str, old: str, new: str) -> str:
    """`code` with the name `old` (a Python name token, not inside strings or attributes) written `new`."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return code
    lines = code.splitlines(keepends=True)
    for tok in reversed(tokens):
        if tok.type == tokenize.NAME and tok.string == old and tok.start[0] == tok.end[0]:
            row, col = tok.start
            prev = lines[row - 1][:col].rstrip()
            if prev.endswith("."):
                continue
            lines[row - 1] = lines[row - 1][:col] + new + lines[row - 1][tok.end[1]:]
    return "".join(lines)


def as_solution(code: str, entry_point: str) -> str:
    """Make `solution` the entry point: an alias appended after the code (recursive calls keep working), unless
    the code defines `solution` itself after the entry point (the reference solutions do).  An answer that does not
    define the entry point (a misspelled MBPP name, a function named after the task's words) gets its last
    top-level function as `solution`."""
    entry = last_definition(code, entry_point)
    if entry and last_definition(code, "solution") < entry:
        return code.rstrip("\n") + f"\n\n\nsolution = {entry_point}\n"
    if not entry and not last_definition(code, "solution"):
        functions = _top_functions(code)
        if functions:
            return code.rstrip("\n") + f"\n\n\nsolution = {functions[-1]}\n"
    return code


def import_lines(code: str) -> list[str]:
    tree = _tree(code)
    if tree is None:
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


# ----------------------------------------------------------------------------------- names a program needs
_BUILTINS = set(dir(builtins)) | {"__name__", "__file__", "__doc__"}


def _bound(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _used(node: ast.AST) -> set[str]:  # names read anywhere in the node (locals too: an over-approximation)
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _source(code: str, node: ast.stmt) -> str:
    lines = code.splitlines()
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1:node.end_lineno])


def _missing(code: str) -> set[str]:
    """Global names the code reads (at module level, or in a function or class body) that nothing at module level
    binds and that are no builtins: what it would raise NameError on."""
    import symtable

    try:
        top = symtable.symtable(code, "<answer>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    read: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for sym in table.get_symbols():
            if sym.is_referenced() and (table.get_type() == "module" or sym.is_global()):
                read.add(sym.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return read - bound - _BUILTINS


def _supplies(node: ast.stmt) -> bool:
    """What may be taken from another block or the prompt: definitions, imports, and assignments that call
    nothing (constants, empty tables) -- never example code."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return True
    return isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(isinstance(n, ast.Call) for n in ast.walk(node))


def with_what_it_uses(code: str, sources: list[str]) -> str:
    """Put in front of `code` the top-level definitions, imports and constants of `sources` (in order of
    preference) that bind a name `code` uses but does not bind, and what those need in turn."""
    taken: list[str] = []
    merged = code
    for _ in range(20):  # what a taken helper needs in turn
        missing = _missing(merged)
        if not missing:
            break
        found = None
        for src in sources:
            stree = _tree(src)
            for node in stree.body if stree is not None else []:
                if _supplies(node) and _bound(node) & missing:
                    found = _source(src, node)
                    break
            if found:
                break
        if found is None or found in taken:
            break
        taken.insert(0, found)
        merged = "\n\n".join(taken + [code])
    return merged


# ----------------------------------------------------------------------------------- example code
def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)


def _runs_the_answer(node: ast.stmt, functions: set[str]) -> bool:
    """A top-level statement that only exercises the code: an assert, the __main__ block, or anything that calls
    print, input, doctest/unittest or one of the answer's own functions and classes."""
    if isinstance(node, ast.Assert) or _is_main_guard(node):
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return False
    called = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            while isinstance(f, ast.Attribute):
                f = f.value
            if isinstance(f, ast.Name):
                called.add(f.id)
    return bool(called & (functions | {"print", "input", "doctest", "unittest", "exit", "quit"}))


def drop_test_statements(code: str, entry_point: str) -> str:
    """Drop top-level statements that only exercise the code (examples the model added), unless a definition the
    code keeps uses what they bind; keep the rest."""
    tree = _tree(code)
    if tree is None:
        return code
    functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    functions |= {entry_point, "solution"}
    drop = [n for n in tree.body if _runs_the_answer(n, functions)]
    kept = [n for n in tree.body if n not in drop]
    needed = set().union(*[_used(n) for n in kept]) if kept else set()
    for _ in range(len(drop)):  # an example-looking statement that binds what kept code uses stays
        back = [n for n in drop if _bound(n) & needed and not _is_main_guard(n) and not isinstance(n, ast.Assert)]
        if not back:
            break
        for n in back:
            drop.remove(n)
            needed |= _used(n)
    if not drop:
        return code
    return "\n".join(_source(code, node) for node in tree.body if node not in drop) + "\n"


def _completed(head: str, body: str, entry_point: str) -> str:
    """A HumanEval body completed with its prompt: as written, or with its first line indented (a completion whose
    leading spaces were stripped), or with every line indented; the body alone when none of these parses."""
    lines = body.strip("\n").splitlines()
    first = ["    " + lines[0].lstrip()] + lines[1:] if lines else []
    for candidate in (body, "\n".join(first), "\n".join("    " + ln if ln.strip() else ln for ln in lines)):
        completed = head.rstrip() + "\n" + candidate
        if compiles(completed) and defines(completed, entry_point):
            return completed
    return body


def extract_function(text: str, prompt: str, entry_point: str, code_prompt: str = "") -> str:
    blocks = code_blocks(text, prompt)
    chosen = next((b for b in blocks if defines(b, entry_point) or defines(b, "solution")), None)
    if chosen is None:
        chosen = next((b for b in blocks if parses(b)), None)
    if chosen is None:
        chosen = blocks[0] if blocks else longest_parsing_run(text) or text
    code = chosen
    head = code_prompt
    if head and not (defines(code, entry_point) or defines(code, "solution")):
        code = _completed(head, code, entry_point)
    code = drop_test_statements(code, entry_point)
    code = with_what_it_uses(code, [b for b in blocks if b is not chosen] + ([head] if head else []))
    return as_solution(drop_test_statements(code, entry_point), entry_point)


def extract_file(text: str, prompt: str) -> str:
    blocks = [b for b in code_blocks(text, prompt) if parses(b)]
    if blocks:
        chosen = max(blocks, key=len)
        return _with_imports(chosen, [b for b in blocks if b is not chosen]).rstrip("\n") + "\n"
    blocks = code_blocks(text, prompt)
    return (blocks[0] if blocks else longest_parsing_run(text) or text).rstrip("\n") + "\n"
