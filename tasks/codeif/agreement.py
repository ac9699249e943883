"""How often the checkers and the judge agree, per template, on the same responses.

Wherever the judge was asked (`-T judge=llm`, and `hybrid` on every task with a constraint the checkers could
not decide) it answered every constraint, so each constraint the checkers decided gives a pair. Per template:
the checkers' coverage (share of its constraints they decided), the pairs, raw agreement, Cohen's kappa, and
the two kinds of disagreement. In the metrics: `checker_coverage[template=N]`, `agreement[template=N]`,
`kappa[template=N]` (overall without the suffix), with `agreement_pairs[...]` and the disagreements in the counts.
`table()` prints the same as text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from harness.types import Metrics

from .templates import BY_ID

if TYPE_CHECKING:
    from .metrics import Attempt


@dataclass
class AgreementRow:
    template: int | None  # None: every template together
    constraints: int = 0
    decided: int = 0  # by the checkers
    pairs: int = 0  # decided by the checkers and answered by the judge
    both_yes: int = 0
    both_no: int = 0
    checker_yes_judge_no: int = 0
    checker_no_judge_yes: int = 0

    @property
    def coverage(self) -> float:
        return self.decided / self.constraints if self.constraints else float("nan")

    @property
    def agreement(self) -> float:
        return (self.both_yes + self.both_no) / self.pairs if self.pairs else float("nan")

    @property
    def kappa(self) -> float:
        """Cohen's kappa; NaN where chance agreement is total (both always said the same one thing)."""
        n = self.pairs
        if not n:
            return float("nan")
        checker_yes = (self.both_yes + self.checker_yes_judge_no) / n
        judge_yes = (self.both_yes + self.checker_no_judge_yes) / n
        chance = checker_yes * judge_yes + (1 - checker_yes) * (1 - judge_yes)
        return (self.agreement - chance) / (1 - chance) if chance < 1 else float("nan")

    def add(self, static: str, judge: str | None) -> None:
        self.constraints += 1
        if static not in ("yes", "no"):
            return
        self.decided += 1
        if judge not in ("yes", "no"):
            return
        self.pairs += 1
        if static == judge == "yes":
            self.both_yes += 1
        elif static == judge == "no":
            self.both_no += 1
        elif static == "yes":
            self.checker_yes_judge_no += 1
        else:
            self.checker_no_judge_yes += 1


def rows(attempts: Iterable[Attempt]) -> list[AgreementRow]:
    """One row per template (in id order; unmatched instructions as template None last), then the total."""
    per: dict[int | None, AgreementRow] = defaultdict(lambda: AgreementRow(None))
    total = AgreementRow(None)
    for a in attempts:
        for template, static, judge in zip(a.templates, a.static, a.judge):
            row = per[template]
            row.template = template
            row.add(static, judge)
            total.add(static, judge)
    ordered = [per[k] for k in sorted((k for k in per if k is not None))] + ([per[None]] if None in per else [])
    return ordered + [total]


def add_agreement(metrics: Metrics, attempts: list[Attempt]) -> None:
    table_rows = rows(attempts)
    for row in table_rows:
        suffix = "" if row is table_rows[-1] else f"[template={row.template if row.template is not None else 'none'}]"
        if row.constraints:
            metrics.add(f"checker_coverage{suffix}", row.coverage)
        if row.pairs:
            metrics.add(f"agreement{suffix}", row.agreement)
            if row.kappa == row.kappa:  # not NaN
                metrics.add(f"kappa{suffix}", row.kappa)
            metrics.counts[f"agreement_pairs{suffix}"] = row.pairs
            metrics.counts[f"checker_yes_judge_no{suffix}"] = row.checker_yes_judge_no
            metrics.counts[f"checker_no_judge_yes{suffix}"] = row.checker_no_judge_yes


def table(table_rows: list[AgreementRow]) -> str:
    """The report as text, one line per template."""
    def f(x: float) -> str:
        return "  n/a" if x != x else f"{x:5.3f}"
    lines = [f"{'template':<44} {'n':>6} {'cover':>6} {'pairs':>6} {'agree':>6} {'kappa':>6} {'c+j-':>5} {'c-j+':>5}"]
    for r in table_rows:
        if r.template is None and r is table_rows[-1]:
            label = "all"
        elif r.template is None:
            label = "(no template)"
        else:
            label = f"{r.template:>2} {BY_ID[r.template].summary}"[:44]
        lines.append(f"{label:<44} {r.constraints:>6} {f(r.coverage):>6} {r.pairs:>6} {f(r.agreement):>6} "
                     f"{f(r.kappa):>6} {r.checker_yes_judge_no:>5} {r.checker_no_judge_yes:>5}")
    return "\n".join(lines)
