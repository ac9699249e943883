"""Model calls in flight (the model under test's and the judge's), so the display can show a hang in seconds."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, tuple[str, float, int]] = {}
        self._next = 0

    @contextmanager
    def track(self, who: str, requests: int = 1) -> Iterator[None]:
        """Around one call to a model: `who` is its spec, `requests` how many answers the call waits for."""
        with self._lock:
            self._next += 1
            token = self._next
            self._calls[token] = (who, time.monotonic(), requests)
        try:
            yield
        finally:
            with self._lock:
                self._calls.pop(token, None)

    def snapshot(self) -> dict[str, tuple[int, float]]:
        """who -> (requests in flight, seconds the oldest call has waited)."""
        now = time.monotonic()
        with self._lock:
            calls = list(self._calls.values())
        out: dict[str, tuple[int, float]] = {}
        for who, started, n in calls:
            count, oldest = out.get(who, (0, 0.0))
            out[who] = (count + n, max(oldest, now - started))
        return out
