"""`harness validate`: check a task's references before models are scored against them.

A task that can be checked defines `validate(sample, *, repeats, fresh, stop) -> Validation`: for SWE-bench-Live,
the gold patch must resolve its instance and the empty patch must not, on every one of `repeats` runs, and the
FAIL_TO_PASS / PASS_TO_PASS lists are derived where the data has none. The task stores what it finds (in the
derived cache, harness/derived.py), where its samples and metrics find it; an instance found stored is not run
again (`--fresh` runs it again). A task without the hook has nothing to validate.

Samples are chosen as `harness run` chooses them (harness/selection.py: --since/--until, --subset, --limit)
and `--ids` keeps only those named. `--grade-workers` samples are validated at once. Ctrl-C stops: what is finished is
already stored, the containers of the samples in flight are removed, and the same command resumes (exit 130).
The table (or `--format json`) goes to standard output, progress and totals to standard error; the exit code is
0 when every sample was validated (whatever it was found to be), 3 when some could not be (infra), 1 on bad
input.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import click

from .cli_options import opt, pairs, sample_options
from .context import TaskContext
from .registry import get_task
from .runner import sigint_deferred
from .selection import check_selection, select_samples
from .task import LoadOptions, Task, TaskError
from .types import Sample

STATUSES = ("ok", "broken", "flaky", "infra")  # infra: could not be validated now (nothing stored)
STOP_GRACE_S = 10.0
EXIT_INFRA = 3
EXIT_INTERRUPTED = 130


@dataclass
class Validation:
    """What validating one sample found. `facts`: the task's own columns (list sizes, runs made)."""

    sample_id: str
    status: str  # one of STATUSES
    reason: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    stored: bool = False  # found stored from an earlier validation, not run now
    seconds: float = 0.0


class Interrupted(Exception):
    """Raised by a task's validate when `stop` is set between its steps: nothing is stored for the sample."""


def validate_samples(task: Task, samples: list[Sample], *, repeats: int, fresh: bool, workers: int,
                     stop: threading.Event, on_done: Callable[[Validation], None]) -> list[Validation]:
    """Validate `samples` with `workers` threads; returns what finished (every sample, unless stopped)."""
    todo: queue.Queue = queue.Queue()
    for s in samples:
        todo.put(s)
    done: list[Validation] = []
    lock = threading.Lock()

    def work() -> None:
        while not stop.is_set():
            try:
                sample = todo.get_nowait()
            except queue.Empty:
                return
            started = time.monotonic()
            try:
                result = task.validate(sample, repeats=repeats, fresh=fresh, stop=stop)
            except Interrupted:
                return
            except Exception as exc:  # noqa: BLE001 - the image, the engine, or a bug of ours: infra, not stored
                if stop.is_set():
                    return  # its container was removed under it
                line = traceback.format_exception_only(type(exc), exc)[-1].strip()
                result = Validation(sample.id, "infra", line)
            if not result.stored and not result.seconds:
                result.seconds = time.monotonic() - started
            with lock:
                done.append(result)
                on_done(result)

    threads = [threading.Thread(target=work, name=f"validate-{i}", daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.2)
    return done


def remove_own_containers() -> int:
    """Remove the sandbox containers this process started (the samples in flight when Ctrl-C came)."""
    from .sandbox.engine import owned_by, remove_containers

    try:
        return remove_containers(only_stale=False, labels=owned_by())
    except Exception:  # noqa: BLE001 - no engine: nothing to remove
        return 0


# ------------------------------------------------------------------------------------------------ output
def as_table(rows: list[Validation]) -> str:
    facts: list[str] = []
    for r in rows:
        facts += [k for k in r.facts if k not in facts]
    header = ["instance", "status", *facts, "time", "reason"]
    cells = [[r.sample_id, r.status, *(_cell(r.facts.get(k)) for k in facts),
              "stored" if r.stored else f"{r.seconds:.0f}s", r.reason] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    line = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    out = [line.format(*header), line.format(*("-" * w for w in widths[:-1]), "-" * len(header[-1]))]
    out += [line.format(*c).rstrip() for c in cells]
    return "\n".join(out)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def totals(rows: list[Validation]) -> dict[str, int]:
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    counts["stored_before"] = sum(r.stored for r in rows)
    return counts


def totals_line(rows: list[Validation], of: int) -> str:
    c = totals(rows)
    text = f"{len(rows) - c['infra']} of {of} validated: {c['ok']} ok, {c['broken']} broken, {c['flaky']} flaky"
    if c["infra"]:
        text += f", {c['infra']} could not be validated (infra)"
    if c["stored_before"]:
        text += f" ({c['stored_before']} were stored from an earlier validation; --fresh runs them again)"
    return text


# ------------------------------------------------------------------------------------------------ command
@click.command("validate")
@sample_options
@click.option("--ids", help="Only these sample ids (comma-separated).")
@opt("--repeats", env="HARNESS_VALIDATE_REPEATS", type=click.IntRange(min=1), default=3, show_default=True,
     help="Runs of each reference check (flaky tests show as differing runs).")
@opt("--grade-workers", env="HARNESS_GRADE_WORKERS", type=click.IntRange(min=1), default=2, show_default=True,
     help="Samples validated at once.")
@click.option("--fresh", is_flag=True, help="Validate again samples already validated on this machine.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="What to print on standard output.")
@click.pass_context
def validate(ctx, task_ref, data, split, subset, task_arg, ids, limit, since, until, repeats, grade_workers, fresh,
             fmt) -> None:
    """Check a task's references: for SWE-bench-Live, run the gold patch and the empty patch --repeats times per
    instance (deriving FAIL_TO_PASS / PASS_TO_PASS where the data has none) and mark each instance ok, broken or
    flaky. What is found is stored on this machine: runs then report `resolved_validated` over the ok ones."""
    try:
        task = get_task(task_ref)
    except TaskError as exc:
        raise click.ClickException(str(exc)) from exc
    if not callable(getattr(task, "validate", None)):
        click.echo(f"task {task.name} has nothing to validate", err=True)
        return
    try:
        opts, samples = _chosen(task, data, split, subset, task_arg, ids, limit, since, until)
    except TaskError as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()
    bar = _progress(len(samples))
    log = (lambda m: bar.write(m, file=sys.stderr)) if bar is not None else (lambda m: click.echo(m, err=True))
    tctx = TaskContext(task, grade_workers=grade_workers, args=opts.args, log=log)
    counts = {s: 0 for s in STATUSES}

    done: list[Validation] = []  # filled as samples finish (validate_samples calls on_done under its lock)

    def on_done(v: Validation) -> None:
        done.append(v)
        counts[v.status] += 1
        if bar is not None:
            bar.set_postfix_str(" ".join(f"{s}={n}" for s, n in counts.items()), refresh=False)
            bar.update(1)

    interrupted = False
    hurry = threading.Event()  # a second Ctrl-C: stop waiting for the samples in flight
    finished = threading.Event()  # waited on, not Thread.join: a join cut by Ctrl-C can leave is_alive() wrong

    def work() -> None:
        try:
            validate_samples(task, samples, repeats=repeats, fresh=fresh, workers=grade_workers, stop=stop,
                             on_done=on_done)
        finally:
            finished.set()

    try:
        task.open(tctx)
        threading.Thread(target=work, name="validate", daemon=True).start()
        try:
            while not finished.wait(timeout=0.2):
                pass
        except KeyboardInterrupt:
            with sigint_deferred(hurry):  # a second Ctrl-C cuts the grace short, never the containers' removal
                interrupted = True
                stop.set()
                log("stopping: the samples in flight are abandoned (nothing of theirs is stored)")
                remove_own_containers()
                deadline = time.monotonic() + STOP_GRACE_S
                while not hurry.is_set() and not finished.wait(timeout=0.1) and time.monotonic() < deadline:
                    pass
    except TaskError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        with sigint_deferred(hurry):  # a Ctrl-C while the task closes (removing containers) must not cut it short
            if bar is not None:
                bar.close()
            try:
                task.close()
            finally:
                tctx.close()
    order = {s.id: i for i, s in enumerate(samples)}
    rows = sorted(list(done), key=lambda v: order[v.sample_id])  # a sample stuck past the grace may still end
    if fmt == "json":
        click.echo(json.dumps({"task": task.name, "repeats": repeats, "samples": len(samples),
                               "counts": totals(rows), "interrupted": interrupted,
                               "validations": [asdict(r) for r in rows]}, indent=2, ensure_ascii=False))
    elif rows:
        click.echo(as_table(rows))
    click.echo(totals_line(rows, len(samples)), err=True)
    if interrupted:
        click.echo("Interrupted: what finished is stored; run the same command again to validate the rest.",
                   err=True)
        ctx.exit(EXIT_INTERRUPTED)
    if counts["infra"]:
        click.echo("some samples could not be validated (see their reason); run the same command again to retry "
                   "them", err=True)
        ctx.exit(EXIT_INFRA)


def _chosen(task: Task, data, split, subset, task_arg, ids, limit, since, until) -> tuple[LoadOptions, list[Sample]]:
    opts = LoadOptions(split=split, data=data, limit=None if ids else limit, subset=subset, since=since,
                       until=until)
    check_selection(task, opts)
    opts.args = task.parse_args(pairs(task_arg, "--task-arg"))
    why = task.unavailable()
    if why:
        raise TaskError(f"task {task.name!r} cannot run here: {why}")
    wanted = [i.strip() for i in (ids or "").split(",") if i.strip()]
    samples = list(select_samples(task, opts))
    if wanted:
        have = {s.id for s in samples}
        missing = [i for i in wanted if i not in have]
        if missing:
            raise TaskError(f"--ids: {', '.join(missing[:5])} not in the data of task {task.name}"
                            + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""))
        samples = [s for s in samples if s.id in set(wanted)][:limit]
    if not samples:
        raise TaskError(f"task {task.name}: no samples to validate")
    return opts, samples


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="validate", unit="sample", file=sys.stderr, disable=None, dynamic_ncols=True,
                mininterval=0.5)
