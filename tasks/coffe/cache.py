"""The reference-solution cache: what the best reference costs, measured once per (solution, test, image, method).

One small SQLite file, `coffe-reference.sqlite`, in $HARNESS_CACHE_DIR, else $XDG_CACHE_HOME/harness, else
~/.cache/harness.  It lives outside any run's store on purpose: every run and every store on this machine that
grades COFFE on the same image pays for the reference once (the function-level reference alone is ~400 s native,
hours under valgrind).  Deleting the file only costs time.

Rows are keyed by sha256 of the solution's code, sha256 of the test (a stressful input spec, or a correctness
test), the image id (digest) and the method ("valgrind-callgrind" for counts, "wall-native" for the time of
the correctness tests, which sets the candidate's time limits).  `value` is the count (or seconds), `wall_s` the
time the measurement took (it sets the candidate's limit on that stressful test), `error` why there is none.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from harness.paths import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS reference (
    solution TEXT NOT NULL, test TEXT NOT NULL, image TEXT NOT NULL, method TEXT NOT NULL,
    value REAL, wall_s REAL, error TEXT, created REAL DEFAULT (julianday('now')),
    PRIMARY KEY (solution, test, image, method)
)
"""


def default_path() -> Path:
    return cache_dir() / "coffe-reference.sqlite"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    value: float | None
    wall_s: float | None
    error: str | None


class ReferenceCache:
    """Thread-safe (one connection per thread); safe across processes (SQLite locking, WAL)."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.hits = 0
        self.misses = 0
        with self._conn() as c:
            c.execute(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    def get_many(self, solution: str, tests: list[str], image: str, method: str) -> dict[str, Entry]:
        """Entries found, by test hash (`tests` are hashes)."""
        if not tests:
            return {}
        found: dict[str, Entry] = {}
        conn = self._conn()
        for start in range(0, len(tests), 500):
            chunk = tests[start:start + 500]
            rows = conn.execute(
                f"SELECT test, value, wall_s, error FROM reference WHERE solution = ? AND image = ? AND method = ? "
                f"AND test IN ({','.join('?' * len(chunk))})", (solution, image, method, *chunk)).fetchall()
            for test, value, wall_s, error in rows:
                found[test] = Entry(value, wall_s, error)
        self.hits += len(found)
        self.misses += len(set(tests) - found.keys())
        return found

    def put_many(self, solution: str, image: str, method: str, entries: dict[str, Entry]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO reference (solution, test, image, method, value, wall_s, error) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(solution, t, image, method, e.value, e.wall_s, e.error) for t, e in entries.items()])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def clear(self) -> None:
        self._conn().execute("DELETE FROM reference")
