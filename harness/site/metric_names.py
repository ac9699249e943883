"""How the site reads the names of stored metrics.

- `name[group]`: the metric on a subset of the samples (`pass@1[language=go]`, COFFE's `pass@1[MBPP]`);
- `name_<n>`: one step of a series (TMBench's `acc_step_0` .. `acc_step_30`);
- anything else is a headline metric, in the order the task stored it. The primary metric of a benchmark (the
  overview's column, the one runs are ranked by) is the first headline metric that has an interval, unless
  `--primary TASK=METRIC` says otherwise.
- Higher is better for every metric the harness stores.
"""

from __future__ import annotations

import re

_GROUP = re.compile(r"^(?P<base>[^\[]+)\[(?P<group>.+)\]$")
_STEP = re.compile(r"^(?P<base>.+)_(?P<step>\d+)$")
PASS_RATES = ("pass@1", "pass_rate", "resolved")  # the share of graded attempts that passed (SWE-bench-Live: resolved): paired tests apply


def group_of(name: str) -> tuple[str, str] | None:
    """(`pass@1`, `language=go`) for `pass@1[language=go]`; None for a metric over every sample."""
    m = _GROUP.match(name)
    return (m["base"], m["group"]) if m else None


def step_of(name: str) -> tuple[str, int] | None:
    """(`acc_step`, 3) for `acc_step_3`; None for a metric that is not a step of a series."""
    m = _STEP.match(name)
    return (m["base"], int(m["step"])) if m and "[" not in name else None


def is_headline(name: str) -> bool:
    return group_of(name) is None and step_of(name) is None


def headline(names: list[str]) -> list[str]:
    return [n for n in names if is_headline(n)]


def group_label(group: str) -> tuple[str, str]:
    """(`language`, `go`) for `language=go`; (``, `MBPP`) for a group without a key."""
    key, sep, value = group.partition("=")
    return (key, value) if sep else ("", group)


def primary_metric(metrics: dict[str, float], intervals: dict[str, object], chosen: str | None = None) -> str | None:
    """The metric a benchmark is ranked by: `chosen` when the run has it, else the first headline metric with an
    interval, else the first headline metric."""
    if chosen and chosen in metrics:
        return chosen
    names = headline(list(metrics))
    return next((n for n in names if n in intervals), names[0] if names else None)
