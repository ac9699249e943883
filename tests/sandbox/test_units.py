"""Pieces that need no Docker engine: wire format, endings, channel framing, recipe hashing."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from harness.sandbox import Ending, RunLimits, images
from harness.sandbox.channel import ChannelTimeout, RunnerChannel
from harness.sandbox.request import encode_files, ending_of, runner_request


def test_file_paths_must_stay_in_the_work_dir():
    assert encode_files({"a/b.py": "x", "c.bin": b"\x00"}) == {"a/b.py": {"text": "x"}, "c.bin": {"b64": "AA=="}}
    for bad in ("/etc/passwd", "../x", "a/../../x"):
        with pytest.raises(ValueError):
            encode_files({bad: ""})


def test_request_carries_the_limits():
    req = runner_request(["python3"], files=None, stdin="", env=None,
                         limits=RunLimits(timeout_s=2.5, file_size_mb=3), count=None)
    assert req["timeout_s"] == 2.5 and req["cpu_s"] == 3 and req["fsize_bytes"] == 3 << 20


@pytest.mark.parametrize("resp, ending", [
    ({"exit_code": 1}, Ending.EXITED),
    ({"timed_out": True, "signal": 9}, Ending.TIMED_OUT),
    ({"cpu_limit_hit": True, "signal": 24}, Ending.TIMED_OUT),
    ({"oom_killed": True, "signal": 9}, Ending.MEMORY_KILLED),
    ({"signal": 11}, Ending.CRASHED),
    ({"runner_error": "could not start 'x': FileNotFoundError"}, Ending.FAILED_TO_START),
])
def test_endings(resp, ending):
    assert ending_of(resp)[0] is ending


def _frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_channel_reads_lines_across_frames_and_keeps_stderr_apart():
    a, b = socket.socketpair()
    ch = RunnerChannel(a)
    b.sendall(_frame(1, b'{"x": ') + _frame(2, b"warning\n") + _frame(1, b'1}\n{"y": 2}\n'))
    assert ch.receive(time.monotonic() + 2) == {"x": 1}
    assert ch.receive(time.monotonic() + 2) == {"y": 2}
    assert ch.stderr_tail == b"warning\n"
    with pytest.raises(ChannelTimeout):
        ch.receive(time.monotonic() + 0.1)
    b.close()


def test_recipe_hash_is_stable_and_tracks_the_recipe():
    h = images.recipe_hash("python")
    assert h == images.recipe_hash("python") and len(h) == 12
    assert images.image_tag("python") == f"harness-python:{h}"
    assert images.packages("python") == ["python3", "valgrind"]
