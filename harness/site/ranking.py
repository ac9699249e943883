"""Ranks with ties: a run's rank is 1 + the number of runs of the same benchmark that are credibly better.

Run B is credibly better than run A when
- both scores are pass rates that the runs' per-sample verdicts reproduce, and the runs share samples (same id,
  same content): the paired test of `harness.metrics.paired_comparison` on the shared samples finds B higher with
  p < 0.05 (two-sided; each pair is tested on its own, without a correction for the number of pairs);
- otherwise: B's stored 95% interval lies wholly above A's (a conservative rule: overlapping intervals can still
  differ).
Runs that no run is credibly better than share rank 1: ties are shown as ties. Without intervals nothing is
credibly better, so every such run ranks 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..metrics import paired_comparison

ALPHA = 0.05


@dataclass(frozen=True)
class Entry:
    run: str
    value: float
    interval: tuple[float, float] | None
    shares: dict[str, float] | None = None  # per-sample pass share keyed by sample id and content, when usable


@dataclass(frozen=True)
class Versus:
    """A run against the benchmark's leader (the highest score): this run minus the leader."""

    leader: str
    method: str  # "paired" or "intervals"
    difference: float
    interval: tuple[float, float] | None = None  # paired only
    p_value: float | None = None  # paired only
    samples: int | None = None  # shared samples (paired only)
    separated: bool | None = None  # intervals only: the intervals do not overlap


@dataclass(frozen=True)
class Standing:
    run: str
    value: float
    rank: int | None  # None: no score to rank (NaN)
    better: tuple[str, ...]  # the runs credibly better than this one
    versus_leader: Versus | None


def _paired(a: Entry, b: Entry):
    if a.shares is None or b.shares is None:
        return None
    if len(a.shares.keys() & b.shares.keys()) < 2:
        return None
    return paired_comparison(a.shares, b.shares)


def credibly_better(b: Entry, a: Entry) -> bool:
    """Whether b's score is credibly above a's (see the module's docstring)."""
    cmp = _paired(a, b)
    if cmp is not None:
        return cmp.difference > 0 and cmp.p_value < ALPHA
    if a.interval is None or b.interval is None:
        return False
    return b.interval[0] > a.interval[1]


def standings(entries: list[Entry]) -> dict[str, Standing]:
    scored = [e for e in entries if not math.isnan(e.value)]
    leader = max(scored, key=lambda e: e.value, default=None)
    out = {}
    for e in entries:
        if math.isnan(e.value):
            out[e.run] = Standing(e.run, e.value, None, (), None)
            continue
        better = tuple(o.run for o in scored if o is not e and credibly_better(o, e))
        out[e.run] = Standing(e.run, e.value, 1 + len(better), better,
                              None if leader is None or leader is e else versus(e, leader))
    return out


def versus(e: Entry, leader: Entry) -> Versus:
    cmp = _paired(leader, e)
    if cmp is not None:
        return Versus(leader.run, "paired", cmp.difference, cmp.interval, cmp.p_value, cmp.n)
    separated = None
    if e.interval is not None and leader.interval is not None:
        separated = leader.interval[0] > e.interval[1]
    return Versus(leader.run, "intervals", e.value - leader.value, separated=separated)
