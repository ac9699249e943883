"""The derived-reference cache: values computed from a task's references, once per machine.

Ground truth traced from a reference program in a sandbox, a reference solution's instruction counts: costly to
compute, the same for every run and every store that grades the same data with the same code on the same image.
One SQLite file, `derived.sqlite` in the harness's cache folder (`harness.paths.cache_dir()`); deleting it only
costs time. A value is found by its view's namespace (task name, kind, code hash, image digest) and its key (a
hash of the content it was derived from); values are JSON.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from .paths import cache_dir
from .types import stable_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS derived (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
"""


_shared: dict[Path, "DerivedCache"] = {}
_shared_lock = threading.Lock()


class DerivedCache:
    """Thread-safe (a connection per thread) and safe across processes (SQLite locking, WAL)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else cache_dir() / "derived.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.hits = 0
        self.misses = 0
        self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    @classmethod
    def shared(cls) -> "DerivedCache":
        """One instance per cache file for the whole process (HARNESS_CACHE_DIR may change, as tests do)."""
        path = cache_dir() / "derived.sqlite"
        with _shared_lock:
            if path not in _shared:
                _shared[path] = cls(path)
            return _shared[path]

    def view(self, task: str, kind: str, code: str, image: str) -> "DerivedCache.View":
        return DerivedCache.View(self, stable_hash("derived", task, kind, code, image))

    def get_many(self, namespace: str, keys: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for chunk in _chunks(sorted(set(keys))):
            rows = self._conn().execute(
                f"SELECT key, value FROM derived WHERE namespace = ? AND key IN ({','.join('?' * len(chunk))})",
                (namespace, *chunk))
            out.update((k, json.loads(v)) for k, v in rows)
        self.hits += len(out)
        self.misses += len(set(keys)) - len(out)
        return out

    def put_many(self, namespace: str, values: dict[str, Any]) -> None:
        now = time.time()
        rows = [(namespace, k, json.dumps(v, sort_keys=True), now) for k, v in values.items()]
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO derived VALUES (?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    class View:
        """The entries of one namespace."""

        def __init__(self, cache: "DerivedCache", namespace: str):
            self.cache = cache
            self.namespace = namespace

        def get_many(self, keys: list[str]) -> dict[str, Any]:
            return self.cache.get_many(self.namespace, keys)

        def put_many(self, values: dict[str, Any]) -> None:
            self.cache.put_many(self.namespace, values)

        def get(self, key: str, default: Any = None) -> Any:
            return self.get_many([key]).get(key, default)

        def put(self, key: str, value: Any) -> None:
            self.put_many({key: value})


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
