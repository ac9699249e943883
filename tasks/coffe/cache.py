"""The reference measurements: what the best reference costs, measured once per machine.

Stored in the engine's derived-reference cache (`ctx.derived`, harness/derived.py: one SQLite file in the
harness's cache folder, shared by every run and every store on this machine; deleting it only costs time).  The
function-level reference alone is ~400 s native, hours under valgrind, so it is paid for once.

One view per method: "valgrind-cachegrind-worker" (the reference's total instruction count over its usable
stressful tests) and "wall-native" (native times: of the correctness tests, which set the candidate's time
limits, and of the stressful tests, which set the counting limits).  Each view is namespaced by the sha256 of
check.py and grader.py (what runs in the sandbox, and how) and the image's id (digest).  An entry's key is a hash
of (sha256 of the solution's code, sha256 of the test: a stressful input spec, a correctness test, or the list of
usable stressful tests); its value is the JSON [value, wall_s, error]: the count (or seconds), the time the
measurement took, and why there is no value.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.types import stable_hash

if TYPE_CHECKING:
    from harness.derived import DerivedCache


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    value: float | None
    wall_s: float | None
    error: str | None

    def as_json(self) -> list:
        return [self.value, self.wall_s, self.error]

    @classmethod
    def from_json(cls, row: list) -> "Entry":
        value, wall_s, error = row
        return cls(value, wall_s, error)


class ReferenceView:
    """The entries of one method on one image, by (solution sha, test sha); counts its hits and misses."""

    def __init__(self, view: DerivedCache.View):
        self.view = view
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(solution: str, test: str) -> str:
        return stable_hash("coffe-reference", solution, test)

    def get_many(self, solution: str, tests: list[str]) -> dict[str, Entry]:
        """Entries found, by test hash (`tests` are hashes)."""
        if not tests:
            return {}
        keys = {self.key(solution, t): t for t in tests}
        found = {keys[k]: Entry.from_json(v) for k, v in self.view.get_many(list(keys)).items()}
        with self._lock:
            self.hits += len(found)
            self.misses += len(set(tests) - found.keys())
        return found

    def put_many(self, solution: str, entries: dict[str, Entry]) -> None:
        self.view.put_many({self.key(solution, t): e.as_json() for t, e in entries.items()})
