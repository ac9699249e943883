"""Estimators and confidence intervals shared by every benchmark.

- pass@k: the unbiased estimator of Chen et al. (2021), 1 - C(n-c, k) / C(n, k), averaged over problems.
- proportions: Wilson score interval.
- any statistic of per-problem values: percentile bootstrap over problems.
- two runs on the same problems: a paired comparison (mean difference, its interval, a p-value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .types import Metrics, SampleResult, Status

Z95 = NormalDist().inv_cdf(0.975)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k draws (without replacement) from n attempts with c correct is correct."""
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n, got n={n}, c={c}")
    if k < 1 or k > n:
        raise ValueError(f"pass_at_k: need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    # 1 - prod_{i=n-c+1}^{n} (1 - k/i): the numerically stable form of 1 - C(n-c,k)/C(n,k)
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when there is no trial."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_interval(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    max_cells: int = 1_000_000,
) -> tuple[float, float]:
    """Percentile bootstrap over n rows (problems), resampled with replacement.

    `statistic(W)` gets a (b, n) matrix whose row j counts how often each problem was drawn in resample j, and
    returns the b statistics; a per-problem mean is `W @ x / n`. Working on counts keeps any statistic built from
    per-problem sums vectorised; resamples are drawn in chunks of at most `max_cells` counts, so memory stays
    bounded whatever the number of problems or resamples."""
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    chunk = max(1, max_cells // n)
    stats = []
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]  # row j's draws, offset by j*n
        counts = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(float)
        stats.append(np.asarray(statistic(counts)))
    values = np.concatenate(stats)
    alpha = (1 - confidence) / 2
    return (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))


def mean_interval(values: Sequence[float], z: float = Z95) -> tuple[float, float]:
    """Normal-approximation interval of a mean (the CLT interval used for pass@k over problems)."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        m = float(x.mean()) if len(x) else float("nan")
        return (m, m)
    half = z * float(x.std(ddof=1)) / math.sqrt(len(x))
    return (float(x.mean()) - half, float(x.mean()) + half)


@dataclass(frozen=True)
class PairedComparison:
    """B minus A on the problems both runs graded."""

    n: int
    mean_a: float
    mean_b: float
    difference: float
    interval: tuple[float, float]
    p_value: float
    better: int  # problems where B scored higher
    worse: int  # problems where B scored lower


def paired_comparison(a: dict[str, float], b: dict[str, float], z: float = Z95) -> PairedComparison:
    """Paired test of per-problem scores: the interval and two-sided p-value of the mean difference use the
    standard error of the per-problem differences (exact sign test p-value when all differences are 0/±1
    and few problems differ)."""
    common = sorted(a.keys() & b.keys())
    if not common:
        raise ValueError("paired_comparison: the two runs share no problem")
    xa = np.array([a[k] for k in common], dtype=float)
    xb = np.array([b[k] for k in common], dtype=float)
    d = xb - xa
    n = len(d)
    diff = float(d.mean())
    better, worse = int((d > 0).sum()), int((d < 0).sum())
    se = float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    if se == 0.0:
        p = 1.0 if diff == 0 else 0.0
    else:
        p = 2 * (1 - NormalDist().cdf(abs(diff) / se))
    binary = bool(np.all(np.isin(d, (-1.0, 0.0, 1.0))))
    if binary and better + worse <= 50:
        p = _sign_test(better, worse)
    return PairedComparison(
        n=n,
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        difference=diff,
        interval=(diff - z * se, diff + z * se),
        p_value=p,
        better=better,
        worse=worse,
    )


def _sign_test(better: int, worse: int) -> float:
    """Exact two-sided McNemar / sign test on the discordant pairs."""
    m = better + worse
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(0, min(better, worse) + 1)) / 2**m
    return min(1.0, 2 * tail)


def standard_ks(n: int) -> list[int]:
    """The k of pass@k worth reporting for n attempts per problem: 1, 2, 5, 10, 20, 50, 100 up to n, and n."""
    return sorted({k for k in (1, 2, 5, 10, 20, 50, 100) if k <= n} | {n})


def pass_at_k_table(attempts: Sequence[int], correct: Sequence[int]) -> dict[str, tuple[float, tuple[float, float]]]:
    """pass@k averaged over problems for each standard k that every problem has enough attempts for (pass@1
    always, when there is a problem). Intervals: Wilson when every problem has one attempt, else a normal
    interval over problems."""
    if not attempts or min(attempts) < 1:
        return {}
    if max(attempts) == 1:
        return {"pass@1": (sum(correct) / len(correct), wilson_interval(sum(correct), len(correct)))}
    out = {}
    for k in standard_ks(min(attempts)):
        per_problem = [pass_at_k(n, c, k) for n, c in zip(attempts, correct)]
        out[f"pass@{k}"] = (float(np.mean(per_problem)), mean_interval(per_problem))
    return out


def pass_fail_metrics(results: Iterable[SampleResult], group_keys: Sequence[str] = ()) -> Metrics:
    """The default metrics of a pass/fail task: pass@k (see `pass_at_k_table`) over the whole run and per value
    of each metadata key in `group_keys` (`pass@1[language=go]`). Ungradable attempts are left out; a sample with
    only ungradable attempts is counted in `ungradable`, not in the metrics."""
    attempts: list[int] = []
    correct: list[int] = []
    groups: list[dict[str, Any]] = []
    ungradable = 0
    for r in results:
        graded = [v for v in r.verdicts if v.status is not Status.UNGRADABLE]
        if not graded:
            ungradable += bool(r.verdicts)
            continue
        attempts.append(len(graded))
        correct.append(sum(v.passed for v in graded))
        groups.append({k: r.metadata.get(k) for k in group_keys})
    metrics = Metrics(counts={"problems": len(attempts), "attempts": sum(attempts), "passed": sum(correct),
                              "ungradable": ungradable})
    for name, (value, interval) in _pass_at_every_k(attempts, correct).items():
        metrics.add(name, value, interval)
    for key in group_keys:
        for label in sorted({str(g[key]) for g in groups if g[key] is not None}):
            rows = [i for i, g in enumerate(groups) if g[key] is not None and str(g[key]) == label]
            table = _pass_at_every_k([attempts[i] for i in rows], [correct[i] for i in rows])
            for name, (value, interval) in table.items():
                metrics.add(f"{name}[{key}={label}]", value, interval)
    return metrics


def _pass_at_every_k(attempts: list[int], correct: list[int]) -> dict[str, tuple[float, tuple[float, float]]]:
    """pass@k for every k from 1 to the fewest attempts any problem has (for n > 10: the standard k up to n),
    Wilson interval when every problem has one attempt, else a percentile bootstrap over problems."""
    if not attempts:
        return {}
    if max(attempts) == 1:
        return pass_at_k_table(attempts, correct)
    n = min(attempts)
    ks = range(1, n + 1) if n <= 10 else standard_ks(n)
    out = {}
    for k in ks:
        per_problem = np.array([pass_at_k(a, c, k) for a, c in zip(attempts, correct)])
        interval = bootstrap_interval(lambda W, x=per_problem: W @ x / len(x), len(per_problem))
        out[f"pass@{k}"] = (float(per_problem.mean()), interval)
    return out
