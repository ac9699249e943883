"""REval's metrics from stored verdicts alone, in percent as published.

  <task>_acc              accuracy of coverage, state, path, output: correct attempts over graded attempts
  coverage_precision, coverage_recall, coverage_f1   YES the positive class, pooled over attempts
  avg_acc                 the mean of the four accuracies (the leaderboard's Avg)
  ic                      Incremental Consistency: per atom (a line and a variable of one program run) and attempt,
                          1 if coverage, state, path and output are all right, 0.5 if the first three, 0.25 if the
                          first two, 0.125 if only coverage, else 0 (a right answer after a wrong one earns
                          nothing); 100 x the mean over atoms (and attempts). The output verdict of a (program,
                          input) pair counts for each of its atoms. Needs -T task=all.
  coverage_acc_always_yes, coverage_f1_always_yes, state_acc_always_nil, path_acc_always_minus1
                          the same metric for a constant answer on the same items: these beat most published models

Each also per source (`coverage_acc[source=HumanEval]`). Items whose ground truth could not be computed are
ungradable: left out and counted (`ungradable_<task>`); an atom with any part ungradable is left out of IC.
Intervals: a percentile bootstrap over programs (the items of one program are not independent).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from harness.metrics import bootstrap_interval
from harness.types import Metrics, SampleResult, Status

TASKS = ("coverage", "state", "path", "output")
BASELINES = {"coverage": "always_yes", "state": "always_nil", "path": "always_minus1"}
IC_WEIGHTS = {(1, 1, 1, 1): 1.0, (1, 1, 1, 0): 0.5, (1, 1, 0, 0): 0.25, (1, 0, 0, 0): 0.125}


def ic_score(coverage: bool, state: bool, path: bool, output: bool) -> float:
    """One atom's Incremental Consistency score (REval's Consistency.run)."""
    return IC_WEIGHTS.get((int(coverage), int(state), int(path), int(output)), 0.0)


@dataclass
class Ratio:
    """A share summed per program, for the value and its bootstrap interval over programs."""

    hits: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    total: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, program: str, hit: float, weight: float = 1.0) -> None:
        self.hits[program] += hit
        self.total[program] += weight

    @property
    def n(self) -> float:
        return sum(self.total.values())

    def percent(self) -> tuple[float, tuple[float, float]] | None:
        if self.n == 0:
            return None
        programs = sorted(self.total)
        hits = np.array([self.hits[p] for p in programs])
        total = np.array([self.total[p] for p in programs])

        def stat(w: np.ndarray) -> np.ndarray:
            return 100.0 * (w @ hits) / np.maximum(w @ total, 1e-12)

        return 100.0 * hits.sum() / total.sum(), bootstrap_interval(stat, len(programs))


@dataclass
class F1:
    tp: Ratio = field(default_factory=Ratio)  # per program: true positives (hits) over attempts (total)
    fp: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    fn: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, program: str, predicted_yes: bool, truly_yes: bool) -> None:
        self.tp.add(program, float(predicted_yes and truly_yes))
        self.fp[program] += float(predicted_yes and not truly_yes)
        self.fn[program] += float(truly_yes and not predicted_yes)

    def values(self) -> dict[str, tuple[float, tuple[float, float]]] | None:
        programs = sorted(self.tp.total)
        if not programs:
            return None
        tp = np.array([self.tp.hits[p] for p in programs])
        fp = np.array([self.fp[p] for p in programs])
        fn = np.array([self.fn[p] for p in programs])

        def prf(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            t, f_p, f_n = w @ tp, w @ fp, w @ fn
            prec = np.where(t + f_p > 0, t / np.maximum(t + f_p, 1e-12), 0.0)
            rec = np.where(t + f_n > 0, t / np.maximum(t + f_n, 1e-12), 0.0)
            f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)
            return 100 * prec, 100 * rec, 100 * f1

        ones = np.ones((1, len(programs)))
        point = [float(x[0]) for x in prf(ones)]
        out = {}
        for k, name in enumerate(("precision", "recall", "f1")):
            out[name] = (point[k], bootstrap_interval(lambda w, k=k: prf(w)[k], len(programs)))
        return out


def _graded(result: SampleResult) -> list:
    return [v for v in result.verdicts if v.status is not Status.UNGRADABLE]


def aggregate(results: Iterable[SampleResult]) -> Metrics:
    results = [r for r in results if r.verdicts]
    metrics = Metrics()
    counts: dict[str, int] = defaultdict(int)
    scopes = {"": lambda r: True, "[source=HumanEval]": lambda r: r.metadata.get("source") == "HumanEval",
              "[source=ClassEval]": lambda r: r.metadata.get("source") == "ClassEval"}
    for suffix, keep in scopes.items():
        subset = [r for r in results if keep(r)]
        if suffix and not subset:
            continue
        _task_metrics(subset, suffix, metrics, counts if not suffix else defaultdict(int))
        _ic_metrics(subset, suffix, metrics, counts if not suffix else defaultdict(int))
    metrics.counts = dict(counts)
    return metrics


def _task_metrics(results: list[SampleResult], suffix: str, metrics: Metrics, counts: dict[str, int]) -> None:
    accs = []
    for task in TASKS:
        acc, base, f1, base_f1 = Ratio(), Ratio(), F1(), F1()
        for r in results:
            if r.metadata.get("task") != task:
                continue
            graded = _graded(r)
            if not graded:
                counts[f"ungradable_{task}"] += 1
                continue
            counts[f"items_{task}"] += 1
            program = str(r.metadata.get("program"))
            for v in graded:
                acc.add(program, float(v.passed))
                if task in BASELINES and "baseline" in v.details:
                    base.add(program, float(bool(v.details["baseline"])))
                if task == "coverage" and "truth" in v.details:
                    f1.add(program, v.details.get("predicted") == "YES", bool(v.details["truth"]))
                    base_f1.add(program, True, bool(v.details["truth"]))
        value = acc.percent()
        if value is None:
            continue
        metrics.add(f"{task}_acc{suffix}", *value)
        accs.append(value[0])
        if task in BASELINES and base.percent() is not None:
            metrics.add(f"{task}_acc_{BASELINES[task]}{suffix}", *base.percent())  # type: ignore[misc]
        if task == "coverage":
            for name, (v, iv) in (f1.values() or {}).items():
                metrics.add(f"coverage_{name}{suffix}", v, iv)
            yes = base_f1.values()
            if yes:
                metrics.add(f"coverage_f1_always_yes{suffix}", *yes["f1"])
    if len(accs) == len(TASKS):
        metrics.add(f"avg_acc{suffix}", float(np.mean(accs)))


def _ic_metrics(results: list[SampleResult], suffix: str, metrics: Metrics, counts: dict[str, int]) -> None:
    """IC over the atoms that have all four verdicts (a run with -T task=all)."""
    atoms: dict[tuple, dict[str, list[bool] | None]] = defaultdict(dict)
    outputs: dict[tuple, list[bool] | None] = {}
    for r in results:
        md = r.metadata
        task = md.get("task")
        graded = _graded(r)
        passes = [v.passed for v in graded] if graded and len(graded) == len(r.verdicts) else None
        pair = (md.get("program"), md.get("input"))
        if task == "output":
            outputs[pair] = passes
        elif task in TASKS:
            atoms[pair + (md.get("atom"),)][task] = passes
    ratio = Ratio()
    for key, parts in atoms.items():
        pair = key[:2]
        if pair not in outputs or len(parts) != 3:
            continue  # not every task of this atom was run
        seq = [parts["coverage"], parts["state"], parts["path"], outputs[pair]]
        if any(s is None for s in seq):
            counts["ic_atoms_ungradable"] += 1
            continue
        n = min(len(s) for s in seq)  # type: ignore[arg-type]
        scores = [ic_score(*(s[j] for s in seq)) for j in range(n)]  # type: ignore[index]
        ratio.add(str(key[0]), float(np.mean(scores)))
    value = ratio.percent()
    if value is not None:
        metrics.add(f"ic{suffix}", *value)
        if not suffix:
            counts["ic_atoms"] = int(ratio.n)
