"""A warm pool of runner containers: one image, one ContainerLimits, `size` containers, one sample at a time each.

Each container runs our runner (sandboxes/python/runner.py) as its main process; we talk to it over the
container's attached stdin/stdout.  A container is retired (removed, replaced in the background) after
`recycle_after` samples, and at once after anything odd: a sample that timed out, hit a limit, crashed,
left processes or files behind, or a runner that does not answer.  So one sample cannot change another's
verdict: at worst it spoils its own container, which nobody uses again.
"""

from __future__ import annotations

import logging
import queue
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


def host_grace_s(limits: RunLimits) -> float:
    """How long after the sample's deadline the host waits for the runner before killing the container."""
    return 5.0 + 0.1 * limits.timeout_s


class RunnerContainer:
    """One container running the runner, with its channel."""

    def __init__(self, client: Any, image: str, limits: ContainerLimits, *, allow_perf: bool = False):
        import docker.errors

        self.image = image
        self.runs = 0
        self.dead = False
        kwargs = hardened_kwargs(limits, labels=owner_labels("pool"), allow_perf=allow_perf)
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
            return self.channel.receive(time.monotonic() + limits.timeout_s + host_grace_s(limits))
        except ChannelTimeout:
            self.close()
            return None
        except RunnerLost as exc:
            self.close()
            raise RunnerLost(f"the runner in {self.short_id} was lost while a sample ran: {exc}",
                             during_sample=True) from exc

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
                 recycle_after: int = 50, allow_perf: bool = False, image_id: str | None = None,
                 client: Any = None, prewarm: bool = True):
        if size < 1 or recycle_after < 1:
            raise ValueError("size and recycle_after must be >= 1")
        self.client = client or docker_client()
        self.image = image
        self.limits = limits
        self.size = size
        self.recycle_after = recycle_after
        self.allow_perf = allow_perf
        self.image_id = image_id or self._image_id(image)
        self._idle: queue.LifoQueue[RunnerContainer] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._closed = False
        self._background: list[threading.Thread] = []
        self.retired = 0  # containers thrown away (recycled or spoiled), for tests and stats
        remove_containers(only_stale=True, client=self.client)  # leftovers of harnesses that were killed
        if prewarm:
            self._start_spares(size)

    def _image_id(self, image: str) -> str:
        import docker.errors

        try:
            return self.client.images.get(image).id
        except docker.errors.ImageNotFound as exc:
            raise InfraError(f"sandbox image {image!r} not found; build it with `harness images build`") from exc

    # ------------------------------------------------------------------------------------ containers
    def _new_container(self) -> RunnerContainer:
        return RunnerContainer(self.client, self.image, self.limits, allow_perf=self.allow_perf)

    def _start_spares(self, n: int) -> None:
        def spawn() -> None:
            try:
                c = self._new_container()
            except InfraError as exc:
                log.warning("could not start a spare sandbox container: %s", exc)
                return
            with self._lock:
                keep = not self._closed and self._idle.qsize() < self.size
            if keep:
                self._idle.put(c)
            else:
                c.close()

        for _ in range(n):
            t = threading.Thread(target=spawn, daemon=True, name="sandbox-spare")
            t.start()
            self._background.append(t)
        self._background = [t for t in self._background if t.is_alive()]

    def wait_warm(self, timeout_s: float = 60.0) -> None:
        """Block until the containers being started in the background are ready (for benchmarks, tests)."""
        end = time.monotonic() + timeout_s
        for t in list(self._background):
            t.join(max(0.0, end - time.monotonic()))

    def _take(self) -> RunnerContainer:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._new_container()

    def _retire(self, c: RunnerContainer) -> None:
        self.retired += 1
        threading.Thread(target=c.close, daemon=True, name="sandbox-retire").start()
        if not self._closed:
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
                self._retire(c)
            else:
                self._idle.put(c)
            return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for t in list(self._background):
            t.join(timeout=30)
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break

    def __enter__(self) -> "WarmPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
