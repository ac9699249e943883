"""A verdict's details as a sample page shows them: short fields as a list, the grader's output and long or nested
fields as blocks of text, and instruction counts, where the grader measured them, as a table.

Instruction counts come in two shapes in stored verdicts: the sandbox's own (`instructions`: method, total)
and COFFE's comparison with the reference (`efficiency`: method, reference_total, prediction_total,
per_test {test: [reference, prediction]}).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .tables import fmt

SHORT = 80  # longer text is shown as a block


@dataclass(frozen=True)
class CountTable:
    caption: str
    method: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    note: str | None = None


def _count(value: Any) -> str:
    return "n/a" if value is None else fmt(int(value)) if isinstance(value, (int, float)) else str(value)


def instruction_tables(details: dict[str, Any]) -> list[CountTable]:
    tables = []
    ic = details.get("instructions")
    if isinstance(ic, dict):
        rows = [("whole run", _count(ic.get("total")))]
        tables.append(CountTable("Instructions counted in the sandbox", str(ic.get("method") or "unknown"),
                                 ("measured", "instructions"), rows, ic.get("error")))
    eff = details.get("efficiency")
    if isinstance(eff, dict):
        rows = []
        for test, pair in sorted((eff.get("per_test") or {}).items(), key=lambda kv: _as_int(kv[0])):
            ref, pred = (list(pair) + [None, None])[:2]
            ratio = fmt(ref / pred) if isinstance(ref, (int, float)) and pred else "n/a"
            rows.append((f"stressful test {test}", _count(ref), _count(pred), ratio))
        ref_total, pred_total = eff.get("reference_total"), eff.get("prediction_total")
        ratio = fmt(ref_total / pred_total) if ref_total and pred_total else "n/a"
        rows.append(("total", _count(ref_total), _count(pred_total), ratio))
        notes = []
        if eff.get("ungradable"):
            notes.append(f"efficiency not graded: {eff['ungradable']}")
        for what in ("excluded", "failed"):
            if eff.get(what):
                notes.append(f"{what}: " + "; ".join(f"test {k}: {v}" for k, v in sorted(eff[what].items())))
        tables.append(CountTable("Instructions: the best reference against this answer", str(eff.get("method")),
                                 ("test", "reference", "answer", "reference / answer"), rows,
                                 " ".join(notes) or None))
    return tables


def _as_int(text: str) -> tuple[int, str]:
    return (int(text), "") if str(text).isdigit() else (1 << 30, str(text))


def detail_fields(details: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(short fields, blocks): scalars up to SHORT characters in the first, the rest as text blocks (JSON for
    nested values). The instruction counts shown as tables are left out."""
    short, blocks = [], []
    for key, value in details.items():
        if key in ("instructions", "efficiency") and isinstance(value, dict):
            continue
        if isinstance(value, str):
            (short if len(value) <= SHORT and "\n" not in value else blocks).append((key, value))
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False, default=str)
            if len(text) <= SHORT:
                short.append((key, text))
            else:
                blocks.append((key, json.dumps(value, indent=1, ensure_ascii=False, default=str)))
        else:
            short.append((key, fmt(value)))
    return short, blocks
