"""Resource limits: what a container gets (fixed for its life) and what each run gets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContainerLimits:
    """Limits of a whole container.  A warm pool's containers all share one ContainerLimits."""

    memory_mb: int = 512  # memory and memory+swap (no swap)
    cpus: float = 1.0
    pids: int = 128
    tmpfs_mb: int = 64  # the writable /tmp (work dirs live in it)
    shm_mb: int = 16  # /dev/shm

    def __post_init__(self) -> None:
        if self.memory_mb < 16 or self.cpus <= 0 or self.pids < 8 or self.tmpfs_mb < 1 or self.shm_mb < 1:
            raise ValueError(f"ContainerLimits out of range: {self}")


@dataclass(frozen=True)
class RunLimits:
    """Limits of one run (one sample)."""

    timeout_s: float = 10.0  # wall deadline; the runner kills the sample's group, the host kills the container
    cpu_s: int | None = None  # RLIMIT_CPU; default: the timeout rounded up, plus one
    output_cap_bytes: int = 1 << 20  # per stream (stdout, stderr); the rest is dropped and flagged truncated
    file_size_mb: int = 32  # RLIMIT_FSIZE
    open_files: int = 256  # RLIMIT_NOFILE

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.output_cap_bytes < 0 or self.file_size_mb < 1 or self.open_files < 16:
            raise ValueError(f"RunLimits out of range: {self}")

    @property
    def effective_cpu_s(self) -> int:
        return self.cpu_s if self.cpu_s is not None else int(self.timeout_s) + 1
