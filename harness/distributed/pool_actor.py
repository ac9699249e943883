"""The pool actor: one per sandbox node, named `pool-<node id>`, detached, holding that node's warm sandboxes.

It loads a task by the same reference and options as the driver, opens it with a `TaskContext` of its own (so
the warm container pools live on this node) and grades one (sample, answer) per call, `slots` at a time (a
threaded actor: `Task.grade` is synchronous). Several tasks, or one task with other options, can be open at
once, keyed by the driver's task key; a driver that comes back (the same run) finds its task still open and
its containers warm. It never touches the store: verdicts go back to the driver, which writes them.

At start it removes the containers left by dead harness processes on its machine (by label). A task is
closed (its containers removed) when the last run using it closes it, or when it has been idle for
`idle_close` seconds (a driver that was killed and never came back).

Trust: the actor does what any caller in its Ray namespace asks, and Ray lets any process that reaches the
cluster (and holds its token, where token authentication is on) call it. `open_task` imports the task by the
reference the driver gives (a built-in name, an installed plug-in, or a folder's path on this node) and runs
that task's code here, as the Ray user, outside any sandbox: only model-written code runs in containers. So
the driver is trusted as much as the cluster itself is; keep Ray's ports inside the cluster (README,
"Security").
"""

from __future__ import annotations

import copy
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

PROTOCOL = 2  # bumped when the calls below change: a driver replaces an actor of another protocol
REAP_EVERY_S = 30.0
HEALTH_TIMEOUT_S = 60.0
EXIT_WAIT_S = 10.0  # how long remove_left_by waits for an unreachable actor's process to exit


def _one_line(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


class NodeUnusable(Exception):
    """This node cannot grade the task (no Docker engine, no image, other code); the message says why."""


@dataclass
class _OpenTask:
    task: Any
    ctx: Any
    slots: threading.BoundedSemaphore
    idle_close: float
    sessions: set[str] = field(default_factory=set)
    last_used: float = field(default_factory=time.monotonic)
    active: int = 0  # grade calls running or waiting for a slot
    graded: int = 0


class SandboxNode:
    """Made into a Ray actor by the executor (`ray.remote(SandboxNode).options(...)`)."""

    def __init__(self) -> None:
        import ray

        self._setup(ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address())

    def _setup(self, node_id: str, ip: str, reap_every: float = REAP_EVERY_S) -> None:
        """Everything but asking Ray where it runs (the tests build one without Ray)."""
        self.node_id, self.ip = node_id, ip
        self.started = time.time()
        self.attaches = 0
        self._tasks: dict[str, _OpenTask] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.stale_removed = self._remove_stale()
        threading.Thread(target=self._reap, args=(reap_every,), name="pool-reaper", daemon=True).start()

    # --- control ------------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        with self._lock:
            tasks = {k: {"name": t.task.name, "sessions": sorted(t.sessions), "graded": t.graded}
                     for k, t in self._tasks.items()}
        return {"protocol": PROTOCOL, "node_id": self.node_id, "ip": self.ip, "pid": os.getpid(),
                "host": socket.gethostname(), "age_s": time.time() - self.started, "attaches": self.attaches,
                "stale_removed": self.stale_removed, "tasks": tasks}

    def attach(self) -> dict[str, Any]:
        """A driver starts using this actor: its info, with how many drivers came before."""
        with self._lock:
            self.attaches += 1
        return self.info()

    def open_task(self, key: str, ref: str, args: dict[str, Any], slots: int, session: str,
                  idle_close: float) -> dict[str, Any]:
        """Open the task `ref` with `args` for the run `session` (a no-op when it is open already: `reused`).
        Raises NodeUnusable when this node cannot grade it."""
        with self._key_lock(key):
            with self._lock:
                open_ = self._tasks.get(key)
                if open_ is not None:
                    open_.sessions.add(session)
                    open_.last_used = time.monotonic()
                    return {"reused": True, "image_ids": open_.ctx.image_ids, "log": []}
            lines: list[str] = []
            task, ctx = self._open(key, ref, args, slots, lines)
            with self._lock:
                self._tasks[key] = _OpenTask(task, ctx, threading.BoundedSemaphore(slots), idle_close, {session})
            return {"reused": False, "image_ids": ctx.image_ids, "log": lines}

    def close_task(self, key: str, session: str) -> bool:
        """The run `session` is done with the task: closed (containers removed) when no other run uses it."""
        with self._key_lock(key):
            with self._lock:
                open_ = self._tasks.get(key)
                if open_ is None:
                    return False
                open_.sessions.discard(session)
                if open_.sessions:
                    return False
                del self._tasks[key]
            self._close(open_)
            return True

    def remove_left_by(self, owners: list[tuple[str, int, bool]]) -> int:
        """Remove the containers of these (host, pid, dead) pool actors, lost to their driver, where they ran on
        this machine (a node process that died on a machine that did not, sharing its Docker engine). An actor
        Ray says is dead may take a moment to exit, so its containers go by owner; one that was only
        unreachable may be alive, serving other runs: its containers go only once its process is gone (waiting
        up to EXIT_WAIT_S for it)."""
        from ..sandbox.engine import owned_by, pid_alive, remove_containers

        here, removed = socket.gethostname(), 0
        for host, pid, dead in owners:
            if host != here:
                continue
            if not dead:
                deadline = time.monotonic() + EXIT_WAIT_S
                while pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.2)
                if pid_alive(pid):
                    continue
            removed += remove_containers(only_stale=False, labels=owned_by(pid, here))
        return removed

    def image_id(self, tag: str) -> str:
        """The digest of the image `tag` on this node (`unavailable:<tag>` when it has none)."""
        from ..sandbox.images import image_id

        try:
            digest = image_id(tag)
        except Exception:  # noqa: BLE001 - no engine answers
            digest = None
        return digest or f"unavailable:{tag}"

    # --- grading ------------------------------------------------------------------------------------------
    def grade(self, key: str, sample: Any, answer: Any) -> tuple[str, Any]:
        """("ok", Verdict), ("raised", the grader's exception in one line), or ("not-open", "") when the task is
        not open here (closed while idle): the driver opens it again."""
        from ..types import Verdict

        with self._lock:
            open_ = self._tasks.get(key)
            if open_ is None:
                return "not-open", ""
            open_.active += 1
        try:
            with open_.slots:
                verdict = open_.task.grade(sample, answer)
            if not isinstance(verdict, Verdict):
                raise TypeError(f"grade() returned {type(verdict).__name__}, not a Verdict")
        except Exception as exc:  # the runner turns it into an infra verdict, as in a local run
            return "raised", _one_line(exc)
        finally:
            with self._lock:
                open_.active -= 1
                open_.graded += 1
                open_.last_used = time.monotonic()
        return "ok", verdict

    # --- inside ---------------------------------------------------------------------------------------------
    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _open(self, key: str, ref: str, args: dict[str, Any], slots: int, lines: list[str]) -> tuple[Any, Any]:
        from ..context import TaskContext
        from ..keys import task_key
        from ..registry import get_task

        where = f"node {self.node_id[:12]} ({self.ip})"
        try:
            task = copy.copy(get_task(ref))  # an instance of its own: another key may use the same module's TASK
        except Exception as exc:
            raise NodeUnusable(f"{where} cannot load the task {ref!r}: {_one_line(exc)}") from None
        mine = task_key(task.name, task.version, task.code_hash, task.identity_args(args))
        if mine != key:
            raise NodeUnusable(f"{where} has other code for task {task.name!r} (code {task.code_hash[:12]}) or "
                               f"another harness version: install the same harness and task there (a pool "
                               f"actor started before an upgrade keeps the old code: `ray stop` that node, or "
                               f"ray.kill its actor)")
        ctx = TaskContext(task, grade_workers=slots, args=args, log=lines.append)
        try:
            task.open(ctx)
            self._health(task, ctx)
        except Exception as exc:
            try:
                task.close()
            finally:
                ctx.close()
            raise NodeUnusable(f"{where} cannot start sandbox containers for task {task.name!r}: "
                               f"{_one_line(exc)}") from None
        return task, ctx

    @staticmethod
    def _health(task: Any, ctx: Any) -> None:
        """The task's image resolves here and every pool it opened runs a command."""
        from ..sandbox import RunLimits

        if task.grader_image:
            digest = ctx.image_id(task.grader_image)
            if digest.startswith("unavailable:"):
                raise RuntimeError(f"the image {task.grader_image} is not available (is a Docker engine running?)")
        for pool in ctx.open_pools():  # the pools task.open asked for
            pool.wait_warm(HEALTH_TIMEOUT_S)
            result = pool.run(["true"], limits=RunLimits(timeout_s=HEALTH_TIMEOUT_S))
            if result.exit_code != 0:
                raise RuntimeError(f"a health check in {pool.image} ended {result.ending.value} "
                                   f"(exit {result.exit_code}): {result.detail or result.stderr[-200:]}")

    @staticmethod
    def _close(open_: _OpenTask) -> None:
        try:
            open_.task.close()
        finally:
            open_.ctx.close()

    @staticmethod
    def _remove_stale() -> int | str:
        from ..sandbox import engine_available, remove_containers

        ok, why = engine_available()
        if not ok:
            return f"no Docker engine: {why.splitlines()[0]}"
        try:
            return remove_containers(only_stale=True)
        except Exception as exc:  # noqa: BLE001 - cleanup must not stop the node from starting
            return f"stale container cleanup failed: {_one_line(exc)}"

    def _reap(self, every: float) -> None:
        while True:
            time.sleep(every)
            now = time.monotonic()
            with self._lock:
                idle = [k for k, t in self._tasks.items() if not t.active and now - t.last_used > t.idle_close]
                closing = [self._tasks.pop(k) for k in idle]
            for open_ in closing:
                try:
                    self._close(open_)
                except Exception:  # noqa: BLE001 - the next driver reopens it
                    pass
