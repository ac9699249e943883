"""Named subsets of a task's samples (`--subset pr`): small, deterministic, and keeping the benchmark's mix.

A task declares `subsets = {"pr": 60}`. The engine picks that many samples: the samples are grouped by the
task's first metadata key (its strata: a source dataset, a language, a repository), each stratum gets a share of
the size proportional to its own (largest remainders; every stratum at least one while the size allows), and
within a stratum the samples whose sha256(id) is smallest are taken. So the choice depends only on the sample
ids and the strata: the same data gives the same subset on every machine (new data can shift a stratum's share,
and so which samples are in).
"""

from __future__ import annotations

import hashlib
from typing import Iterable

from .types import Sample


def choose(samples: Iterable[Sample], size: int, stratum_key: str | None) -> set[str]:
    """The ids of the subset of `size` samples (all of them when there are no more)."""
    strata: dict[str, list[tuple[str, str]]] = {}
    for s in samples:
        label = str(s.metadata.get(stratum_key)) if stratum_key else ""
        strata.setdefault(label, []).append((hashlib.sha256(s.id.encode("utf-8")).hexdigest(), s.id))
    total = sum(len(v) for v in strata.values())
    if total <= size:
        return {sid for v in strata.values() for _, sid in v}
    quotas = _allocate({k: len(v) for k, v in strata.items()}, size)
    chosen: set[str] = set()
    for label, members in strata.items():
        chosen.update(sid for _, sid in sorted(members)[:quotas[label]])
    return chosen


def _allocate(sizes: dict[str, int], size: int) -> dict[str, int]:
    total = sum(sizes.values())
    exact = {k: size * n / total for k, n in sizes.items()}
    quotas = {k: min(sizes[k], max(1 if size >= len(sizes) else 0, int(x))) for k, x in exact.items()}
    order = sorted(sizes, key=lambda k: (-(exact[k] - int(exact[k])), k))  # largest remainders first
    while sum(quotas.values()) < size:
        grew = False
        for k in order:
            if sum(quotas.values()) >= size:
                break
            if quotas[k] < sizes[k]:
                quotas[k] += 1
                grew = True
        if not grew:
            break
    while sum(quotas.values()) > size:  # the minimum of one per stratum overshot: take from the largest
        k = max(quotas, key=lambda q: (quotas[q], q))
        quotas[k] -= 1
    return quotas
