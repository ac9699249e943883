"""What a sandboxed run gives back."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any


class Ending(str, enum.Enum):
    """How a run ended."""

    EXITED = "exited"  # the program exited by itself (any exit code)
    TIMED_OUT = "timed_out"  # the wall deadline passed, or the CPU-time limit was hit
    MEMORY_KILLED = "memory_killed"  # the container's memory limit: the OOM killer took it
    CRASHED = "crashed"  # killed by a signal of its own making (SIGSEGV, SIGABRT, ...)
    FAILED_TO_START = "failed_to_start"  # the command could not be executed (not found, not executable)


class CountMethod(str, enum.Enum):
    """How instructions are counted.  Counts are comparable only with the same method on the same image."""

    CACHEGRIND = "cachegrind"  # valgrind --tool=cachegrind --cache-sim=no: the whole program
    PERF = "perf"  # perf_event_open hardware counter (user space), the whole program; needs a PMU


@dataclass(frozen=True)
class InstructionCount:
    method: str  # "valgrind-cachegrind" or "perf_event_open-instructions-user"
    total: int | None  # whole-program count
    image_id: str | None = None  # counts are only comparable on the same image
    error: str | None = None  # why no count came back, if none did


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    wall_s: float
    ending: Ending
    peak_memory_kb: int | None = None  # the sample process's peak RSS (includes the forked runner's ~10 MB)
    signal: int | None = None
    instructions: InstructionCount | None = None
    leftovers: tuple[str, ...] = ()  # processes/files the sample left behind (removed; container retired)
    detail: str = ""  # human-readable note: why it timed out, what failed to start, ...
    image_id: str | None = None
    container_id: str | None = None
    infra_retries: int = 0  # sandbox failures retried before this result (harness.sandbox.grading.run_checked)

    @property
    def ok(self) -> bool:
        """Exited by itself with status 0."""
        return self.ending is Ending.EXITED and self.exit_code == 0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ending"] = self.ending.value
        return d
