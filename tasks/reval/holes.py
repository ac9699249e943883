"""The `??` of an output question: how it is parsed and where it stands in a statement.

Standard library only: the harness imports it (data.py, output_answer.py) and the sandbox runs it beside
check_output.py.
"""

from __future__ import annotations

import ast

HOLE = "??"
HOLE_NAME = "__reval_hole__"  # what `??` is parsed as


def parse_question(question: str) -> ast.Module:
    """The question's statements, `??` read as the name HOLE_NAME."""
    return ast.parse(question.replace(HOLE, HOLE_NAME))


def hole_slot(stmt: ast.stmt) -> tuple[str, int] | None:
    """Where a question statement's hole is: ("assert", 0) for `assert f(x) == ??`, (assert method, argument
    index) for `assertX(a, ??)`; None for a statement without a hole."""
    if isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Compare) and len(stmt.test.comparators) == 1 \
            and is_hole(stmt.test.comparators[0]):
        return ("assert", 0)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name):
        for i, arg in enumerate(stmt.value.args):
            if is_hole(arg):
                return (stmt.value.func.id, i)
    return None


def is_hole(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == HOLE_NAME
