"""An output answer checked against its question: the completed test must be the question with each `??` filled.

REval executes whatever the model wrote (after padding a short answer with the question's first lines, and
rejecting answers with `assert True`-like patterns or fewer asserts than the question). Executed as written, an
answer could end its process early and look like a pass; so here the answer must keep the question's statements,
and only the expressions in the holes come from the model. Those are evaluated in the sandbox, in a process of
their own, and compared by the check program with what the reference computes (check_output.py).

  harness   also accepted: a code fence, `self.assertX` for `assertX`, a bare expression for a one-hole question,
            and extra statements before the question's own (the setup repeated)
  official  REval's padding and penalty patterns, then the same structure check
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .holes import HOLE_NAME, hole_slot, is_hole, parse_question


@dataclass(frozen=True)
class Filled:
    """The hole expressions of an answer (source text, in question order), or why there are none."""

    holes: tuple[str, ...] = ()
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def _hole_node(stmt: ast.stmt, slot: tuple[str, int]) -> ast.expr | None:
    if slot[0] == "assert":
        if isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Compare) and len(stmt.test.comparators) == 1:
            return stmt.test.comparators[0]
        return None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and len(stmt.value.args) > slot[1]:
        return stmt.value.args[slot[1]]
    return None


class _Unself(ast.NodeTransformer):
    """`self.assertX(...)` -> `assertX(...)`."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr.startswith("assert"):
            return ast.copy_location(ast.Name(id=node.attr, ctx=node.ctx), node)
        return node


def _shape(stmt: ast.stmt, slot: tuple[str, int] | None) -> str:
    """The statement with its hole (if any) replaced by the hole name: equal shapes differ only in the hole."""
    if slot is not None:
        stmt = ast.parse(ast.unparse(stmt)).body[0]  # a copy
        node = _hole_node(stmt, slot)
        if slot[0] == "assert":
            stmt.test.comparators[0] = ast.Name(id=HOLE_NAME, ctx=ast.Load())  # type: ignore[attr-defined]
        elif node is not None:
            stmt.value.args[slot[1]] = ast.Name(id=HOLE_NAME, ctx=ast.Load())  # type: ignore[attr-defined]
    return ast.dump(stmt, annotate_fields=False)


def pad(answer: str, question: str) -> str:
    """REval's _postprocess_phase2: an answer with fewer lines than the question gets the question's first lines."""
    in_lines = question.strip().split("\n")
    res_lines = answer.strip().split("\n")
    if len(res_lines) >= len(in_lines):
        return answer
    return "\n".join(in_lines[:len(in_lines) - len(res_lines)] + res_lines)


def penalized(answer: str, question: str) -> bool:
    """REval's penalty_pattern: asserts on True/False, or fewer asserts than the question."""
    patterns = ("assertTrue(True)", "assertFalse(False)", "assert True", "assert False", "assert True == True",
                "assert False == False")
    if any(p in answer for p in patterns):
        return True
    return answer.count("assert") < question.count("assert")


def fill(answer: str | None, question: str, official: bool) -> Filled:
    """The answer's hole expressions, if the answer is the question completed (never raises)."""
    try:
        return _fill(answer, question, official)
    except (RecursionError, MemoryError, ValueError, TypeError, AttributeError) as exc:
        return Filled(problem=f"the answer cannot be read as code: {type(exc).__name__}")


def _fill(answer: str | None, question: str, official: bool) -> Filled:
    if answer is None:
        return Filled(problem="no answer (an unfinished chain of thought)")
    if official:
        answer = pad(answer, question)
        if penalized(answer, question):
            return Filled(problem="REval's penalty patterns: an assert on True/False, or fewer asserts than asked")
    q_stmts = parse_question(question).body
    slots = [hole_slot(s) for s in q_stmts]
    holed = [i for i, s in enumerate(slots) if s is not None]
    try:
        a_stmts = ast.parse(answer).body
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        if official or len(holed) != 1:
            return Filled(problem=f"the answer is not Python: {type(exc).__name__}: {exc}")
        padded = pad(answer, question)
        try:
            a_stmts = ast.parse(padded).body
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc2:
            return Filled(problem=f"the answer is not Python: {type(exc2).__name__}: {exc2}")
    if not official:
        a_stmts = [_Unself().visit(s) for s in a_stmts]
        if len(holed) == 1 and len(a_stmts) == 1 and isinstance(a_stmts[0], ast.Expr) \
                and hole_slot_like(a_stmts[0], slots[holed[0]]) is None:
            node = a_stmts[0].value  # a bare value for the only hole
            return Filled(holes=(ast.unparse(node),))
        if len(a_stmts) < len(q_stmts):
            a_stmts = [_Unself().visit(s) for s in ast.parse(pad(ast.unparse(ast.Module(a_stmts, [])),
                                                                   question)).body]
        elif len(a_stmts) > len(q_stmts):
            a_stmts = a_stmts[len(a_stmts) - len(q_stmts):]
    if len(a_stmts) != len(q_stmts):
        return Filled(problem=f"the answer has {len(a_stmts)} statements, the question {len(q_stmts)}")
    holes = []
    for i, (q, a, slot) in enumerate(zip(q_stmts, a_stmts, slots)):
        node = _hole_node(a, slot) if slot is not None else None
        if slot is not None and node is None:
            return Filled(problem=f"statement {i + 1} of the answer does not fill the question's ??")
        if _shape(q, slot) != _shape(a, slot):
            return Filled(problem=f"statement {i + 1} of the answer differs from the question beyond its ??: "
                                  f"{ast.unparse(a)[:120]!r}")
        if node is not None:
            if is_hole(node):
                return Filled(problem=f"statement {i + 1} leaves ?? unfilled")
            holes.append(ast.unparse(node))
    return Filled(holes=tuple(holes))


def hole_slot_like(stmt: ast.stmt, slot: tuple[str, int] | None) -> ast.expr | None:
    """The node in an answer statement at the question's hole position, if the statement has that shape."""
    return _hole_node(stmt, slot) if slot is not None else None
