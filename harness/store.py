"""The store: one SQLite file (WAL) holding runs, prompts, responses, verdicts and per-run results.

Responses and verdicts are content-addressed, so they are shared between runs:
- a response is keyed by (model fingerprint, generation parameters, prompt, sample index);
- a verdict is keyed by (task, task version, sample, answer, grader image).
A run's `results` table says which (sample, index) pairs are done; running the same command again
skips them. Every write is committed as soon as the writer has it (group commit), so a killed run
loses only the samples in flight.
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
"""


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


def default_path() -> Path:
    return Path(os.environ.get("HARNESS_STORE", ".harness/store.sqlite"))


class Store:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.connect() as conn:
            conn.executescript(SCHEMA)

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
        self.connect().execute("DELETE FROM results WHERE run = ?", (name,))

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
        prompts, responses, verdicts, results = [], [], [], []
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
        conn = self.connect()
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?)", prompts)
            conn.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", responses)
            conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)", verdicts)
            conn.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", results)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- reading a run back -------------------------------------------------------------------------
    def run_results(self, run: str) -> Iterator[tuple[str, int, str, Verdict | None]]:
        """(sample_id, idx, status, verdict) ordered by sample then index, streamed."""
        rows = self.connect().execute(
            "SELECT r.sample_id, r.idx, r.status, v.status, v.score, v.details FROM results r "
            "LEFT JOIN verdicts v ON v.key = r.verdict_key WHERE r.run = ? ORDER BY r.sample_id, r.idx",
            (run,),
        )
        for sid, idx, status, vstatus, score, details in rows:
            verdict = Verdict(Status(vstatus), score, json.loads(details)) if vstatus else None
            yield sid, idx, status, verdict

    def status_counts(self, run: str) -> dict[str, int]:
        rows = self.connect().execute("SELECT status, COUNT(*) FROM results WHERE run = ? GROUP BY status", (run,))
        return {status: n for status, n in rows}

    def sample_detail(self, run: str, sample_id: str) -> list[dict[str, Any]]:
        rows = self.connect().execute(
            "SELECT r.idx, p.messages, s.text, r.status, r.error, v.answer, v.score, v.details "
            "FROM results r JOIN prompts p ON p.key = r.prompt_key "
            "LEFT JOIN responses s ON s.key = r.response_key LEFT JOIN verdicts v ON v.key = r.verdict_key "
            "WHERE r.run = ? AND r.sample_id = ? ORDER BY r.idx",
            (run, sample_id),
        )
        out = []
        for idx, messages, text, status, error, answer, score, details in rows:
            out.append(
                {
                    "index": idx,
                    "prompt": [{"role": r, "content": c} for r, c in json.loads(messages)],
                    "response": text,
                    "answer": answer,
                    "status": status,
                    "score": score,
                    "details": json.loads(details) if details else ({"reason": error} if error else {}),
                }
            )
        return out


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _run_row(row: tuple) -> RunRow:
    return RunRow(
        name=row[0], task=row[1], split=row[2], model=row[3], config_key=row[4], samples_per_problem=row[5],
        record=json.loads(row[6]), status=row[7], created=row[8], updated=row[9],
    )
