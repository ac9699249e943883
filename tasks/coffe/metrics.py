"""COFFE's metrics from stored verdicts alone.

Per problem with n graded attempts, c correct, e efficient (correct, and the prediction's total count over the
stressful tests strictly below the best reference's total, counted the same way on the same image):

  pass@k       1 - C(n-c, k) / C(n, k), averaged over gradable problems
  efficient@k  1 - C(n-e, k) / C(n, k), averaged over problems whose stressful tests are usable; at n = 1 this is
               COFFE's efficient@1 (a problem without a correct prediction counts 0)
  speedup      sum of reference totals / sum of prediction totals, over every correct prediction that has a total
               (a ratio of sums, as COFFE computes it, not a mean of ratios)

Ungradable problems (no correctness tests in the data, a reference that fails its own tests) are left out of
every metric and counted; problems whose stressful tests are all unusable are left out of efficient@k and counted.
A correct prediction whose count does not add up (`tampered`: see check.py) has no total: never efficient, left
out of speedup, and counted (`efficiency_tampered`).  With `-T efficiency=off` no count is taken: pass@k only, and
`counts.counting_off` is 1.
Intervals: Wilson for a proportion at n = 1, a normal interval over problems for n > 1, a bootstrap over
problems for speedup.  Every metric is given for the whole split and per source dataset (`pass@1[MBPP]`): the
sample's stored `dataset` metadata, or, for a run stored by an older harness without it, the sample id's prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from harness.metrics import bootstrap_interval, mean_interval, pass_at_k, standard_ks, wilson_interval
from harness.types import Metrics, SampleResult, Status

SOURCES = {"HumanEval": "HumanEval", "Mbpp": "MBPP", "apps": "APPS", "code_contests": "CodeContests"}


def source_of(result: SampleResult) -> str:
    """The sample's source dataset: its `dataset` metadata; without it (a run stored before metadata was), the
    id's prefix."""
    dataset = (result.metadata or {}).get("dataset")
    if dataset:
        return str(dataset)
    return SOURCES.get(result.sample_id.split("/", 1)[0], "other")


@dataclass
class Problem:
    source: str
    n: int = 0
    correct: int = 0
    efficient: int = 0
    efficiency_gradable: bool = True
    ref_sum: int = 0  # over correct predictions with a total
    pred_sum: int = 0
    timed: int = 0  # correct predictions with a total
    no_total: int = 0  # correct predictions without one (failed or ran past the limit on a stressful test)
    tampered: int = 0  # ... of which the count did not add up
    excluded_tests: set[str] = field(default_factory=set)


def counting_off(results: list[SampleResult]) -> bool:
    """The run was graded with -T efficiency=off (its verdicts say so)."""
    return any("skipped" in (v.details.get("efficiency") or {}) for r in results for v in r.verdicts)


def collect(results: Iterable[SampleResult]) -> tuple[list[Problem], dict[str, int]]:
    problems, ungradable = [], {"ungradable": 0}
    for res in results:
        if not res.verdicts:
            continue
        if any(v.status is Status.UNGRADABLE for v in res.verdicts):  # the data's, or withdrawn by the adapter
            key = f"ungradable[{source_of(res)}]"
            ungradable["ungradable"] += 1
            ungradable[key] = ungradable.get(key, 0) + 1
            continue
        p = Problem(source_of(res), n=res.n, correct=res.correct)
        for v in res.verdicts:
            eff = v.details.get("efficiency") if v.passed else None
            if eff is None or "skipped" in eff:
                continue
            p.excluded_tests |= set(eff.get("excluded") or {})
            if eff.get("ungradable"):
                p.efficiency_gradable = False
                continue
            ref, pred = eff.get("reference_total"), eff.get("prediction_total")
            if pred is None or ref is None:
                p.no_total += 1
                p.tampered += bool(eff.get("tampered"))
                continue
            p.timed += 1
            p.ref_sum += ref
            p.pred_sum += pred
            p.efficient += pred < ref
        problems.append(p)
    return problems, ungradable


def _rate(name: str, metrics: Metrics, n: list[int], c: list[int], suffix: str) -> None:
    """name@1 (with its interval) and name@k for the standard k that every problem has attempts for."""
    if not n:
        return
    per1 = [ci / ni for ni, ci in zip(n, c)]
    if max(n) == 1:
        metrics.add(f"{name}@1{suffix}", float(np.mean(per1)), wilson_interval(sum(c), len(n)))
    else:
        metrics.add(f"{name}@1{suffix}", float(np.mean(per1)), mean_interval(per1))
    if min(n) >= 2:
        for k in standard_ks(min(n)):
            if k > 1:
                per = [pass_at_k(ni, ci, k) for ni, ci in zip(n, c)]
                metrics.add(f"{name}@{k}{suffix}", float(np.mean(per)), mean_interval(per))


def _add(metrics: Metrics, problems: list[Problem], suffix: str, counted: bool = True) -> None:
    _rate("pass", metrics, [p.n for p in problems], [p.correct for p in problems], suffix)
    if not counted:
        return
    eff = [p for p in problems if p.efficiency_gradable]
    _rate("efficient", metrics, [p.n for p in eff], [p.efficient for p in eff], suffix)
    ref = np.array([p.ref_sum for p in problems], dtype=float)
    pred = np.array([p.pred_sum for p in problems], dtype=float)
    if pred.sum() > 0:
        def ratio(W: np.ndarray) -> np.ndarray:
            num, den = W @ ref, W @ pred
            return np.divide(num, den, out=np.full(len(num), np.nan), where=den > 0)

        lo, hi = bootstrap_interval(lambda W: ratio(W)[~np.isnan(ratio(W))], len(problems))
        metrics.add(f"speedup{suffix}", float(ref.sum() / pred.sum()), (lo, hi))


def aggregate(results: Iterable[SampleResult]) -> Metrics:
    results = list(results)
    counted = not counting_off(results)
    problems, counts = collect(results)
    metrics = Metrics()
    metrics.counts.update(counts)
    if not counted:
        metrics.counts["counting_off"] = 1  # -T efficiency=off: no efficient@k, no speedup
    metrics.counts.update({
        "problems": len(problems),
        "attempts": sum(p.n for p in problems),
        "passed": sum(p.correct for p in problems),
        "efficient": sum(p.efficient for p in problems),
        "efficiency_ungradable": sum(not p.efficiency_gradable for p in problems),
        "speedup_samples": sum(p.timed for p in problems),
        "correct_without_total": sum(p.no_total for p in problems),
        "efficiency_tampered": sum(p.tampered for p in problems),
        "stress_tests_excluded": sum(len(p.excluded_tests) for p in problems),
    })
    if not problems:
        return metrics
    _add(metrics, problems, "", counted)
    sources = sorted({p.source for p in problems})
    if len(sources) > 1:
        for s in sources:
            _add(metrics, [p for p in problems if p.source == s], f"[{s}]", counted)
    return metrics
