"""REval's data: the programs with their inputs, and the items asked about each (program, input) pair.

Two files, as REval ships them (`DREval_data.jsonl`, `DREval_tasks.jsonl`), one JSON object per line:

  data   {"task_id", "entry_point", "code", "inputs": [...], "outputs": [...], "test": null | unittest source}
         HumanEval rows (test null): inputs are argument tuples as Python text ("([1.0, 2.0], 0.3,)"), outputs the
         expected results as text. ClassEval rows: inputs are test bodies (one per test class), outputs empty.
  tasks  {"task_id", "idx", "tasks": [{"input_idx", "task": [{"lineno", "var"}, ...], "output_pred"}]}
         the pairs asked about (at most 5 per program): the atoms (a line and a variable) shared by the coverage,
         state and path tasks, and the output question (the call or test with `??` where the answer goes).

`--data` is a folder holding both files (directly or under data/, as in REval's repository and
../shared/data/reval), or `hf:<repo id>[@revision]`, read through `datasets` (a local folder after `hf:` works
the same way, offline). Rows are checked as they are read: a bad row raises TaskError naming the file, line and
field.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from harness.task import TaskError, file_sha256, jsonl_rows

from .holes import HOLE, parse_question

DATA_FILE = "DREval_data.jsonl"
TASKS_FILE = "DREval_tasks.jsonl"
ASSERT_NAMES = ("assertEqual", "assertNotEqual", "assertAlmostEqual", "assertTrue", "assertFalse", "assertIsNone",
                "assertIsNotNone", "assertIn", "assertNotIn")  # the asserts REval puts holes in


@dataclass(frozen=True)
class Atom:
    lineno: int  # 1-based, in the program's code
    var: str


@dataclass(frozen=True)
class Pair:
    """One program run: an input (HumanEval: an argument tuple; ClassEval: a test class's first test)."""

    input_index: int
    input_text: str  # the argument tuple, or the test body (self.assert* written assert*)
    question: str  # the output question, with `??`
    expected: str | None  # HumanEval: the expected output as text
    atoms: tuple[Atom, ...]


@dataclass(frozen=True)
class Program:
    task_id: str  # "DREval/12"
    index: int
    kind: str  # "function" (HumanEval) or "class" (ClassEval)
    entry_point: str
    code: str
    test: str | None
    pairs: tuple[Pair, ...]

    @property
    def source(self) -> str:
        return "HumanEval" if self.kind == "function" else "ClassEval"


@dataclass(frozen=True)
class DataSet:
    """Where the rows come from: `rows()` gives (data rows, task rows), each as (where, row) in file order."""

    description: str
    sha256: str
    rows: Callable[[], tuple[Iterator[tuple[str, Any]], Iterator[tuple[str, Any]]]]


def locate(data: str | None, default: Path) -> DataSet:
    """--data as given (None: the task's own fixtures) -> the data set."""
    if data is None:
        return _local(default, f"the task's fixtures ({default})")
    if data.startswith("hf:"):
        return _hub(data)
    root = Path(data)
    if not root.is_dir():
        raise TaskError(f"reval: data folder {root} not found (expected {DATA_FILE} and {TASKS_FILE} in it or in "
                        f"its data/ folder, e.g. --data ../shared/data/reval)")
    return _local(root, str(root))


def _local(root: Path, description: str) -> DataSet:
    for folder in (root, root / "data"):
        data, tasks = folder / DATA_FILE, folder / TASKS_FILE
        if data.is_file() and tasks.is_file():
            digest = hashlib.sha256((file_sha256(data) + file_sha256(tasks)).encode()).hexdigest()
            return DataSet(description, digest, lambda d=data, t=tasks: (jsonl_rows(d, "reval"), jsonl_rows(t, "reval")))
    raise TaskError(f"reval: {root} holds no {DATA_FILE} and {TASKS_FILE} (looked in it and in its data/ folder)")


def _hub(ref: str) -> DataSet:
    """A dataset repository holding the two files, read through `datasets` (downloaded into its hub cache; a local
    folder after `hf:` is read the same way)."""
    repo, _, revision = ref[3:].partition("@")
    try:
        import datasets

        loaded = [datasets.load_dataset(repo, data_files={"train": f"**/{name}"}, split="train",
                                        revision=revision or None) for name in (DATA_FILE, TASKS_FILE)]
    except Exception as exc:  # offline, unknown repo, missing file
        raise TaskError(f"reval: cannot load {ref} through datasets: {type(exc).__name__}: {exc}. Offline, pass "
                        f"--data with a local folder holding {DATA_FILE} and {TASKS_FILE}") from exc
    digest = hashlib.sha256(":".join(ds._fingerprint for ds in loaded).encode()).hexdigest()

    def rows() -> tuple[Iterator[tuple[str, Any]], Iterator[tuple[str, Any]]]:
        return (((f"{ref} {DATA_FILE} row {n}", dict(r)) for n, r in enumerate(loaded[0], 1)),
                ((f"{ref} {TASKS_FILE} row {n}", dict(r)) for n, r in enumerate(loaded[1], 1)))

    return DataSet(ref, digest, rows)


# ------------------------------------------------------------------------------------------------ reading
def programs(dataset: DataSet) -> Iterator[Program]:
    """The programs in the task file's order, each with its pairs; every row checked."""
    data_rows, task_rows = dataset.rows()
    data_by_id: dict[str, dict] = {}
    for where, row in data_rows:
        row = _check_data_row(row, where)
        if row["task_id"] in data_by_id:
            raise TaskError(f"reval: {where}: task_id {row['task_id']!r} occurs twice")
        data_by_id[row["task_id"]] = row
    for where, row in task_rows:
        yield _program(row, where, data_by_id)


def _bad(where: str, field: str, why: str) -> TaskError:
    return TaskError(f"reval: {where}: field {field!r} {why}")


def _check_data_row(row: Any, where: str) -> dict:
    if not isinstance(row, dict):
        raise TaskError(f"reval: {where}: expected a JSON object, got {type(row).__name__}")
    for key, kind in (("task_id", str), ("entry_point", str), ("code", str), ("inputs", list)):
        if not isinstance(row.get(key), kind):
            raise _bad(where, key, f"is missing or not a {kind.__name__}")
    if row.get("test") is not None and not isinstance(row["test"], str):
        raise _bad(where, "test", "is neither null nor a string")
    if not all(isinstance(x, str) for x in row["inputs"]):
        raise _bad(where, "inputs", "holds something other than strings")
    outputs = row.get("outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(x, str) for x in outputs):
        raise _bad(where, "outputs", "is not a list of strings")
    if row.get("test") is None and len(outputs) != len(row["inputs"]):
        raise _bad(where, "outputs", f"has {len(outputs)} entries for {len(row['inputs'])} inputs")
    try:
        compile(row["code"], row["task_id"], "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        raise _bad(where, "code", f"is not valid Python (line {exc.lineno}: {exc.msg})") from None
    return row


def _program(row: Any, where: str, data_by_id: dict[str, dict]) -> Program:
    if not isinstance(row, dict):
        raise TaskError(f"reval: {where}: expected a JSON object, got {type(row).__name__}")
    task_id = row.get("task_id")
    if not isinstance(task_id, str) or task_id not in data_by_id:
        raise _bad(where, "task_id", f"{task_id!r} names no program of the data file")
    if not isinstance(row.get("idx"), int) or not isinstance(row.get("tasks"), list):
        raise _bad(where, "idx" if not isinstance(row.get("idx"), int) else "tasks", "is missing or of the wrong type")
    prog = data_by_id[task_id]
    kind = "class" if prog.get("test") else "function"
    code_lines = prog["code"].split("\n")
    pairs = []
    for j, pair in enumerate(row["tasks"]):
        at = f"{where}, tasks[{j}]"
        if not isinstance(pair, dict):
            raise TaskError(f"reval: {at}: expected an object")
        k = pair.get("input_idx")
        if not isinstance(k, int) or not 0 <= k < len(prog["inputs"]):
            raise _bad(at, "input_idx", f"{k!r} is not an index of the program's {len(prog['inputs'])} inputs")
        question = pair.get("output_pred")
        if not isinstance(question, str) or HOLE not in question:
            raise _bad(at, "output_pred", "is missing or has no ?? to fill")
        atoms = []
        for a, atom in enumerate(pair.get("task") or []):
            if not isinstance(atom, dict) or not isinstance(atom.get("lineno"), int) \
                    or not isinstance(atom.get("var"), str):
                raise _bad(f"{at}.task[{a}]", "lineno/var", "must be an int and a string")
            if not 1 <= atom["lineno"] <= len(code_lines):
                raise _bad(f"{at}.task[{a}]", "lineno", f"{atom['lineno']} is not a line of the program "
                                                         f"(1..{len(code_lines)})")
            try:
                ast.parse(atom["var"], mode="eval")
            except SyntaxError:
                raise _bad(f"{at}.task[{a}]", "var", f"{atom['var']!r} is not a Python expression") from None
            atoms.append(Atom(atom["lineno"], atom["var"]))
        try:
            parse_question(question)
        except SyntaxError as exc:
            raise _bad(at, "output_pred", f"is not Python once ?? is filled (line {exc.lineno}: {exc.msg})") from None
        outputs = prog.get("outputs") or []
        pairs.append(Pair(k, prog["inputs"][k], question, outputs[k] if kind == "function" else None, tuple(atoms)))
    return Program(task_id, row["idx"], kind, prog["entry_point"], prog["code"], prog.get("test"), tuple(pairs))


# ------------------------------------------------------------------------------------------ the output question
def call_text(entry_point: str, input_text: str) -> str:
    """`f(a, b)` from the argument tuple `(a, b,)`, each argument as written in the data."""
    try:
        tree = ast.parse(input_text, mode="eval").body
    except SyntaxError:
        tree = None
    if isinstance(tree, ast.Tuple):
        args = [ast.get_source_segment(input_text, e) or ast.unparse(e) for e in tree.elts]
        return f"{entry_point}({', '.join(args)})"
    return f"{entry_point}{input_text}"


_DEFAULT_SETUP = "Hook method for setting up the test fixture"


def test_classes(program: Program) -> list[ast.ClassDef]:
    """The ClassEval test classes as REval finds them: named `<entry point>Test...`, in definition order."""
    pattern = re.compile(f"{program.entry_point}Test.*")
    tree = ast.parse(program.test or "")
    return [n for n in tree.body if isinstance(n, ast.ClassDef) and pattern.match(n.name)]


def setup_source(program: Program, input_index: int) -> str | None:
    """The source of the setUp of the input's test class (REval shows it, commented, before the test), or None."""
    classes = test_classes(program)
    if input_index >= len(classes):
        return None
    lines = (program.test or "").split("\n")
    for node in classes[input_index].body:
        if isinstance(node, ast.FunctionDef) and node.name == "setUp":
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            text = "\n".join(lines[start - 1:node.end_lineno]) + "\n"
            return None if _DEFAULT_SETUP in text else text
    return None
