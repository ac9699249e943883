"""What the site reads from the store: runs with their stored metrics and record, per-sample outcomes, and the
attempts of each sample (prompt, response, answer, verdict). Only the store: never a task's code.

Runs without stored metrics (made by a harness older than stored metrics, or still running their first session)
are left out and named, with the command that stores them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from .. import runlock
from ..keys import RUNTIME_KEYS
from ..store import SCHEMA_VERSION, Store, StoreError
from ..types import GenParams

GRADED = ("pass", "fail", "error")  # attempts that count for or against the model (not infra, not ungradable)


class SiteError(Exception):
    """A problem that stops the build; the message says what, where, and what to do."""


@functools.lru_cache(maxsize=1 << 18)
def slug(text: str, limit: int = 48) -> str:
    """A file name for any text: its safe characters, and a short hash so that two texts never collide."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:limit] or "x"
    return f"{safe}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class Benchmark:
    """A task's split on one version of its data: runs are only ranked against runs of the same benchmark."""

    task: str
    split: str
    data_sha256: str
    data: str  # the data's description from the record
    subset: str | None = None  # a named subset of the data (`--subset pr`): other samples, another benchmark
    window: str | None = None  # a created-at window (`--since/--until`): other samples too, `2025-01-01 to now`

    @property
    def label(self) -> str:
        return (f"{self.task} · {self.split}" + (f" · subset {self.subset}" if self.subset else "")
                + (f" · created {self.window}" if self.window else ""))

    @property
    def anchor(self) -> str:
        key = "-".join([self.split, self.subset or "", self.data_sha256] + ([self.window] if self.window else []))
        return f"split-{slug(key, 24)}"


def window_of(task_record: dict[str, Any]) -> str | None:
    """A run's created-at window as the site names it (`2025-01-01 to 2025-03-31`), or None without one."""
    window = task_record.get("window") or {}
    if not window.get("since") and not window.get("until"):
        return None
    return f"{window.get('since') or 'any time'} to {window.get('until') or 'now'}"


@dataclass(frozen=True)
class Coverage:
    complete: int  # samples with every attempt graded
    seen: int  # samples with any result
    total: int | None  # samples the data yielded, when the run read it to the end


@dataclass(frozen=True)
class RunView:
    name: str
    task: str
    split: str
    model: str  # the model spec, as given to --model
    model_id: str  # the model as the site lists it (the spec, with its parameters where one spec had several)
    status: str
    samples_per_problem: int
    record: dict[str, Any]
    created: float
    updated: float
    metrics: dict[str, float]  # in the task's own order
    intervals: dict[str, tuple[float, float]]
    counts: dict[str, int]  # the aggregate's own counts
    status_counts: dict[str, int]  # attempts by verdict status
    coverage: Coverage
    metrics_computed: float
    benchmark: Benchmark

    @property
    def slug(self) -> str:
        return slug(self.name)


@dataclass
class StoreView:
    path: Path
    store: Store
    runs: list[RunView]
    left_out: list[str] = field(default_factory=list)  # runs without stored metrics, with the reason

    def per_sample(self, run: str) -> pd.DataFrame:
        """One row per sample of a run, in load order: sample_id, ordinal, content_hash, metadata (dict),
        attempts (graded ones), passed, share (passed / attempts; NaN without a graded attempt), score (mean
        verdict score over graded attempts), statuses (each attempt's status, in index order)."""
        conn = self.store.connect()
        attempts = pd.read_sql_query(
            "SELECT r.sample_id, r.idx, r.status, v.score, s.ordinal, s.content_hash, s.metadata FROM results r "
            "LEFT JOIN verdicts v ON v.key = r.verdict_key "
            "LEFT JOIN samples s ON s.run = r.run AND s.sample_id = r.sample_id WHERE r.run = ?",
            conn, params=(run,))
        if attempts.empty:
            return pd.DataFrame(columns=["sample_id", "ordinal", "content_hash", "metadata", "attempts", "passed",
                                         "share", "score", "statuses"])
        attempts = attempts.sort_values(["sample_id", "idx"])
        attempts["graded"] = attempts["status"].isin(GRADED)
        attempts["passed"] = attempts["status"] == "pass"
        attempts["graded_score"] = attempts["score"].where(attempts["graded"])
        grouped = attempts.groupby("sample_id", sort=False)
        out = grouped.agg(ordinal=("ordinal", "first"), content_hash=("content_hash", "first"),
                          metadata=("metadata", "first"), attempts=("graded", "sum"), passed=("passed", "sum"),
                          score=("graded_score", "mean")).reset_index()
        if attempts["sample_id"].duplicated().any():
            out["statuses"] = grouped["status"].agg(", ".join).to_numpy()
        else:  # one attempt per sample (the usual case): its status, without a join per sample
            out["statuses"] = attempts["status"].to_numpy()
        out["share"] = out["passed"] / out["attempts"].where(out["attempts"] > 0)
        out["metadata"] = [json.loads(m) if isinstance(m, str) else {} for m in out["metadata"]]
        out["content_hash"] = out["content_hash"].fillna("")
        order = out["ordinal"].fillna(float("inf"))
        return out.assign(_o=order).sort_values(["_o", "sample_id"]).drop(columns="_o").reset_index(drop=True)

    def attempt_keys(self, run: str) -> Iterator[tuple[str, list[tuple]]]:
        """Per sample: what its page is made of, by key (prompt, response and its time, verdict and its content),
        so that a page whose inputs did not change need not be read or written again."""
        rows = self.store.connect().execute(f"SELECT {_KEY_COLUMNS} {_FROM} ORDER BY r.sample_id, r.idx", (run,))
        yield from _by_sample(rows)

    def attempts(self, run: str, sample_ids: set[str] | None = None
                 ) -> Iterator[tuple[str, list[tuple], list[dict[str, Any]]]]:
        """Per sample (all, or those named): its key rows (as `attempt_keys` gives them) and every attempt with its
        prompt, response, answer and verdict."""
        conn = self.store.connect()
        sql = f"SELECT {_KEY_COLUMNS}, {_CONTENT_COLUMNS} {_FROM}"
        if sample_ids is not None and len(sample_ids) <= 2000:
            ids = sorted(sample_ids)
            chunks = (conn.execute(f"{sql} AND r.sample_id IN ({','.join('?' * len(c))}) ORDER BY r.sample_id, "
                                   f"r.idx", (run, *c)) for c in (ids[i:i + 500] for i in range(0, len(ids), 500)))
            rows = (row for chunk in chunks for row in chunk)
        else:
            rows = conn.execute(f"{sql} ORDER BY r.sample_id, r.idx", (run,))
        for sample_id, group in _by_sample(rows):
            if sample_ids is None or sample_id in sample_ids:
                yield sample_id, [row[:_KEYS] for row in group], [_attempt(run, row) for row in group]


# The columns that identify what a sample's page shows (responses and verdicts can be replaced under the same key
# by a --fresh run: the response's time and the verdict's content say so), then the content itself.
_KEY_COLUMNS = ("r.sample_id, r.idx, r.status, r.error, r.prompt_key, r.response_key, resp.created, v.status, "
                "v.score, v.answer, v.details, s.content_hash, s.metadata")
_KEYS = 13
_CONTENT_COLUMNS = "p.messages, resp.text, resp.usage, s.ordinal"
_FROM = ("FROM results r LEFT JOIN prompts p ON p.key = r.prompt_key "
         "LEFT JOIN responses resp ON resp.key = r.response_key LEFT JOIN verdicts v ON v.key = r.verdict_key "
         "LEFT JOIN samples s ON s.run = r.run AND s.sample_id = r.sample_id WHERE r.run = ?")


def _by_sample(rows: Iterator[tuple]) -> Iterator[tuple[str, list[tuple]]]:
    current, group = None, []
    for row in rows:
        if row[0] != current and group:
            yield current, group
            group = []
        current = row[0]
        group.append(row)
    if group:
        yield current, group


def _attempt(run: str, row: tuple) -> dict[str, Any]:
    (sample_id, idx, status, error, _, _, _, _, score, answer, details, content_hash, metadata, messages, text,
     usage, ordinal) = row
    try:
        usage = json.loads(usage) if usage else {}
        details = json.loads(details) if details else ({"reason": error} if error else {})
        prompt = [{"role": r, "content": c} for r, c in json.loads(messages)] if messages else []
        metadata = json.loads(metadata) if metadata else {}
    except (json.JSONDecodeError, ValueError, TypeError) as exc:
        raise SiteError(f"run {run!r}, sample {sample_id!r}, attempt {idx}: a stored field is not valid JSON "
                        f"({exc}); the store is damaged: rerun that run with --fresh") from exc
    facts = []
    if text is None:
        facts.append("no response stored")
    elif usage.get("missing_prediction"):
        facts.append("missing from the replay file")
    else:
        if not text.strip():
            facts.append("empty")
        if usage.get("truncated"):
            facts.append("cut off at the token limit")
    if usage.get("finish_reason"):
        facts.append(f"finish reason: {usage['finish_reason']}")
    return {"index": idx, "status": status, "score": score, "answer": answer, "details": details,
            "prompt": prompt, "response": text, "usage": usage, "facts": facts, "content_hash": content_hash or "",
            "metadata": metadata, "ordinal": ordinal}


def open_store(path: Path) -> Store:
    """The store at `path`, which must exist (the site never creates one) and be of a schema this harness reads."""
    if not path.is_file():
        raise SiteError(f"no store at {path}: run an evaluation first (`harness run ...`), or pass --store")
    try:
        store = Store(path)
        version = store.connect().execute("PRAGMA user_version").fetchone()[0]
    except (StoreError, sqlite3.DatabaseError) as exc:
        raise SiteError(f"cannot read the store {path}: {exc}") from exc
    if version != SCHEMA_VERSION:
        raise SiteError(f"the store {path} has schema {version}; this harness builds sites from schema "
                        f"{SCHEMA_VERSION}")
    return store


def load(path: Path) -> StoreView:
    """Every run of the store that has stored metrics, with what the site shows about it."""
    store = open_store(path)
    rows, left_out = [], []
    for run in store.list_runs():
        stored = store.metrics(run.name)
        if stored is None:
            left_out.append(f"{run.name} ({run.status}, no stored metrics: `harness report {run.name}` computes "
                            f"and stores them)")
            continue
        rows.append((run, stored))
    specs: dict[str, set[str]] = {}
    for run, _ in rows:
        specs.setdefault(run.model, set()).add(_params_label(run.record))
    views = []
    for run, stored in rows:
        task_record = run.record.get("task") or {}
        status = run.status
        if status == "running" and not runlock.is_held(store.path, run.name):
            status = "interrupted"  # its process died without a word; the report says the same
        complete, seen = store.coverage(run.name)
        model_id = run.model if len(specs[run.model]) == 1 else f"{run.model} ({_params_label(run.record)})"
        views.append(RunView(
            name=run.name, task=run.task, split=run.split, model=run.model, model_id=model_id, status=status,
            samples_per_problem=run.samples_per_problem, record=run.record, created=run.created, updated=run.updated,
            metrics=dict(stored.values),
            intervals={k: (float(v[0]), float(v[1])) for k, v in stored.intervals.items() if len(v) == 2},
            counts=dict(stored.counts), status_counts=store.status_counts(run.name),
            coverage=Coverage(complete, seen, run.record.get("samples_total")), metrics_computed=stored.computed,
            benchmark=Benchmark(run.task, run.split, str(task_record.get("data_sha256") or ""),
                                str(task_record.get("data") or ""), (task_record.get("subset") or {}).get("name"),
                                window_of(task_record)),
        ))
    return StoreView(path=path, store=store, runs=views, left_out=left_out)


def _params_label(record: dict[str, Any]) -> str:
    """The generation parameters that differ from the defaults and can change answers (`temperature=0.8`)."""
    params = (record.get("model") or {}).get("params") or {}
    defaults = GenParams().as_dict()
    parts = [f"{k}={v}" for k, v in params.items() if k != "extra" and k in defaults and v != defaults[k]]
    parts += [f"{k}={v}" for k, v in sorted((params.get("extra") or {}).items()) if k not in RUNTIME_KEYS]
    return ", ".join(parts) or "default parameters"
