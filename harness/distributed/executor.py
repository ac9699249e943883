"""The Ray executor: the runner's grading stage, spread over one pool actor per sandbox node.

The harness process stays the only driver and the only writer of the store. The runner hands this executor
its grading stage (`Runner._grade` calls `grade(runner)` in one thread); everything before it (loading,
rendering, generation, extraction, verdict keys and cache look-ups) and after it (the writer) is unchanged.

    open(runner)   find the sandbox nodes; get or create each node's detached actor `pool-<node id>`
                   (get_if_exists: a driver started again re-attaches to the same actors, their containers
                   warm) and ask it to open the task by the same reference and options
    grade(runner)  the feeder: take (sample, answer) from the runner (`next_to_grade`), send it to the ready
                   node with the fewest in flight, at most `in_flight` per node (backpressure: the runner's
                   bounded queues fill and its earlier stages wait)
    collector      a thread: results in completion order (ray.wait) to the runner's writer (`graded`,
                   `not_graded`); faults
    close()        the run's task is closed on every node (their containers removed); the actors stay

Faults. A node that dies (RayActorError, ActorDiedError, ActorUnavailableError) is taken out of rotation and
its samples in flight go back to the queue, to the other nodes (a sample re-queued MAX_REQUEUES times gets
an infra verdict instead: it may be what kills them); when no node is left, the remaining samples get infra
verdicts (retried on resume) and the run says why. A node that cannot load, open or health-check the task
(no Docker engine, no image, other code) is taken out of rotation with a one-line message naming it. Actor
calls are never retried by Ray (max_task_retries=0), and a result is written only for the call that is the
sample's current one, so no sample is written twice; a driver killed outright loses only the samples in
flight, and the store's resume skips the rest. After Ctrl-C nothing more is sent, the samples in flight get
the runner's STOP_GRACE_S to come back, and whatever comes back later is dropped (graded again on resume).

Verdict keys are the driver's: the task's grader fingerprint is computed here, from this machine's image
digests where it has them, else from a node's; a node whose digest for the same tag differs is named (a
node with another build of the image).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..context import TaskContext
from ..runner import GRADING_ENDED, STOP_GRACE_S
from .cluster import connect, disconnect, import_ray, sandbox_nodes
from .pool_actor import PROTOCOL, SandboxNode
from .settings import ExecutorError, RaySettings

DISCOVER_S = 10.0  # how often the cluster is asked for sandbox nodes that joined during the run
MAX_REQUEUES = 2  # a sample whose node was lost this many times gets an infra verdict instead
ACTOR_THREADS = 256  # the pool actor's threads: in-flight samples of every driver, and control calls
CLOSE_TIMEOUT_S = 60.0  # closing the run's task on the nodes (a second Ctrl-C cuts the wait short)
POLL_S = 0.05


@dataclass
class _Work:
    wid: int
    group: list[Any]  # the runner's items that share this answer
    answer: Any
    vkey: str
    requeues: int = 0
    written: bool = False  # its result went to the writer: any other is dropped


@dataclass
class _Node:
    node_id: str
    ip: str
    handle: Any
    state: str = "starting"  # starting -> ready -> out
    started: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    graded: int = 0
    pid: int | None = None  # of its pool actor, and the machine it runs on (from attach)
    host: str = ""
    why_out: str = ""
    gone: str = ""  # its pool actor "died" (Ray says so), or was "unreachable" (it may be alive: Ray cannot tell)

    @property
    def name(self) -> str:
        return f"pool-{self.node_id}"

    @property
    def label(self) -> str:
        return f"node {self.node_id[:12]} ({self.ip})"


class RayExecutor:
    def __init__(self, settings: RaySettings, log: Callable[[str], None] | None = None):
        self.settings = settings
        self._log = log or (lambda msg: None)
        self._connected = False  # Ray is usable from this process
        self._ours = False  # ... because this executor connected it (and so disconnects it)
        self._cond = threading.Condition()
        self._nodes: dict[str, _Node] = {}
        self._calls: dict[Any, tuple[_Work, _Node]] = {}  # grade calls in flight
        self._control: dict[Any, tuple[str, _Node]] = {}  # attach / open calls in flight
        self._requeue: deque[_Work] = deque()
        self._ids = itertools.count()
        self._requeued = 0
        self._written = 0  # answers whose results went to the writer
        self._writing = True  # False once the feeder gave up after Ctrl-C: later results are dropped
        self._closing = threading.Event()
        self._collector: threading.Thread | None = None
        self._generators: list[Any] = []
        self._discovered = 0.0
        self.runner: Any = None
        self.ctx: DriverContext | None = None

    # --- the runner's hooks -------------------------------------------------------------------------------
    def open(self, runner: Any, judge: Any = None) -> "DriverContext":
        """The driver's context for the run, once the sandbox nodes have been asked to open its task."""
        cfg = runner.cfg
        if judge is not None:
            raise ExecutorError("--executor ray does not grade with a judge model yet (the judge's answers are "
                                "cached in the store, which only the driver writes): run this task with "
                                "--executor local")
        self.runner = runner
        self._log = runner.log
        self._ensure_connected()
        self.key, self.session = runner.task_key, runner.name
        self.ref = runner.record.get("task_ref") or str(cfg.task.folder)
        self.args = dict(cfg.options.args)
        self.slots = self.settings.node_slots(cfg.grade_workers)
        self.cap = self.settings.node_in_flight(cfg.grade_workers)
        nodes = sandbox_nodes(self.settings.resource)
        if not nodes:
            raise ExecutorError(
                f"the Ray cluster has no node offering the resource {self.settings.resource!r}: start sandbox "
                f"nodes with `ray start --address HEAD:6379 --resources='{{\"{self.settings.resource}\": 1}}'`")
        self.ctx = DriverContext(cfg.task, grade_workers=cfg.grade_workers, args=cfg.options.args,
                                 log=runner.log, resolve=self._remote_image_id)
        for n in nodes:
            self._start_node(n["node_id"], n["ip"])
        self._discovered = time.monotonic()
        self._closing.clear()
        self._writing = True
        self._collector = threading.Thread(target=self._collect, name="ray-collector", daemon=True)
        self._collector.start()
        return self.ctx

    def grade(self, runner: Any) -> None:
        """The feeder (the runner's one grading thread): until the runner's queue ends and nothing is in flight."""
        ended = False
        while True:
            if runner.stop.is_set():
                self._wind_down(runner)
                return
            work = self._next_work(runner, ended)
            if work is GRADING_ENDED:
                ended = True
                continue
            if work is None:
                if ended and self._all_done():
                    break
                continue
            node = self._wait_for_room(runner)
            if runner.stop.is_set():
                continue  # stopping: not graded this session (its responses are in the store)
            if node is None:
                self._fail([work], self._why_none_left())
                continue
            self._submit(node, work)
        self._summary()

    def close(self) -> None:
        """Close the run's task on every node (their containers removed), stop the collector, disconnect."""
        if self.ctx is not None and self._connected:
            ray = import_ray()
            with self._cond:
                # every node whose actor may hold the task open: taken out of rotation (too slow to open it,
                # another protocol, unreachable for a while) is not dead
                alive = [n for n in self._nodes.values() if n.gone != "died"]
                orphans = [(n.host, n.pid, n.gone == "died") for n in self._nodes.values()
                           if n.gone and n.pid is not None]
            closing = {}
            for n in alive:
                try:
                    closing[n.handle.close_task.remote(self.key, self.session)] = n
                except Exception:  # noqa: BLE001 - the node is gone: nothing left to close there
                    pass
            answering = [closing[ref] for ref in self._wait_all(ray, list(closing))
                         if closing[ref].state != "out" and _answered(ray, ref)]
            if orphans and answering:
                # a lost node's containers: its machine removes them when a pool actor starts there again; where
                # a live node shares its machine (a node process died, the machine did not), now: those of an
                # actor Ray says is dead, and those of one that was unreachable once its process is gone
                self._wait_all(ray, [n.handle.remove_left_by.remote(orphans) for n in answering])
        self._closing.set()
        if self._collector is not None:
            self._collector.join(timeout=5)
        for actor in self._generators:
            try:
                import_ray().kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._generators.clear()
        if self._ours:
            disconnect()
            self._ours = False
        self._connected = False

    def _wait_all(self, ray: Any, refs: list[Any]) -> list[Any]:
        """The refs among `refs` that came back within CLOSE_TIMEOUT_S (less after a second Ctrl-C)."""
        deadline, done = time.monotonic() + CLOSE_TIMEOUT_S, []
        pending = list(refs)
        while pending and time.monotonic() < deadline and not (self.runner is not None and self.runner.hurried):
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=0.2)
            done += ready
        return done

    def generation_adapter(self, spec: str, params: Any) -> Any:
        """A local model (hf:, vllm:) in a generation actor with `gpus` GPUs (see harness.distributed.generation)."""
        from .generation import RemoteModel

        self._ensure_connected()
        model = RemoteModel(spec, params, gpus=self.settings.gpus, start_timeout=self.settings.start_timeout)
        self._generators.append(model.actor)
        return model

    # --- nodes ----------------------------------------------------------------------------------------------
    def _ensure_connected(self) -> None:
        if not self._connected:
            self._ours = connect(self.settings, self._log)  # False: our caller had connected it, theirs to end
            self._connected = True

    def _start_node(self, node_id: str, ip: str) -> None:
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_cls = ray.remote(SandboxNode)
        handle = actor_cls.options(
            name=f"pool-{node_id}", namespace=self.settings.namespace, lifetime="detached", get_if_exists=True,
            num_cpus=0, resources={self.settings.resource: 1}, max_concurrency=ACTOR_THREADS, max_restarts=0,
            max_task_retries=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        ).remote()
        node = _Node(node_id, ip, handle)
        with self._cond:
            self._nodes[node_id] = node
            self._control[handle.attach.remote()] = ("attach", node)
            self._open_on(node)
            self._cond.notify_all()

    def _open_on(self, node: _Node) -> None:
        """Ask `node` to open the run's task (caller holds the lock)."""
        node.state, node.started = "starting", time.monotonic()
        ref = node.handle.open_task.remote(self.key, self.ref, self.args, self.slots, self.session,
                                           self.settings.idle_close)
        self._control[ref] = ("open", node)

    def _take_out(self, node: _Node, why: str) -> None:
        """Out of rotation, with one line (caller holds the lock)."""
        if node.state == "out":
            return
        node.state, node.why_out = "out", why
        self._log(f"ray: {node.label} taken out of rotation: {why}")
        if not any(n.state != "out" for n in self._nodes.values()):
            self._log(f"ray: {self._why_none_left()}")
        self._cond.notify_all()

    def _why_none_left(self) -> str:
        reasons = "; ".join(f"{n.label}: {n.why_out}" for n in self._nodes.values()) or "none was found"
        return (f"no Ray sandbox node is left to grade on ({reasons}); the samples not graded get infra "
                f"verdicts: run the same command again to retry them")

    def _remote_image_id(self, tag: str) -> str:
        """A ready node's digest of `tag` (for verdict keys when this machine has no such image)."""
        ray = import_ray()
        deadline = time.monotonic() + self.settings.start_timeout
        with self._cond:
            while True:
                ready = [n for n in self._nodes.values() if n.state == "ready"]
                if ready or not any(n.state == "starting" for n in self._nodes.values()) \
                        or time.monotonic() > deadline:
                    break
                self._cond.wait(POLL_S)
        if not ready:
            return f"unavailable:{tag}"
        try:
            return ray.get(ready[0].handle.image_id.remote(tag), timeout=CLOSE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - lost meanwhile
            return f"unavailable:{tag}"

    # --- feeding --------------------------------------------------------------------------------------------
    def _next_work(self, runner: Any, ended: bool) -> Any:
        """A re-queued sample first, else the runner's next one (or GRADING_ENDED); None after POLL_S."""
        with self._cond:
            if self._requeue:
                return self._requeue.popleft()
            if ended:
                self._cond.wait(POLL_S)
                return self._requeue.popleft() if self._requeue else None
        got = runner.next_to_grade(POLL_S)
        if got is None or got is GRADING_ENDED:
            return got
        group, answer, vkey = got
        return _Work(next(self._ids), group, answer, vkey)

    def _all_done(self) -> bool:
        with self._cond:
            return not self._calls and not self._requeue

    def _wait_for_room(self, runner: Any) -> _Node | None:
        """The ready node with the fewest samples in flight, waiting while every one is full or starting;
        None when no node is left."""
        with self._cond:
            while not runner.stop.is_set():
                ready = [n for n in self._nodes.values() if n.state == "ready" and n.in_flight < self.cap]
                if ready:
                    return min(ready, key=lambda n: n.in_flight)
                if not any(n.state != "out" for n in self._nodes.values()):
                    return None
                self._cond.wait(POLL_S)
        return None

    def _submit(self, node: _Node, work: _Work) -> None:
        first = work.group[0]
        try:
            ref = node.handle.grade.remote(self.key, first.sample, work.answer)
        except Exception as exc:  # noqa: BLE001 - cannot be sent (pickling): ours, retried on resume
            self._write(work, "raised", f"could not be sent to the Ray node: {type(exc).__name__}: {exc}")
            return
        with self._cond:
            self._calls[ref] = (work, node)
            node.in_flight += 1
            self._cond.notify_all()

    def _wind_down(self, runner: Any) -> None:
        """After Ctrl-C: nothing more is sent; samples in flight get STOP_GRACE_S to come back (as in a local
        run), and what comes back later is dropped: the runner's writer ends after this, and those samples are
        graded again on resume."""
        deadline = time.monotonic() + STOP_GRACE_S
        with self._cond:
            self._requeue.clear()
            while self._calls and time.monotonic() < deadline and not runner.hurried:
                self._cond.wait(POLL_S)
            self._writing = False

    # --- collecting -----------------------------------------------------------------------------------------
    def _collect(self) -> None:
        ray = import_ray()
        while not self._closing.is_set():
            with self._cond:
                refs = list(self._calls) + list(self._control)
                if not refs:
                    self._cond.wait(POLL_S)
            try:
                ready = []
                if refs:
                    ready, _ = ray.wait(refs, num_returns=1, timeout=POLL_S)
                    if ready:
                        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                for ref in ready:
                    self._handle(ray, ref)
                self._check_starts()
            except Exception as exc:  # noqa: BLE001 - this thread must not die: the feeder waits on it
                self._log(f"ray: collecting results failed: {type(exc).__name__}: {exc}")
                time.sleep(POLL_S)

    def _handle(self, ray: Any, ref: Any) -> None:
        with self._cond:
            call = self._calls.get(ref)
            control = None if call else self._control.pop(ref, None)
        if control:
            self._on_control(ray, ref, *control)
            return
        if call is None:
            return
        work, node = call
        try:
            self._settle(ray, ref, work, node)
        except Exception as exc:  # noqa: BLE001 - a bug here: the sample gets an infra verdict, not lost
            self._fail([work], f"collecting its result from {node.label} failed: {type(exc).__name__}: {exc}")
        finally:  # only now: until its result is with the writer (or re-queued), the sample counts as in flight
            with self._cond:
                del self._calls[ref]
                node.in_flight -= 1
                self._cond.notify_all()

    def _settle(self, ray: Any, ref: Any, work: _Work, node: _Node) -> None:
        try:
            status, value = ray.get(ref)
        except ray.exceptions.RayActorError as exc:  # ActorDiedError, ActorUnavailableError: the node is gone
            with self._cond:
                lost = node.in_flight
                node.gone = _gone(ray, exc, node.gone)
                if node.state != "out":
                    self._take_out(node, f"lost ({type(exc).__name__}); its {lost} sample(s) in flight go to "
                                         f"the other nodes")
                self._requeue_or_fail(work, f"{node.label} was lost while grading it")
            return
        except ray.exceptions.RayError as exc:  # the call failed in Ray itself (a result that cannot be read)
            status, value = "raised", f"the Ray call failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        if status == "not-open":  # the node closed the task while idle: open it again, send the sample again
            with self._cond:
                if node.state == "ready":
                    self._open_on(node)
                self._requeue.appendleft(work)
                self._cond.notify_all()
            return
        with self._cond:
            node.graded += 1
        self._write(work, status, value)

    def _requeue_or_fail(self, work: _Work, why: str) -> None:
        """Caller holds the lock."""
        work.requeues += 1
        if work.requeues > MAX_REQUEUES:
            self._fail([work], f"{why}, {work.requeues} times: not sent again this session (retried on resume)")
            return
        self._requeued += 1
        self._requeue.appendleft(work)
        self._cond.notify_all()

    def _on_control(self, ray: Any, ref: Any, kind: str, node: _Node) -> None:
        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            with self._cond:
                node.gone = _gone(ray, exc, node.gone)
                self._take_out(node, f"its pool actor is gone ({type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0][:160]})")
            return
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            with self._cond:
                self._take_out(node, str(cause).strip().splitlines()[0] if str(cause).strip() else repr(cause))
            return
        if kind == "attach":
            node.pid, node.host = result["pid"], result["host"]
            if result.get("protocol") != PROTOCOL:
                with self._cond:
                    self._take_out(node, f"its pool actor {node.name} speaks protocol {result.get('protocol')}, "
                                         f"this harness {PROTOCOL}: kill it (ray.kill(ray.get_actor("
                                         f"'{node.name}', namespace='{self.settings.namespace}'))) and run again")
                return
            if result["attaches"] > 1:
                warm = "its task still open: warm" if self.key in result["tasks"] else "idle"
                self._log(f"ray: re-attached to {node.name[:17]} on {node.ip} (pid {node.pid}, up "
                          f"{result['age_s']:.0f} s, {warm})")
            else:
                stale = result["stale_removed"]
                note = f", removed {stale} stale container(s)" if isinstance(stale, int) and stale else ""
                self._log(f"ray: started {node.name[:17]} on {node.ip} (pid {node.pid}{note})")
            return
        if kind == "open":
            for line in result.get("log", []):
                self._log(f"ray: {node.label}: {line}")
            with self._cond:
                if node.state == "out":
                    return
                node.state = "ready"
                self._cond.notify_all()
            self._compare_images(node, result.get("image_ids", {}))

    def _compare_images(self, node: _Node, image_ids: dict[str, str]) -> None:
        for tag, digest in image_ids.items():
            mine = self.ctx.image_id(tag) if self.ctx is not None else digest
            if mine != digest:
                self._log(f"ray: {node.label} grades with {tag} = {digest[:19]}, the driver's is {mine[:19]}: a "
                          f"node with another build of the image (verdict keys use the driver's)")

    def _check_starts(self) -> None:
        """Nodes that take too long to open the task are taken out; nodes that joined are started."""
        now = time.monotonic()
        if now - self._discovered > DISCOVER_S:
            self._discovered = now
            try:
                joined = [n for n in sandbox_nodes(self.settings.resource) if n["node_id"] not in self._nodes]
            except Exception:  # noqa: BLE001 - the head is busy: next time
                joined = []
            for n in joined:
                self._log(f"ray: node {n['node_id'][:12]} ({n['ip']}) joined the cluster")
                self._start_node(n["node_id"], n["ip"])
        with self._cond:
            for node in self._nodes.values():
                if node.state == "starting" and now - node.started > self.settings.start_timeout:
                    self._take_out(node, f"did not open the task within {self.settings.start_timeout:.0f} s "
                                         f"(raise --executor-arg start_timeout=...; a node whose resource "
                                         f"{self.settings.resource!r} is held by a pool actor of another "
                                         f"namespace never starts one of this run's)")

    # --- results ----------------------------------------------------------------------------------------
    def _write(self, work: _Work, status: str, value: Any) -> None:
        """The runner's results for one answer, once: a second result for the same sample is dropped."""
        with self._cond:
            if not self._first_result(work):
                return
            self._written += 1
        try:
            if status == "ok":
                self.runner.graded(work.group, work.answer, work.vkey, value)
            else:
                self.runner.not_graded(work.group, f"grader raised {value} (sample {work.group[0].sample.id})")
        except BaseException:  # nothing reached the writer (the caller writes an infra verdict instead)
            with self._cond:
                work.written = False
                self._written -= 1
            raise

    def _fail(self, works: list[_Work], reason: str) -> None:
        for work in works:
            with self._cond:
                if not self._first_result(work):
                    continue
            self.runner.not_graded(work.group, reason)

    def _first_result(self, work: _Work) -> bool:
        """False for a result that must not be written (caller holds the lock): one that came back after the
        feeder gave up (Ctrl-C), or a second one for the same sample (a re-sent sample whose first call failed
        yet graded, a failure while collecting it)."""
        if not self._writing or work.written:
            return False
        work.written = True
        return True

    def _summary(self) -> None:
        with self._cond:
            nodes = list(self._nodes.values())
        if not self._written and not self._requeued:
            return
        per = ", ".join(f"{n.node_id[:12]} {n.graded}" + (" (out)" if n.state == "out" else "") for n in nodes)
        again = f"; {self._requeued} re-sent after a node was lost" if self._requeued else ""
        self._log(f"ray: graded {self._written} answer(s) on {len(nodes)} node(s): {per}{again}")


def _answered(ray: Any, ref: Any) -> bool:
    """A call that came back did so without an error."""
    try:
        ray.get(ref, timeout=0)
        return True
    except Exception:  # noqa: BLE001 - the actor is gone, or the call failed there
        return False


def _gone(ray: Any, exc: BaseException, before: str) -> str:
    """"died" when Ray says the pool actor is dead (ActorDiedError), else "unreachable" (ActorUnavailableError,
    what a node's loss first looks like: the actor may be alive and grading, its containers in use)."""
    died = getattr(ray.exceptions, "ActorDiedError", None)
    return "died" if before == "died" or died is None or isinstance(exc, died) else "unreachable"


class DriverContext(TaskContext):
    """The driver's TaskContext under --executor ray: the task is opened here too (for its grader fingerprint,
    its options), but sandboxes live on the nodes, so a pool here is a placeholder that gives its image's
    digest and refuses to run anything. Image digests come from this machine where it has the image, else
    from a ready node (never built here)."""

    def __init__(self, task: Any, *, resolve: Callable[[str], str], **kwargs: Any):
        super().__init__(task, **kwargs)
        self._resolve = resolve

    def sandbox_pool(self, image: str = "python", limits: Any = None, **_: Any) -> "_DriverPool":
        from ..sandbox.images import image_tag

        return _DriverPool(self, image if ":" in image else image_tag(image))

    def image_id(self, tag: str) -> str:
        from ..sandbox.images import image_id

        with self._lock:
            if tag in self._image_ids:
                return self._image_ids[tag]
        try:
            digest = image_id(tag)
        except Exception:  # noqa: BLE001 - no engine on the driver: ask a node
            digest = None
        digest = digest or self._resolve(tag)
        if not digest.startswith("unavailable:"):
            with self._lock:
                self._image_ids[tag] = digest
        return digest


class _DriverPool:
    def __init__(self, ctx: DriverContext, image: str):
        self.ctx, self.image = ctx, image

    @property
    def image_id(self) -> str:
        return self.ctx.image_id(self.image)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        from ..sandbox import InfraError

        raise InfraError("under --executor ray samples are graded on the sandbox nodes, not on the driver")

    def wait_warm(self, timeout_s: float = 0.0) -> None:
        pass

    def close(self) -> None:
        pass
