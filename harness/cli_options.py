"""Pieces every `harness` sub-command shares, in a module of their own so that harness/plan.py,
harness/validate.py and harness/site/command.py (which harness/cli.py imports) need not import harness/cli.py
back."""

from __future__ import annotations

import click


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
