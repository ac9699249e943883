"""A run as the gate sees it: what it measured (its pin) and every attempt's verdict, per sample.

It is read from the store (`from_store`) or from an exported baseline file (harness.export), and needs no task
code either way: the gate works from verdict statuses and scores and the samples' stored metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store import Store
from ..types import Status, stable_hash


class GateError(Exception):
    """A gate that cannot be made (a missing run, a bad file, runs that measure different things); one clear
    line saying what and what to do. Exit code 1."""


@dataclass(frozen=True)
class Pin:
    """What a run measured. Two runs are comparable only when task, split, version, code, data and options
    agree; the prompt (and the model) are what a pull request changes, so they are shown, not required."""

    task: str
    split: str
    version: str
    code_sha256: str
    data_sha256: str
    args: dict[str, Any]
    prompt_sha256: str

    REQUIRED = (("version", "task version"), ("code_sha256", "task code"), ("data_sha256", "data"),
                ("args", "task options (-T)"))

    def digest(self) -> str:
        return stable_hash("pin", self.task, self.split, self.version, self.code_sha256, self.data_sha256,
                           self.args, self.prompt_sha256)

    @property
    def label(self) -> str:
        return f"{self.task}/{self.split}"

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "split": self.split, "version": self.version, "code_sha256": self.code_sha256,
                "data_sha256": self.data_sha256, "args": self.args, "prompt_sha256": self.prompt_sha256}


@dataclass(frozen=True)
class Attempt:
    """One attempt's verdict: its status and score (None for infra: no verdict is the model's)."""

    status: str
    score: float | None


@dataclass(frozen=True)
class SampleAttempts:
    id: str
    content_hash: str  # "" when the run's store predates stored samples
    metadata: dict[str, Any]
    attempts: tuple[Attempt, ...]

    @property
    def graded(self) -> list[Attempt]:
        """The attempts that count: infra (ours) and ungradable (the data's) left out."""
        return [a for a in self.attempts if a.status not in (Status.INFRA.value, Status.UNGRADABLE.value)]


@dataclass(frozen=True)
class RunResults:
    name: str
    source: str  # where it was read: "store <path>" or the exported file's path
    pin: Pin
    model: str
    status: str  # complete, incomplete, interrupted, ...
    samples_per_problem: int
    samples: dict[str, SampleAttempts]  # by sample id, in load order
    cluster_key: str | None = None  # the task's declared cluster metadata key, when its record names one
    metrics: dict[str, float] = field(default_factory=dict)  # the stored metrics, for people reading the output

    def attempt_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.samples.values():
            for a in s.attempts:
                counts[a.status] = counts.get(a.status, 0) + 1
        return counts


def pin_of_record(record: dict[str, Any], split: str, where: str) -> Pin:
    task = record.get("task")
    if not isinstance(task, dict) or not task.get("name"):
        raise GateError(f"{where}: the run's record has no task (it was made by a harness without records)")
    return Pin(task=str(task["name"]), split=str(task.get("split") or split), version=str(task.get("version", "")),
               code_sha256=str(task.get("code_sha256", "")), data_sha256=str(task.get("data_sha256", "")),
               args=dict(task.get("identity_args", task.get("args")) or {}),  # options that change results
               prompt_sha256=str((record.get("prompt_template") or {}).get("sha256", "")))


def from_store(store: Store, name: str) -> RunResults:
    """A stored run with every attempt's verdict (infra attempts kept, as infra) and its samples' metadata."""
    run = store.get_run(name)
    if run is None:
        known = ", ".join(r.name for r in store.list_runs()[:10]) or "none"
        raise GateError(f"no run named {name!r} in {store.path} (and no file of that name); runs: {known}")
    where = f"run {name!r}"
    hashes = {sid: (content_hash, metadata) for sid, _, content_hash, metadata in store.run_samples(name)}
    attempts: dict[str, list[Attempt]] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for sid, _idx, status, verdict, meta in store.run_results(name):
        if status == Status.INFRA.value or verdict is None:
            attempts.setdefault(sid, []).append(Attempt(Status.INFRA.value, None))
        else:
            attempts.setdefault(sid, []).append(Attempt(verdict.status.value, float(verdict.score)))
        metadata.setdefault(sid, meta)
    order = [sid for sid in hashes if sid in attempts] + sorted(set(attempts) - set(hashes))
    samples = {sid: SampleAttempts(sid, hashes.get(sid, ("", {}))[0], metadata[sid], tuple(attempts[sid]))
               for sid in order}
    stored = store.metrics(name)
    return RunResults(name=name, source=f"store {store.path}", pin=pin_of_record(run.record, run.split, where),
                      model=run.model, status=run.status, samples_per_problem=run.samples_per_problem,
                      samples=samples, cluster_key=(run.record.get("task") or {}).get("cluster_key"),
                      metrics=dict(stored.values) if stored else {})
