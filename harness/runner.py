"""The runner: streams samples through render -> generate -> extract -> grade -> store.

Four kinds of threads joined by bounded queues, so memory stays flat in the number of samples:

    producer (load, skip done work, render, look up cached responses)
      -> generation workers (adapter.concurrency of them, adapter.batch_size requests per call)
      -> grading workers (--grade-workers; look up cached verdicts, else extract + grade)
      -> one writer (group-commits whatever is waiting, updates the progress bar)

Ctrl-C stops the producer and the generation workers; what is already generated is graded and
written, and the message says how to resume (the same command again).
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2

from . import __version__
from .models import ModelAdapter
from .models.retry import POLICY_KEYS
from .provenance import git_revision
from .store import ResultWrite, RunRow, Store
from .task import LoadOptions, Task
from .types import Answer, GenParams, Prompt, Request, Response, Sample, Status, Verdict, stable_hash

_END = object()
BATCH = 32  # items per hand-off between stages (queues carry lists, not single items)
FLUSH_S = 0.2  # a grader hands over what it has after this long, even mid-batch


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


@dataclass
class RunSummary:
    run: str
    counts: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    interrupted: bool = False
    elapsed: float = 0.0


@dataclass
class _Item:
    """One (sample, index) on its way to the grader."""

    ordinal: int
    sample: Sample
    prompt: Prompt
    prompt_key: str
    idx: int
    response_key: str
    response: Response
    response_cached: bool


class RunConflict(Exception):
    pass


def run_identity(cfg: RunConfig) -> tuple[str, str, str, dict[str, Any]]:
    """The run's name, its configuration key, its model key (see `model_key`), and its reproducibility record."""
    task, split = cfg.task, cfg.task.split_or_default(cfg.options.split)
    source = task.source(cfg.options)
    fingerprint = cfg.adapter.fingerprint()
    mkey = model_key(fingerprint, cfg.params)
    record = {
        "harness": {"version": __version__, "git_revision": git_revision()},
        "task": {"name": task.name, "version": task.version, "split": split,
                 "data": source.description, "data_sha256": source.sha256},
        "prompt_template": {"path": cfg.template_path, "sha256": cfg.template_sha256},
        "model": {"spec": cfg.adapter.spec, "fingerprint": fingerprint, "params": cfg.params.as_dict()},
        "samples_per_problem": cfg.samples_per_problem,
        "seeds": {"generation": cfg.params.seed},
        "grader_image": task.grader_image,
        "python": sys.version.split()[0],
    }
    # What makes two runs the same: contents, not where they live (moving a checkout, a data file or a
    # predictions file keeps the run, and so its resume and caches).
    identity = {
        "harness": __version__,
        "task": [task.name, task.version, split, source.sha256],
        "prompt_template": cfg.template_sha256,
        "model": mkey,
        "samples_per_problem": cfg.samples_per_problem,
        "grader_image": task.grader_image,
    }
    config_key = stable_hash(identity)
    backend, _, model_name = cfg.adapter.spec.partition(":")
    slug = "-".join(filter(None, [backend, Path(model_name).name.removesuffix(".jsonl")]))[:40]
    name = cfg.run_name or f"{task.name}-{split}-{slug}-{config_key[:8]}"
    return name, config_key, mkey, record


# --model-arg keys that say how to run a model, not what it answers: left out of cache keys and run names
RUNTIME_KEYS = frozenset(POLICY_KEYS) | {"batch_size", "device", "gpu_memory_utilization", "enforce_eager",
                                         "prefix_caching", "tensor_parallel_size"}


def output_params(params: GenParams) -> dict[str, Any]:
    """The parameters that can change what a model answers (retries, time-outs, batching, devices cannot)."""
    d = params.as_dict()
    d["extra"] = {k: v for k, v in d["extra"].items() if k not in RUNTIME_KEYS}
    return d


def _one_line(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def response_key(model_key: str, prompt_key: str, idx: int) -> str:
    """The cache key of one response: the model (see `model_key`), the prompt, and the attempt index."""
    return stable_hash("response", model_key, prompt_key, idx)


def model_key(fingerprint: dict[str, Any], params: GenParams) -> str:
    """What identifies a model's outputs: its fingerprint and the parameters that can change them."""
    return stable_hash(fingerprint, output_params(params))


def verdict_key(task: Task, sample_id: str, canonical_answer: str) -> str:
    return stable_hash("verdict", task.name, task.version, sample_id, canonical_answer, task.grader_image)


class Runner:
    def __init__(self, cfg: RunConfig, store: Store):
        self.cfg = cfg
        self.store = store
        self.stop = threading.Event()
        self.name, self.config_key, self.model_key, self.record = run_identity(cfg)
        adapter = cfg.adapter
        # queues hold batches: generation batches of up to adapter.batch_size requests, else lists of BATCH items
        self.gen_q: queue.Queue = queue.Queue(maxsize=2 * adapter.concurrency)
        self.grade_q: queue.Queue = queue.Queue(maxsize=4 * cfg.grade_workers)
        self.write_q: queue.Queue = queue.Queue(maxsize=16)
        self.summary = RunSummary(run=self.name)
        self._requests: list[tuple[int, Request, str]] = []  # the producer's pending generation batch
        self._cached: list[_Item] = []  # the producer's pending cache hits
        self._errors: list[BaseException] = []
        self._bar = None

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
        self.store.save_run(
            RunRow(self.name, self.cfg.task.name, self.cfg.task.split_or_default(self.cfg.options.split),
                   self.cfg.adapter.spec, self.config_key, self.cfg.samples_per_problem, self.record,
                   "running", existing.created if existing else now, now)
        )

    def run(self) -> RunSummary:
        self.prepare()
        started = time.monotonic()
        self._open_progress()
        threads = [threading.Thread(target=self._guard(self._produce), name="producer", daemon=True)]
        gens = [threading.Thread(target=self._guard(self._generate), name=f"gen-{i}", daemon=True)
                for i in range(self.cfg.adapter.concurrency)]
        graders = [threading.Thread(target=self._guard(self._grade), name=f"grade-{i}", daemon=True)
                   for i in range(self.cfg.grade_workers)]
        writer = threading.Thread(target=self._guard(self._write), name="writer", daemon=True)
        for t in threads + gens + graders + [writer]:
            t.start()
        # in pipeline order: each stage gets its end markers once the stage feeding it has finished
        stages = [(gens, self.gen_q, 5.0), (graders, self.grade_q, 30.0), ([writer], self.write_q, 30.0)]
        try:
            self._join(threads)
            self._end_stages(stages, patient=True)
        except KeyboardInterrupt:
            self.summary.interrupted = True
            self.stop.set()
            # let the pipeline drain what it already has: generated items are graded and written
            self._end_stages(stages, patient=False)
        finally:
            self.cfg.adapter.close()
            if self._bar is not None:
                self._bar.close()
        self.summary.elapsed = time.monotonic() - started
        if self._errors:
            self.store.set_run_status(self.name, "failed")
            raise self._errors[0]
        self._record_image_id()
        status = "interrupted" if self.summary.interrupted else "complete"
        if not self.summary.interrupted and self.summary.counts.get("infra"):
            status = "incomplete"
        self.store.set_run_status(self.name, status)
        return self.summary

    def _record_image_id(self) -> None:
        """Put the digest of the image the verdicts were graded on into the run's record."""
        tag = self.cfg.task.grader_image
        if not tag:
            return
        from .sandbox.images import image_id

        digest = image_id(tag)
        if digest and self.record.get("grader_image_id") != digest:
            self.record["grader_image_id"] = digest
            run = self.store.get_run(self.name)
            self.store.save_run(replace(run, record=self.record, updated=time.time()))

    def _end_stages(self, stages: list[tuple[list[threading.Thread], queue.Queue, float]], patient: bool) -> None:
        """Send each stage one end marker per thread and wait for it. An interrupted run waits at most the
        stage's grace period (a model call that hangs must not hold up the exit)."""
        for threads, q, grace in stages:
            for _ in threads:
                self._put(q, _END, force=True)
            if patient:
                self._join(threads)
            else:
                for t in threads:
                    t.join(timeout=grace)

    def _join(self, threads: list[threading.Thread]) -> None:
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)

    def _guard(self, fn):
        def wrapped():
            try:
                fn()
            except BaseException as exc:  # a bug in a stage stops the run instead of hanging it
                self._errors.append(exc)
                self.stop.set()
        return wrapped

    def _put(self, q: queue.Queue, item: Any, force: bool = False) -> bool:
        """Put that gives up when the run is stopping (unless forced: sentinels must get through)."""
        while True:
            if self.stop.is_set() and not force:
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

    # --- stages -------------------------------------------------------------------------------------
    def _produce(self) -> None:
        """Load samples and hand them on in chunks: skip done work, render, look up cached responses (one
        query per chunk), and send requests to the generators and cache hits to the graders."""
        chunk: list[tuple[int, Sample]] = []
        for ordinal, sample in enumerate(self.cfg.task.samples(self.cfg.options)):
            if self.stop.is_set():
                return
            chunk.append((ordinal, sample))
            if len(chunk) >= BATCH:
                if not self._dispatch(chunk):
                    return
                chunk = []
        if chunk and not self._dispatch(chunk):
            return
        if self._requests:
            self._put(self.gen_q, self._requests)
        if self._cached:
            self._put(self.grade_q, self._cached)

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
                prompt = cfg.task.render(sample, cfg.template)
                pkey = prompt.key()
                keys = {i: response_key(self.model_key, pkey, i) for i in todo}
                todo_by_sample.append((ordinal, sample, prompt, pkey, keys))
        wanted = [k for *_, keys in todo_by_sample for k in keys.values()]
        texts = {} if cfg.fresh else self.store.response_texts(wanted)
        for ordinal, sample, prompt, pkey, keys in todo_by_sample:
            uncached = []
            for i, rkey in keys.items():
                if rkey in texts:
                    self._cached.append(_Item(ordinal, sample, prompt, pkey, i, rkey, Response(texts[rkey]), True))
                else:
                    uncached.append(i)
            if uncached:
                self._requests.append((ordinal, Request(sample, prompt, tuple(uncached)), pkey))
            if len(self._requests) >= cfg.adapter.batch_size:
                if not self._put(self.gen_q, self._requests):
                    return False
                self._requests = []
        if len(self._cached) >= BATCH:
            if not self._put(self.grade_q, self._cached):
                return False
            self._cached = []
        return True

    def _generate(self) -> None:
        while True:
            batch = self.gen_q.get()
            if batch is _END:
                return
            if not self.stop.is_set():
                self._generate_batch(batch)

    def _generate_batch(self, batch: list[tuple[int, Request, str]]) -> None:
        adapter = self.cfg.adapter
        requests = [req for _, req, _ in batch]
        try:
            responses = adapter.generate(requests)
            if len(responses) != len(requests):
                raise RuntimeError(f"adapter returned {len(responses)} results for {len(requests)} requests")
        except Exception as exc:  # an adapter bug or an unexpected provider failure: ours, retried on resume
            reason = f"model adapter raised {type(exc).__name__}: {exc}"
            responses = [[Response.failed(reason) for _ in req.indices] for req in requests]
        items = []
        for (ordinal, req, pkey), outs in zip(batch, responses):
            for i, resp in zip(req.indices, outs):
                rkey = response_key(self.model_key, pkey, i)
                items.append(_Item(ordinal, req.sample, req.prompt, pkey, i, rkey, resp, False))
        for start in range(0, len(items), BATCH):
            self._put(self.grade_q, items[start:start + BATCH], force=True)

    def _grade(self) -> None:
        """Grade each list of items (cached verdicts looked up in one query); results go to the writer as a
        batch, or sooner when grading is slow (a sandboxed grader), so a verdict never waits long unwritten."""
        while True:
            items = self.grade_q.get()
            if items is _END:
                return
            answers = [self._extract(item) for item in items]
            keys = [a[1] for a in answers if a is not None and not isinstance(a, ResultWrite)]
            cached = {} if self.cfg.fresh else self.store.verdicts(keys)
            done, since = [], time.monotonic()
            for item, prepared in zip(items, answers):
                done.append(prepared if isinstance(prepared, ResultWrite) else self._grade_one(item, *prepared, cached))
                if time.monotonic() - since > FLUSH_S:
                    self._put(self.write_q, done, force=True)
                    done, since = [], time.monotonic()
            if done:
                self._put(self.write_q, done, force=True)

    def _common(self, item: _Item) -> dict[str, Any]:
        return dict(run=self.name, sample_id=item.sample.id, idx=item.idx, ordinal=item.ordinal,
                    prompt=item.prompt, prompt_key=item.prompt_key)

    def _infra(self, item: _Item, reason: str, response_key: str | None) -> ResultWrite:
        """An infra verdict: ours or the provider's, never cached, retried on resume."""
        return ResultWrite(**self._common(item), response_key=response_key,
                           response=None if item.response_cached or item.response.error else item.response,
                           verdict_key=None, verdict=Verdict(Status.INFRA, 0.0, {"reason": reason}), answer="",
                           verdict_cached=False)

    def _extract(self, item: _Item) -> tuple[Answer, str] | ResultWrite:
        """The answer and its verdict key, or at once an infra result (no response, or an extractor bug)."""
        if item.response.error is not None:
            return self._infra(item, item.response.error, None)
        try:
            answer = self.cfg.task.extract(item.sample, item.response.text or "")
        except Exception as exc:  # an extractor bug is ours, never the model's
            return self._infra(item, f"extractor raised {_one_line(exc)}", item.response_key)
        return answer, verdict_key(self.cfg.task, item.sample.id, answer.canonical)

    def _grade_one(self, item: _Item, answer: Answer, vkey: str, cached: dict[str, Verdict]) -> ResultWrite:
        try:
            verdict = cached.get(vkey) or self.cfg.task.grade(item.sample, answer)
        except Exception as exc:  # a grader bug is ours, never the model's: infra, retried on resume
            return self._infra(item, f"grader raised {_one_line(exc)}", item.response_key)
        if item.response.usage.get("missing_prediction"):
            verdict = Verdict(verdict.status, verdict.score, {**verdict.details, "note": "no prediction given"})
        return ResultWrite(**self._common(item), response_key=item.response_key,
                           response=None if item.response_cached else item.response, verdict_key=vkey,
                           verdict=verdict, answer=answer.canonical, verdict_cached=vkey in cached)

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
                self._advance(len(batch))
            if ended:
                return

    # --- progress -----------------------------------------------------------------------------------
    def _open_progress(self) -> None:
        if not self.cfg.progress:
            return
        from tqdm import tqdm

        opts = self.cfg.options
        builtin_size = self.cfg.task.size(opts.split) if opts.data is None else None  # --data: unknown
        size = min(filter(None, (opts.limit, builtin_size)), default=None)
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
        self._bar.set_postfix_str(text, refresh=False)
        self._bar.update(n)
