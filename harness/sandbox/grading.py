"""Exit-code grading: a check program's exit status is the verdict.

    0                  -> pass (with require_completion: only if the check also printed its completion line)
    nonzero            -> fail
    timed out, memory killed, crashed, could not start  -> error (the model's fault), with the reason
    sandbox failure (engine down, image missing, runner vanished) -> retried; still failing -> infra
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .errors import InfraError
from .limits import RunLimits
from .request import Files
from .result import CountMethod, Ending, RunResult

DETAIL_OUTPUT_CHARS = 2000  # how much of stdout/stderr goes into a verdict's details
COMPLETION_PREFIX = "harness-checks-complete "


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
        d["instructions"] = {"method": ic.method, "total": ic.total,
                             "image_id": ic.image_id, "error": ic.error}
    if result.leftovers:
        d["leftovers"] = list(result.leftovers)
    return d


def verdict_from_result(result: RunResult, completion_nonce: str | None = None):
    """The verdict that the exit code (and the way the run ended) of a check program gives. With a
    completion nonce, exit 0 is a pass only if stdout has the line `harness-checks-complete <nonce>`."""
    Status, Verdict = _types()
    details = run_details(result)
    if result.ending is Ending.EXITED:
        if result.exit_code == 0:
            if completion_nonce is None or (COMPLETION_PREFIX + completion_nonce) in result.stdout.splitlines():
                return Verdict(Status.PASS, 1.0, details)
            details["reason"] = "exit status 0, but the check program did not show that its checks ran to the end"
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


class SandboxFailed(Exception):
    """`run_checked` could not get a result: `verdict` is the sample's (infra after bounded retries, or error
    when the sample itself killed the sandbox runner on every attempt)."""

    def __init__(self, verdict):
        super().__init__(verdict.details.get("reason", ""))
        self.verdict = verdict


def run_checked(sandbox: Sandbox, argv: Sequence[str], *, files: Files | None = None, stdin: str = "",
                env: Mapping[str, str] | None = None, limits: RunLimits = RunLimits(),
                count: CountMethod | str | None = None, infra_retries: int = 2,
                retry_wait_s: float = 1.0) -> RunResult:
    """The one way graders run something in a sandbox. Sandbox failures (engine, image, runner) are retried
    `infra_retries` times with a growing wait; then SandboxFailed carries an infra verdict -- unless the runner
    was lost while this sample ran on every attempt: then the sample killed it, and its verdict is `error`."""
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
        return replace(result, infra_retries=attempt - 1) if attempt > 1 else result
    assert last is not None
    if lost_during_sample == infra_retries + 1:
        Status, Verdict = _types()
        raise SandboxFailed(Verdict(Status.ERROR, 0.0, {"reason": "the sample killed the sandbox runner (on every "
                                                                  f"attempt): {last}", "attempts": infra_retries + 1}))
    raise SandboxFailed(infra_verdict(last, infra_retries + 1))


def grade_by_exit_code(sandbox: Sandbox, argv: Sequence[str], *, files: Files | None = None, stdin: str = "",
                       env: Mapping[str, str] | None = None, limits: RunLimits = RunLimits(),
                       count: CountMethod | str | None = None, infra_retries: int = 2,
                       retry_wait_s: float = 1.0, require_completion: bool = False):
    """Run a check program in the sandbox (through `run_checked`); its exit code is the verdict.

    require_completion: the code under test may exit 0 early (os._exit(0) at import) to fake a pass. With
    this, the first line of the check program's stdin is a fresh nonce, and a pass also needs the line
    `harness-checks-complete <nonce>` on its stdout, printed after its last check. The check program must keep
    the nonce from the code under test (run that code in a child process that never sees it)."""
    nonce = secrets.token_hex(16) if require_completion else None
    if nonce is not None:
        stdin = nonce + "\n" + stdin
    try:
        result = run_checked(sandbox, argv, files=files, stdin=stdin, env=env, limits=limits, count=count,
                             infra_retries=infra_retries, retry_wait_s=retry_wait_s)
    except SandboxFailed as failed:
        return failed.verdict
    verdict = verdict_from_result(result, nonce)
    if result.infra_retries:
        verdict.details["infra_retries"] = result.infra_retries
    return verdict
