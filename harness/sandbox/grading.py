"""Exit-code grading: a check program's exit status is the verdict.

    0                  -> pass
    nonzero            -> fail
    timed out, memory killed, crashed, could not start  -> error (the model's fault), with the reason
    sandbox failure (engine down, image missing, runner vanished) -> retried; still failing -> infra
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .errors import InfraError
from .limits import RunLimits
from .request import Files
from .result import CountMethod, Ending, RunResult

DETAIL_OUTPUT_CHARS = 2000  # how much of stdout/stderr goes into a verdict's details


class Sandbox(Protocol):
    """What graders need: run a command with files, limits and a deadline.  WarmPool and InstanceSandbox
    satisfy it."""

    def run(self, argv: Sequence[str], *, files: Files | None = None, stdin: str = "",
            env: Mapping[str, str] | None = None, limits: RunLimits = RunLimits(),
            count: Any = None) -> RunResult: ...


def _types():
    from harness.types import Status, Verdict  # the engine's types; imported late on purpose

    return Status, Verdict


def run_details(result: RunResult) -> dict[str, Any]:
    d: dict[str, Any] = {
        "ending": result.ending.value,
        "exit_code": result.exit_code,
        "wall_s": round(result.wall_s, 4),
        "stdout": result.stdout[-DETAIL_OUTPUT_CHARS:],
        "stderr": result.stderr[-DETAIL_OUTPUT_CHARS:],
        "image_id": result.image_id,
    }
    if result.peak_memory_kb:
        d["peak_memory_kb"] = result.peak_memory_kb
    if result.stdout_truncated or result.stderr_truncated:
        d["output_truncated"] = True
    if result.instructions is not None:
        ic = result.instructions
        d["instructions"] = {"method": ic.method, "total": ic.total, "per_call": ic.per_call,
                             "image_id": ic.image_id, "error": ic.error}
    if result.leftovers:
        d["leftovers"] = list(result.leftovers)
    return d


def verdict_from_result(result: RunResult):
    """The verdict that the exit code (and the way the run ended) of a check program gives."""
    Status, Verdict = _types()
    details = run_details(result)
    if result.ending is Ending.EXITED:
        if result.exit_code == 0:
            return Verdict(Status.PASS, 1.0, details)
        return Verdict(Status.FAIL, 0.0, details)
    reasons = {
        Ending.TIMED_OUT: "timeout",
        Ending.MEMORY_KILLED: "memory limit exceeded",
        Ending.CRASHED: "crashed",
        Ending.FAILED_TO_START: "could not start",
    }
    details["reason"] = f"{reasons[result.ending]}: {result.detail}" if result.detail else reasons[result.ending]
    return Verdict(Status.ERROR, 0.0, details)


def infra_verdict(error: Exception, attempts: int):
    Status, Verdict = _types()
    return Verdict(Status.INFRA, 0.0, {"reason": f"{type(error).__name__}: {error}", "attempts": attempts})


def grade_by_exit_code(sandbox: Sandbox, argv: Sequence[str], *, files: Files | None = None, stdin: str = "",
                       env: Mapping[str, str] | None = None, limits: RunLimits = RunLimits(),
                       count: CountMethod | str | None = None, infra_retries: int = 2,
                       retry_wait_s: float = 1.0):
    """Run a check program in the sandbox; its exit code is the verdict.  Sandbox failures are retried
    `infra_retries` times (with a growing wait), then reported as an infra verdict -- unless the runner was
    lost while this sample ran on every attempt: then the sample killed it, and that is an error verdict."""
    last: Exception | None = None
    lost_during_sample = 0
    for attempt in range(1, infra_retries + 2):
        try:
            result = sandbox.run(argv, files=files, stdin=stdin, env=env, limits=limits, count=count)
        except InfraError as exc:
            last = exc
            lost_during_sample += bool(getattr(exc, "during_sample", False))
            if attempt <= infra_retries:
                time.sleep(retry_wait_s * attempt)
            continue
        verdict = verdict_from_result(result)
        if attempt > 1:
            verdict.details["infra_retries"] = attempt - 1
        return verdict
    assert last is not None
    if lost_during_sample == infra_retries + 1:
        Status, Verdict = _types()
        return Verdict(Status.ERROR, 0.0, {"reason": "the sample killed the sandbox runner (on every attempt): "
                                                     f"{last}", "attempts": infra_retries + 1})
    return infra_verdict(last, infra_retries + 1)
