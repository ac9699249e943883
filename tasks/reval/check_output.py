"""Runs in the sandbox: is a completed output assertion true?

    python3 check_output.py < nonce   (job.json beside it; see grading.output_job)

The question is REval's: the call `assert f(args) == ??`, or a ClassEval test body whose top-level asserts have
one argument replaced by `??`. The harness has checked that the answer is the question with the holes filled and
sends the hole expressions. Two runs of the test:

  the answer's   in a child process (`--holes`), which gets the program, the question and the hole expressions,
                 never the reference's test nor the nonce: it runs the test with the model's expressions in the
                 holes and prints the value of each hole, as data (values.py)
  the reference  here: the test as the data has it, each hole-bearing assert called at its turn with the child's
                 value in the hole (assertEqual(result, <value>), `assert f(args) == <value>`)

So the asserts that decide are called by this process on values, and the model's code cannot end or fake the check:
only the values it computes cross. A pass is the line `@@reval-output <nonce> {"verdict": "pass"}`; the verdicts:
pass, fail (an assert fails, a hole's expression raises), error (the child ran past its time or was killed),
ungradable (the reference's own test fails here).

Code is compiled with dont_inherit=True; the program and the test code are executed in one fresh namespace (as REval
does), the test body as the body of a method of the test class (`assertX` called as `self.assertX`), after setUp.
"""

import ast
import ctypes
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from holes import hole_slot, parse_question  # noqa: E402
from values import BadTree, decode, encode  # noqa: E402

CHILD_TIMEOUT_S = 30
PR_SET_DUMPABLE = 4


class _SelfAsserts(ast.NodeTransformer):
    """`assertX(...)` -> `self.assertX(...)`, as REval's method wrapper does."""

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id.startswith("assert"):
            node.func = ast.Attribute(value=ast.Name(id="self", ctx=ast.Load()), attr=node.func.id, ctx=ast.Load())
        return node


def flow_function(stmts, slots, fills):
    """`def __reval_flow__(self, __record__)`: the statements, each hole-bearing assert replaced by
    `__record__(i, name, [args], {kwargs})` with `fills[i]` in the hole (arguments evaluated in their order)."""
    body = []
    for i, stmt in enumerate(stmts):
        slot = slots[i]
        if slot is None:
            body.append(_SelfAsserts().visit(stmt))
            continue
        name, h = slot
        if name == "assert":
            args, keywords = [stmt.test.left, fills[i]], []
        else:
            args, keywords = list(stmt.value.args), [k for k in stmt.value.keywords if k.arg is not None]
            args[h] = fills[i]
        args = [_SelfAsserts().visit(a) for a in args]
        call = ast.Call(func=ast.Name(id="__record__", ctx=ast.Load()),
                        args=[ast.Constant(i), ast.Constant(name), ast.List(elts=args, ctx=ast.Load()),
                              ast.Dict(keys=[ast.Constant(k.arg) for k in keywords],
                                       values=[_SelfAsserts().visit(k.value) for k in keywords])],
                        keywords=[])
        body.append(ast.Expr(call))
    fn = ast.FunctionDef(name="__reval_flow__", args=ast.arguments(
        posonlyargs=[], args=[ast.arg("self"), ast.arg("__record__")], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=body or [ast.Pass()], decorator_list=[], returns=None)
    module = ast.Module(body=[fn], type_ignores=[])
    return ast.fix_missing_locations(module)


def load_program(job):
    """The program (and ClassEval's test code) in one fresh namespace, and the test case (setUp done) or None."""
    namespace = {"__name__": "program", "__builtins__": __builtins__}
    exec(compile(job["code"], "<internals>", "exec", dont_inherit=True), namespace)
    case = None
    if job["kind"] == "class":
        import re
        import unittest

        exec(compile(job["test"], "<test>", "exec", dont_inherit=True), namespace)
        pattern = re.compile(f"{job['entry_point']}Test.*")
        classes = [v for k, v in namespace.items()
                   if isinstance(v, type) and pattern.match(k) and issubclass(v, unittest.TestCase)]
        case = classes[job["test_class_index"]]()
        case.setUp()
    return namespace, case


def run_flow(namespace, case, stmts, slots, fills, record):
    module = flow_function(stmts, slots, fills)
    exec(compile(module, "<test>", "exec", dont_inherit=True), namespace)
    namespace.pop("__reval_flow__")(case, record)


def question_parts(question):
    stmts = parse_question(question).body
    return stmts, [hole_slot(s) for s in stmts]


# ----------------------------------------------------------------------------------------- the answer's run
def answer_run() -> None:
    """The child: the question with the model's expressions in the holes; prints the holes' values."""
    job = json.loads(sys.stdin.read())
    stmts, slots = question_parts(job["question"])
    holed = [i for i, s in enumerate(slots) if s is not None]
    fills = {i: ast.parse(src, mode="eval").body for i, src in zip(holed, job["holes"])}
    values = {}

    def record(i, name, args, kwargs):
        values[str(i)] = encode(args[slots[i][1]] if name != "assert" else args[1])

    try:
        namespace, case = load_program(job)
        run_flow(namespace, case, stmts, slots, fills, record)
    except BaseException as exc:  # noqa: BLE001 - the answer's failure is the result
        print("@@reval-holes " + json.dumps({"error": f"{type(exc).__name__}: {str(exc)[:300]}", "values": values}))
        return
    print("@@reval-holes " + json.dumps({"values": values}))


# -------------------------------------------------------------------------------------------- the reference's
def check(job) -> dict:
    stmts, slots = question_parts(job["question"])
    holed = [i for i, s in enumerate(slots) if s is not None]
    if len(holed) != len(job["holes"]):
        return {"verdict": "fail", "reason": f"{len(job['holes'])} hole values for {len(holed)} holes"}
    child_job = {k: job[k] for k in ("kind", "code", "entry_point", "test", "test_class_index", "question", "holes")}
    try:
        child = subprocess.run([sys.executable, "-E", "-s", os.path.abspath(__file__), "--holes"],
                               input=json.dumps(child_job), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"verdict": "error", "reason": f"the answer's expressions ran past {CHILD_TIMEOUT_S} s"}
    lines = [ln for ln in child.stdout.splitlines() if ln.startswith("@@reval-holes ")]
    if not lines:
        why = f"exit {child.returncode}" if child.returncode >= 0 else f"signal {-child.returncode}"
        return {"verdict": "error", "reason": f"the answer's run gave no values ({why}): {child.stderr[-300:]}"}
    try:
        got = json.loads(lines[-1][len("@@reval-holes "):])
        values = {int(k): decode(v) for k, v in got.get("values", {}).items()}
    except (ValueError, TypeError, AttributeError, BadTree) as exc:
        return {"verdict": "fail", "reason": f"the answer's run printed no readable values: {exc}"}

    # the reference: the test as the data has it (HumanEval: the question itself, its hole unused)
    original = job.get("original") or job["question"]
    ref_stmts = parse_question(original).body
    if len(ref_stmts) != len(stmts):
        return {"verdict": "ungradable", "reason": "the data's test and its question differ in length"}
    ref_fills = {}
    for i in holed:
        name, h = slots[i]
        node = ref_stmts[i]
        ref_fills[i] = ast.Constant(None) if name == "assert" else node.value.args[h]
    def record(i, name, args, kwargs):
        if i not in values:
            raise AssertionError(f"the answer's run stopped before hole {i + 1}: {got.get('error', 'no value')}")
        args = list(args)
        h = 1 if name == "assert" else slots[i][1]
        args[h] = values[i]
        try:
            if name == "assert":
                if not (args[0] == args[1]):
                    raise AssertionError(f"{args[0]!r:.200} != {args[1]!r:.200}")
                return
            getattr(case, name)(*args, **kwargs)
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - an assert that cannot compare the answer's value fails
            raise AssertionError(f"{type(exc).__name__}: {str(exc)[:300]}") from None

    try:
        namespace, case = load_program(job)
    except BaseException as exc:  # noqa: BLE001
        return {"verdict": "ungradable", "reason": f"the reference does not load here: {type(exc).__name__}: {exc}"}
    try:
        run_flow(namespace, case, ref_stmts, slots, ref_fills, record)
    except AssertionError as exc:
        return {"verdict": "fail", "reason": f"assertion failed: {str(exc)[:300]}"}
    except Exception as exc:  # noqa: BLE001 - outside the asserts: the reference's own code failed
        return {"verdict": "ungradable", "reason": f"the reference's test fails here: {type(exc).__name__}: "
                                                   f"{str(exc)[:300]}"}
    if "error" in got:
        return {"verdict": "fail", "reason": f"the answer's run raised {got['error']}"}
    return {"verdict": "pass"}


def main() -> None:
    if sys.argv[1:] == ["--holes"]:
        answer_run()
        return
    nonce = sys.stdin.readline().strip()
    with open("job.json", encoding="utf-8") as fh:
        job = json.load(fh)
    os.remove("job.json")
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    result = check(job)
    sys.stdout.write(f"@@reval-output {nonce} {json.dumps(result)}\n")


if __name__ == "__main__":
    main()
