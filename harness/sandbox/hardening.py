"""The hardened container configuration every sandbox container gets (docker SDK keyword arguments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..paths import builtin_dir
from .limits import ContainerLimits

SANDBOX_USER = "65534:65534"  # nobody:nogroup


def _seccomp_profile_path() -> Path:
    return builtin_dir("sandboxes") / "seccomp-perf.json"


def hardened_kwargs(limits: ContainerLimits, *, labels: dict[str, str], allow_perf: bool = False,
                    user: str | None = SANDBOX_USER, work_dir: str = "/tmp", init: bool = True) -> dict[str, Any]:
    """Keyword arguments for `client.containers.create(image, command, **kwargs)`.

    No network, read-only root, a small tmpfs for /tmp (the only writable place besides a small /dev/shm),
    all capabilities dropped, no-new-privileges, a non-root user, pids/memory(=memory+swap)/CPU limits,
    an init process that reaps orphans (`init=False` only for a main process that reaps them itself, as the
    pool's runner does), and an empty environment (nothing from the host's).
    With allow_perf the seccomp profile sandboxes/seccomp-perf.json replaces Docker's default so that
    perf_event_open is allowed (the host must also have kernel.perf_event_paranoid <= 2).
    """
    security_opt = ["no-new-privileges"]
    if allow_perf:
        security_opt.append("seccomp=" + _seccomp_profile_path().read_text())
    mem = f"{limits.memory_mb}m"
    kwargs: dict[str, Any] = dict(
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.tmpfs_mb}m,mode=1777"},
        shm_size=f"{limits.shm_mb}m",
        cap_drop=["ALL"],
        security_opt=security_opt,
        pids_limit=limits.pids,
        mem_limit=mem,
        memswap_limit=mem,
        nano_cpus=int(limits.cpus * 1e9),
        init=init,
        environment={},
        labels=labels,
        working_dir=work_dir,
        hostname="sandbox",
        ulimits=[],
    )
    if user is not None:
        kwargs["user"] = user
    return kwargs
