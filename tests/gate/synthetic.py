"""Synthetic runs for the gate's tests and bench: paired runs of a known effect, built as the gate reads them."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from harness.gate.runs import Attempt, Pin, RunResults, SampleAttempts

PIN = Pin(task="synthetic", split="default", version="1", code_sha256="c" * 64, data_sha256="d" * 64, args={},
          prompt_sha256="p" * 64)


def run(name: str, outcomes: Sequence[Sequence[Any]], pin: Pin = PIN, clusters: Sequence[Any] | None = None,
        model: str = "model", ids: Sequence[str] | None = None) -> RunResults:
    """A run whose sample i has the attempts outcomes[i]: True/False (pass/fail), a float (a scored pass), or a
    status name ('infra', 'ungradable', 'error')."""
    samples = {}
    for i, attempts in enumerate(outcomes):
        sid = ids[i] if ids is not None else f"s{i:05d}"
        meta = {} if clusters is None else {"program": clusters[i]}
        samples[sid] = SampleAttempts(sid, f"h{sid}", meta, tuple(_attempt(a) for a in attempts))
    return RunResults(name=name, source="synthetic", pin=pin, model=model, status="complete",
                      samples_per_problem=max((len(o) for o in outcomes), default=1), samples=samples)


def _attempt(a: Any) -> Attempt:
    if isinstance(a, (bool, np.bool_)):
        return Attempt("pass" if a else "fail", float(a))
    if isinstance(a, str):
        return Attempt(a, None if a == "infra" else 0.0)
    return Attempt("pass" if a > 0 else "fail", float(a))


def binary_pair(rng: np.random.Generator, n: int, drop: float = 0.0, clusters: int | None = None,
                cluster_sd: float = 0.0, attempts: int = 1) -> tuple[RunResults, RunResults, list | None]:
    """Two runs on n items of varying difficulty. Under no drop the two are exchangeable item by item; with
    clusters, each cluster shifts the candidate's log-odds by N(0, cluster_sd) (better on some programs, worse on
    others, no difference on average: what fools a test that ignores clusters). `drop` lowers the candidate's
    pass probability by that much on every item."""
    logit = rng.normal(0.5, 1.5, size=n)
    labels = None
    if clusters:
        labels = list(np.sort(rng.integers(0, clusters, size=n)))
        shift = rng.normal(0, cluster_sd, size=clusters)[labels]
    else:
        shift = np.zeros(n)
    p_base = 1 / (1 + np.exp(-(logit - shift / 2)))
    p_cand = np.clip(1 / (1 + np.exp(-(logit + shift / 2))) - drop, 0, 1)
    base = rng.random((n, attempts)) < p_base[:, None]
    cand = rng.random((n, attempts)) < p_cand[:, None]
    return run("baseline", base.tolist(), clusters=labels), run("candidate", cand.tolist(), clusters=labels), labels
