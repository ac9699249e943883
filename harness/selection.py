"""Which of a task's samples a command works on: the created-at window, then the named subset, then --limit.

The window (`--since` / `--until`, ISO 8601 dates or datetimes, both ends inclusive) keeps the samples whose
metadata `created_at` falls in it: a contamination window, a month of SWE-bench-Live. A date as `--until` means
the whole of that day. A time without a zone, in the bounds or in the data, is taken as UTC. Under a window a
sample without a `created_at`, or with one that is not a date, is an error naming the task and the sample.

The subset (`--subset`, see harness/subsets.py) is chosen among the samples in the window, and `--limit` takes
the first of what is left. The runner, `harness validate` and `harness plan` select through `select_samples`,
so one set of options means the same samples everywhere.
"""

from __future__ import annotations

import datetime as dt
from itertools import islice
from typing import Iterable, Iterator

from .subsets import choose
from .task import LoadOptions, Task, TaskError
from .types import Sample


def parse_bound(text: str) -> dt.date | dt.datetime:
    """An ISO 8601 date (`2025-01-31`) or datetime (`2025-01-31T12:00:00Z`); ValueError says what was wrong."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or datetime (e.g. 2025-01-31 or "
                         f"2025-01-31T12:00:00Z)") from None


def canonical_bound(text: str | None) -> str | None:
    """The bound as the run's identity and record hold it (`2025-01-31`, `2025-01-31T12:00:00+00:00`)."""
    if text is None:
        return None
    value = parse_bound(text)
    return _instant(value).isoformat() if isinstance(value, dt.datetime) else value.isoformat()


def check_window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """Both bounds in canonical form; ValueError names a bad one or a window that ends before it starts."""
    try:
        lo = canonical_bound(since)
    except ValueError as exc:
        raise ValueError(f"--since: {exc}") from None
    try:
        hi = canonical_bound(until)
    except ValueError as exc:
        raise ValueError(f"--until: {exc}") from None
    if lo and hi and _start(parse_bound(lo)) > _end(parse_bound(hi)):
        raise ValueError(f"--since {lo} is after --until {hi}: the window holds nothing")
    return lo, hi


def in_window(samples: Iterable[Sample], since: str | None, until: str | None, task: str) -> Iterator[Sample]:
    """The samples whose `created_at` is within [since, until] (either may be None: open on that side)."""
    if since is None and until is None:
        yield from samples
        return
    lo = _start(parse_bound(since)) if since else None
    hi = _end(parse_bound(until)) if until else None
    for s in samples:
        at = created_at(s, task)
        if (lo is None or at >= lo) and (hi is None or at < hi):
            yield s


def created_at(sample: Sample, task: str) -> dt.datetime:
    """A sample's `created_at` as an instant (UTC where it names no zone); TaskError when missing or bad."""
    raw = sample.metadata.get("created_at")
    if raw is None or raw == "":
        raise TaskError(f"task {task} has no created_at (sample {sample.id!r}): --since/--until need it in "
                        f"every sample's metadata")
    try:
        return as_instant(raw)
    except ValueError:
        raise TaskError(f"task {task}, sample {sample.id!r}: created_at {raw!r} is not an ISO 8601 date or "
                        f"datetime") from None


def as_instant(raw: object) -> dt.datetime:
    """A created_at value (ISO 8601 text, a date, a datetime) as an instant in UTC; ValueError when it is none."""
    if isinstance(raw, dt.datetime):
        return _instant(raw)
    if isinstance(raw, dt.date):
        return _start(raw)
    return _start(parse_bound(str(raw)))


def checked_window(opts: LoadOptions) -> tuple[str | None, str | None]:
    """The options' created-at window in canonical form (check_window); TaskError names a bad bound."""
    try:
        return check_window(opts.since, opts.until)
    except ValueError as exc:
        raise TaskError(str(exc)) from None


def check_selection(task: Task, opts: LoadOptions) -> None:
    """TaskError, before anything is loaded, for a split or subset the task does not have or a bad window."""
    task.split_or_default(opts.split)
    if opts.subset and opts.subset not in task.subsets:
        have = ", ".join(f"{k} ({v} samples)" for k, v in task.subsets.items()) or "none"
        raise TaskError(f"task {task.name!r} has no subset {opts.subset!r}; its subsets: {have}")
    checked_window(opts)


def select_samples(task: Task, opts: LoadOptions) -> Iterator[Sample]:
    """The samples a command works on, in the data's order: window, then subset, then limit."""
    samples: Iterable[Sample] = in_window(task.samples(opts), opts.since, opts.until, task.name)
    if opts.subset:  # the subset is chosen among all the samples in the window: read them once, keep them
        stratum = task.metadata_keys[0] if task.metadata_keys else None
        every = list(samples)
        chosen = choose(every, task.subsets[opts.subset], stratum)
        samples = (s for s in every if s.id in chosen)
    return islice(samples, opts.limit)


def describe_window(opts: LoadOptions) -> str:
    """`created 2025-01-01 to 2025-01-31` for messages; '' without a window."""
    if opts.since is None and opts.until is None:
        return ""
    return f"created {opts.since or 'any time'} to {opts.until or 'now'}"


def _instant(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _start(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return _instant(value)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)


def _end(value: dt.date | dt.datetime) -> dt.datetime:
    """The first instant after the bound: a date covers its whole day; a datetime is itself included."""
    if isinstance(value, dt.datetime):
        return _instant(value) + dt.timedelta(microseconds=1)
    return _start(value) + dt.timedelta(days=1)


def window_options(command):
    """`--since` / `--until` on a click command (`harness run`, `validate`, `plan`): checked and canonical, so
    a bad date is one line naming the option. The command gets `since` and `until` (str or None)."""
    import click

    def check(ctx, param, value):
        if value is None:
            return None
        try:
            return canonical_bound(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    helps = {"since": "at or after DATE: the earliest end", "until": "at or before DATE: the latest end"}
    for name in ("until", "since"):
        command = click.option(
            f"--{name}", envvar=f"HARNESS_{name.upper()}", show_envvar=True, callback=check, metavar="DATE",
            help=f"Keep only samples whose created_at is {helps[name]} of a contamination window (ISO 8601 date "
                 f"or datetime, inclusive; a date as --until covers its whole day).")(command)
    return command
