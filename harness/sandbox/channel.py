"""The line-JSON channel to the runner in a container: its stdin/stdout over one Docker attach socket.

Docker multiplexes a non-TTY container's stdout and stderr on the socket in frames:
8-byte header (stream: 1 stdout / 2 stderr, 3 zero bytes, payload size as big-endian uint32) + payload.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

from .errors import RunnerLost


class ChannelTimeout(Exception):
    """No answer from the runner before the deadline."""


class RunnerChannel:
    def __init__(self, sock: socket.socket, stderr_keep: int = 8192):
        self._sock = sock
        self._buf = b""  # bytes of stdout not yet split into lines
        self._pending = b""  # bytes of the current frame not yet read
        self._frame_left = 0
        self._frame_stream = 0
        self._raw = b""
        self.stderr_tail = b""  # the runner's own stderr (tracebacks), for error messages
        self._stderr_keep = stderr_keep

    def send(self, msg: dict[str, Any]) -> None:
        try:
            self._sock.sendall(json.dumps(msg).encode("utf-8") + b"\n")
        except OSError as exc:
            raise RunnerLost(f"could not write to the runner: {exc}{self._stderr_note()}") from exc

    def receive(self, deadline: float) -> dict[str, Any]:
        """The next JSON line from the runner's stdout; ChannelTimeout after `deadline` (time.monotonic())."""
        while b"\n" not in self._buf:
            self._fill(deadline)
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError as exc:
            raise RunnerLost(f"the runner answered something that is not JSON: {line[:200]!r}"
                             f"{self._stderr_note()}") from exc
        if not isinstance(msg, dict):
            raise RunnerLost(f"the runner answered JSON that is not an object: {line[:200]!r}{self._stderr_note()}")
        return msg

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChannelTimeout()
        self._sock.settimeout(left)
        try:
            data = self._sock.recv(1 << 16)
        except socket.timeout as exc:
            raise ChannelTimeout() from exc
        except OSError as exc:
            raise RunnerLost(f"the runner's stream broke: {exc}{self._stderr_note()}") from exc
        if not data:
            raise RunnerLost(f"the runner closed its stream (container stopped?){self._stderr_note()}")
        self._raw += data
        self._demux()

    def _demux(self) -> None:
        while True:
            if self._frame_left == 0:
                if len(self._raw) < 8:
                    return
                self._frame_stream, self._frame_left = struct.unpack(">BxxxL", self._raw[:8])
                self._raw = self._raw[8:]
                continue
            take = self._raw[: self._frame_left]
            if not take:
                return
            self._raw = self._raw[len(take):]
            self._frame_left -= len(take)
            if self._frame_stream == 2:
                self.stderr_tail = (self.stderr_tail + take)[-self._stderr_keep:]
            else:
                self._buf += take

    def _stderr_note(self) -> str:
        if not self.stderr_tail:
            return ""
        return "; runner stderr: " + self.stderr_tail.decode("utf-8", "replace")[-600:]

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
