"""A warm pool of runner containers: one image, one ContainerLimits, `size` containers, one sample at a time each.

Each container runs our runner (sandboxes/common/runner.py) as its main process (PID 1, not dumpable); we
talk to it over the container's attached stdin/stdout, and every answer must carry the random id of its
request.  A container is retired (removed, replaced in the background) after `recycle_after` samples, and
at once after anything odd: a sample that timed out, hit a limit, crashed, left processes, files or System V
IPC objects behind, or a runner that does not answer or answers with another id.  So one sample cannot
change another's verdict: at worst it spoils its own container, which nobody uses again.

Why recycle_after is RECYCLE_AFTER (1000), not a few dozen: recycling is not what isolates samples.  Each
sample already gets a fresh child process and work dir and its own process group; after it the runner kills
every other process of its user, empties the writable places (/tmp, /dev/shm, /dev/mqueue), looks for
System V IPC objects and for a replaced work root, and any of these retires the container; the runner
itself cannot be killed, ptraced, read or written by a sample, nor its stream forged.  Recycling is the
backstop for state we do not know of, and it is dear: a new container costs about 0.25 s of CPU (docker
start ~160 ms, the same for an unhardened container; create, runner start, kill and remove ~85 ms; measured
on a 2-core machine), i.e. ~5 ms a sample at N=50, half of a trivial sample's ~10 ms (bench/
sandbox_overhead.py: 0.68x bare throughput at 2 workers, against 0.88-0.95x at N=1000, where it is
~0.25 ms a sample).

Retiring never stalls the sample path: the pool keeps `spares` ready containers beyond `size`, a retired
container is removed in a background thread while its replacement starts in another, and a sample that
finds no ready container waits for one being started rather than starting a second.  The engine's CPU for
a replacement is still taken from the samples running meanwhile: rare recycling is what keeps that small.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .channel import ChannelTimeout, RunnerChannel
from .engine import docker_client, owner_labels, remove_containers
from .errors import InfraError, RunnerLost
from .hardening import hardened_kwargs
from .limits import ContainerLimits, RunLimits
from .request import Files, result_from_runner, runner_request
from .result import CountMethod, Ending, RunResult

log = logging.getLogger(__name__)

RUNNER_CMD = ["python3", "-u", "/opt/harness/runner.py", "--sweep-container"]
START_TIMEOUT_S = 30.0
RECYCLE_AFTER = 1000  # samples per container; see the module docstring for why
SPARES = 1  # ready containers beyond `size`, so that a retirement does not make the next sample wait


def host_grace_s(limits: RunLimits) -> float:
    """How long after the sample's deadline the host waits for the runner before killing the container."""
    return 5.0 + 0.1 * limits.timeout_s


class RunnerContainer:
    """One container running the runner, with its channel."""

    def __init__(self, client: Any, image: str, limits: ContainerLimits, *, allow_perf: bool = False):
        import docker.errors
        import docker.types

        self.image = image
        self.runs = 0
        self.dead = False
        # no init: the runner is PID 1 (unkillable and, being non-dumpable, unreachable from a sample; it
        # reaps orphans itself).  An init would be a same-user process a sample could ptrace or write to.
        kwargs = hardened_kwargs(limits, labels=owner_labels("pool"), allow_perf=allow_perf, init=False)
        # The answers come over the attach stream; the engine's log of them (json-file: every answer line,
        # outputs included, encoded again and written to disk, never rotated) is dockerd CPU on the sample
        # path and disk that grows with every sample.  Nobody reads it.
        kwargs["log_config"] = docker.types.LogConfig(type=docker.types.LogConfig.types.NONE)
        try:
            self.container = client.containers.create(image, RUNNER_CMD, stdin_open=True, tty=False,
                                                      detach=True, **kwargs)
        except docker.errors.ImageNotFound as exc:
            raise InfraError(f"sandbox image {image!r} not found; build it with harness.sandbox.images."
                             f"ensure_image() or `harness images build`") from exc
        except docker.errors.APIError as exc:
            raise InfraError(f"could not create a sandbox container from {image!r}: {exc}") from exc
        try:
            raw = self.container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            self.channel = RunnerChannel(getattr(raw, "_sock", raw))
            self.container.start()
            hello = self.channel.receive(time.monotonic() + START_TIMEOUT_S)
            if not hello.get("ready"):
                raise RunnerLost(f"the runner's first line was not 'ready': {hello}")
        except ChannelTimeout as exc:
            self.close()
            raise RunnerLost(f"the runner in {self.short_id} did not start within {START_TIMEOUT_S:.0f}s") from exc
        except (docker.errors.APIError, RunnerLost) as exc:
            self.close()
            raise InfraError(f"could not start the runner in a container of {image!r}: {exc}") from exc

    @property
    def short_id(self) -> str:
        return self.container.id[:12]

    def run(self, request: dict[str, Any], limits: RunLimits) -> dict[str, Any] | None:
        """The runner's answer, or None when the host deadline passed (the container is then dead)."""
        self.runs += 1
        self.channel.send(request)
        try:
            resp = self.channel.receive(time.monotonic() + limits.timeout_s + host_grace_s(limits))
        except ChannelTimeout:
            self.close()
            return None
        except RunnerLost as exc:
            self.close()
            raise RunnerLost(f"the runner in {self.short_id} was lost while a sample ran: {exc}",
                             during_sample=True) from exc
        if resp.get("id") != request.get("id"):
            self.close()
            raise RunnerLost(f"an answer from {self.short_id} that is not for this request (id "
                             f"{str(resp.get('id'))[:40]!r}, expected {request.get('id')!r}): something else "
                             "wrote into the runner's stream; the container is thrown away", during_sample=True)
        return resp

    def close(self) -> None:
        self.dead = True
        ch = getattr(self, "channel", None)
        if ch is not None:
            ch.close()
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


class WarmPool:
    """Runs commands in warm runner containers of one image.  Thread-safe; `size` samples run at once."""

    def __init__(self, image: str, limits: ContainerLimits = ContainerLimits(), *, size: int = 1,
                 recycle_after: int = RECYCLE_AFTER, spares: int = SPARES, allow_perf: bool = False,
                 image_id: str | None = None, client: Any = None, prewarm: bool = True):
        if size < 1 or recycle_after < 1 or spares < 0:
            raise ValueError("size and recycle_after must be >= 1, spares >= 0")
        self.client = client or docker_client()
        self.image = image
        self.limits = limits
        self.size = size
        self.spares = spares
        self.recycle_after = recycle_after
        self.allow_perf = allow_perf
        self.image_id = image_id or self._image_id(image)
        self._idle: list[RunnerContainer] = []  # ready containers, the most recently used last
        self._cond = threading.Condition()  # guards _idle, _starting, _closed and the counters
        self._starting = 0  # containers being started in the background
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False
        self._background: list[threading.Thread] = []
        self._retiring: list[threading.Thread] = []
        self._all: set[RunnerContainer] = set()  # every live container, idle or running a sample
        # for tests and stats: containers started, thrown away (recycled or spoiled), and recycled after N
        self.started = 0
        self.retired = 0
        self.recycled = 0
        remove_containers(only_stale=True, client=self.client)  # leftovers of harnesses that were killed
        if prewarm:
            self._start_spares(size + spares)

    def _image_id(self, image: str) -> str:
        import docker.errors

        try:
            return self.client.images.get(image).id
        except docker.errors.ImageNotFound as exc:
            raise InfraError(f"sandbox image {image!r} not found; build it with `harness images build`") from exc

    # ------------------------------------------------------------------------------------ containers
    @property
    def _target(self) -> int:
        return self.size + self.spares

    def _new_container(self) -> RunnerContainer:
        with self._cond:
            self.started += 1
        c = RunnerContainer(self.client, self.image, self.limits, allow_perf=self.allow_perf)
        with self._cond:
            self._all.add(c)
            closed = self._closed
        if closed:  # the pool was closed while this one started: nobody will use it
            self._remove(c)
            raise InfraError("this WarmPool is closed")
        return c

    def _remove(self, c: RunnerContainer) -> None:
        c.close()
        with self._cond:
            self._all.discard(c)

    def _remove_later(self, c: RunnerContainer) -> None:
        """Remove `c` off the sample path; `close()` waits for these, so none outlives the pool."""
        t = threading.Thread(target=self._remove, args=(c,), daemon=True, name="sandbox-retire")
        with self._cond:
            self._retiring = [r for r in self._retiring if r.is_alive()] + [t]
        t.start()

    def _start_spares(self, n: int) -> None:
        def spawn() -> None:
            c = None
            try:
                c = self._new_container()
            except InfraError as exc:
                if not self._closed:
                    log.warning("could not start a spare sandbox container: %s", exc)
            with self._cond:
                self._starting -= 1
                keep = c is not None and not self._closed and len(self._idle) < self._target
                if keep:
                    self._idle.append(c)
                self._cond.notify_all()  # also on failure: a waiting sample then starts one itself
            if c is not None and not keep:
                self._remove(c)

        with self._cond:
            if self._closed:
                return
            self._starting += n
            self._background = [t for t in self._background if t.is_alive()]
            for _ in range(n):
                t = threading.Thread(target=spawn, daemon=True, name="sandbox-spare")
                t.start()
                self._background.append(t)

    def wait_warm(self, timeout_s: float = 60.0) -> None:
        """Block until the containers being started in the background are ready (for benchmarks, tests)."""
        end = time.monotonic() + timeout_s
        for t in list(self._background):
            t.join(max(0.0, end - time.monotonic()))

    def _take(self) -> RunnerContainer:
        with self._cond:
            while not self._idle and self._starting > 0 and not self._closed:
                self._cond.wait()  # one is being started: wait for it rather than start a second
            if self._idle:
                return self._idle.pop()
            if self._closed:
                raise InfraError("this WarmPool is closed")
        return self._new_container()  # none ready nor coming (prewarm=False, or starting them failed)

    def _give_back(self, c: RunnerContainer) -> None:
        with self._cond:
            keep = not self._closed and len(self._idle) < self._target
            closed = self._closed
            if keep:
                self._idle.append(c)
                self._cond.notify()
        if closed:
            self._remove(c)  # now, in this thread: the process may be about to exit
        elif not keep:
            self._remove_later(c)

    def _retire(self, c: RunnerContainer, *, recycled: bool = False) -> None:
        """Throw `c` away off the sample path: removed in one background thread, replaced in another."""
        with self._cond:
            self.retired += 1
            self.recycled += recycled
        self._remove_later(c)
        self._start_spares(1)

    # -------------------------------------------------------------------------------------------- run
    def run(self, argv: Sequence[str], *, files: Files | None = None, stdin: str = "",
            env: Mapping[str, str] | None = None, limits: RunLimits = RunLimits(),
            count: CountMethod | str | None = None) -> RunResult:
        """Run `argv` in a fresh work dir (cwd) holding `files`; raise InfraError when the sandbox failed."""
        if self._closed:
            raise InfraError("this WarmPool is closed")
        count = CountMethod(count) if count is not None else None
        request = runner_request(argv, files=files, stdin=stdin, env=env, limits=limits, count=count)
        with self._slots:
            c = self._take()
            try:
                resp = c.run(request, limits)
            except InfraError:
                self._retire(c)
                raise
            if resp is None:
                self._retire(c)
                return RunResult(exit_code=None, stdout="", stderr="", stdout_truncated=False,
                                 stderr_truncated=False, wall_s=limits.timeout_s + host_grace_s(limits),
                                 ending=Ending.TIMED_OUT, image_id=self.image_id, container_id=c.short_id,
                                 detail=f"the runner did not answer within {host_grace_s(limits):.0f}s after "
                                        "the deadline; the host killed the container")
            try:
                result = result_from_runner(resp, count=count, image_id=self.image_id, container_id=c.short_id)
            except InfraError:
                self._retire(c)
                raise
            odd = result.ending is not Ending.EXITED or bool(result.leftovers)
            if odd or c.runs >= self.recycle_after:
                self._retire(c, recycled=not odd)
            else:
                self._give_back(c)
            return result

    def close(self) -> None:
        """Remove every container of the pool, those running a sample too (their samples end as infra), and
        wait until they are gone: no container outlives its pool, whatever the process does next."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            background = list(self._background)
        for t in background:
            t.join(timeout=30)
        with self._cond:
            self._idle = []
            everything, retiring = list(self._all), list(self._retiring)
        removers = [threading.Thread(target=self._remove, args=(c,), daemon=True, name="sandbox-close")
                    for c in everything]
        for t in removers:
            t.start()
        for t in removers + retiring:
            t.join(timeout=30)

    def __enter__(self) -> "WarmPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
