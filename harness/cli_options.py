"""Pieces every `harness` sub-command shares, in a module of their own so that harness/plan.py,
harness/validate.py and harness/site/command.py (which harness/cli.py imports) need not import harness/cli.py
back."""

from __future__ import annotations

import click

from .selection import window_options


def opt(*decls, env: str, **kwargs):
    """A click option that can also come from the environment variable `env`."""
    return click.option(*decls, envvar=env, show_envvar=True, **kwargs)


def pairs(items, what: str) -> dict[str, str]:
    """`KEY=VALUE` items (from a repeatable option named `what`) as a dict; a bad one is a usage error."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint=what)
        out[key] = value
    return out


def sample_options(command):
    """The options that choose a task's samples as `harness run` does, for the commands that work on them
    without a model (`harness plan`, `harness validate`): --task, --data, --split, --subset, -T, --limit and
    --since/--until. The command gets task_ref, data, split, subset, task_arg, limit, since and until."""
    for decorate in reversed([
        opt("--task", "-t", "task_ref", env="HARNESS_TASK", required=True,
            help="Task name (see `harness list`), an installed plug-in, or a task folder's path."),
        opt("--data", env="HARNESS_DATA", help="Local data file or folder, or hf:<repo id>[@revision]."),
        opt("--split", env="HARNESS_SPLIT", help="Task split or variant (default: the task's own)."),
        opt("--subset", env="HARNESS_SUBSET", help="A named small subset of the task, as for `harness run`."),
        opt("--task-arg", "-T", env="HARNESS_TASK_ARG", multiple=True,
            help="Task option KEY=VALUE (repeatable), as for `harness run`."),
        opt("--limit", env="HARNESS_LIMIT", type=click.IntRange(min=1), help="Only the first N samples."),
        window_options,
    ]):
        command = decorate(command)
    return command
