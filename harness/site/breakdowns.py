"""The site's tables as pandas frames: stored metrics in long form and pivoted per group, pass rates by sample
metadata, and the contamination view (pass rate by the sample's date against the model's training cutoff).

Pass rates computed here from verdicts are the mean over samples of each sample's share of passed graded attempts
(pass@1); their interval is Wilson's when every sample has one attempt, else a percentile bootstrap over samples
(`harness.metrics`). Everything else is the stored metrics, as the task computed them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

import numpy as np
import pandas as pd

from ..metrics import bootstrap_interval, wilson_interval
from .metric_names import group_label, group_of, step_of
from .store_view import RunView, SiteError

DATE_KEY = "created_at"  # the sample metadata the contamination view reads (design: created_at)


def metric_frame(runs: Iterable[RunView]) -> pd.DataFrame:
    """Every stored metric of every run, one row each: run, model, metric, base, group, group_key, group_value,
    step, value, low, high, order (the task's own order of its metrics)."""
    rows = []
    for run in runs:
        for order, (name, value) in enumerate(run.metrics.items()):
            grouped, step = group_of(name), step_of(name)
            key, label = group_label(grouped[1]) if grouped else ("", "")
            lo, hi = run.intervals.get(name, (np.nan, np.nan))
            rows.append({"run": run.name, "model": run.model_id, "metric": name,
                         "base": grouped[0] if grouped else (step[0] if step else name),
                         "group": grouped[1] if grouped else "", "group_key": key, "group_value": label,
                         "step": step[1] if step else np.nan, "value": value, "low": lo, "high": hi, "order": order})
    columns = ["run", "model", "metric", "base", "group", "group_key", "group_value", "step", "value", "low", "high",
               "order"]
    return pd.DataFrame(rows, columns=columns)


def group_pivots(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """For each metric that the task broke down by group: a frame with one row per (run, group) and the value
    with its interval, groups in sorted order; keyed by `base metric` (or `base metric by key`)."""
    grouped = frame[frame["group"] != ""]
    out = {}
    for (base, key), part in grouped.groupby(["base", "group_key"], sort=False):
        name = f"{base} by {key}" if key else base
        out[name] = part[["run", "model", "group_value", "value", "low", "high"]].rename(
            columns={"group_value": key or "group"}).reset_index(drop=True)
    return out


def step_series(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """For each stepped metric (`acc_step_<n>`): one row per (run, step), steps in order."""
    stepped = frame[frame["step"].notna()]
    return {base: part[["run", "model", "step", "value"]].astype({"step": int}).sort_values(["run", "step"])
            .reset_index(drop=True) for base, part in stepped.groupby("base", sort=False)}


@dataclass(frozen=True)
class Rate:
    value: float
    interval: tuple[float, float] | None
    samples: int


def pass_rate(samples: pd.DataFrame) -> Rate:
    """pass@1 over the samples with a graded attempt: mean share, with Wilson (one attempt each) or a bootstrap."""
    graded = samples[samples["attempts"] > 0]
    n = len(graded)
    if n == 0:
        return Rate(float("nan"), None, 0)
    shares = graded["share"].to_numpy(dtype=float)
    if (graded["attempts"] == 1).all():
        interval = wilson_interval(float(shares.sum()), n)
    else:
        interval = bootstrap_interval(lambda W: W @ shares / n, n)
    return Rate(float(shares.mean()), interval, n)


def metadata_keys(per_sample: dict[str, pd.DataFrame]) -> list[str]:
    """The metadata keys the runs' samples carry, in first-seen order."""
    keys: list[str] = []
    for frame in per_sample.values():
        for meta in frame["metadata"]:
            keys += [k for k in meta if k not in keys]
    return keys


def rate_by_metadata(per_sample: dict[str, pd.DataFrame], runs: list[RunView], key: str) -> pd.DataFrame:
    """Pass rate by value of one metadata key, for each run: run, model, <key>, value, low, high, samples."""
    rows = []
    for run in runs:
        frame = per_sample[run.name]
        values = frame["metadata"].map(lambda m: m.get(key))
        for label, part in frame[values.notna()].groupby(values[values.notna()].astype(str), sort=True):
            rate = pass_rate(part)
            lo, hi = rate.interval or (np.nan, np.nan)
            rows.append({"run": run.name, "model": run.model_id, key: label, "value": rate.value, "low": lo,
                         "high": hi, "samples": rate.samples})
    return pd.DataFrame(rows, columns=["run", "model", key, "value", "low", "high", "samples"])


def sample_dates(run: RunView, frame: pd.DataFrame) -> pd.Series:
    """Each sample's `created_at` as a date (NaT where it has none); a value that is not a date is an error."""
    raw = frame["metadata"].map(lambda m: m.get(DATE_KEY))
    parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    bad = raw.notna() & parsed.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SiteError(f"run {run.name!r}, sample {frame['sample_id'].iloc[i]!r}: metadata field {DATE_KEY!r} is "
                        f"{raw.iloc[i]!r}, not a date (ISO 8601, e.g. 2024-05-31); fix the task's data")
    return parsed.dt.tz_localize(None)


def contamination(per_sample: dict[str, pd.DataFrame], runs: list[RunView],
                  cutoffs: dict[str, date | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(by_cutoff, by_month). by_cutoff: per run, the pass rate on samples dated up to the model's training cutoff
    and after it (columns run, model, cutoff, before, before_low, before_high, before_samples, after, ...);
    by_month: per run and month, the pass rate and sample count. Runs whose samples have no dates are left out."""
    cut_rows, month_rows = [], []
    for run in runs:
        frame = per_sample[run.name]
        dates = sample_dates(run, frame)
        dated = frame[dates.notna()].assign(date=dates[dates.notna()])
        if dated.empty:
            continue
        for month, part in dated.groupby(dated["date"].dt.to_period("M"), sort=True):
            rate = pass_rate(part)
            month_rows.append({"run": run.name, "model": run.model_id, "month": str(month), "value": rate.value,
                               "samples": rate.samples})
        cutoff = cutoffs.get(run.model_id) or cutoffs.get(run.model)
        row = {"run": run.name, "model": run.model_id, "cutoff": cutoff.isoformat() if cutoff else None}
        for side in ("before", "after"):
            if cutoff is None:
                part = dated.iloc[0:0]
            else:
                limit = pd.Timestamp(cutoff) + pd.Timedelta(days=1)  # the whole cutoff day counts as seen
                part = dated[dated["date"] < limit] if side == "before" else dated[dated["date"] >= limit]
            rate = pass_rate(part)
            lo, hi = rate.interval or (np.nan, np.nan)
            row.update({side: rate.value, f"{side}_low": lo, f"{side}_high": hi, f"{side}_samples": rate.samples})
        cut_rows.append(row)
    return pd.DataFrame(cut_rows), pd.DataFrame(month_rows, columns=["run", "model", "month", "value", "samples"])
