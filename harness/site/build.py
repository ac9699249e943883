"""Building the static site from the store: the overview, a page per benchmark (task), per model, per run and per
sample, every table with its CSV and JSON beside it. Pages are plain HTML that reads without script and opens from
disk; a small script (assets/site.js) adds keyboard-operable sorting and filtering.

Per-sample pages are fingerprinted from their inputs (the keys, times and verdict contents in the store, and the
site's own templates and code) before they are rendered, and a run's pages as a group: a rebuild renders and
writes only the ones that changed. Sample pages are rendered by worker processes, one per core, while this process
writes the others.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import jinja2
import pandas as pd

from .. import __version__
from ..paths import builtin_dir
from ..store import Store
from . import pages
from .metric_names import PASS_RATES, primary_metric
from .model_facts import ModelFacts, load_model_facts
from .output import OutputStats, SiteOutput, write_file
from .ranking import Entry, Standing, standings
from .store_view import Benchmark, RunView, SiteError, StoreView, load, slug
from .tables import body_html

DEFAULT_TITLE = "Code LLM leaderboard"
PARALLEL_FROM = 2000  # sample pages to render from which worker processes pay for their start


@dataclass(frozen=True)
class SiteOptions:
    store: Path
    out: Path
    models_file: Path | None = None  # model facts: label, organisation, training cutoff (see model_facts)
    primary: dict[str, str] = field(default_factory=dict)  # task -> the metric to rank its benchmarks by
    title: str = DEFAULT_TITLE
    rebuild: bool = False  # write every page, whatever the last build wrote


@dataclass(frozen=True)
class BuildReport:
    out: Path
    runs: int
    sample_pages: int
    sample_pages_rendered: int
    output: OutputStats
    overview_bytes: int
    seconds: float
    left_out: list[str]

    @property
    def index(self) -> Path:
        return self.out / "index.html"


@dataclass
class BenchmarkRuns:
    """The runs of one benchmark: all of them (newest first), and the one per model that the leaderboard shows."""

    benchmark: Benchmark
    runs: list[RunView]
    board: list[RunView]
    primary: str | None
    standings: dict[str, Standing]
    label: str = ""  # the benchmark's name on the site (with its data's hash where a task/split has several)


def leaderboard_dir() -> Path:
    return builtin_dir("leaderboard")


def code_fingerprint(root: Path) -> str:
    """What the pages are made with: the templates and assets, the site's code, the harness version."""
    h = hashlib.sha256(__version__.encode())
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jinja", ".css", ".js"))
    files += sorted(Path(__file__).parent.glob("*.py"))
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


class SiteBuilder:
    def __init__(self, options: SiteOptions):
        self.options = options
        self.root_dir = leaderboard_dir()
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(self.root_dir / "templates"),
                                      autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                      lstrip_blocks=True)
        self.env.globals["body_html"] = body_html
        self.code = code_fingerprint(self.root_dir)
        self.facts: dict[str, ModelFacts] = load_model_facts(options.models_file)
        self.view: StoreView = load(options.store)
        self._labelled: set[str] = set()  # model ids that are a label from the model facts
        self.view.runs = [replace(run, model_id=self._model_id(run)) for run in self.view.runs]
        self._labels = self._model_labels()
        self.per_sample = {run.name: self.view.per_sample(run.name) for run in self.view.runs}
        self.benchmarks = self._benchmarks()
        self._bench_by_key = {b.benchmark: b for b in self.benchmarks}

    # --- names and links -----------------------------------------------------------------------------
    def _model_id(self, run: RunView) -> str:
        """The model as the site lists it: the label the model facts give its spec (so that specs with one label,
        say the replay files of one model on several benchmarks, are one model), else the store's model id."""
        facts = self.facts.get(run.model)
        if facts is None or not facts.label:
            return run.model_id
        model_id = facts.label + run.model_id[len(run.model):]  # with its parameters, where one spec had several
        self._labelled.add(model_id)
        return model_id

    def _model_labels(self) -> dict[str, str]:
        """A short name for each model: its label, its spec, or for a replay file as much of its path as tells it
        apart from the other replay files (`replay:smoke_predictions.jsonl`, `replay:coffe/fixtures/...`)."""
        runs = {run.model_id: run for run in self.view.runs}
        depth = {model_id: 1 for model_id in runs}

        def label(model_id: str) -> str:
            run = runs[model_id]
            if model_id in self._labelled:
                return model_id
            backend, sep, name = run.model.partition(":")
            if backend != "replay":
                return model_id
            parts = Path(name).parts
            return f"{backend}{sep}{'/'.join(parts[-depth[model_id]:])}" + model_id[len(run.model):]

        while True:
            seen: dict[str, list[str]] = {}
            for model_id in runs:
                seen.setdefault(label(model_id), []).append(model_id)
            clashes = [m for group in seen.values() if len(group) > 1 for m in group
                       if depth[m] < len(Path(runs[m].model.partition(":")[2]).parts)]
            if not clashes:
                return {model_id: label(model_id) for model_id in runs}
            for model_id in clashes:
                depth[model_id] += 1

    def model_label(self, run: RunView) -> str:
        return self._labels[run.model_id]

    def model_facts(self, run: RunView) -> ModelFacts:
        return self.facts.get(run.model) or ModelFacts()

    @staticmethod
    def model_href(model_id: str) -> str:
        return f"models/{slug(model_id)}.html"

    @staticmethod
    def task_href(task: str) -> str:
        return f"benchmarks/{slug(task)}.html"

    @staticmethod
    def run_href(run: RunView, page: int = 1) -> str:
        return f"runs/{run.slug}.html" if page == 1 else f"runs/{run.slug}-samples-{page}.html"

    @staticmethod
    def sample_href(run: RunView, sample_id: str) -> str:
        return f"samples/{run.slug}/{slug(sample_id)}.html"

    def bench_of(self, run: RunView) -> BenchmarkRuns:
        return self._bench_by_key[run.benchmark]

    def bench_href(self, bench: Benchmark) -> str:
        return f"{self.task_href(bench.task)}#{bench.anchor}"

    # --- grouping and ranking --------------------------------------------------------------------------
    def _benchmarks(self) -> list[BenchmarkRuns]:
        grouped: dict[Benchmark, list[RunView]] = {}
        for run in sorted(self.view.runs, key=lambda r: r.updated, reverse=True):
            grouped.setdefault(run.benchmark, []).append(run)
        out = []
        for bench in sorted(grouped, key=lambda b: (b.task, b.split, b.subset or "", b.window or "", b.data_sha256)):
            runs = grouped[bench]
            board: dict[str, RunView] = {}
            for run in sorted(runs, key=lambda r: (r.status == "complete", r.updated), reverse=True):
                board.setdefault(run.model_id, run)
            chosen = self.options.primary.get(bench.task)
            primary = next((p for p in (primary_metric(r.metrics, r.intervals, chosen) for r in board.values()) if p),
                           None)
            entries = [self._entry(run, primary) for run in board.values()]
            ranks = standings(entries)
            ordered = sorted(board.values(), key=lambda r: (ranks[r.name].rank is None, ranks[r.name].rank or 0,
                                                            -ranks[r.name].value if ranks[r.name].rank else 0,
                                                            r.model_id))
            out.append(BenchmarkRuns(bench, runs, ordered, primary, ranks))
        versions: dict[str, int] = {}
        for b in out:
            versions[b.benchmark.label] = versions.get(b.benchmark.label, 0) + 1
        for b in out:
            several = versions[b.benchmark.label] > 1
            b.label = b.benchmark.label + (f" · data {b.benchmark.data_sha256[:8]}" if several else "")
        return out

    def _entry(self, run: RunView, metric: str | None) -> Entry:
        value = float(run.metrics.get(metric, float("nan"))) if metric else float("nan")
        return Entry(run.name, value, run.intervals.get(metric) if metric else None, self._shares(run, metric))

    def _shares(self, run: RunView, metric: str | None) -> dict[str, float] | None:
        """Per-sample pass shares keyed by id and content, when the metric is a pass rate that they reproduce
        (then a paired test on shared samples tests that very metric)."""
        if metric not in PASS_RATES:
            return None
        frame = self.per_sample[run.name]
        graded = frame[frame["attempts"] > 0]
        if graded.empty or abs(float(graded["share"].mean()) - float(run.metrics[metric])) > 1e-9:
            return None
        return dict(zip(graded["sample_id"] + "\0" + graded["content_hash"], graded["share"].astype(float)))

    # --- rendering -------------------------------------------------------------------------------------
    def render(self, template: str, rel: str, **context: Any) -> str:
        depth = rel.count("/")
        return self.env.get_template(template).render(root="../" * depth, site_title=self.options.title,
                                                      version=__version__, **context)

    def build(self) -> BuildReport:
        started = time.perf_counter()
        out = SiteOutput(self.options.out, rebuild=self.options.rebuild)
        plans, total = self._sample_plans(out)
        rendered = 0
        with SampleWork(self, plans) as work:  # worker processes start on the sample pages at once
            for asset in sorted((self.root_dir / "assets").iterdir()):
                if asset.is_file():
                    out.write(f"assets/{asset.name}", asset.read_bytes())
            built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            index = self._write_page(out, "index.html", pages.overview(self, built))
            for task in sorted({b.benchmark.task for b in self.benchmarks}):
                self._write_page(out, self.task_href(task), pages.task_page(self, task))
            for model_id in sorted({r.model_id for r in self.view.runs}):
                self._write_page(out, self.model_href(model_id), pages.model_page(self, model_id))
            for run in self.view.runs:
                self._run_pages(out, run)
            for rel, fingerprint, size in work:
                out.record_written(rel, fingerprint, size)
                rendered += 1
        stats = out.finish()
        return BuildReport(self.options.out, len(self.view.runs), total, rendered, stats, len(index.encode()),
                           time.perf_counter() - started, self.view.left_out)

    def _write_page(self, out: SiteOutput, rel: str, page: pages.Page) -> str:
        for data_rel, data in page.downloads.items():
            out.write(data_rel, data)
        html = self.render(page.template, rel, **page.context)
        out.write(rel, html)
        return html

    def _run_pages(self, out: SiteOutput, run: RunView) -> None:
        """A run's pages and downloads, rendered only when something they show changed: the run (its results
        change its `updated` time), its stored metrics, its samples, or what they say about its model and
        benchmark."""
        frame = self.per_sample[run.name]
        samples_hash = hashlib.sha256(pd.util.hash_pandas_object(
            frame.assign(metadata=frame["metadata"].map(lambda m: json.dumps(m, sort_keys=True, default=str))),
            index=False).to_numpy().tobytes()).hexdigest()
        inputs = [self.code, self.options.title, run.name, run.updated, run.status, run.metrics_computed,
                  run.coverage, pages.sample_surroundings(self, run), samples_hash]
        fingerprint = hashlib.sha256(json.dumps(inputs, default=str).encode()).hexdigest()
        group = f"run:{run.name}"
        if out.unchanged_group(group, fingerprint):
            return
        files = []
        for rel, page in pages.run_pages(self, run):
            self._write_page(out, rel, page)
            files += [rel, *page.downloads]
        out.record_group(group, fingerprint, files)

    def _sample_plans(self, out: SiteOutput) -> tuple[list[tuple[RunView, dict[str, tuple[str, str]] | None]], int]:
        """Which sample pages to render: per run, those whose inputs changed (their path and fingerprint), or all
        of them (None) for a run that had none in the last build; and how many sample pages the site has."""
        had_pages = set() if self.options.rebuild else out.folders_with_files("samples")
        plans: list[tuple[RunView, dict[str, tuple[str, str]] | None]] = []
        total = 0
        for run in self.view.runs:
            if run.slug not in had_pages:
                plans.append((run, None))
                total += len(self.per_sample[run.name])
                continue
            around = pages.sample_surroundings(self, run)
            todo = {}
            for sample_id, keys in self.view.attempt_keys(run.name):
                total += 1
                rel = self.sample_href(run, sample_id)
                fingerprint = self._sample_fingerprint(around, sample_id, keys)
                if not out.unchanged(rel, fingerprint):
                    todo[sample_id] = (rel, fingerprint)
            if todo:
                plans.append((run, todo))
        return plans, total

    def _sample_fingerprint(self, around: dict[str, str], sample_id: str, keys: list[tuple]) -> str:
        return hashlib.sha256(json.dumps([self.code, self.options.title, around, sample_id, keys],
                                         default=str).encode()).hexdigest()

    def render_samples(self, run: RunView, todo: dict[str, tuple[str, str]] | None) -> list[tuple[str, str, int]]:
        """Render and write the pages of a run's samples (all of them, or those in `todo`, with their fingerprints
        known); returns (path, fingerprint, size) of each."""
        around = pages.sample_surroundings(self, run)
        written = []
        (self.options.out / self.sample_href(run, "x")).parent.mkdir(parents=True, exist_ok=True)
        for sample_id, keys, attempts in self.view.attempts(run.name, None if todo is None else set(todo)):
            rel = self.sample_href(run, sample_id)
            fingerprint = todo[sample_id][1] if todo else self._sample_fingerprint(around, sample_id, keys)
            context = pages.sample_context(self, run, around, sample_id, attempts)
            html = self.render("sample.html.jinja", rel, **context).encode("utf-8")
            written.append((rel, fingerprint, write_file(self.options.out, rel, html, make_folder=False)))
        return written


_WORKER: SiteBuilder | None = None  # the builder, in a worker process (inherited when the pool forks)


def _worker_start() -> None:
    """In a forked worker: a connection of its own (an SQLite connection must not cross a fork)."""
    _WORKER.view.store = Store(_WORKER.view.path)


def _worker_render(plan: tuple[str, dict[str, tuple[str, str]] | None]) -> list[tuple[str, str, int]]:
    name, todo = plan
    run = next(r for r in _WORKER.view.runs if r.name == name)
    return _WORKER.render_samples(run, todo)


class SampleWork:
    """Rendering the planned sample pages: begun at once in worker processes forked from this one (one per core)
    while this process writes the other pages, where there are several cores and enough pages; else here, when
    iterated. Iterating gives (path, fingerprint, size) of every page written."""

    def __init__(self, builder: SiteBuilder, plans: list[tuple[RunView, dict[str, tuple[str, str]] | None]]):
        global _WORKER
        self.builder, self.plans, self.pool, self.results = builder, plans, None, None
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cores = os.cpu_count() or 1
        pages_to_render = sum(len(builder.per_sample[run.name]) if todo is None else len(todo)
                              for run, todo in plans)
        workers = min(cores, len(plans)) if pages_to_render >= PARALLEL_FROM else 1
        if workers >= 2 and "fork" in multiprocessing.get_all_start_methods():
            _WORKER = builder  # what the workers inherit when the pool forks them, right now
            try:
                self.pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start)
            finally:
                _WORKER = None
            self.results = self.pool.imap_unordered(_worker_render, [(run.name, todo) for run, todo in plans])

    def __iter__(self) -> Iterator[tuple[str, str, int]]:
        if self.pool is None:
            for run, todo in self.plans:
                yield from self.builder.render_samples(run, todo)
            return
        for written in self.results:
            yield from written

    def __enter__(self) -> "SampleWork":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if self.pool is not None:
            if kind is None:
                self.pool.close()
            else:
                self.pool.terminate()  # the build failed: stop rendering
            self.pool.join()


def build_site(options: SiteOptions) -> BuildReport:
    """Build (or bring up to date) the site in options.out from the store options.store."""
    if not options.store.is_file():
        raise SiteError(f"no store at {options.store}: run an evaluation first (`harness run ...`), or pass --store")
    return SiteBuilder(options).build()
