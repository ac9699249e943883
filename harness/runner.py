"""The runner: streams samples through render -> generate -> extract -> grade -> store.

Threads joined by bounded queues, so memory stays flat in the number of samples:

    producer (load, skip done work, render, look up cached responses: one query per chunk)
      -> generation workers (adapter.concurrency of them, adapter.batch_size requests per call)
      -> verdict lookup (extract each answer, look up cached verdicts: one query per list)
      -> grading workers (--grade-workers; one sample each at a time; under --executor ray one thread that
         feeds the cluster's sandbox nodes, harness.distributed)
      -> one writer (group-commits whatever is waiting, updates the progress bar)

The task's resources are opened before the first sample (`Task.open` with a `TaskContext`) and closed after
the last, on every exit path. When the run ends its metrics are computed and saved with it.

Ctrl-C stops the producer and the generation workers (model calls in flight are abandoned); what is already
generated is graded and written, and the message says how to resume (the same command again). A second Ctrl-C
stops at once; the run stays resumable.
"""

from __future__ import annotations

import queue
import signal
import sqlite3
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import jinja2

from . import __version__
from .context import TaskContext
from .inflight import InFlight
from .keys import model_key, response_key, sample_hash, task_key, verdict_key
from .models import ModelAdapter
from .provenance import git_revision
from .store import ResultWrite, RunRow, Store
from .registry import check_task_name
from .runlock import RunLock
from .selection import checked_window, describe_window, select_samples
from .task import LoadOptions, Task, TaskError
from .types import Answer, GenParams, Prompt, Request, Response, Sample, Status, Verdict, stable_hash

_END = object()
GRADING_ENDED = _END  # Runner.next_to_grade: no more answers will come
STOP_GRACE_S = 5.0  # after Ctrl-C: how long the samples being graded may take to finish
HANG_WARN_S = 30.0  # a line on the display when the model has not answered for this long
HANG_REPEAT_S = 60.0
BATCH = 32  # items per hand-off between the first stages (queues carry lists, not single items)


@dataclass
class RunConfig:
    task: Task
    adapter: ModelAdapter
    params: GenParams
    options: LoadOptions
    template: jinja2.Template
    template_sha256: str
    template_path: str
    samples_per_problem: int = 1
    run_name: str | None = None
    fresh: bool = False
    grade_workers: int = 2
    progress: bool = True
    judge: ModelAdapter | None = None  # --judge-model, for tasks that grade with one
    judge_params: GenParams = field(default_factory=GenParams)
    # where samples are graded: None, in this process (--grade-workers threads); a harness.distributed executor,
    # on a Ray cluster's sandbox nodes (it opens the driver's context, runs the grading stage and closes)
    executor: Any = None


@dataclass
class RunSummary:
    run: str
    counts: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    interrupted: bool = False
    elapsed: float = 0.0
    samples_total: int | None = None  # samples the data yielded (after --limit), when loading finished
    facts: dict[str, int] = field(default_factory=dict)  # new responses that were missing, empty, truncated
    first_sample_id: str | None = None


def response_facts(response: Response) -> list[str]:
    """What is worth knowing about a response besides its text: `missing` (no prediction for this sample in
    a replay file), `empty`, `truncated` (stopped at the token limit)."""
    if response.error is not None:
        return []
    usage = response.usage
    if usage.get("missing_prediction"):
        return ["missing"]
    facts = [] if (response.text or "").strip() else ["empty"]
    if usage.get("truncated"):
        facts.append("truncated")
    return facts


@dataclass
class _Item:
    """One (sample, index) on its way to the grader."""

    ordinal: int
    sample: Sample
    sample_hash: str
    prompt: Prompt
    prompt_key: str
    idx: int
    response_key: str
    response: Response
    response_cached: bool  # already in the store (a cache hit, or saved ahead of grading)

    def __post_init__(self) -> None:
        self.facts = tuple(response_facts(self.response)) if not self.response_cached else ()


class RunConflict(Exception):
    pass


def run_identity(cfg: RunConfig) -> tuple[str, str, str, dict[str, Any]]:
    """The run's name, its configuration key, its model key (see `harness.keys.model_key`), and its
    reproducibility record."""
    task, split = cfg.task, cfg.task.split_or_default(cfg.options.split)
    check_task_name(task)
    source = task.source(cfg.options)
    fingerprint = cfg.adapter.fingerprint()
    mkey = model_key(fingerprint, cfg.params)
    args = task.identity_args(cfg.options.args)
    window = _window(cfg.options)
    judge = None
    if cfg.judge is not None:
        judge = {"spec": cfg.judge.spec, "fingerprint": cfg.judge.fingerprint(),
                 "params": cfg.judge_params.as_dict()}
    record = {
        "harness": {"version": __version__, "git_revision": git_revision()},
        "task": {"name": task.name, "version": task.version, "code_sha256": task.code_hash, "split": split,
                 "data": source.description, "data_sha256": source.sha256, "args": dict(cfg.options.args),
                 "identity_args": args, "metadata_keys": list(task.metadata_keys), "cluster_key": task.cluster_key,
                 "subset": cfg.options.subset and {"name": cfg.options.subset,
                                                   "size": task.subsets[cfg.options.subset]},
                 "window": window},
        "prompt_template": {"path": cfg.template_path, "sha256": cfg.template_sha256},
        "model": {"spec": cfg.adapter.spec, "fingerprint": fingerprint, "params": cfg.params.as_dict()},
        "judge": judge,
        "samples_per_problem": cfg.samples_per_problem,
        "seeds": {"generation": cfg.params.seed},
        "grader_image": task.grader_image,
        "python": sys.version.split()[0],
    }
    # What makes two runs the same: contents, not where they live (moving a checkout, a data file or a
    # predictions file keeps the run, and so its resume and caches).
    identity = {
        "harness": __version__,
        "task": [task.name, task.version, task.code_hash, split, source.sha256, args],
        "subset": cfg.options.subset and [cfg.options.subset, task.subsets[cfg.options.subset]],
        "prompt_template": cfg.template_sha256,
        "model": mkey,
        "judge": None if judge is None else model_key(judge["fingerprint"], cfg.judge_params),
        "samples_per_problem": cfg.samples_per_problem,
        "grader_image": task.grader_image,
    }
    if window:  # only when set: runs without a window keep the identity they always had
        identity["window"] = window
    config_key = stable_hash(identity)
    backend, _, model_name = cfg.adapter.spec.partition(":")
    slug = "-".join(filter(None, [backend, Path(model_name).name.removesuffix(".jsonl")]))[:40]
    split_part = f"{split}+{cfg.options.subset}" if cfg.options.subset else split
    name = cfg.run_name or f"{task.name}-{split_part}-{slug}-{config_key[:8]}"
    return name, config_key, mkey, record


def _window(options: LoadOptions) -> dict[str, str | None] | None:
    """The created-at window of --since/--until (canonical bounds), or None."""
    if options.since is None and options.until is None:
        return None
    since, until = checked_window(options)
    return {"since": since, "until": until}


def _one_line(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


class Runner:
    def __init__(self, cfg: RunConfig, store: Store):
        self.cfg = cfg
        self.store = store
        self.stop = threading.Event()
        self.name, self.config_key, self.model_key, self.record = run_identity(cfg)
        task = cfg.task
        self.task_key = task_key(task.name, task.version, task.code_hash, task.identity_args(cfg.options.args))
        adapter = cfg.adapter
        # queues hold batches (generation batches of up to adapter.batch_size requests, else lists of BATCH
        # items), except item_q, which holds the single items the grading workers share
        self.gen_q: queue.Queue = queue.Queue(maxsize=2 * adapter.concurrency)
        self.grade_q: queue.Queue = queue.Queue(maxsize=8)
        self.item_q: queue.Queue = queue.Queue(maxsize=2 * cfg.grade_workers)
        self.write_q: queue.Queue = queue.Queue(maxsize=64 + 4 * cfg.grade_workers)
        self.summary = RunSummary(run=self.name)
        self._requests: list[tuple[int, Request, str, str]] = []  # the producer's pending generation batch
        self._cached: list[_Item] = []  # the producer's pending cache hits
        self._errors: list[BaseException] = []
        self._bar = None
        self.ctx: TaskContext | None = None
        self.in_flight = InFlight()  # model calls waiting for an answer (the model's and the judge's)
        self._done = threading.Event()
        self._hurry = threading.Event()  # a second Ctrl-C: stop waiting for anything
        self._waiting = ""

    # --- orchestration ------------------------------------------------------------------------------
    def prepare(self) -> None:
        existing = self.store.get_run(self.name)
        if existing and existing.config_key != self.config_key and not self.cfg.fresh:
            raise RunConflict(
                f"run {self.name!r} already exists with a different configuration "
                f"(task, data, template, model or parameters changed); choose another --run-name or pass --fresh"
            )
        now = time.time()
        if self.cfg.fresh:
            self.store.clear_results(self.name)
        self.store.delete_metrics(self.name)  # this session changes the results: metrics are saved when it ends
        self.store.save_run(
            RunRow(self.name, self.cfg.task.name, self.cfg.task.split_or_default(self.cfg.options.split),
                   self.cfg.adapter.spec, self.config_key, self.cfg.samples_per_problem, self.record,
                   "running", existing.created if existing else now, now)
        )

    def _open_task(self) -> None:
        from .judge import Judge

        cfg = self.cfg
        judge = None
        if cfg.judge is not None:
            judge = Judge(cfg.judge, cfg.judge_params, self.store, in_flight=self.in_flight, fresh=cfg.fresh)
        if cfg.executor is not None:  # the driver's context: digests for verdict keys, no containers here
            self.ctx = cfg.executor.open(self, judge)
        else:
            self.ctx = TaskContext(cfg.task, grade_workers=cfg.grade_workers, args=cfg.options.args, judge=judge,
                                   log=self._log)
        try:
            cfg.task.open(self.ctx)
        except TaskError:
            raise
        except Exception as exc:  # e.g. an image that cannot be built, a judge that cannot be reached
            raise TaskError(f"task {cfg.task.name!r} could not open: {_one_line(exc)}") from exc

    def _close_task(self) -> None:
        try:
            self.cfg.task.close()
        finally:
            try:
                if self.ctx is not None:
                    self.ctx.close()
                    if self.ctx.judge is not None:
                        self.ctx.judge.close()
            finally:
                if self.cfg.executor is not None:
                    self.cfg.executor.close()  # the task closed on every node, their containers removed

    def run(self) -> RunSummary:
        lock = RunLock(self.store.path, self.name)
        lock.acquire(on_wait=self._log)  # one process per run: a second waits, then finds the work done
        try:
            return self._run()
        finally:
            lock.release()

    def _run(self) -> RunSummary:
        self.prepare()
        started = time.monotonic()
        self._open_progress()
        stages: list[tuple[list[threading.Thread], queue.Queue]] = []
        monitor = threading.Thread(target=self._monitor, name="monitor", daemon=True)
        monitor.start()
        try:
            self._open_task()
            producer = [self._thread(self._produce, "producer")]
            gens = [self._thread(self._generate, f"gen-{i}") for i in range(self.cfg.adapter.concurrency)]
            lookup = [self._thread(self._lookup, "verdict-lookup")]
            n_graders = 1 if self.cfg.executor is not None else self.cfg.grade_workers
            graders = [self._thread(self._grade, f"grade-{i}") for i in range(n_graders)]
            writer = [self._thread(self._write, "writer")]
            # in pipeline order: each stage gets its end markers once the stage feeding it has finished
            stages = [(gens, self.gen_q), (lookup, self.grade_q), (graders, self.item_q), (writer, self.write_q)]
            self._join(producer)
            for threads, q in stages:
                for _ in threads:
                    self._put(q, _END, force=True)
                self._join(threads)
        except Exception:
            with sigint_deferred(self._hurry):
                try:
                    self.store.set_run_status(self.name, "failed")
                except sqlite3.Error as exc:  # locked past its timeout: the pools are closed all the same
                    self._log(f"warning: could not mark the run failed ({exc})")
                self._done.set()
                self._close_all()
            raise
        except KeyboardInterrupt:
            # deferred before anything else: a second Ctrl-C while the status is written (the store's lock may
            # be held for seconds) only cuts the waiting short, and the run is still wound down and closed
            with sigint_deferred(self._hurry):
                self.summary.interrupted = True
                self.stop.set()
                try:
                    self.store.set_run_status(self.name, "interrupted")
                except sqlite3.Error as exc:  # locked past its timeout: written again once the run is wound down
                    self._log(f"warning: could not mark the run interrupted yet ({exc}); winding it down")
                self._wind_down(stages)
        self._done.set()
        with sigint_deferred(self._hurry):
            self._close_all()
        self.summary.elapsed = time.monotonic() - started
        with sigint_deferred(self._hurry):  # the run's last writes: a Ctrl-C now must not leave it half recorded
            if self._errors:
                self.store.set_run_status(self.name, "failed")
                raise self._errors[0]
            self._finish_record()
            status = "interrupted" if self.summary.interrupted else "complete"
            if not self.summary.interrupted and self.summary.counts.get("infra"):
                status = "incomplete"
            self.store.set_run_status(self.name, status)
            self._save_metrics()
        return self.summary

    def _close_all(self) -> None:
        try:
            self._close_task()
        finally:
            self.cfg.adapter.close()
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def _wind_down(self, stages: list[tuple[list[threading.Thread], queue.Queue]]) -> None:
        """After Ctrl-C: queued work is dropped (its new responses are kept in the store, so a resume does not
        ask the model again), model calls in flight are abandoned, samples being graded get STOP_GRACE_S to
        finish (then the context's close kills their sandboxes), and the writer commits what is finished."""
        deadline = time.monotonic() + STOP_GRACE_S
        for threads, q in stages:
            writer = q is self.write_q
            if not writer:
                self._park_queue(q)
            for _ in threads:
                self._put(q, _END, force=True, deadline=None if writer else deadline)
            for t in threads:
                while t.is_alive() and not self._hurry.is_set() and (writer or time.monotonic() < deadline):
                    t.join(timeout=0.1)

    def _park_queue(self, q: queue.Queue) -> None:
        """Empty a queue, keeping the new responses of the items in it."""
        while True:
            try:
                work = q.get_nowait()
            except queue.Empty:
                return
            if work is _END:
                continue
            if q is self.grade_q:
                self._park([it for it in work])
            elif q is self.item_q:
                self._park(work[0])

    def _park(self, items: list[_Item]) -> None:
        """Save the new responses of items that will not be graded in this session."""
        fresh = [(it.response_key, it.prompt_key, it.prompt, it.response) for it in items
                 if not it.response_cached and it.response.error is None]
        if fresh:
            self.store.save_responses(fresh)
            for it in items:
                it.response_cached = True

    def _thread(self, fn, name: str) -> threading.Thread:
        def guarded():
            try:
                fn()
            except BaseException as exc:  # a bug in a stage stops the run instead of hanging it
                self._errors.append(exc)
                self.stop.set()

        t = threading.Thread(target=guarded, name=name, daemon=True)
        t.start()
        return t

    def _finish_record(self) -> None:
        """Put what was learnt while running into the record: the image digests graded on, the data's size."""
        changed = False
        images = self.ctx.image_ids if self.ctx is not None else {}
        tag = self.cfg.task.grader_image
        if tag and tag not in images:
            from .sandbox.images import image_id

            digest = image_id(tag)
            if digest:
                images = {**images, tag: digest}
        if tag and images.get(tag) and self.record.get("grader_image_id") != images[tag]:
            self.record["grader_image_id"] = images[tag]
            changed = True
        if images and self.record.get("image_ids") != images:
            self.record["image_ids"] = images
            changed = True
        if self.summary.samples_total is not None and self.record.get("samples_total") != self.summary.samples_total:
            self.record["samples_total"] = self.summary.samples_total
            changed = True
        if changed:
            run = self.store.get_run(self.name)
            self.store.save_run(replace(run, record=self.record, updated=time.time()))

    def _save_metrics(self) -> None:
        from .report import compute_metrics

        compute_metrics(self.store, self.store.get_run(self.name), self.cfg.task, save=True)

    def _join(self, threads: list[threading.Thread]) -> None:
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)

    def _put(self, q: queue.Queue, item: Any, force: bool = False, deadline: float | None = None) -> bool:
        """Put that gives up when the run is stopping (unless forced: end markers and finished work must get
        through) or when the deadline passes."""
        while True:
            if self.stop.is_set() and not force:
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                if force and self._errors:
                    try:  # a stage died and the run is failing: make room so the others can stop
                        q.get_nowait()
                    except queue.Empty:
                        pass

    def log(self, message: str) -> None:
        """A line on standard error, above the progress bar."""
        self._log(message)

    def _log(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    # --- stages -------------------------------------------------------------------------------------
    def _produce(self) -> None:
        """Load samples and hand them on in chunks: skip done work, render, look up cached responses (one
        query per chunk), and send requests to the generators and cache hits to the graders."""
        opts, task = self.cfg.options, self.cfg.task
        chunk: list[tuple[int, Sample]] = []
        count = 0
        for ordinal, sample in enumerate(select_samples(task, opts)):
            if self.stop.is_set():
                return
            count += 1
            if count == 1:
                self.summary.first_sample_id = sample.id
            chunk.append((ordinal, sample))
            if len(chunk) >= BATCH:
                if not self._dispatch(chunk):
                    return
                chunk = []
        if count == 0:
            window = describe_window(opts)
            raise TaskError(f"task {self.cfg.task.name!r}: the data ({self.record['task']['data']}) has no samples"
                            + (f" {window}" if window else ""))
        self.summary.samples_total = count
        if chunk and not self._dispatch(chunk):
            return
        if self._requests:
            self._put(self.gen_q, self._requests)
        if self._cached:
            self._put(self.grade_q, self._cached)

    def _render(self, sample: Sample) -> Prompt:
        try:
            return self.cfg.task.render(sample, self.cfg.template)
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f"{self.cfg.template_path}" + (f", line {line}" if line else "")
            raise TaskError(f"prompt template {where}: {exc.message or _one_line(exc)} "
                            f"(rendering sample {sample.id!r})") from None
        except Exception as exc:
            raise TaskError(f"task {self.cfg.task.name!r}: rendering sample {sample.id!r} with "
                            f"{self.cfg.template_path} failed: {_one_line(exc)}") from None

    def _dispatch(self, chunk: list[tuple[int, Sample]]) -> bool:
        cfg, n = self.cfg, self.cfg.samples_per_problem
        done = {} if cfg.fresh else self.store.done_map(self.name, [s.id for _, s in chunk])
        todo_by_sample = []
        for ordinal, sample in chunk:
            finished = done.get(sample.id, ())
            todo = [i for i in range(n) if i not in finished]
            if len(todo) < n:
                self.summary.skipped += n - len(todo)
                if self._bar is not None:  # done in an earlier session: count it towards the total at once
                    self._bar.update(n - len(todo))
            if todo:
                prompt = self._render(sample)
                pkey, shash = prompt.key(), sample_hash(sample)
                keys = {i: self._response_key(pkey, shash, i) for i in todo}
                todo_by_sample.append((ordinal, sample, shash, prompt, pkey, keys))
        wanted = [k for *_, keys in todo_by_sample for k in keys.values()]
        texts = {} if cfg.fresh else self.store.response_texts(wanted)
        for ordinal, sample, shash, prompt, pkey, keys in todo_by_sample:
            uncached = []
            for i, rkey in keys.items():
                if rkey in texts:
                    self._cached.append(_Item(ordinal, sample, shash, prompt, pkey, i, rkey, Response(texts[rkey]),
                                              True))
                else:
                    uncached.append(i)
            if uncached:
                self._requests.append((ordinal, Request(sample, prompt, tuple(uncached)), pkey, shash))
            if len(self._requests) >= cfg.adapter.batch_size:
                if not self._put(self.gen_q, self._requests):
                    return False
                self._requests = []
        if len(self._cached) >= BATCH:
            if not self._put(self.grade_q, self._cached):
                return False
            self._cached = []
        return True

    def _response_key(self, prompt_key: str, shash: str, idx: int) -> str:
        if self.cfg.adapter.answers_by_sample:
            return response_key(self.model_key, stable_hash(prompt_key, shash), idx)
        return response_key(self.model_key, prompt_key, idx)

    def _generate(self) -> None:
        while True:
            batch = self.gen_q.get()
            if batch is _END:
                return
            if not self.stop.is_set():
                self._generate_batch(batch)

    def _generate_batch(self, batch: list[tuple[int, Request, str, str]]) -> None:
        adapter = self.cfg.adapter
        requests = [req for _, req, _, _ in batch]
        try:
            with self.in_flight.track(adapter.spec, sum(len(r.indices) for r in requests)):
                responses = adapter.generate(requests)
            if len(responses) != len(requests):
                raise RuntimeError(f"adapter returned {len(responses)} results for {len(requests)} requests")
        except Exception as exc:  # an adapter bug or an unexpected provider failure: ours, retried on resume
            reason = f"model adapter raised {type(exc).__name__}: {exc}"
            responses = [[Response.failed(reason) for _ in req.indices] for req in requests]
        items = []
        for (ordinal, req, pkey, shash), outs in zip(batch, responses):
            for i, resp in zip(req.indices, outs):
                rkey = self._response_key(pkey, shash, i)
                items.append(_Item(ordinal, req.sample, shash, req.prompt, pkey, i, rkey, resp, False))
        for start in range(0, len(items), BATCH):
            self._put(self.grade_q, items[start:start + BATCH], force=True)

    def _lookup(self) -> None:
        """Extract each list's answers and look up their cached verdicts in one query: hits (and responses that
        need no grading) go to the writer; the rest go to the grading workers, one answer at a time (attempts
        with the same answer are graded once), their new responses saved first, so that a run stopped or
        killed while they are graded does not ask the model again."""
        while True:
            items = self.grade_q.get()
            if items is _END:
                return
            if self.stop.is_set():
                self._park(items)
                continue
            prepared = [self._extract(item) for item in items]
            keys = [p[1] for p in prepared if not isinstance(p, ResultWrite)]
            cached = {} if self.cfg.fresh else self.store.verdicts(keys)
            ready, work = [], {}
            for item, p in zip(items, prepared):
                if isinstance(p, ResultWrite):
                    ready.append(p)
                elif p[1] in cached:
                    ready.append(self._result(item, p[0], p[1], cached[p[1]], cached=True))
                else:
                    work.setdefault(p[1], ([], p[0]))[0].append(item)
            if ready:
                self._put(self.write_q, ready, force=True)
            self._park([it for group, _ in work.values() for it in group])
            for vkey, (group, answer) in work.items():
                self._put(self.item_q, (group, answer, vkey), force=True)

    def _grade(self) -> None:
        """Grade one answer at a time: --grade-workers of these run at once (or one that feeds the executor)."""
        if self.cfg.executor is not None:
            return self.cfg.executor.grade(self)  # harness.distributed: to the sandbox nodes, in completion order
        while True:
            work = self.item_q.get()
            if work is _END:
                return
            if self.stop.is_set():
                continue  # stopping: not graded this session (its responses are in the store)
            group, answer, vkey = work
            first = group[0]
            try:
                verdict = self.cfg.task.grade(first.sample, answer)
                if not isinstance(verdict, Verdict):
                    raise TypeError(f"grade() returned {type(verdict).__name__}, not a Verdict")
            except Exception as exc:  # a grader bug is ours, never the model's: infra, retried on resume
                self.not_graded(group, f"grader raised {_one_line(exc)} (sample {first.sample.id})")
                continue
            self.graded(group, answer, vkey, verdict)

    # --- the grading stage's seam: an executor (harness.distributed) runs the stage through these ---------
    def next_to_grade(self, timeout: float) -> tuple[list[_Item], Answer, str] | object | None:
        """The next answer to grade: (the attempts that gave it, the answer, its verdict key); GRADING_ENDED
        when no more will come; None when none came within `timeout` seconds."""
        try:
            return self.item_q.get(timeout=timeout)
        except queue.Empty:
            return None

    def graded(self, group: list[_Item], answer: Answer, vkey: str, verdict: Verdict) -> None:
        """To the writer: the verdict of one answer, for every attempt that gave it."""
        self._put(self.write_q, [self._result(it, answer, vkey, verdict, cached=i > 0) for i, it in enumerate(group)],
                  force=True)

    def not_graded(self, group: list[_Item], reason: str) -> None:
        """To the writer: infra verdicts (not cached, retried on resume) for every attempt of an answer that
        could not be graded."""
        self._put(self.write_q, [self._infra(it, reason, it.response_key) for it in group], force=True)

    @property
    def hurried(self) -> bool:
        """A second Ctrl-C came: stop waiting for anything."""
        return self._hurry.is_set()

    def _common(self, item: _Item) -> dict[str, Any]:
        meta = item.sample.metadata
        return dict(run=self.name, sample_id=item.sample.id, idx=item.idx, ordinal=item.ordinal,
                    prompt=item.prompt, prompt_key=item.prompt_key, sample_hash=item.sample_hash,
                    metadata={k: meta.get(k) for k in self.cfg.task.metadata_keys}, facts=item.facts)

    def _infra(self, item: _Item, reason: str, response_key: str | None) -> ResultWrite:
        """An infra verdict: ours or the provider's, never cached, retried on resume."""
        return ResultWrite(**self._common(item), response_key=response_key,
                           response=None if item.response_cached or item.response.error else item.response,
                           verdict_key=None, verdict=Verdict(Status.INFRA, 0.0, {"reason": reason}), answer="",
                           verdict_cached=False)

    def _extract(self, item: _Item) -> tuple[Answer, str] | ResultWrite:
        """The answer and its verdict key, or at once a result: infra when there is no response; ungradable,
        with the adapter's reason, when the adapter withdrew the attempt (`usage["withdrawn"]`: not graded, and
        the response is not stored, so no later run finds it cached as an empty answer); when the extractor
        raises on the response, that response's own `error` verdict (the model's, cached like any)."""
        if item.response.error is not None:
            return self._infra(item, item.response.error, None)
        withdrawn = item.response.usage.get("withdrawn")
        if withdrawn:
            reason = str(withdrawn)
            verdict = Verdict(Status.UNGRADABLE, 0.0, {"reason": f"withdrawn by the model adapter: {reason}",
                                                       "withdrawn": reason})
            vkey = verdict_key(self.task_key, item.sample_hash, "\x00withdrawn\x00" + stable_hash(reason), "")
            return ResultWrite(**{**self._common(item), "facts": ("withdrawn",)}, response_key=None, response=None,
                               verdict_key=vkey, verdict=verdict, answer="", verdict_cached=False)
        task, text = self.cfg.task, item.response.text or ""
        try:
            grader = task.grader_fingerprint(item.sample)
        except Exception as exc:  # the grader cannot be set up for this sample: ours
            return self._infra(item, f"grader_fingerprint raised {_one_line(exc)}", item.response_key)
        try:
            answer = task.extract(item.sample, text)
        except Exception as exc:
            answer = Answer(None, "\x00unextractable\x00" + stable_hash(text))
            vkey = verdict_key(self.task_key, item.sample_hash, answer.canonical, grader)
            verdict = Verdict(Status.ERROR, 0.0, {"reason": f"no answer could be extracted: {_one_line(exc)}"})
            return self._result(item, answer, vkey, verdict, cached=False)
        return answer, verdict_key(self.task_key, item.sample_hash, answer.canonical, grader)

    def _result(self, item: _Item, answer: Answer, vkey: str, verdict: Verdict, cached: bool) -> ResultWrite:
        if verdict.status is Status.INFRA:  # a grader's own infra verdict: not cached, retried on resume
            return self._infra(item, str(verdict.details.get("reason", "infrastructure failure")),
                               item.response_key)
        return ResultWrite(**self._common(item), response_key=item.response_key,
                           response=None if item.response_cached else item.response, verdict_key=vkey,
                           verdict=verdict, answer=answer.canonical, verdict_cached=cached)

    def _write(self) -> None:
        """Group commit: everything waiting is written in one transaction, then counted."""
        counts = self.summary.counts
        while True:
            first = self.write_q.get()
            batch, ended = ([], True) if first is _END else (list(first), False)
            while not ended and len(batch) < 2000:
                try:
                    nxt = self.write_q.get_nowait()
                except queue.Empty:
                    break
                if nxt is _END:
                    ended = True
                    break
                batch.extend(nxt)
            if batch:
                self.store.write_results(batch)
                for it in batch:
                    counts[it.verdict.status.value] = counts.get(it.verdict.status.value, 0) + 1
                    for fact in it.facts:
                        self.summary.facts[fact] = self.summary.facts.get(fact, 0) + 1
                self._advance(len(batch))
            if ended:
                return

    # --- progress -----------------------------------------------------------------------------------
    def _monitor(self) -> None:
        """Every second: requests in flight and the oldest one's wait on the progress bar; a line when a model
        (or the judge) has not answered for HANG_WARN_S, and again every HANG_REPEAT_S, so a hang shows in
        seconds."""
        timeout = getattr(getattr(self.cfg.adapter, "policy", None), "timeout", None)
        warned: dict[str, float] = {}
        while not self._done.wait(1.0):
            calls = self.in_flight.snapshot()
            n, oldest = sum(c for c, _ in calls.values()), max((o for _, o in calls.values()), default=0.0)
            self._waiting = f"in flight {n}, oldest {oldest:.0f}s" if n and oldest >= 2 else ""
            if self._bar is not None:
                self._advance(0)
            for who, (count, age) in calls.items():
                last = warned.get(who, 0.0)
                if age >= HANG_WARN_S and (not last or age - last >= HANG_REPEAT_S):
                    warned[who] = age
                    limit = f" (time-out {timeout:g} s per request, then retried)" if timeout and \
                        who == self.cfg.adapter.spec else ""
                    self._log(f"waiting on {who}: {count} request(s) in flight, the oldest for {age:.0f} s{limit}")
            for who in list(warned):
                if who not in calls:
                    del warned[who]

    def _open_progress(self) -> None:
        if not self.cfg.progress:
            return
        from tqdm import tqdm

        opts = self.cfg.options
        windowed = opts.since is not None or opts.until is not None
        builtin_size = self.cfg.task.size(opts.split) if opts.data is None and not windowed else None  # unknown
        subset_size = self.cfg.task.subsets.get(opts.subset) if opts.subset else None
        size = min(filter(None, (opts.limit, builtin_size, subset_size)), default=None)
        total = size * self.cfg.samples_per_problem if size else None
        self._bar = tqdm(total=total, desc=self.name, unit="sample", file=sys.stderr, disable=None,
                         dynamic_ncols=True, mininterval=0.5)

    def _advance(self, n: int) -> None:
        if self._bar is None:
            return
        c = self.summary.counts
        text = " ".join(f"{s}={c.get(s, 0)}" for s in ("pass", "fail", "error", "infra"))
        if c.get("ungradable"):
            text += f" ungradable={c['ungradable']}"
        if self._waiting:
            text += f" | {self._waiting}"
        self._bar.set_postfix_str(text, refresh=not n)
        if n:
            self._bar.update(n)


@contextmanager
def sigint_deferred(hurry: threading.Event) -> Iterator[None]:
    """While closing or winding down (main thread only): Ctrl-C sets `hurry` instead of raising, so that pools
    are always closed and the run is always left resumable."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: hurry.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
