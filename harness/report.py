"""Turning a stored run into its benchmark's metrics, and printing them as a table, JSON or Markdown."""

from __future__ import annotations

import json
import math
from itertools import groupby
from typing import Any, Iterator

from .registry import get_task
from .store import RunRow, Store
from .task import Task
from .types import SampleResult, Status

STATUSES = ("pass", "fail", "error", "infra", "ungradable")


def sample_results(store: Store, run: str) -> Iterator[SampleResult]:
    """Per-sample graded attempts, infra failures left out (they are never the model's)."""
    for sample_id, rows in groupby(store.run_results(run), key=lambda r: r[0]):
        verdicts = tuple(v for _, _, status, v in rows if status != Status.INFRA.value and v is not None)
        yield SampleResult(sample_id, verdicts)


def per_sample_scores(store: Store, run: str) -> dict[str, float]:
    """Each sample's share of passed attempts (infra attempts left out; samples with none are omitted)."""
    return {r.sample_id: r.correct / r.n for r in sample_results(store, run) if r.n}


def summarize(store: Store, run: RunRow, task: Task | None = None) -> dict[str, Any]:
    task = task or get_task(run.record.get("task_ref") or run.task)
    metrics = task.aggregate(sample_results(store, run.name), run.samples_per_problem)
    counts = {s: 0 for s in STATUSES}
    counts.update(store.status_counts(run.name))
    counts.update(metrics.counts)
    return {
        "run": run.name,
        "task": run.task,
        "split": run.split,
        "model": run.model,
        "status": run.status,
        "metrics": metrics.values,
        "intervals": {k: [lo, hi] for k, (lo, hi) in metrics.intervals.items()},
        "counts": counts,
        "record": run.record,
    }


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The metrics worth a table column: not per-step detail (`name_<n>`) nor per-subset breakdowns
    (`name[subset]`); those are in the JSON report."""
    return {k: v for k, v in summary["metrics"].items() if not k.rsplit("_", 1)[-1].isdigit() and "[" not in k}


def _fmt(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _metric_cell(summary: dict[str, Any], name: str) -> str:
    value = summary["metrics"][name]
    iv = summary["intervals"].get(name)
    return f"{_fmt(value)} [{_fmt(iv[0])}, {_fmt(iv[1])}]" if iv else _fmt(value)


def _short(model: str) -> str:
    """A model spec for a table cell: file paths shortened to their name."""
    backend, sep, name = model.partition(":")
    return f"{backend}{sep}{name.rsplit('/', 1)[-1]}" if backend == "replay" else model


def as_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, ensure_ascii=False, default=str)


def as_table(summaries: list[dict[str, Any]], markdown: bool = False) -> str:
    """One row per run; metric columns are the union of the runs' headline metrics, intervals in brackets."""
    names: list[str] = []
    for s in summaries:
        names += [k for k in headline(s) if k not in names]
    statuses = [st for st in STATUSES if st != "ungradable" or any(s["counts"].get(st) for s in summaries)]
    header = ["run", "model", *names, *(f"#{st}" for st in statuses)]
    rows = [[s["run"], _short(s["model"]), *[_metric_cell(s, n) if n in s["metrics"] else "" for n in names],
             *[str(s["counts"].get(st, 0)) for st in statuses]] for s in summaries]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])
