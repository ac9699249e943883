"""Comparing a candidate run with a baseline run of the same task, sample by sample, and the gate's decision.

A metric is a value per sample computed from its graded attempts (infra and ungradable attempts left out), so
several attempts of one sample are averaged into one value before any test:
  pass@1   the share of passed attempts (one attempt: 0 or 1)
  pass@k   the unbiased pass@k estimator of the sample's attempts (samples with fewer than k are left out)
  score    the mean of the verdicts' scores (TMBench: the share of steps right)

The decision of one comparison, in this order:
  inconclusive  when either run's infra attempts exceed the limit (they are never counted as regressions);
  regression    when the Holm-adjusted one-sided p-value is at most alpha (a credible drop);
  pass          when the candidate is credibly better (the same test the other way, p at most alpha): a drop of
                any size is then ruled out at that level, however small the run;
  inconclusive  when the drop this comparison could detect (MDE, power 0.8) is larger than --min-effect;
  pass          otherwise.
A gate's outcome is a regression if any comparison is one, else inconclusive if any is, else pass.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..metrics import pass_at_k
from ..types import Status
from . import stats
from .runs import GateError, RunResults

METRIC_HELP = "pass@1 (default), pass@K, or score"
_PASS_AT = re.compile(r"^pass@([1-9][0-9]*)$")
LISTED = 5  # sample ids listed per kind (fell most, unpaired) in outputs


def format_p(p: float) -> str:
    """A p-value for people: two significant digits when small, else two or three decimals."""
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


class Outcome(str, enum.Enum):
    PASS = "pass"
    REGRESSION = "regression"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Settings:
    alpha: float = 0.05
    min_effect: float = 0.05  # the drop, in the metric's units, the user needs to detect
    max_infra: float = 0.05  # share of a run's attempts that may be infra before the gate is inconclusive
    cluster_key: str | None = None  # sample metadata key whose values are clusters (None: the task's own, if any)
    power: float = stats.POWER
    resamples: int = stats.RESAMPLES
    seed: int = stats.SEED

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise GateError(f"--alpha must be between 0 and 0.5, got {self.alpha}")
        if self.min_effect <= 0:
            raise GateError(f"--min-effect must be positive (a drop in the metric's units), got {self.min_effect}")
        if not 0 <= self.max_infra <= 1:
            raise GateError(f"--max-infra must be a share between 0 and 1, got {self.max_infra}")


def sample_value(metric: str, attempts: Sequence[Any]) -> float | None:
    """One sample's value of `metric` from its graded attempts; None when it has none (or fewer than k)."""
    if not attempts:
        return None
    if metric == "score":
        return float(np.mean([a.score for a in attempts]))
    k = int(_PASS_AT.match(metric).group(1))  # checked by check_metric
    n, c = len(attempts), sum(a.status == Status.PASS.value for a in attempts)
    return None if n < k else pass_at_k(n, c, k)


def check_metric(metric: str) -> str:
    if metric == "score" or _PASS_AT.match(metric):
        return metric
    raise GateError(f"unknown gate metric {metric!r}; use {METRIC_HELP}")


# --- pairing ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paired:
    """The samples both runs graded, with their values and clusters, and what could not be paired."""

    ids: list[str]
    baseline: np.ndarray
    candidate: np.ndarray
    clusters: list[str] | None  # one label per paired sample, or None (every sample its own unit)
    only_in_baseline: list[str]
    only_in_candidate: list[str]
    ungraded_in_baseline: list[str]  # attempted, but no value: infra or ungradable only, or fewer than k attempts
    ungraded_in_candidate: list[str]
    changed: list[str]  # same id, different content: not the same sample


def pair(baseline: RunResults, candidate: RunResults, metric: str, cluster_key: str | None) -> Paired:
    ids, base_values, cand_values, clusters = [], [], [], []
    ungraded_b, ungraded_c, changed = [], [], []
    for sid, cand in candidate.samples.items():
        base = baseline.samples.get(sid)
        if base is None:
            continue
        if base.content_hash and cand.content_hash and base.content_hash != cand.content_hash:
            changed.append(sid)
            continue
        vb, vc = sample_value(metric, base.graded), sample_value(metric, cand.graded)
        if vb is None:
            ungraded_b.append(sid)
        if vc is None:
            ungraded_c.append(sid)
        if vb is None or vc is None:
            continue
        for value, run in ((vb, baseline), (vc, candidate)):
            if not math.isfinite(value):
                raise GateError(f"sample {sid!r} of run {run.name!r} has a {metric} of {value} (a verdict score that "
                                f"is not a finite number): the task's grader is at fault; fix it and grade again")
        if cluster_key is not None:
            label = cand.metadata.get(cluster_key, base.metadata.get(cluster_key))
            if label is None:
                raise GateError(
                    f"sample {sid!r} of run {candidate.name!r} has no metadata {cluster_key!r} to cluster by; "
                    f"the task must declare it in metadata_keys (stored metadata: "
                    f"{', '.join(sorted(cand.metadata)) or 'none'})")
            clusters.append(str(label))
        ids.append(sid)
        base_values.append(vb)
        cand_values.append(vc)
    return Paired(ids=ids, baseline=np.array(base_values, dtype=float), candidate=np.array(cand_values, dtype=float),
                  clusters=clusters if cluster_key is not None else None,
                  only_in_baseline=[s for s in baseline.samples if s not in candidate.samples],
                  only_in_candidate=[s for s in candidate.samples if s not in baseline.samples],
                  ungraded_in_baseline=ungraded_b, ungraded_in_candidate=ungraded_c, changed=changed)


# --- one comparison ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """The statistics of one paired comparison (before Holm's correction over the gate)."""

    n: int  # paired samples
    units: int  # clusters (or samples, without clusters)
    baseline_mean: float
    candidate_mean: float
    difference: float  # candidate minus baseline
    interval: tuple[float, float]
    confidence: float  # of the two-sided interval: 1 - 2 alpha, so its upper end is the one-sided bound
    test: str
    p_value: float  # one-sided, for a drop
    p_better: float  # the same test the other way (one-sided, for a rise): at most alpha, the candidate is better
    p_exact: float | None  # McNemar's exact p, next to its mid-p
    discordant: tuple[int, int] | None  # McNemar's (b, c): baseline-only passes, candidate-only passes
    worse: int  # samples whose value fell
    better: int
    standard_error: float
    effective_n: float  # n over the design effect of the clusters
    mde: float  # at the Holm level of the first step (alpha over the number of comparisons)
    worst: list[tuple[str, float]]  # the samples that fell most, with their change


def analyze(paired: Paired, settings: Settings, comparisons: int = 1) -> Evidence:
    if not paired.ids:  # nothing to go by (every attempt infra, say): no evidence of a drop, and no power
        nan = math.nan
        return Evidence(n=0, units=0, baseline_mean=nan, candidate_mean=nan, difference=nan, interval=(nan, nan),
                        confidence=1 - 2 * settings.alpha, test="none (no paired sample)", p_value=1.0, p_better=1.0,
                        p_exact=None,
                        discordant=None, worse=0, better=0, standard_error=nan, effective_n=0.0, mde=math.inf,
                        worst=[])
    d = paired.candidate - paired.baseline
    n = len(d)
    if paired.clusters is None:
        sums, sizes = d, np.ones(n)
    else:
        labels, index = np.unique(np.array(paired.clusters), return_inverse=True)
        sums = np.bincount(index, weights=d, minlength=len(labels))
        sizes = np.bincount(index, minlength=len(labels)).astype(float)
    level = settings.alpha / comparisons
    binary = paired.clusters is None and bool(np.isin(paired.baseline, (0.0, 1.0)).all()
                                              and np.isin(paired.candidate, (0.0, 1.0)).all())
    se = stats.clustered_standard_error(sums, sizes)
    naive_se = float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    deff = (se / naive_se) ** 2 if naive_se and math.isfinite(se) and math.isfinite(naive_se) else 1.0
    if binary:
        b, c = int((d < 0).sum()), int((d > 0).sum())
        test = stats.mcnemar_regression(b, c)
        p, p_exact, discordant, name = test.p_mid, test.p_exact, (b, c), "McNemar mid-p"
        p_better = stats.mcnemar_regression(c, b).p_mid
    else:
        flip = stats.sign_flip_test(sums, settings.resamples, settings.seed)
        p, p_exact, discordant = flip.p, None, None
        p_better = flip.p_rise
        over = "samples" if paired.clusters is None else "clusters"
        name = f"sign-flip permutation over {over}" + (" (exact)" if flip.exact else f" ({flip.resamples} draws)")
    bound = max(1.0, float(max(paired.baseline.max(), paired.candidate.max())
                           - min(paired.baseline.min(), paired.candidate.min())))  # metrics in [0, 1]: 1
    mde = stats.minimum_detectable_effect(float((sums**2).sum()) / n**2, len(sums), level, settings.power, bound)
    confidence = 1 - 2 * settings.alpha
    interval = stats.paired_bootstrap_interval(sums, sizes, confidence, settings.resamples, settings.seed)
    fell = np.argsort(d, kind="stable")[: LISTED]
    return Evidence(n=n, units=len(sums), baseline_mean=float(paired.baseline.mean()),
                    candidate_mean=float(paired.candidate.mean()), difference=float(d.mean()), interval=interval,
                    confidence=confidence, test=name, p_value=p, p_better=p_better, p_exact=p_exact,
                    discordant=discordant, worse=int((d < 0).sum()), better=int((d > 0).sum()), standard_error=se,
                    effective_n=n / deff if deff > 0 else float(n), mde=mde,
                    worst=[(paired.ids[i], float(d[i])) for i in fell if d[i] < 0])


# --- the gate ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InfraShare:
    infra: int
    attempts: int

    @property
    def share(self) -> float:
        return self.infra / self.attempts if self.attempts else 0.0


@dataclass
class Comparison:
    """One task and metric: the two runs, what differs between them, the evidence, and the decision."""

    task: str  # task/split
    metric: str
    baseline: RunResults
    candidate: RunResults
    cluster_key: str | None
    paired: Paired
    evidence: Evidence
    infra_baseline: InfraShare
    infra_candidate: InfraShare
    changes: dict[str, tuple[str, str]]  # what differs and is allowed to: prompt, model
    p_holm: float = math.nan
    outcome: Outcome = Outcome.INCONCLUSIVE
    reason: str = ""


@dataclass
class GateResult:
    settings: Settings
    comparisons: list[Comparison] = field(default_factory=list)
    not_gated: list[str] = field(default_factory=list)  # baselines (task/split: run) that no candidate matched

    @property
    def outcome(self) -> Outcome:
        outcomes = {c.outcome for c in self.comparisons}
        for o in (Outcome.REGRESSION, Outcome.INCONCLUSIVE):
            if o in outcomes:
                return o
        return Outcome.PASS


def match_runs(baselines: list[RunResults], candidates: list[RunResults]) -> list[tuple[RunResults, RunResults]]:
    """Each candidate with the baseline of its task and split (baselines left over are listed by `gate`)."""
    by_label: dict[str, RunResults] = {}
    for b in baselines:
        if b.pin.label in by_label:
            raise GateError(f"two baselines for {b.pin.label}: {by_label[b.pin.label].name!r} and {b.name!r}; "
                            f"give one baseline per task and split")
        by_label[b.pin.label] = b
    pairs, seen = [], set()
    for c in candidates:
        if c.pin.label in seen:
            raise GateError(f"two candidates for {c.pin.label}; give one candidate run per task and split")
        seen.add(c.pin.label)
        base = by_label.get(c.pin.label)
        if base is None:
            have = ", ".join(sorted(by_label)) or "none"
            raise GateError(f"candidate {c.name!r} ({c.pin.label}) has no baseline of its task and split "
                            f"(baselines: {have})")
        check_comparable(base, c)
        pairs.append((base, c))
    return pairs


def check_comparable(baseline: RunResults, candidate: RunResults) -> None:
    """Refuse runs that do not measure the same thing: another task version, task code, data or options."""
    diffs = [f"{what}: baseline {_short(getattr(baseline.pin, key))}, candidate {_short(getattr(candidate.pin, key))}"
             for key, what in baseline.pin.REQUIRED if getattr(baseline.pin, key) != getattr(candidate.pin, key)]
    if diffs:
        raise GateError(
            f"baseline {baseline.name!r} ({baseline.source}) and candidate {candidate.name!r} measure different "
            f"things ({baseline.pin.label}): " + "; ".join(diffs) + ". Make a new baseline with the current task "
            "(run the base branch, then `harness export RUN -o FILE`); a prompt edited in the task folder changes "
            "its code: pass it with --prompt-template to gate it")


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if len(text) == 64 else text


def changes(baseline: RunResults, candidate: RunResults) -> dict[str, tuple[str, str]]:
    out = {}
    if baseline.pin.prompt_sha256 != candidate.pin.prompt_sha256:
        out["prompt"] = (_short(baseline.pin.prompt_sha256), _short(candidate.pin.prompt_sha256))
    if baseline.model != candidate.model:
        out["model"] = (baseline.model, candidate.model)
    if baseline.samples_per_problem != candidate.samples_per_problem:
        out["attempts per sample"] = (str(baseline.samples_per_problem), str(candidate.samples_per_problem))
    return out


def infra_share(run: RunResults) -> InfraShare:
    counts = run.attempt_counts()
    return InfraShare(counts.get(Status.INFRA.value, 0), sum(counts.values()))


def gate(baselines: list[RunResults], candidates: list[RunResults], metrics: Sequence[str],
         settings: Settings) -> GateResult:
    """Compare each candidate with its task's baseline on every metric, Holm-correct, and decide."""
    metrics = [check_metric(m) for m in (metrics or ["pass@1"])]
    if len(set(metrics)) != len(metrics):
        raise GateError(f"a metric is named twice: {', '.join(metrics)}")
    pairs = match_runs(baselines, candidates)
    m = len(pairs) * len(metrics)
    matched = {id(b) for b, _ in pairs}
    result = GateResult(settings, not_gated=[f"{b.pin.label} ({b.name})" for b in baselines if id(b) not in matched])
    for base, cand in pairs:
        cluster_key = settings.cluster_key or cand.cluster_key or base.cluster_key
        for metric in metrics:
            paired = pair(base, cand, metric, cluster_key)
            infra_b, infra_c = infra_share(base), infra_share(cand)
            if not paired.ids and max(infra_b.share, infra_c.share) <= settings.max_infra:
                raise GateError(f"{cand.pin.label} {metric}: baseline {base.name!r} and candidate {cand.name!r} "
                                f"share no graded sample ({len(paired.only_in_baseline)} samples only in the "
                                f"baseline, {len(paired.only_in_candidate)} only in the candidate, "
                                f"{len(paired.ungraded_in_baseline)} and {len(paired.ungraded_in_candidate)} not "
                                f"graded, {len(paired.changed)} changed)")
            result.comparisons.append(Comparison(
                task=cand.pin.label, metric=metric, baseline=base, candidate=cand, cluster_key=cluster_key,
                paired=paired, evidence=analyze(paired, settings, m), infra_baseline=infra_b,
                infra_candidate=infra_c, changes=changes(base, cand)))
    for c, p in zip(result.comparisons, stats.holm([c.evidence.p_value for c in result.comparisons])):
        c.p_holm = p
        c.outcome, c.reason = decide(c, settings)
    return result


def decide(c: Comparison, settings: Settings) -> tuple[Outcome, str]:
    e = c.evidence
    for role, share in (("baseline", c.infra_baseline), ("candidate", c.infra_candidate)):
        if share.share > settings.max_infra:
            return Outcome.INCONCLUSIVE, (
                f"{share.infra} of the {role}'s {share.attempts} attempts hit infrastructure failures "
                f"({share.share:.1%}, limit {settings.max_infra:.1%}); run the same command again to retry them")
    if c.p_holm <= settings.alpha:
        return Outcome.REGRESSION, (f"a credible drop of {-e.difference:.4g} (p = {format_p(c.p_holm)} after Holm, "
                                    f"alpha {settings.alpha:g})")
    if e.p_better <= settings.alpha:
        return Outcome.PASS, (f"the candidate is credibly better, by {e.difference:.4g} (one-sided p = "
                              f"{format_p(e.p_better)} for a rise): a drop is ruled out")
    if e.mde > settings.min_effect:
        can = "no drop at all" if math.isinf(e.mde) else f"only drops of {e.mde:.3g} or more"
        return Outcome.INCONCLUSIVE, (f"too small to tell: it can detect {can} (power {settings.power:.0%}), "
                                      f"and you asked for {settings.min_effect:g}; evaluate more samples or "
                                      f"attempts, or raise --min-effect")
    return Outcome.PASS, f"no credible drop, and a drop of {settings.min_effect:g} would have been found"
