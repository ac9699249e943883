"""Turning a stored run into its benchmark's metrics, and printing them as a table, JSON or Markdown."""

from __future__ import annotations

import json
import math
import time
from itertools import groupby
from pathlib import Path
from typing import Any, Iterator

from . import __version__
from . import metrics as harness_metrics
from . import runlock
from .registry import get_task
from .store import RunRow, Store, StoredMetrics
from .task import Task, TaskError, file_sha256
from .types import SampleResult, Status, stable_hash

STATUSES = ("pass", "fail", "error", "infra", "ungradable")


def sample_results(store: Store, run: str) -> Iterator[SampleResult]:
    """Per-sample graded attempts with the sample's stored metadata, infra failures left out (they are never
    the model's)."""
    for sample_id, rows in groupby(store.run_results(run), key=lambda r: r[0]):
        rows = list(rows)
        verdicts = tuple(v for _, _, status, v, _ in rows if status != Status.INFRA.value and v is not None)
        yield SampleResult(sample_id, verdicts, rows[0][4])


def per_sample_scores(store: Store, run: str) -> dict[str, float]:
    """Each sample's share of passed attempts (infra attempts left out; samples with none are omitted)."""
    return {r.sample_id: r.correct / r.n for r in sample_results(store, run) if r.n}


def aggregate_sha256(task: Task) -> str:
    """What the stored metrics were computed with: the task's code and the harness's metrics module."""
    return stable_hash(task.code_hash, file_sha256(Path(harness_metrics.__file__)), __version__)


def compute_metrics(store: Store, run: RunRow, task: Task, save: bool = False) -> StoredMetrics:
    """Aggregate a run's stored verdicts with the task's current code (and save the result with the run)."""
    metrics = task.aggregate(sample_results(store, run.name), run.samples_per_problem)
    intervals = {k: [lo, hi] for k, (lo, hi) in metrics.intervals.items()}
    digest = aggregate_sha256(task)
    if save:
        store.save_metrics(run.name, metrics.values, intervals, metrics.counts, digest)
    return StoredMetrics(metrics.values, intervals, dict(metrics.counts), digest, time.time())


def summarize(store: Store, run: RunRow, task: Task | None = None, recompute: bool = False) -> dict[str, Any]:
    """A run's report: its stored metrics (saved when it ended), or, with `recompute` or for a run that has
    none (made by an older harness), metrics computed now with the task's current code."""
    if run.status == "running" and not runlock.is_held(store.path, run.name):
        store.set_run_status(run.name, "interrupted")  # its process died without a word (SIGKILL, a crash)
        run = store.get_run(run.name)
    stored = None if recompute else store.metrics(run.name)
    source = "stored"
    if stored is None:
        if task is None:
            ref = run.record.get("task_ref") or run.task
            try:
                task = get_task(ref)
            except TaskError as exc:
                why = "--recompute needs" if recompute else "the run has no stored metrics, and computing them needs"
                raise TaskError(f"run {run.name!r}: {why} the task {ref!r}, which cannot be loaded: {exc}") from exc
        first = store.metrics(run.name) is None
        stored = compute_metrics(store, run, task, save=first)
        source = "recomputed" if recompute else "computed now (the run had none stored)"
    counts = {s: 0 for s in STATUSES}  # attempts by verdict status; the aggregate's own counts are apart
    counts.update(store.status_counts(run.name))
    complete, seen = store.coverage(run.name)
    total = run.record.get("samples_total")
    return {
        "run": run.name,
        "task": run.task,
        "split": run.split,
        "model": run.model,
        "status": run.status,
        "coverage": {"samples_complete": complete, "samples_seen": seen, "samples_total": total},
        "metrics": stored.values,
        "intervals": stored.intervals,
        "counts": counts,
        "metric_counts": stored.counts,
        "responses": store.response_fact_counts(run.name),
        "withdrawn": store.withdrawn_counts(run.name),
        "metrics_source": {"how": source, "aggregate_sha256": stored.aggregate_sha256},
        "record": run.record,
    }


def coverage_note(summary: dict[str, Any]) -> str | None:
    """A line for a run that is not complete: its status and how many samples its metrics cover."""
    status = summary["status"]
    if status == "complete":
        return None
    cov = summary.get("coverage") or {}
    total = cov.get("samples_total")
    of = f"{cov.get('samples_complete', 0)} of {total} samples" if total else \
        f"{cov.get('samples_complete', 0)} samples (the data was not read to the end)"
    hint = {"interrupted": "resume with the same command", "incomplete": "infra failures remain: run the same "
            "command again to retry them", "running": "its process is still running", "failed": "it stopped on an "
            "error; fix it and run the same command to resume"}.get(status, "")
    return f"note: run {summary['run']} is {status}: its metrics cover {of}" + (f"; {hint}" if hint else "")


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The metrics worth a table column: not per-step detail (`name_<n>`) nor per-subset breakdowns
    (`name[subset]`); those are in the JSON report."""
    return {k: v for k, v in summary["metrics"].items() if not k.rsplit("_", 1)[-1].isdigit() and "[" not in k}


def _fmt(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, float) and abs(value) < 1e-12:
        value = 0.0  # a bound that is zero up to rounding (a Wilson interval's 2.8e-17)
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
        return "\n".join(lines + _notes(summaries))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    table = [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r).rstrip() for r in rows]
    return "\n".join(table + _notes(summaries))


def _notes(summaries: list[dict[str, Any]]) -> list[str]:
    notes = [n for n in map(coverage_note, summaries) if n]
    return notes + [n for s in summaries for n in (response_note(s), withdrawn_note(s)) if n]


FACT_WORDS = {"missing": "had no prediction in the replay file", "empty": "were empty",
              "truncated": "were cut off at the token limit"}


def withdrawn_note(summary: dict[str, Any]) -> str | None:
    """A line for a run whose model adapter withdrew attempts from the metrics (counted as ungradable), and why."""
    why = summary.get("withdrawn") or {}
    if not why:
        return None
    n = sum(why.values())
    reasons = "; ".join(f"{k}: {reason}" if len(why) > 1 else reason for reason, k in sorted(why.items()))
    return (f"note: run {summary['run']}: {n} attempt{'s were' if n != 1 else ' was'} withdrawn by the model "
            f"adapter, left out of the metrics (ungradable): {reasons}")


def response_note(summary: dict[str, Any]) -> str | None:
    """A line for a run whose responses were missing, empty or truncated (they are graded, and usually fail)."""
    facts = summary.get("responses") or {}
    parts = [f"{facts[k]} {FACT_WORDS[k]}" for k in FACT_WORDS if facts.get(k)]
    return f"note: run {summary['run']}: of its responses, " + ", ".join(parts) if parts else None
