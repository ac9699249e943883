"""Turning a run request into the runner's wire format, and the runner's answer into a RunResult."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import RunnerLost
from .limits import RunLimits
from .result import CountMethod, Ending, InstructionCount, RunResult

Files = Mapping[str, "str | bytes"]


def encode_files(files: Files | None) -> dict[str, dict[str, str]]:
    out = {}
    for path, content in (files or {}).items():
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"sandbox file paths are relative to the work dir, without '..': {path!r}")
        if isinstance(content, bytes):
            out[path] = {"b64": base64.b64encode(content).decode("ascii")}
        else:
            out[path] = {"text": str(content)}
    return out


def runner_request(argv: Sequence[str], *, files: Files | None, stdin: str, env: Mapping[str, str] | None,
                   limits: RunLimits, count: CountMethod | None) -> dict[str, Any]:
    if not argv:
        raise ValueError("empty command")
    return {
        "op": "run",
        # Echoed in the answer: a line written into the runner's stream by anything else cannot carry it
        # (a sample never sees its request), so the host tells forged or stale answers from the runner's.
        "id": secrets.token_hex(8),
        "argv": [str(a) for a in argv],
        "files": encode_files(files),
        "stdin": stdin or "",
        "env": dict(env or {}),
        "timeout_s": limits.timeout_s,
        "cpu_s": limits.effective_cpu_s,
        "fsize_bytes": limits.file_size_mb << 20,
        "nofile": limits.open_files,
        "output_cap": limits.output_cap_bytes,
        "count": count.value if count else None,
    }


def ending_of(resp: Mapping[str, Any]) -> tuple[Ending, str]:
    """How a run ended, and a note saying why, from the runner's answer."""
    if resp.get("runner_error") and str(resp["runner_error"]).startswith("could not start"):
        return Ending.FAILED_TO_START, str(resp["runner_error"])
    if resp.get("oom_killed") and not resp.get("timed_out"):
        return Ending.MEMORY_KILLED, "killed by the OOM killer: the container's memory limit was reached"
    if resp.get("timed_out"):
        return Ending.TIMED_OUT, "wall deadline passed; the sample's process group was killed"
    if resp.get("cpu_limit_hit"):
        return Ending.TIMED_OUT, "CPU-time limit (RLIMIT_CPU) reached"
    if resp.get("signal"):
        return Ending.CRASHED, f"killed by signal {resp['signal']}"
    return Ending.EXITED, ""


def result_from_runner(resp: Mapping[str, Any], *, count: CountMethod | None, image_id: str | None,
                       container_id: str | None) -> RunResult:
    if not resp.get("ok"):
        raise RunnerLost(f"the runner could not run the request: {resp.get('runner_error')}")
    ending, note = ending_of(resp)
    counted = None
    if count is not None:
        counted = InstructionCount(method=resp.get("count_method") or count.value,
                                   total=resp.get("instructions"),
                                   image_id=image_id, error=resp.get("count_error"))
    return RunResult(
        exit_code=resp.get("exit_code"),
        stdout=resp.get("stdout", ""),
        stderr=resp.get("stderr", ""),
        stdout_truncated=bool(resp.get("stdout_truncated")),
        stderr_truncated=bool(resp.get("stderr_truncated")),
        wall_s=float(resp.get("wall_s", 0.0)),
        ending=ending,
        peak_memory_kb=resp.get("peak_rss_kb") or None,
        signal=resp.get("signal"),
        instructions=counted,
        leftovers=tuple(resp.get("leftovers") or ()),
        detail=note,
        image_id=image_id,
        container_id=container_id,
    )
