"""One container per instance, from any image (repository-level tasks): the same hardening as the pool,
commands run with `docker exec`, files copied in with put_archive.  The image needs only `sleep`.

When a command passes its deadline the whole container is killed (the instance is over; later runs
raise InfraError), since an exec'd process cannot be killed reliably from outside otherwise.
"""

from __future__ import annotations

import io
import socket
import struct
import tarfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .engine import docker_client, owner_labels, remove_containers
from .errors import InfraError
from .hardening import SANDBOX_USER, hardened_kwargs
from .limits import ContainerLimits, RunLimits
from .request import Files
from .result import Ending, RunResult

KEEPALIVE_CMD = ["sleep", "infinity"]


def _tar_of(files: Files, mode: int = 0o644) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, content in files.items():
            data = content if isinstance(content, bytes) else str(content).encode("utf-8")
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            info.uid = info.gid = 65534
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class InstanceSandbox:
    """A hardened container of `image` kept alive for several commands (one instance's work)."""

    def __init__(self, image: str, limits: ContainerLimits = ContainerLimits(), *, user: str | None = SANDBOX_USER,
                 read_only: bool = True, work_dir: str = "/tmp", client: Any = None, kind: str = "instance"):
        """`user=None` keeps the image's user and `read_only=False` a writable root: only for images that
        need them (e.g. a repository checked out in the image that its tests write to)."""
        import docker.errors

        self.client = client or docker_client()
        self.work_dir = work_dir
        self.dead = False
        kwargs = hardened_kwargs(limits, labels=owner_labels(kind), user=user, work_dir=work_dir)
        kwargs["read_only"] = read_only
        remove_containers(only_stale=True, client=self.client)
        try:
            self.container = self.client.containers.run(image, KEEPALIVE_CMD, detach=True, **kwargs)
            self.image_id = self.container.image.id
        except docker.errors.ImageNotFound as exc:
            raise InfraError(f"image {image!r} not found (pull or build it first)") from exc
        except docker.errors.APIError as exc:
            raise InfraError(f"could not start a container of {image!r}: {exc}") from exc

    def put_files(self, files: Files, dest: str | None = None) -> None:
        """Copy files in (as a tar stream into `tar -x` in the container: Docker's put_archive refuses
        containers with a read-only root, even for paths on a tmpfs)."""
        dest = dest or self.work_dir
        code, _out, err, _t, timed_out = self._exec(["tar", "-x", "-m", "-f", "-", "-C", dest], _tar_of(files),
                                                    env=None, workdir="/", deadline=time.monotonic() + 60,
                                                    cap=8192)
        if timed_out or code != 0:
            raise InfraError(f"could not copy files into {self.container.id[:12]}:{dest} with tar "
                             f"(exit {code}): {err.strip()[-300:]}")

    def run(self, argv: Sequence[str], *, files: Files | None = None, stdin: str = "",
            env: Mapping[str, str] | None = None, limits: RunLimits = RunLimits(), workdir: str | None = None,
            count: None = None) -> RunResult:
        if count is not None:
            raise ValueError("instruction counts are only available in the warm pool (WarmPool.run(count=...))")
        if self.dead:
            raise InfraError("this instance's container was killed (a deadline passed); start a new one")
        if files:
            self.put_files(files)
        start = time.monotonic()
        code, out, err, trunc, timed_out = self._exec(list(argv), stdin.encode("utf-8"), env=env,
                                                      workdir=workdir or self.work_dir,
                                                      deadline=start + limits.timeout_s,
                                                      cap=limits.output_cap_bytes)
        wall = time.monotonic() - start
        if timed_out:
            self.close()
            return RunResult(exit_code=None, stdout=out, stderr=err, stdout_truncated=trunc[1],
                             stderr_truncated=trunc[2], wall_s=wall, ending=Ending.TIMED_OUT,
                             image_id=self.image_id, container_id=self.container.id[:12],
                             detail="wall deadline passed; the container was killed")
        ending, detail, sig = Ending.EXITED, "", None
        if code is not None and code > 128:
            sig = code - 128
            self.container.reload()
            if sig == 9 and self.container.attrs["State"].get("OOMKilled"):
                ending, detail = Ending.MEMORY_KILLED, "killed by the OOM killer: the memory limit was reached"
            else:
                ending, detail = Ending.CRASHED, f"exit status {code} (signal {sig}?)"
        elif code in (126, 127):
            ending, detail = Ending.FAILED_TO_START, f"exit status {code}: {err.strip()[-300:]}"
        return RunResult(exit_code=code, stdout=out, stderr=err, stdout_truncated=trunc[1], stderr_truncated=trunc[2],
                         wall_s=wall, ending=ending, signal=sig, detail=detail, image_id=self.image_id,
                         container_id=self.container.id[:12])

    def _exec(self, argv: list[str], stdin: bytes, *, env: Mapping[str, str] | None, workdir: str,
              deadline: float, cap: int) -> tuple[int | None, str, str, dict[int, bool], bool]:
        """(exit code, stdout, stderr, truncated flags by stream, timed out) of one docker exec."""
        import docker.errors

        api = self.client.api
        try:
            exec_id = api.exec_create(self.container.id, argv, stdin=bool(stdin), stdout=True, stderr=True,
                                      environment=dict(env or {}), workdir=workdir)["Id"]
            raw = api.exec_start(exec_id, socket=True)
        except docker.errors.APIError as exc:
            raise InfraError(f"docker exec failed in {self.container.id[:12]}: {exc}") from exc
        sock = getattr(raw, "_sock", raw)
        try:
            if stdin:
                sock.sendall(stdin)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out, err, trunc, timed_out = self._collect(sock, deadline, cap)
        if timed_out:
            return None, out, err, trunc, True
        try:
            code = api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError as exc:
            raise InfraError(f"docker exec inspect failed in {self.container.id[:12]}: {exc}") from exc
        return code, out, err, trunc, False

    @staticmethod
    def _collect(sock: socket.socket, deadline: float, cap: int) -> tuple[str, str, dict[int, bool], bool]:
        bufs = {1: bytearray(), 2: bytearray()}
        trunc = {1: False, 2: False}
        raw = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bufs[1].decode("utf-8", "replace"), bufs[2].decode("utf-8", "replace"), trunc, True
            sock.settimeout(left)
            try:
                data = sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not data:
                break
            raw += data
            while len(raw) >= 8:
                stream, size = struct.unpack(">BxxxL", raw[:8])
                if len(raw) < 8 + size:
                    break
                payload, raw = raw[8:8 + size], raw[8 + size:]
                b = bufs.get(stream, bufs[2])
                room = cap - len(b)
                if len(payload) > room:
                    trunc[stream if stream in trunc else 2] = True
                b += payload[: max(room, 0)]
        sock.close()
        return bufs[1].decode("utf-8", "replace"), bufs[2].decode("utf-8", "replace"), trunc, False

    def close(self) -> None:
        self.dead = True
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def __enter__(self) -> "InstanceSandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_in_fresh_container(image: str, argv: Sequence[str], *, files: Files | None = None, stdin: str = "",
                           limits: RunLimits = RunLimits(), container_limits: ContainerLimits = ContainerLimits(),
                           client: Any = None) -> RunResult:
    """One hardened container for one command (slow: ~0.2-0.4 s per container on overlay2)."""
    with InstanceSandbox(image, container_limits, client=client, kind="oneshot") as box:
        return box.run(argv, files=files, stdin=stdin, limits=limits)
