"""What the engine gives a task for one run (`Task.open(ctx)`), and takes back when the run ends.

- `sandbox_pool(recipe)`: a warm pool of sandbox containers sized from `--grade-workers`, one per image and
  limits; every pool is closed (its containers removed) by `close()`, which the runner calls on every exit path.
- `judge`: the model given with `--judge-model`, built by the same adapter factory as the model under test;
  its answers go through the store's response cache, its retries and adaptive limit (see `harness.judge`).
- `derived(kind)`: the cache of derived references (ground truth traced in a sandbox, a reference's instruction
  counts), computed once per machine whatever the run, keyed by the task's code and image.
- `image_id(tag)`: the digest of a sandbox image (built from its recipe where missing), for verdict keys.
- `log(message)`: a line on the progress display.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable

from .derived import DerivedCache

if TYPE_CHECKING:
    from .judge import Judge
    from .sandbox import ContainerLimits, WarmPool
    from .task import Task

_RECIPE_TAG = re.compile(r"^harness-([a-z0-9_-]+):[0-9a-f]+$")


class TaskContext:
    def __init__(self, task: Task, *, grade_workers: int = 2, args: dict[str, Any] | None = None,
                 judge: Judge | None = None, derived: DerivedCache | None = None,
                 log: Callable[[str], None] | None = None):
        self.task = task
        self.grade_workers = grade_workers
        self.args = dict(args or {})
        self.judge = judge
        self._derived = derived
        self._log = log or (lambda msg: print(msg, file=sys.stderr))
        self._lock = threading.Lock()
        self._pools: dict[Any, WarmPool] = {}
        self._image_ids: dict[str, str] = {}
        self.closed = False

    # --- sandboxes ------------------------------------------------------------------------------------
    def sandbox_pool(self, image: str = "python", limits: ContainerLimits | None = None, *,
                     recycle_after: int | None = None, allow_perf: bool = False) -> WarmPool:
        """A warm pool of `grade_workers` containers. `image` is a recipe name (`sandboxes/<recipe>/`, built on
        first use) or an image reference with a tag (`repo:tag`, which must exist locally: an instance image).
        The same arguments give the same pool; the context closes it (or `release_pool`, sooner)."""
        from .sandbox import ContainerLimits, InfraError, WarmPool, ensure_image
        from .sandbox.images import image_id

        limits = limits or ContainerLimits()
        key = (image, limits, recycle_after, allow_perf)
        with self._lock:
            if self.closed:
                raise InfraError("the run is over: its sandboxes are closed")
            pool = self._pools.get(key)
            if pool is None:
                if ":" in image:
                    tag, digest = image, image_id(image)
                    if digest is None:
                        raise InfraError(f"sandbox image {image!r} is not on this machine (or no engine answers)")
                else:
                    built = ensure_image(image, log=self.log)
                    tag, digest = built.tag, built.id
                self._image_ids[tag] = digest
                extra = {} if recycle_after is None else {"recycle_after": recycle_after}
                pool = WarmPool(tag, limits, size=self.grade_workers, allow_perf=allow_perf, image_id=digest,
                                **extra)
                self._pools[key] = pool
            return pool

    def open_pools(self) -> list[WarmPool]:
        """The pools opened so far and not yet closed (what a sandbox node health-checks after `Task.open`)."""
        with self._lock:
            return list(self._pools.values())

    def release_pool(self, image: str) -> None:
        """Close the pools of one image now (a per-instance image whose samples are done)."""
        with self._lock:
            keys = [k for k in self._pools if k[0] == image]
            pools = [self._pools.pop(k) for k in keys]
        for pool in pools:
            pool.close()

    def image_id(self, tag: str) -> str:
        """The digest of a local image; a harness recipe's image (`harness-<recipe>:<hash>`) is built where
        missing. Where no engine answers: `unavailable:<tag>` (the samples then get infra verdicts)."""
        with self._lock:
            if tag in self._image_ids:
                return self._image_ids[tag]
            from .sandbox import SandboxError, ensure_image
            from .sandbox.images import image_id, image_tag

            digest = image_id(tag)
            m = _RECIPE_TAG.match(tag)
            if digest is None and m and image_tag(m.group(1)) == tag:
                try:
                    digest = ensure_image(m.group(1), log=self.log).id
                except SandboxError:
                    digest = None
            if digest is None:
                return f"unavailable:{tag}"  # not memoised: an engine that comes back is seen
            self._image_ids[tag] = digest
            return digest

    @property
    def image_ids(self) -> dict[str, str]:
        """Tag -> digest of every image this run resolved (for the run's record)."""
        with self._lock:
            return dict(self._image_ids)

    # --- caches, display ----------------------------------------------------------------------------
    def derived(self, kind: str, *, code: str | None = None, image: str | None = None) -> DerivedCache.View:
        """The derived-reference cache for one kind of value. Entries are shared by every run on this machine
        with the same task name, `code` (default: the task's code hash; pass the hash of just the code that
        computes the value, so unrelated edits keep it) and `image` (the digest the value was computed on)."""
        if self._derived is None:
            self._derived = DerivedCache()
        return self._derived.view(self.task.name, kind, code or self.task.code_hash, image or "")

    def log(self, message: str) -> None:
        self._log(message)

    # --- end --------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every pool (removing its containers). Safe to call twice."""
        with self._lock:
            self.closed = True
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            try:
                pool.close()
            except Exception as exc:  # noqa: BLE001 - closing must not hide the run's own outcome
                self._log(f"warning: closing a sandbox pool failed: {exc}")
