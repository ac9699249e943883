"""The Docker engine connection, container labels, and removal of containers left by dead harnesses."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

from .errors import EngineUnavailable

LABEL = "harness.sandbox"  # every container we create carries LABEL=1
LABEL_OWNER_PID = "harness.sandbox.owner_pid"
LABEL_OWNER_HOST = "harness.sandbox.owner_host"
LABEL_KIND = "harness.sandbox.kind"  # "pool" | "instance" | "oneshot"

_client = None
_client_lock = threading.Lock()

HOW_TO_GET_AN_ENGINE = (
    "Start one with `bash sandboxes/ensure-docker.sh` (installs and starts docker.io on Debian as root), "
    "or start your Docker engine, or set DOCKER_HOST; check with `docker info`."
)


def docker_client(timeout_s: int = 120) -> Any:
    """A shared docker SDK client that has answered a ping; EngineUnavailable (with what to do) otherwise."""
    global _client
    with _client_lock:
        if _client is not None:
            return _client
        try:
            import docker
        except ImportError as exc:  # pragma: no cover - docker is a hard dependency
            raise EngineUnavailable("the `docker` Python package is missing: pip install 'docker>=7'") from exc
        try:
            client = docker.from_env(timeout=timeout_s)
            client.ping()
        except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds; all mean "no engine"
            raise EngineUnavailable(f"no Docker engine answers ({type(exc).__name__}: {exc}). "
                                    + HOW_TO_GET_AN_ENGINE) from exc
        _client = client
        return client


def engine_available() -> tuple[bool, str]:
    """(True, "") when an engine answers, else (False, the reason and what to do)."""
    try:
        docker_client()
        return True, ""
    except EngineUnavailable as exc:
        return False, str(exc)


def owner_labels(kind: str) -> dict[str, str]:
    return {LABEL: "1", LABEL_KIND: kind, LABEL_OWNER_PID: str(os.getpid()),
            LABEL_OWNER_HOST: socket.gethostname()}


def _owner_alive(labels: dict[str, str]) -> bool:
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return True  # another machine's harness: not ours to judge
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return False
    return pid == os.getpid() or pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine with that pid exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owned_by(pid: int | None = None, host: str | None = None) -> dict[str, str]:
    """The owner labels of the containers started by process `pid` (default: this one) on `host` (default:
    this machine), for `remove_containers(labels=...)`."""
    return {LABEL_OWNER_HOST: host or socket.gethostname(), LABEL_OWNER_PID: str(pid or os.getpid())}


def remove_containers(only_stale: bool = True, client: Any = None, labels: dict[str, str] | None = None) -> int:
    """Remove containers labelled harness.sandbox=1 (and every one of `labels`, e.g. `owned_by(pid)`): those
    whose harness process is gone (only_stale), or all of them.  Returns how many were removed."""
    client = client or docker_client()
    removed = 0
    wanted = [f"{LABEL}=1", *(f"{k}={v}" for k, v in sorted((labels or {}).items()))]
    # sparse: no inspect per container (containers being removed meanwhile would raise NotFound)
    for c in client.containers.list(all=True, sparse=True, filters={"label": wanted}):
        if only_stale and _owner_alive(c.attrs.get("Labels") or {}):
            continue
        try:
            c.remove(force=True)
            removed += 1
        except Exception:  # noqa: BLE001 - already gone, or being removed by someone else
            pass
    return removed
