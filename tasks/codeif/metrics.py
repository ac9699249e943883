"""CodeIF's metrics from stored verdicts, as the paper (§3, Eqs. 1-4) and its `model_result.py` define them.

For problem i with n_i constraints, r_ij = 1 when constraint j is satisfied (an unjudged one counts 0) and D_ij
its prerequisites (`instruction_dependence`, 0-based):

  CSR   share of problems with every constraint satisfied
  SSR   mean over problems of the share of constraints satisfied
  RSR   mean over problems of (1/n_i) sum_j r_ij * prod_{k in D_ij} r_ik: a constraint counts only when its
        prerequisites hold too
  CCSR  mean over problems of the longest run of consecutive satisfied constraints, over n_i

With several attempts per problem each metric is averaged over the attempts first. Per-category SSR
(`SSR[category=global]`) pools constraints: those satisfied over all of that category across problems. That
is how the leaderboard's `full_<category>_SS` figures are made: each is a ratio of integers whose denominator
is that category's constraint count over the problems kept (e.g. 194/910 interface constraints for
Qwen2.5-1.5B), while the overall SS is not. Every metric is also given per difficulty, per
language (the instruction's; `dataset_language` is the data's metadata, which the leaderboard groups by),
and over the problems that have no unjudged constraint (`[fully_judged]`: CodeIF's scripts keep only those).

Intervals: Wilson for CSR at one attempt per problem, otherwise a percentile bootstrap over problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from harness.metrics import bootstrap_interval, wilson_interval
from harness.types import Metrics, SampleResult

from .agreement import add_agreement
from .templates import CATEGORIES


@dataclass
class Attempt:
    satisfied: list[int]  # r_j
    categories: list[str]
    dependence: dict[int, list[int]]
    by: list[str | None]
    unjudged: int
    templates: list[int | None] = field(default_factory=list)
    static: list[str] = field(default_factory=list)  # the checkers' yes | no | undecided
    judge: list[str | None] = field(default_factory=list)  # the judge's yes | no, None where not asked
    error: bool = False  # a verdict without a constraint list (the answer could not be read): all not met

    @property
    def n(self) -> int:
        return len(self.satisfied)

    def csr(self) -> float:
        return float(self.n > 0 and all(self.satisfied))

    def ssr(self) -> float:
        return sum(self.satisfied) / self.n

    def rsr(self) -> float:
        r = self.satisfied
        total = 0
        for j, rj in enumerate(r):
            if rj and all(r[k] for k in self.dependence.get(j, ())):
                total += 1
        return total / self.n

    def ccsr(self) -> float:
        best = run = 0
        for rj in self.satisfied:
            run = run + 1 if rj else 0
            best = max(best, run)
        return best / self.n


def attempt_of(details: dict) -> Attempt | None:
    constraints = details.get("constraints")
    if not constraints:
        return None
    dependence = {int(k): [int(x) for x in v] for k, v in (details.get("dependence") or {}).items()}
    return Attempt(
        satisfied=[int(c["answer"] == "yes") for c in constraints],
        categories=[c.get("category") or "" for c in constraints],
        dependence=dependence,
        by=[c.get("by") for c in constraints],
        unjudged=sum(c["answer"] == "unjudged" for c in constraints),
        templates=[c.get("template") for c in constraints],
        static=[c.get("static") or "undecided" for c in constraints],
        judge=[c.get("judge") for c in constraints],
    )


def failed_attempt(metadata: dict) -> Attempt | None:
    """An attempt whose verdict lists no constraints (an `error` verdict: no answer could be read): every
    constraint of the task counts as not met, so the problem stays in every denominator."""
    categories = list((metadata or {}).get("categories") or [])
    if not categories:
        return None
    n = len(categories)
    return Attempt(satisfied=[0] * n, categories=categories, dependence={}, by=["error"] * n, unjudged=0,
                   templates=[None] * n, static=["undecided"] * n, judge=[None] * n, error=True)


@dataclass
class Problem:
    id: str
    metadata: dict
    attempts: list[Attempt] = field(default_factory=list)

    def mean(self, metric: str) -> float:
        return float(np.mean([getattr(a, metric)() for a in self.attempts]))

    def category_counts(self, category: str) -> tuple[float, float]:
        """(satisfied, constraints) of one category, summed over attempts and divided by their number."""
        sat = sum(s for a in self.attempts for s, c in zip(a.satisfied, a.categories) if c == category)
        tot = sum(1 for a in self.attempts for c in a.categories if c == category)
        return sat / len(self.attempts), tot / len(self.attempts)

    @property
    def unjudged(self) -> int:
        return sum(a.unjudged for a in self.attempts)


def collect(results: Iterable[SampleResult]) -> list[Problem]:
    problems = []
    for res in results:
        attempts = [a for a in (attempt_of(v.details) or failed_attempt(res.metadata) for v in res.verdicts)
                    if a is not None]
        if attempts:
            problems.append(Problem(res.sample_id, dict(res.metadata or {}), attempts))
    return problems


METRICS = ("CSR", "SSR", "RSR", "CCSR")


def _add_main(metrics: Metrics, problems: list[Problem], suffix: str) -> None:
    if not problems:
        return
    m = len(problems)
    one_attempt = all(len(p.attempts) == 1 for p in problems)
    for name in METRICS:
        x = np.array([p.mean(name.lower()) for p in problems])
        if name == "CSR" and one_attempt:
            interval = wilson_interval(float(x.sum()), m)
        else:
            interval = bootstrap_interval(lambda W, x=x: W @ x / m, m)
        metrics.add(f"{name}{suffix}", float(x.mean()), interval)


def _add_categories(metrics: Metrics, problems: list[Problem], suffix: str = "") -> None:
    seen = {c for p in problems for a in p.attempts for c in a.categories}
    for category in [c for c in CATEGORIES if c in seen] + sorted(seen - set(CATEGORIES)):
        pairs = np.array([p.category_counts(category) for p in problems])
        sat, tot = pairs[:, 0], pairs[:, 1]
        if tot.sum() == 0:
            continue

        def ratio(W: np.ndarray) -> np.ndarray:
            den = W @ tot
            return np.divide(W @ sat, den, out=np.zeros(len(den)), where=den > 0)

        key = f"[category={category}]" if not suffix else f"[{suffix[1:-1]},category={category}]"
        metrics.add(f"SSR{key}", float(sat.sum() / tot.sum()), bootstrap_interval(ratio, len(problems)))


def aggregate(results: Iterable[SampleResult]) -> Metrics:
    problems = collect(results)
    metrics = Metrics()
    constraints = sum(a.n for p in problems for a in p.attempts)
    by = [b for p in problems for a in p.attempts for b in a.by]
    metrics.counts.update({
        "problems": len(problems),
        "attempts": sum(len(p.attempts) for p in problems),
        "constraints": constraints,
        "satisfied": sum(sum(a.satisfied) for p in problems for a in p.attempts),
        "decided_by_checkers": sum(b == "static" for b in by),
        "decided_by_judge": sum(b == "judge" for b in by),
        "unjudged": sum(b is None for b in by),
        "problems_with_unjudged": sum(p.unjudged > 0 for p in problems),
        "constraints_without_template": sum(t is None for p in problems for a in p.attempts if not a.error
                                            for t in a.templates),
        "attempts_without_answer": sum(a.error for p in problems for a in p.attempts),
    })
    if not problems:
        return metrics
    _add_main(metrics, problems, "")
    metrics.add("unjudged", float(metrics.counts["unjudged"]))  # a count, shown in the report's table
    _add_categories(metrics, problems)
    for key in ("difficulty", "language", "dataset_language"):
        for value in sorted({str(p.metadata.get(key)) for p in problems if p.metadata.get(key) is not None}):
            subset = [p for p in problems if str(p.metadata.get(key)) == value]
            _add_main(metrics, subset, f"[{key}={value}]")
            metrics.counts[f"problems[{key}={value}]"] = len(subset)
    complete = [p for p in problems if p.unjudged == 0]
    if len(complete) < len(problems):
        _add_main(metrics, complete, "[fully_judged]")
        _add_categories(metrics, complete, "[fully_judged]")
    metrics.counts["problems[fully_judged]"] = len(complete)
    add_agreement(metrics, [a for p in problems for a in p.attempts if not a.error])
    return metrics
