"""What each page shows: its tables (from pandas frames of the store), plots and notes, as template contexts."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import plots
from .breakdowns import (DATE_KEY, contamination, group_pivots, metadata_keys, metric_frame, rate_by_metadata,
                         step_series)
from .metric_names import headline
from .ranking import Standing
from .store_view import RunView, slug
from .tables import Cell, Column, Table, downloads_for, fmt, interval_text, number_cell, text_cell
from .verdict_view import detail_fields, instruction_tables

if TYPE_CHECKING:
    from .build import BenchmarkRuns, SiteBuilder

SAMPLES_PER_PAGE = 1000  # rows of a run's sample table per page
MATRIX_CELLS = 5000  # the sample-by-model matrix of a benchmark is drawn up to this size (always downloadable)
SCATTERS = (("pass@1", "efficient@1"), ("pass@1", "speedup"))  # plotted where a benchmark's runs have both
RECORD_ORDER = ("harness", "task", "prompt_template", "model", "judge", "samples_per_problem", "seeds",
                "grader_image", "grader_image_id", "image_ids", "python", "samples_total", "task_ref")


@dataclass
class Page:
    template: str
    context: dict[str, Any]
    downloads: dict[str, bytes] = field(default_factory=dict)


def _page(template: str, stem: str, tables: list[Table], **context: Any) -> Page:
    downloads: dict[str, bytes] = {}
    for table in tables:
        downloads.update(downloads_for(table, stem))
    return Page(template, context, downloads)


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _iv(low: Any, high: Any) -> tuple[float, float] | None:
    return None if _nan(low) or _nan(high) else (float(low), float(high))


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")


def rank_badge(bench: BenchmarkRuns, standing: Standing | None) -> str | None:
    if standing is None or standing.rank is None:
        return None
    tied = sum(1 for s in bench.standings.values() if s.rank == standing.rank) > 1
    return f"={standing.rank}" if tied else str(standing.rank)


def coverage_text(run: RunView) -> str:
    cov = run.coverage
    return f"{cov.complete:,} of {cov.total:,}" if cov.total else f"{cov.complete:,}"


def status_note(run: RunView) -> str | None:
    if run.status == "complete":
        return None
    cov = run.coverage
    of = f"{cov.complete:,} of {cov.total:,} samples" if cov.total else f"{cov.complete:,} samples (the data was " \
                                                                         f"not read to the end)"
    return f"This run is {run.status}: its metrics cover {of}."


# --- the overview ---------------------------------------------------------------------------------------------
def overview(site: SiteBuilder, built: str) -> Page:
    models = sorted({r.model_id: r for r in site.view.runs}.values(), key=lambda r: r.model_id)
    long_rows, ranks = [], {}
    for bench in site.benchmarks:
        for run in bench.board:
            st = bench.standings.get(run.name)
            value = run.metrics.get(bench.primary) if bench.primary else None
            lo, hi = run.intervals.get(bench.primary, (np.nan, np.nan)) if bench.primary else (np.nan, np.nan)
            long_rows.append({"model": run.model_id, "benchmark": bench.label, "metric": bench.primary,
                              "value": value, "low": lo, "high": hi, "rank": st.rank if st else None,
                              "run": run.name})
            if st is not None and st.rank is not None:
                ranks.setdefault(run.model_id, []).append(st.rank)
    frame = pd.DataFrame(long_rows, columns=["model", "benchmark", "metric", "value", "low", "high", "rank", "run"])
    # first the models ranked first most often, then by their mean rank
    models.sort(key=lambda r: (-ranks.get(r.model_id, []).count(1), float(np.mean(ranks.get(r.model_id) or [1e9])),
                               site.model_label(r)))
    columns = [Column("Model")] + [Column(f"{b.label} ({b.primary or 'no metric'})", numeric=True)
                                   for b in site.benchmarks]
    rows = []
    for model in models:
        row = [text_cell(site.model_label(model), href=site.model_href(model.model_id))]
        for bench in site.benchmarks:
            run = next((r for r in bench.board if r.model_id == model.model_id), None)
            if run is None or bench.primary is None or bench.primary not in run.metrics:
                row.append(Cell("no run"))
                continue
            cell = number_cell(run.metrics[bench.primary], run.intervals.get(bench.primary), href=site.run_href(run),
                               badge=rank_badge(bench, bench.standings.get(run.name)))
            if run.status != "complete":  # its metrics cover only part of the data: say so where it is read
                cell = replace(cell, sub=" · ".join(filter(None, [cell.sub, f"{run.status}, {coverage_text(run)}"
                                                                              f" samples"])))
            row.append(cell)
        rows.append(row)
    leaderboard = Table("overview", "Every model on every benchmark: the benchmark's primary metric with its 95% "
                        "interval; the small number is the model's rank on that benchmark", columns, rows, frame)
    bench_rows, bench_data = [], []
    for bench in site.benchmarks:
        leader = max(bench.board, key=lambda r: bench.standings[r.name].value
                     if bench.standings[r.name].rank is not None else -math.inf)
        firsts = [r for r in bench.board if bench.standings[r.name].rank == 1]
        total = max((r.coverage.total or r.coverage.seen for r in bench.runs), default=0)
        bench_rows.append([text_cell(bench.label, href=site.bench_href(bench.benchmark)),
                           text_cell(bench.benchmark.data),
                           Cell(bench.benchmark.data_sha256[:12]), number_cell(total), number_cell(len(bench.board)),
                           text_cell(bench.primary or "none"),
                           text_cell(", ".join(site.model_label(r) for r in firsts) or site.model_label(leader))])
        bench_data.append({"benchmark": bench.label, "task": bench.benchmark.task, "split": bench.benchmark.split,
                           "data": bench.benchmark.data, "data_sha256": bench.benchmark.data_sha256,
                           "samples": total, "models": len(bench.board), "primary_metric": bench.primary,
                           "rank_1": [r.model_id for r in firsts]})
    benchmarks = Table("benchmarks", "Benchmarks: the data each was run on, and the models ranked first (ties "
                       "listed together)",
                       [Column("Benchmark"), Column("Data"), Column("Data sha256"), Column("Samples", True),
                        Column("Models", True), Column("Primary metric"), Column("Rank 1")], bench_rows,
                       pd.DataFrame(bench_data))
    model_rows, model_data = [], []
    for model in models:
        facts = site.model_facts(model)
        runs = [r for r in site.view.runs if r.model_id == model.model_id]
        model_rows.append([text_cell(site.model_label(model), href=site.model_href(model.model_id)),
                           text_cell(facts.organisation or "unknown"),
                           text_cell(facts.training_cutoff.isoformat() if facts.training_cutoff else "unknown"),
                           number_cell(len({r.benchmark for r in runs})), number_cell(len(runs))])
        model_data.append({"model": model.model_id, "label": site.model_label(model),
                           "organisation": facts.organisation,
                           "training_cutoff": facts.training_cutoff.isoformat() if facts.training_cutoff else None,
                           "benchmarks": len({r.benchmark for r in runs}), "runs": len(runs)})
    models_table = Table("models", "Every model: its organisation and training cutoff where known, and its runs",
                         [Column("Model"), Column("Organisation"), Column("Training cutoff"),
                          Column("Benchmarks", True), Column("Runs", True)], model_rows, pd.DataFrame(model_data))
    tables = [leaderboard, benchmarks, models_table]
    return _page("index.html.jinja", "index", tables, title=site.options.title, leaderboard=leaderboard,
                 benchmarks_table=benchmarks, models_table=models_table, built=built, store=site.view.path.name,
                 runs=len(site.view.runs), left_out=site.view.left_out, has_runs=bool(site.view.runs))


# --- a benchmark (task) page ----------------------------------------------------------------------------------
def task_page(site: SiteBuilder, task: str) -> Page:
    sections, tables = [], []
    for bench in [b for b in site.benchmarks if b.benchmark.task == task]:
        section = _bench_section(site, bench)
        sections.append(section)
        tables += section["tables"]
    return _page("benchmark.html.jinja", f"benchmark-{slug(task)}", tables, title=f"Benchmark {task}", task=task,
                 sections=sections)


def _metric_cell(run: RunView, name: str, href: str | None = None, badge: str | None = None) -> Cell:
    if name not in run.metrics:
        return Cell("n/a")
    return number_cell(run.metrics[name], run.intervals.get(name), href=href, badge=badge)


def _versus_cell(bench: BenchmarkRuns, run: RunView) -> tuple[Cell, dict[str, Any]]:
    st = bench.standings.get(run.name)
    if st is None or st.rank is None:
        return Cell("n/a"), {}
    vs = st.versus_leader
    if vs is None:
        return Cell("leader", sort=0.0), {"vs_leader": 0.0}
    data = {"vs_leader": vs.difference, "vs_leader_method": vs.method}
    if vs.method == "paired":
        data.update(vs_leader_low=vs.interval[0], vs_leader_high=vs.interval[1], vs_leader_p=vs.p_value,
                    vs_leader_samples=vs.samples)
        sub = f"[{vs.interval[0]:+.3g}, {vs.interval[1]:+.3g}], p = {vs.p_value:.2g}, {vs.samples:,} shared samples"
        return Cell(f"{vs.difference:+.3g}", sort=vs.difference, sub=sub), data
    sub = {True: "intervals apart", False: "intervals overlap", None: "no interval"}[vs.separated]
    return Cell(f"{vs.difference:+.3g}", sort=vs.difference, sub=sub), data


def _run_table(site: SiteBuilder, bench: BenchmarkRuns, runs: list[RunView], table_id: str, caption: str,
               ranked: bool) -> Table:
    names: list[str] = []
    for run in runs:
        names += [n for n in headline(list(run.metrics)) if n not in names and n != bench.primary]
    primary = [bench.primary] if bench.primary else []
    columns = [Column("Model")] + ([Column("Rank", True), Column("vs leader", True)] if ranked else [])
    columns += [Column(n, True) for n in primary + names] + [Column("Samples", True), Column("Status"),
                                                              Column("Run"), Column("Updated")]
    rows, data = [], []
    for run in runs:
        st = bench.standings.get(run.name) if ranked else None
        row = [text_cell(site.model_label(run), href=site.model_href(run.model_id))]
        record: dict[str, Any] = {"model": run.model_id, "run": run.name}
        if ranked:
            vs_cell, vs_data = _versus_cell(bench, run)
            badge = rank_badge(bench, st)
            row += [Cell(badge or "n/a", sort=st.rank if st else None), vs_cell]
            record.update(rank=st.rank if st else None, **vs_data)
        for name in primary + names:
            row.append(_metric_cell(run, name, href=site.run_href(run) if name == bench.primary else None))
            lo, hi = run.intervals.get(name, (None, None))
            record.update({name: run.metrics.get(name), f"{name}_low": lo, f"{name}_high": hi})
        row += [Cell(coverage_text(run), sort=run.coverage.complete), text_cell(run.status),
                text_cell(run.name, href=site.run_href(run)), Cell(_date(run.updated), sort=run.updated)]
        record.update(samples_complete=run.coverage.complete, samples_total=run.coverage.total, status=run.status,
                      updated=_date(run.updated))
        rows.append(row)
        data.append(record)
    return Table(table_id, caption, columns, rows, pd.DataFrame(data))


def _bench_section(site: SiteBuilder, bench: BenchmarkRuns) -> dict[str, Any]:
    key = bench.benchmark.anchor
    board = bench.board
    tables: list[Table] = []
    ranked = _run_table(site, bench, board, f"{key}-runs", f"{bench.label}: one run per model (the newest complete "
                        f"one), ranked by {bench.primary or 'nothing (no metric)'}", ranked=True)
    tables.append(ranked)
    on_board = {r.name for r in board}
    others = [r for r in bench.runs if r.name not in on_board]
    if others:
        tables.append(_run_table(site, bench, others, f"{key}-other-runs", f"{bench.label}: other runs (older, or "
                                 f"superseded by a complete one), not ranked", ranked=False))
    frame = metric_frame(board)
    labels = {r.name: site.model_label(r) for r in board}
    breakdowns = []
    pivots = group_pivots(frame)
    for name, part in pivots.items():
        breakdowns.append(_breakdown_table(f"{key}-by-{slug(name, 20)}", f"{name}, per group (stored with the run)",
                                           part, labels, site, board))
    covered = {p.columns[2] for p in pivots.values()}
    covered_values = {str(v) for p in pivots.values() if p.columns[2] == "group" for v in p["group"]}
    per_sample = {r.name: site.per_sample[r.name] for r in board}
    for meta_key in metadata_keys(per_sample):
        if meta_key == DATE_KEY or meta_key in covered:
            continue
        part = rate_by_metadata(per_sample, board, meta_key)
        if part.empty or set(part[meta_key].astype(str)) <= covered_values:
            continue
        breakdowns.append(_breakdown_table(f"{key}-meta-{slug(meta_key, 20)}", f"pass rate by {meta_key} (pass@1 "
                                           f"over samples, from the verdicts)", part, labels, site, board))
    tables += breakdowns
    figures, figure_tables = _figures(site, bench, frame, labels)
    tables += figure_tables
    contamination_part = _contamination(site, bench, per_sample, labels)
    if contamination_part:
        tables += contamination_part["tables"]
    matrix = _matrix(site, bench, per_sample)
    tables.append(matrix)
    return {"label": bench.label, "anchor": key, "bench": bench.benchmark, "primary": bench.primary,
            "ranked": ranked, "others": tables[1] if others else None, "breakdowns": breakdowns,
            "figures": figures, "figure_tables": figure_tables, "contamination": contamination_part,
            "matrix": matrix, "tables": tables}


def _breakdown_table(table_id: str, caption: str, part: pd.DataFrame, labels: dict[str, str], site: SiteBuilder,
                     board: list[RunView]) -> Table:
    group_col = part.columns[2]
    groups = sorted(part[group_col].astype(str).unique(), key=lambda g: (not g.lstrip("-").isdigit(),
                                                                         int(g) if g.lstrip("-").isdigit() else 0, g))
    columns = [Column("Model")] + [Column(g, True) for g in groups]
    rows = []
    for run in board:
        mine = part[part["run"] == run.name]
        if mine.empty:
            continue
        by_group = {str(g): r for g, r in zip(mine[group_col], mine.itertuples(index=False))}
        row = [text_cell(labels[run.name], href=site.run_href(run))]
        for g in groups:
            r = by_group.get(g)
            row.append(number_cell(r.value, _iv(r.low, r.high)) if r is not None else Cell("n/a"))
        rows.append(row)
    return Table(table_id, caption, columns, rows, part)


def _figures(site: SiteBuilder, bench: BenchmarkRuns, frame: pd.DataFrame,
             labels: dict[str, str]) -> tuple[list[Any], list[Table]]:
    figures, tables = [], []
    key = bench.benchmark.anchor
    for base, part in step_series(frame).items():
        series = [plots.Series(labels[run], list(zip(p["step"].astype(float), p["value"].astype(float))))
                  for run, p in part.groupby("run", sort=False)]
        in_unit = bool(((part["value"] >= 0) & (part["value"] <= 1)).all())
        figures.append(plots.line_chart(f"{key}-plot-{slug(base, 16)}", f"{base} at each step", series, "step",
                                        base, y_range=(0.0, 1.0) if in_unit else None))
        steps = sorted(part["step"].unique())
        rows = []
        for run, p in part.groupby("run", sort=False):
            values = dict(zip(p["step"], p["value"]))
            rows.append([text_cell(labels[run])] + [number_cell(values.get(s)) if s in values else Cell("n/a")
                                                    for s in steps])
        tables.append(Table(f"{key}-steps-{slug(base, 16)}", f"{base} at each step (the numbers of the plot)",
                            [Column("Model")] + [Column(str(s), True) for s in steps], rows, part))
    for x, y in SCATTERS:
        runs = [r for r in bench.board if x in r.metrics and y in r.metrics]
        if not runs:
            continue
        points = [plots.Point(labels[r.name], float(r.metrics[x]), float(r.metrics[y]), r.intervals.get(x),
                              r.intervals.get(y)) for r in runs]
        figures.append(plots.scatter(f"{key}-plot-{slug(x + '-' + y, 16)}", f"{y} against {x} (bars: 95% "
                                     f"intervals)", points, x, y))
    return figures, tables


def _contamination(site: SiteBuilder, bench: BenchmarkRuns, per_sample: dict[str, pd.DataFrame],
                   labels: dict[str, str]) -> dict[str, Any] | None:
    cutoffs = {r.model_id: site.model_facts(r).training_cutoff for r in bench.board}
    by_cutoff, by_month = contamination(per_sample, bench.board, cutoffs)
    if by_cutoff.empty:
        return None
    key = bench.benchmark.anchor
    runs = {r.name: r for r in bench.board}
    rows = []
    for r in by_cutoff.itertuples(index=False):
        rows.append([text_cell(labels[r.run], href=site.run_href(runs[r.run])),
                     text_cell("unknown" if _nan(r.cutoff) else r.cutoff),
                     number_cell(r.before, _iv(r.before_low, r.before_high)), number_cell(int(r.before_samples)),
                     number_cell(r.after, _iv(r.after_low, r.after_high)), number_cell(int(r.after_samples))])
    table = Table(f"{key}-contamination", f"Pass rate on samples dated up to each model's training cutoff and "
                  f"after it ({DATE_KEY} of each sample)",
                  [Column("Model"), Column("Training cutoff"), Column("Up to the cutoff", True),
                   Column("Samples", True), Column("After the cutoff", True), Column("Samples", True)], rows,
                  by_cutoff)
    months = sorted(by_month["month"].unique())
    index = {m: i for i, m in enumerate(months)}
    series = [plots.Series(labels[run], [(float(index[m]), float(v)) for m, v in zip(p["month"], p["value"])])
              for run, p in by_month.groupby("run", sort=False)]
    markers = []
    for run in bench.board:
        cutoff = cutoffs.get(run.model_id)
        if cutoff is not None and run.name in set(by_month["run"]):
            # the cutoff is the end of its month: the boundary after that month on the month axis
            position = np.searchsorted(np.array(months), cutoff.strftime("%Y-%m"), side="right") - 0.5
            markers.append((float(position), f"cutoff {labels[run.name]}"))
    figure = plots.line_chart(f"{key}-plot-by-month", f"Pass rate by the month of the sample ({months[0]} = 0, "
                              f"{months[-1]} = {len(months) - 1})", series, "month", "pass rate", y_range=(0.0, 1.0),
                              markers=markers)
    month_rows = [[text_cell(labels[r.run]), text_cell(r.month), number_cell(r.value), number_cell(int(r.samples))]
                  for r in by_month.itertuples(index=False)]
    month_table = Table(f"{key}-by-month", "Pass rate by month (the numbers of the plot)",
                        [Column("Model"), Column("Month"), Column("Pass rate", True), Column("Samples", True)],
                        month_rows, by_month)
    unknown = [labels[r.name] for r in bench.board if cutoffs.get(r.model_id) is None]
    note = (f"Training cutoff unknown for {', '.join(unknown)}: give it with --models." if unknown else None)
    return {"table": table, "figure": figure, "month_table": month_table, "note": note,
            "tables": [table, month_table]}


def _matrix(site: SiteBuilder, bench: BenchmarkRuns, per_sample: dict[str, pd.DataFrame]) -> Table:
    """Every sample against every model of the leaderboard: each cell the verdicts, linked to the sample's page."""
    frames = []
    for run in bench.board:
        f = per_sample[run.name][["sample_id", "ordinal", "statuses", "share"]].copy()
        f["model"] = run.model_id
        f["run"] = run.name
        frames.append(f)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["sample_id", "ordinal", "statuses", "share", "model", "run"])
    order = data.groupby("sample_id", sort=False)["ordinal"].min().sort_values(kind="stable")
    samples = list(order.index)
    key = bench.benchmark.anchor
    caption = "Every sample against every model: its verdicts (one per attempt), linked to the sample's page"
    if len(samples) * max(1, len(bench.board)) > MATRIX_CELLS:
        return Table(f"{key}-samples", caption, [], [], data,
                     note=f"{len(samples):,} samples x {len(bench.board)} models is too large to show here; the "
                          f"table is in the downloads, and each run's page lists its samples.")
    cells = {(r.run, r.sample_id): r for r in data.itertuples(index=False)}
    rows = []
    for sid in samples:
        row = [text_cell(sid)]
        for run in bench.board:
            r = cells.get((run.name, sid))
            row.append(Cell(r.statuses, sort=None if _nan(r.share) else float(r.share),
                            href=site.sample_href(run, sid)) if r is not None else Cell("not run"))
        rows.append(row)
    columns = [Column("Sample")] + [Column(site.model_label(r), True) for r in bench.board]
    return Table(f"{key}-samples", caption, columns, rows, data)


# --- a model's page -------------------------------------------------------------------------------------------
def model_page(site: SiteBuilder, model_id: str) -> Page:
    runs = [r for r in site.view.runs if r.model_id == model_id]
    rows, data = [], []
    for run in sorted(runs, key=lambda r: (r.task, r.split, -r.updated)):
        bench = site.bench_of(run)
        on_board = any(r.name == run.name for r in bench.board)
        st = bench.standings.get(run.name) if on_board else None
        metric = bench.primary
        rows.append([text_cell(bench.label, href=site.bench_href(bench.benchmark)),
                     Cell(rank_badge(bench, st) or ("not ranked" if not on_board else "n/a"),
                          sort=st.rank if st else None),
                     _metric_cell(run, metric, href=site.run_href(run)) if metric else Cell("n/a"),
                     text_cell(metric or "none"), Cell(coverage_text(run), sort=run.coverage.complete),
                     text_cell(run.status), text_cell(run.name, href=site.run_href(run)),
                     Cell(_date(run.updated), sort=run.updated)])
        lo, hi = run.intervals.get(metric, (None, None)) if metric else (None, None)
        data.append({"benchmark": bench.label, "run": run.name, "rank": st.rank if st else None, "metric": metric,
                     "value": run.metrics.get(metric) if metric else None, "low": lo, "high": hi,
                     "samples_complete": run.coverage.complete, "samples_total": run.coverage.total,
                     "status": run.status, "updated": _date(run.updated)})
    table = Table("runs", "Every run of this model, with its benchmark's primary metric and its rank there",
                  [Column("Benchmark"), Column("Rank", True), Column("Score", True), Column("Metric"),
                   Column("Samples", True), Column("Status"), Column("Run"), Column("Updated")], rows,
                  pd.DataFrame(data))
    first = runs[0]
    facts = site.model_facts(first)
    specs = sorted({r.model for r in runs})
    return _page("model.html.jinja", f"model-{slug(model_id)}", [table], title=site.model_label(first),
                 model_id=model_id, specs=", ".join(specs), facts=facts, runs_table=table)


# --- a run's pages --------------------------------------------------------------------------------------------
def record_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The reproducibility record, flattened to (field, value) in a fixed order (the rest after, sorted)."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value and prefix.count(".") < 1:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(value, (dict, list)):
            rows.append((prefix, json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)))
        else:
            rows.append((prefix, "none" if value is None else str(value)))

    for key in [k for k in RECORD_ORDER if k in record] + sorted(set(record) - set(RECORD_ORDER)):
        walk(key, record[key])
    return rows


def run_pages(site: SiteBuilder, run: RunView) -> list[tuple[str, Page]]:
    frame = site.per_sample[run.name]
    bench = site.bench_of(run)
    keys = metadata_keys({run.name: frame})
    data = frame.drop(columns=["metadata"]).copy()
    for k in keys:
        data[f"metadata.{k}"] = [m.get(k) for m in frame["metadata"]]
    pages_count = max(1, math.ceil(len(frame) / SAMPLES_PER_PAGE))
    metric_rows, metric_data = [], []
    for name, value in run.metrics.items():
        iv = run.intervals.get(name)
        metric_rows.append([text_cell(name), number_cell(value), Cell(interval_text(iv) or "none",
                                                                      sort=iv[0] if iv else None)])
        metric_data.append({"metric": name, "value": value, "low": iv[0] if iv else None,
                            "high": iv[1] if iv else None})
    metrics_table = Table("metrics", "Metrics as stored when the run ended (95% intervals)",
                          [Column("Metric"), Column("Value", True), Column("Interval", True)], metric_rows,
                          pd.DataFrame(metric_data, columns=["metric", "value", "low", "high"]))
    counts = {**{f"attempts {k}": v for k, v in sorted(run.status_counts.items())}, **run.counts}
    counts_table = Table("counts", "Counts: attempts by verdict, and the task's own counts",
                         [Column("Count"), Column("Value", True)],
                         [[text_cell(k), number_cell(v)] for k, v in counts.items()],
                         pd.DataFrame([{"count": k, "value": v} for k, v in counts.items()],
                                      columns=["count", "value"]))
    facts = site.view.store.response_fact_counts(run.name)
    out = []
    for page in range(1, pages_count + 1):
        part = frame.iloc[(page - 1) * SAMPLES_PER_PAGE: page * SAMPLES_PER_PAGE]
        samples = _samples_table(site, run, part, keys, data if page == 1 else None, pages_count, page)
        if page > 1:
            samples.downloads = {"CSV": f"data/run-{run.slug}-samples.csv",
                                 "JSON": f"data/run-{run.slug}-samples.json"}
        tables = [metrics_table, counts_table, samples] if page == 1 else []
        context = dict(title=f"Run {run.name}" + (f", samples page {page}" if page > 1 else ""), run=run,
                       model_label=site.model_label(run), model_href=site.model_href(run.model_id),
                       bench_label=bench.label, bench_href=site.bench_href(run.benchmark), note=status_note(run),
                       response_facts=facts, record=record_rows(run.record), metrics_table=metrics_table,
                       counts_table=counts_table, samples_table=samples, page=page, pages=pages_count,
                       page_hrefs=[site.run_href(run, p) for p in range(1, pages_count + 1)],
                       computed=_date(run.metrics_computed))
        out.append((site.run_href(run, page), _page("run.html.jinja", f"run-{run.slug}", tables, **context)))
    return out


def _samples_table(site: SiteBuilder, run: RunView, part: pd.DataFrame, keys: list[str], data: pd.DataFrame | None,
                   pages_count: int, page: int) -> Table:
    columns = [Column("Sample")] + [Column(k) for k in keys] + [Column("Attempts", True), Column("Passed", True),
                                                                 Column("Score", True), Column("Verdicts")]
    rows = []
    for r in part.itertuples(index=False):
        meta = r.metadata
        rows.append([text_cell(r.sample_id, href=site.sample_href(run, r.sample_id))]
                    + [text_cell(fmt(meta.get(k)) if meta.get(k) is not None else "") for k in keys]
                    + [number_cell(int(r.attempts)), number_cell(int(r.passed)),
                       number_cell(None if _nan(r.score) else float(r.score)), text_cell(r.statuses)])
    caption = "Samples, in the order the run loaded them"
    if pages_count > 1:
        caption += f" (page {page} of {pages_count}; sorting and filtering apply to this page)"
    return Table("samples", caption, columns, rows, data)


# --- a sample's page ------------------------------------------------------------------------------------------
def sample_surroundings(site: SiteBuilder, run: RunView) -> dict[str, str]:
    """What a sample's page says about its run (part of every sample page's fingerprint)."""
    bench = site.bench_of(run)
    return {"run": run.name, "run_href": site.run_href(run), "model_label": site.model_label(run),
            "model_href": site.model_href(run.model_id), "bench_label": bench.label,
            "bench_href": site.bench_href(run.benchmark)}


def sample_context(site: SiteBuilder, run: RunView, around: dict[str, str], sample_id: str,
                   attempts: list[dict[str, Any]]) -> dict[str, Any]:
    prompts = [a["prompt"] for a in attempts]
    shared_prompt = prompts[0] if prompts and all(p == prompts[0] for p in prompts) else None
    views = []
    for a in attempts:
        short, blocks = detail_fields(a["details"])
        views.append({**a, "short": short, "blocks": blocks, "counts": instruction_tables(a["details"]),
                      "score_text": fmt(a["score"]) if a["score"] is not None else "n/a"})
    first = attempts[0] if attempts else {"metadata": {}, "content_hash": ""}
    return dict(title=f"Sample {sample_id} of {run.name}", sample_id=sample_id, around=around,
                metadata=[(k, fmt(v) if not isinstance(v, (dict, list)) else json.dumps(v, ensure_ascii=False))
                          for k, v in first["metadata"].items()],
                content_hash=first["content_hash"], shared_prompt=shared_prompt, attempts=views)
