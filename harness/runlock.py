"""One process per run: a lock file per run beside the store, held (flock) for as long as the run's process
works on it. The operating system releases it when the process dies, however it dies, so a run marked
`running` in the store whose lock is free was left by a process that was killed."""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from pathlib import Path
from typing import Callable


def lock_path(store_path: Path, run: str) -> Path:
    """One lock per (store, run): runs of the same name in two stores of one folder do not block each other."""
    digest = hashlib.sha256(f"{Path(store_path).resolve()}\0{run}".encode("utf-8")).hexdigest()[:24]
    return Path(store_path).parent / "locks" / f"{digest}.lock"


class RunLock:
    def __init__(self, store_path: Path, run: str):
        self.path = lock_path(store_path, run)
        self.run = run
        self._fh = None

    def acquire(self, on_wait: Callable[[str], None]) -> None:
        """Take the lock; while another process holds it, say so once and wait (Ctrl-C stops the wait)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            on_wait(f"run {self.run} is being run by {holder}; waiting for it to finish (Ctrl-C to stop waiting)")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX)
            except BaseException:
                fh.close()
                raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()} on {socket.gethostname()}")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def is_held(store_path: Path, run: str) -> bool:
    """Whether a live process holds the run's lock."""
    path = lock_path(store_path, run)
    if not path.exists():
        return False
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False
