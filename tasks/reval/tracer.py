"""Runs in the sandbox: trace a reference program on its inputs and print the ground truth of every item.

    python3 tracer.py < nonce   (job.json beside it: one program and its inputs, see grading.trace_job)

The trace is REval's (its `dynamics.py`, reimplemented): `sys.settrace` on the frames compiled from the program
(filename `<internals>`: the function or class, its helpers, lambdas and comprehensions; not the test code), one
state per run of consecutive events on one line (line, return and exception events; a later event on the same line
updates the state), the locals of a state taken at its last line event with `copy.deepcopy`, leaving out modules,
functions, builtins, iterators and generators. From the trace:

  coverage   the line occurs in the trace
  next line  the set of lines that follow its occurrences (-1 after the last state); {-1} if it never runs
  state      the variable expression (a name, attribute, subscript or tuple of those) read from the locals of the
             state after each occurrence (the state itself if it is the last): every value, or Nil when the line
             does not run or nothing resolves

Locals are copied only where a state is read (a state of an item's line, or the one after it), and only the names
an item's variable uses: REval copies every local at every line, which gives the same values, slower.

Program code is compiled with dont_inherit=True into a fresh namespace. Inputs run in order in one namespace, as in
REval (HumanEval: the function called on each input tuple; ClassEval: the first test method of the k-th test class,
after setUp). Output on stdout: `@@reval-trace <nonce> <json>`, one result per input: the items' truth, or the
reason the reference did not run (an exception, a failing test, a time-out).
"""

import ast
import builtins
import copy
import io
import itertools
import json
import re
import signal
import sys
import traceback
from collections.abc import Generator, Iterator

from values import encode

FILENAME = "<internals>"
TIME_LIMIT_S = 120.0  # per input, as in REval
MAX_VALUES = 10_000  # distinct values kept for one state item
SKIPPED_TYPES = ("module", "function", "builtin_function_or_method")


class Nil:
    """No value: the line did not run, or the variable did not resolve."""


class TimedOut(Exception):
    pass


class Trace:
    """The states of one run: their line numbers (0-based) and, where needed, their copied locals."""

    def __init__(self, wanted: dict[int, set[str]]):
        self.wanted = wanted  # line -> root names of the items' variables on that line
        self.lines: list[int] = []
        self.locals: list[dict] = []

    def add(self, frame, line: int, event: str) -> None:
        if not self.lines or self.lines[-1] != line:
            self.lines.append(line)
            self.locals.append({})
        if event != "line":
            return
        names = self.wanted.get(line, set())
        if len(self.lines) > 1:
            names = names | self.wanted.get(self.lines[-2], set())
        if names:
            self.locals[-1] = snapshot(frame, names)

    def states_after(self, line: int) -> list[dict]:
        n = len(self.lines)
        return [self.locals[i + 1] if i + 1 < n else self.locals[i] for i, ln in enumerate(self.lines) if ln == line]

    def next_lines(self, line: int) -> list[int]:
        n = len(self.lines)
        found = {self.lines[i + 1] + 1 if i + 1 < n else -1 for i, ln in enumerate(self.lines) if ln == line}
        return sorted(found) if found else [-1]


def snapshot(frame, names: set[str]) -> dict:
    out = {}
    f_locals = frame.f_locals
    for name in names:
        if name not in f_locals:
            continue
        value = f_locals[name]
        if type(value).__name__ in SKIPPED_TYPES or isinstance(value, (Iterator, Generator)):
            continue
        out[name] = copy.deepcopy(value)
    return out


_TRACE: list = [None]


def _local(frame, event, arg):
    if event in ("line", "return", "exception"):
        _TRACE[0].add(frame, frame.f_lineno - 1, event)
    return _local


def _global(frame, event, arg):
    if event == "call" and frame.f_code.co_filename == FILENAME:
        return _local
    return None


def root_names(var: str) -> set[str]:
    try:
        return {n.id for n in ast.walk(ast.parse(var)) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


# ------------------------------------------------------------------------------------------- reading a variable
def read_variable(trace: Trace, line: int, var: str):
    """REval's VarInterpreter: a list of values, or Nil."""
    if line not in trace.lines:
        return Nil
    try:
        tree = ast.parse(var)
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
            return Nil
        found = _read(tree.body[0].value, trace, line)
    except Exception:  # noqa: BLE001 - as REval: anything that goes wrong reads as Nil
        return Nil
    return found


class _Unsupported:
    """REval returns (not raises) an exception object for a node type it cannot read; a caller iterating it fails."""

    def __init__(self, node):
        self.error = ValueError(f"unsupported node type in a state variable: {type(node).__name__}")

    def __iter__(self):
        raise TypeError("unsupported node")


def _read(node, trace: Trace, line: int):
    if isinstance(node, ast.Constant):
        return [node.value]
    if isinstance(node, ast.Name):
        values = [s[node.id] for s in trace.states_after(line) if node.id in s]
        return values if values else Nil
    if isinstance(node, ast.Attribute):
        objs = _read(node.value, trace, line)
        if objs is Nil:
            return Nil
        values = [getattr(o, node.attr) for o in objs if hasattr(o, node.attr)]
        return values if values else Nil
    if isinstance(node, ast.Subscript):
        arrs, idxs = _read(node.value, trace, line), _read(node.slice, trace, line)
        if arrs is Nil or idxs is Nil:
            return Nil
        values = []
        for a, i in list(itertools.product(arrs, idxs)):
            try:
                values.append(a[i])
            except (TypeError, KeyError, IndexError):
                pass
        return values if values else Nil
    if isinstance(node, ast.Tuple):
        parts = [_read(e, trace, line) for e in node.elts]
        if any(p is Nil for p in parts):
            return Nil
        return list(itertools.product(*parts))
    return _Unsupported(node)


def state_truth(values) -> dict:
    if isinstance(values, _Unsupported):
        return {"error": str(values.error)}
    if values is Nil:
        return {"nil": True}
    trees, seen = [], set()
    for v in values:
        tree = encode(v)
        key = json.dumps(tree, sort_keys=True)
        if key not in seen:
            seen.add(key)
            trees.append(tree)
        if len(trees) >= MAX_VALUES:
            return {"nil": False, "values": trees, "truncated": True}
    return {"nil": False, "values": trees}


# ------------------------------------------------------------------------------------------------ running
class _WriteOnly(io.StringIO):
    def read(self, *a):
        raise OSError("stdin is not readable here")

    readline = read

    def readlines(self, *a):
        raise OSError("stdin is not readable here")


def _on_alarm(signum, frame):
    raise TimedOut(f"the reference ran past {TIME_LIMIT_S:.0f} s")


def run_traced(call, wanted: dict[int, set[str]]) -> Trace:
    trace = Trace(wanted)
    _TRACE[0] = trace
    sink = _WriteOnly()
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout = sys.stderr = sink
    sys.stdin = sink
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    try:
        sys.settrace(_global)
        try:
            trace.result = call()
        finally:
            sys.settrace(None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr, sys.stdin = saved
    return trace


def test_classes(namespace: dict, entry_point: str) -> list:
    """REval's rule: the unittest classes whose name starts with `<entry point>Test`, in definition order."""
    import unittest

    pattern = re.compile(f"{entry_point}Test.*")
    return [v for k, v in namespace.items()
            if isinstance(v, type) and pattern.match(k) and issubclass(v, unittest.TestCase)]


def first_test(cls) -> str:
    names = [k for k in cls.__dict__ if k.startswith("test")]
    if not names:
        raise ValueError(f"test class {cls.__name__} has no test method")
    return names[0]


def trace_program(program: dict) -> dict:
    results = {}
    namespace = {"__name__": "program", "__builtins__": builtins}
    try:
        exec(compile(program["code"], FILENAME, "exec", dont_inherit=True), namespace)
        if program["kind"] == "class":
            exec(compile(program["test"], "<test>", "exec", dont_inherit=True), namespace)
            classes = test_classes(namespace, program["entry_point"])
        else:
            function = namespace[program["entry_point"]]
    except BaseException as exc:  # noqa: BLE001 - the reference's failure is the result
        why = f"the program does not load: {_exception_text(exc)}"
        return {item["key"]: {"ok": False, "error": why} for item in program["inputs"]}
    for item in program["inputs"]:
        try:
            results[item["key"]] = _trace_input(program, item, namespace,
                                                classes if program["kind"] == "class" else function)
        except BaseException as exc:  # noqa: BLE001
            results[item["key"]] = {"ok": False, "error": f"the reference failed on input {item['index']}: "
                                                          f"{_exception_text(exc)}"}
    return results


def _trace_input(program: dict, item: dict, namespace: dict, target) -> dict:
    atoms = item["atoms"]
    wanted: dict[int, set[str]] = {}
    for atom in atoms:
        wanted.setdefault(atom["lineno"] - 1, set()).update(root_names(atom["var"]))
    out: dict = {"ok": True}
    if program["kind"] == "class":
        classes = target
        if item["index"] >= len(classes):
            return {"ok": False, "error": f"input {item['index']}: the test code has only {len(classes)} test "
                                          f"classes named {program['entry_point']}Test*"}
        cls = classes[item["index"]]
        method = first_test(cls)
        case = cls()
        case.setUp()
        out.update(test_class=cls.__name__, test_method=method)
        trace = run_traced(getattr(case, method), wanted)
    else:
        try:
            args = ast.literal_eval(item["args"])
        except (ValueError, SyntaxError):
            args = eval(item["args"], dict(namespace))  # noqa: S307 - the benchmark's own input, in the sandbox
        trace = run_traced(lambda: target(*args), wanted)
        out["result"] = encode(trace.result)
        expected = item.get("expected")
        if expected is not None:
            try:
                out["expected_matches"] = bool(ast.literal_eval(expected) == trace.result)
            except (ValueError, SyntaxError):
                out["expected_matches"] = None
    out["atoms"] = []
    for atom in atoms:
        line = atom["lineno"] - 1
        covered = line in trace.lines
        out["atoms"].append({"covered": covered, "next": trace.next_lines(line),
                             "state": state_truth(read_variable(trace, line, atom["var"]))})
    out["trace_length"] = len(trace.lines)
    return out


def _exception_text(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = next((f" (line {f.lineno} of the {'program' if f.filename == FILENAME else 'test'})"
                  for f in reversed(tb) if f.filename in (FILENAME, "<test>")), "")
    return f"{type(exc).__name__}: {str(exc)[:300]}{where}"


def main() -> None:
    nonce = sys.stdin.readline().strip()
    with open("job.json", encoding="utf-8") as fh:
        job = json.load(fh)
    out = trace_program(job["program"])
    sys.stdout.write(f"@@reval-trace {nonce} {json.dumps(out)}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
