"""The store: one SQLite file (WAL) holding runs, prompts, responses, verdicts and per-run results.

Responses and verdicts are content-addressed, so they are shared between runs:
- a response is keyed by (model fingerprint, generation parameters, prompt, sample index);
- a verdict is keyed by (task and its code, sample content, answer, grader fingerprint): see harness.keys.
A run's `results` table says which (sample, index) pairs are done; running the same command again
skips them. Every write is committed as soon as the writer has it (group commit), so a killed run
loses only the samples in flight. A run's `samples` rows (id, content hash, declared metadata) and its
`run_metrics` (saved when the run ends) let the report, the gate and the site read a run without the
task's code.

The schema version is `PRAGMA user_version` (SCHEMA_VERSION); a store of an older version is migrated when it
is opened, and one of a newer version is refused.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .types import Prompt, Response, Status, Verdict

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    split TEXT NOT NULL,
    model TEXT NOT NULL,
    config_key TEXT NOT NULL,
    samples_per_problem INTEGER NOT NULL,
    record TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS prompts (
    key TEXT PRIMARY KEY,
    messages TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    usage TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    details TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    prompt_key TEXT NOT NULL,
    response_key TEXT,
    verdict_key TEXT,
    status TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (run, sample_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS samples (
    run TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (run, sample_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_metrics (
    run TEXT PRIMARY KEY,
    metrics TEXT NOT NULL,
    intervals TEXT NOT NULL,
    counts TEXT NOT NULL,
    aggregate_sha256 TEXT NOT NULL,
    computed REAL NOT NULL
);
"""
# 0: the first store (runs, prompts, responses, verdicts, results); 1: + samples, run_metrics.
SCHEMA_VERSION = 1


class StoreError(Exception):
    pass


@dataclass(frozen=True)
class RunRow:
    name: str
    task: str
    split: str
    model: str
    config_key: str
    samples_per_problem: int
    record: dict[str, Any]
    status: str
    created: float
    updated: float


@dataclass(frozen=True)
class ResultWrite:
    """One finished (sample, index): what the writer thread commits."""

    run: str
    sample_id: str
    idx: int
    ordinal: int
    prompt: Prompt
    prompt_key: str
    response_key: str | None
    response: Response | None  # None: already in the store (cache hit)
    verdict_key: str | None
    verdict: Verdict
    answer: str
    verdict_cached: bool
    sample_hash: str = ""
    metadata: dict[str, Any] | None = None  # the sample's declared metadata (written with its first attempt)
    facts: tuple[str, ...] = ()  # what the runner noticed about a new response (missing, empty, truncated)


@dataclass(frozen=True)
class StoredMetrics:
    values: dict[str, float]
    intervals: dict[str, list[float]]
    counts: dict[str, int]
    aggregate_sha256: str
    computed: float


def default_path() -> Path:
    return Path(os.environ.get("HARNESS_STORE", ".harness/store.sqlite"))


class Store:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()

    def _migrate(self) -> None:
        conn = self.connect()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"the store {self.path} was written by a newer harness (schema {version}; this one "
                             f"reads up to {SCHEMA_VERSION}); upgrade the harness or use another --store")
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, SCHEMA.split(";")):  # every table IF NOT EXISTS: adds the new ones
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def connect(self) -> sqlite3.Connection:
        """This thread's connection (each thread gets its own; SQLite connections are not shared)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the store {self.path}: {exc}") from exc
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    # --- runs ---------------------------------------------------------------------------------------
    def get_run(self, name: str) -> RunRow | None:
        row = self.connect().execute("SELECT * FROM runs WHERE name = ?", (name,)).fetchone()
        return _run_row(row) if row else None

    def latest_run(self) -> RunRow | None:
        row = self.connect().execute("SELECT * FROM runs ORDER BY updated DESC LIMIT 1").fetchone()
        return _run_row(row) if row else None

    def list_runs(self) -> list[RunRow]:
        return [_run_row(r) for r in self.connect().execute("SELECT * FROM runs ORDER BY updated DESC")]

    def save_run(self, run: RunRow) -> None:
        self.connect().execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
            "record=excluded.record, status=excluded.status, updated=excluded.updated",
            (
                run.name, run.task, run.split, run.model, run.config_key, run.samples_per_problem,
                json.dumps(run.record, sort_keys=True), run.status, run.created, run.updated,
            ),
        )

    def set_run_status(self, name: str, status: str) -> None:
        self.connect().execute("UPDATE runs SET status = ?, updated = ? WHERE name = ?", (status, time.time(), name))

    def clear_results(self, name: str) -> None:
        for table in ("results", "samples", "run_metrics"):
            self.connect().execute(f"DELETE FROM {table} WHERE run = ?", (name,))

    # --- lookups used by the runner ------------------------------------------------------------------
    def _rows_in(self, sql: str, keys: list[str], *params: Any) -> Iterator[tuple]:
        """Rows of `sql`, which ends in `IN`, for all the keys (chunked within SQLite's parameter limit)."""
        for chunk in _chunks(keys):
            yield from self.connect().execute(f"{sql} ({','.join('?' * len(chunk))})", (*params, *chunk))

    def done_map(self, run: str, sample_ids: list[str]) -> dict[str, set[int]]:
        """For many samples at once: the indices already done (infra failures are not done)."""
        out: dict[str, set[int]] = {}
        sql = "SELECT sample_id, idx FROM results WHERE run = ? AND status != 'infra' AND sample_id IN"
        for sid, idx in self._rows_in(sql, sample_ids, run):
            out.setdefault(sid, set()).add(idx)
        return out

    def response_texts(self, keys: list[str]) -> dict[str, str]:
        """The cached responses among these keys."""
        return dict(self._rows_in("SELECT key, text FROM responses WHERE key IN", keys))

    def verdicts(self, keys: list[str]) -> dict[str, Verdict]:
        """The cached verdicts among these keys."""
        rows = self._rows_in("SELECT key, status, score, details FROM verdicts WHERE key IN", keys)
        return {key: Verdict(Status(status), score, json.loads(details)) for key, status, score, details in rows}

    def write_results(self, items: list[ResultWrite]) -> None:
        """Commit a batch in one transaction (the writer calls this with whatever is waiting)."""
        now = time.time()
        prompts, responses, verdicts, results, samples = [], [], [], [], {}
        for it in items:
            infra = it.verdict.status is Status.INFRA
            prompts.append((it.prompt_key, json.dumps(it.prompt.messages, ensure_ascii=False)))
            if it.response is not None and it.response.error is None and it.response_key:
                responses.append((it.response_key, it.response.text, json.dumps(it.response.usage), now))
            if it.verdict_key and not it.verdict_cached and not infra:
                details = json.dumps(it.verdict.details, ensure_ascii=False, default=str)
                verdicts.append((it.verdict_key, it.verdict.status.value, it.verdict.score, details, it.answer))
            results.append((it.run, it.sample_id, it.idx, it.ordinal, it.prompt_key, it.response_key,
                            None if infra else it.verdict_key, it.verdict.status.value,
                            it.verdict.details.get("reason") if infra else None))
            if it.metadata is not None:
                samples[(it.run, it.sample_id)] = (it.run, it.sample_id, it.ordinal, it.sample_hash,
                                                   json.dumps(it.metadata, sort_keys=True, default=str))
        conn = self.connect()
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?)", prompts)
            conn.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", responses)
            conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)", verdicts)
            conn.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", results)
            conn.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?)", samples.values())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def save_response(self, key: str, prompt_key: str, prompt: Prompt, response: Response) -> None:
        """One response outside a run's results (the judge's)."""
        self.save_responses([(key, prompt_key, prompt, response)])

    def save_responses(self, rows: list[tuple[str, str, Prompt, Response]]) -> None:
        """Responses (key, prompt key, prompt, response) saved ahead of their results, in one transaction."""
        now = time.time()
        conn = self.connect()
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?)",
                             [(pk, json.dumps(p.messages, ensure_ascii=False)) for _, pk, p, _ in rows])
            conn.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)",
                             [(k, r.text, json.dumps(r.usage), now) for k, _, _, r in rows])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- metrics ------------------------------------------------------------------------------------
    def save_metrics(self, run: str, values: dict[str, float], intervals: dict[str, Any], counts: dict[str, int],
                     aggregate_sha256: str) -> None:
        self.connect().execute(
            "INSERT OR REPLACE INTO run_metrics VALUES (?, ?, ?, ?, ?, ?)",
            (run, json.dumps(values), json.dumps({k: list(v) for k, v in intervals.items()}), json.dumps(counts),
             aggregate_sha256, time.time()))

    def delete_metrics(self, run: str) -> None:
        self.connect().execute("DELETE FROM run_metrics WHERE run = ?", (run,))

    def metrics(self, run: str) -> StoredMetrics | None:
        row = self.connect().execute(
            "SELECT metrics, intervals, counts, aggregate_sha256, computed FROM run_metrics WHERE run = ?",
            (run,)).fetchone()
        if row is None:
            return None
        return StoredMetrics(json.loads(row[0]), json.loads(row[1]), json.loads(row[2]), row[3], row[4])

    # --- reading a run back -------------------------------------------------------------------------
    def run_results(self, run: str) -> Iterator[tuple[str, int, str, Verdict | None, dict[str, Any]]]:
        """(sample_id, idx, status, verdict, sample metadata) ordered by sample then index, streamed."""
        rows = self.connect().execute(
            "SELECT r.sample_id, r.idx, r.status, v.status, v.score, v.details, s.metadata FROM results r "
            "LEFT JOIN verdicts v ON v.key = r.verdict_key "
            "LEFT JOIN samples s ON s.run = r.run AND s.sample_id = r.sample_id "
            "WHERE r.run = ? ORDER BY r.sample_id, r.idx",
            (run,),
        )
        for sid, idx, status, vstatus, score, details, metadata in rows:
            verdict = Verdict(Status(vstatus), score, json.loads(details)) if vstatus else None
            yield sid, idx, status, verdict, json.loads(metadata) if metadata else {}

    def run_samples(self, run: str) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
        """(sample_id, ordinal, content hash, metadata) of each sample the run has written, in load order."""
        rows = self.connect().execute(
            "SELECT sample_id, ordinal, content_hash, metadata FROM samples WHERE run = ? ORDER BY ordinal", (run,))
        for sid, ordinal, content_hash, metadata in rows:
            yield sid, ordinal, content_hash, json.loads(metadata)

    def coverage(self, run: str) -> tuple[int, int]:
        """(samples with every attempt graded, samples with any result) of a run."""
        spp = self.connect().execute("SELECT samples_per_problem FROM runs WHERE name = ?", (run,)).fetchone()
        rows = self.connect().execute(
            "SELECT SUM(status != 'infra') FROM results WHERE run = ? GROUP BY sample_id", (run,)).fetchall()
        need = spp[0] if spp else 1
        return sum(1 for (done,) in rows if done >= need), len(rows)

    def response_fact_counts(self, run: str) -> dict[str, int]:
        """How many of a run's attempts had no stored response, a missing prediction, an empty or a truncated one."""
        rows = self.connect().execute(
            "SELECT s.text, s.usage FROM results r LEFT JOIN responses s ON s.key = r.response_key WHERE r.run = ?",
            (run,))
        out: dict[str, int] = {}
        for text, usage in rows:
            for fact in _facts(text, json.loads(usage) if usage else {}):
                out[fact] = out.get(fact, 0) + 1
        return out

    def withdrawn_counts(self, run: str) -> dict[str, int]:
        """How many of a run's attempts the model adapter withdrew from the metrics, by the reason it gave."""
        rows = self.connect().execute(
            "SELECT json_extract(v.details, '$.withdrawn') AS why, COUNT(*) FROM results r "
            "JOIN verdicts v ON v.key = r.verdict_key WHERE r.run = ? AND r.status = 'ungradable' "
            "GROUP BY why HAVING why IS NOT NULL", (run,))
        return {str(why): n for why, n in rows}

    def status_counts(self, run: str) -> dict[str, int]:
        rows = self.connect().execute("SELECT status, COUNT(*) FROM results WHERE run = ? GROUP BY status", (run,))
        return {status: n for status, n in rows}

    def sample_detail(self, run: str, sample_id: str) -> list[dict[str, Any]]:
        rows = self.connect().execute(
            "SELECT r.idx, p.messages, s.text, s.usage, r.status, r.error, v.answer, v.score, v.details "
            "FROM results r JOIN prompts p ON p.key = r.prompt_key "
            "LEFT JOIN responses s ON s.key = r.response_key LEFT JOIN verdicts v ON v.key = r.verdict_key "
            "WHERE r.run = ? AND r.sample_id = ? ORDER BY r.idx",
            (run, sample_id),
        )
        out = []
        for idx, messages, text, usage, status, error, answer, score, details in rows:
            usage = json.loads(usage) if usage else {}
            out.append(
                {
                    "index": idx,
                    "prompt": [{"role": r, "content": c} for r, c in json.loads(messages)],
                    "response": text,
                    "response_facts": _facts(text, usage),
                    "usage": usage,
                    "answer": answer,
                    "status": status,
                    "score": score,
                    "details": json.loads(details) if details else ({"reason": error} if error else {}),
                }
            )
        return out


def _facts(text: str | None, usage: dict[str, Any]) -> list[str]:
    """What `show` and the report say about a stored response besides its text (see runner.response_facts)."""
    if text is None:
        return ["none"]
    if usage.get("missing_prediction"):
        return ["missing"]
    return ([] if text.strip() else ["empty"]) + (["truncated"] if usage.get("truncated") else [])


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _run_row(row: tuple) -> RunRow:
    return RunRow(
        name=row[0], task=row[1], split=row[2], model=row[3], config_key=row[4], samples_per_problem=row[5],
        record=json.loads(row[6]), status=row[7], created=row[8], updated=row[9],
    )
