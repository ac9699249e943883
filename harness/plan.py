"""`harness plan --task TASK`: what a run of TASK will pull or build before it can grade, and the disk it needs.

A task with an image per sample (SWE-bench-Live) has a `plan(samples, options)` method returning an object with
`as_json()`: {"rows": [{instance_id, how, tag, size_bytes, fingerprint, reason}], "counts", "needed_bytes",
"run_bytes", "used_bytes", "budget_bytes", "fits", "unknown_sizes"}.  Other tasks grade in images that `harness
images build` makes, so there is nothing to plan for them.  The samples are the run's: the same --data, --split,
--subset, --since/--until, --limit and -T select the same ones.
"""

from __future__ import annotations

import json

import click

from .cli_options import pairs, sample_options
from .registry import get_task
from .selection import check_selection, select_samples
from .task import LoadOptions, TaskError


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def as_table(plan: dict) -> str:
    rows = [(r["instance_id"], r["how"], _size(r["size_bytes"]) if r["how"] != "missing" else "",
             r["tag"], r["reason"]) for r in plan["rows"]]
    header = ("instance", "how", "size", "image", "")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header[:4])]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:4], widths)).rstrip() + (f"  {row[4]}" if row[4] else "")
             for row in [header, *rows]]
    counts = plan["counts"]
    lines.append("")
    lines.append(f"{len(rows)} instances: {counts['local']} present, {counts['pull']} to pull, "
                 f"{counts['build']} to build, {counts['missing']} missing")
    unknown = f" (and {plan['unknown_sizes']} of unknown size)" if plan["unknown_sizes"] else ""
    lines.append(f"disk: {_size(plan['needed_bytes'])} more{unknown}; the run's images {_size(plan['run_bytes'])} "
                 f"together; instance images present now {_size(plan['used_bytes'])}")
    budget = plan["budget_bytes"]
    if budget is None:
        lines.append("no disk budget (-T disk_budget_gb=N keeps instance images within N GB)")
    elif plan["fits"]:
        lines.append(f"fits the disk budget of {_size(budget)}")
    else:
        lines.append(f"does not fit the disk budget of {_size(budget)} at once: least recently used images will be "
                     f"removed during the run and built or pulled again when needed")
    return "\n".join(lines)


@click.command("plan")
@sample_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def plan(task_ref, data, split, subset, limit, task_arg, since, until, fmt) -> None:
    """Say what a run of TASK will pull or build (per sample image), the disk it needs, and whether that fits
    the disk budget; nothing is pulled or built."""
    from .sandbox.errors import SandboxError

    task_args = pairs(task_arg, "--task-arg")
    try:
        task = get_task(task_ref)
        options = LoadOptions(split=split, data=data, limit=limit, subset=subset, since=since, until=until)
        check_selection(task, options)
        options.args = task.parse_args(task_args)
        planner = getattr(task, "plan", None)
        if planner is None:
            image = f"the image {task.grader_image} (`harness images build` makes it)" if task.grader_image \
                else "no image"
            click.echo(f"{task.name}: nothing to pull or build per sample; it grades in {image}")
            return
        result = planner(select_samples(task, options), options).as_json()
    except (TaskError, SandboxError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result, indent=2) if fmt == "json" else as_table(result))
