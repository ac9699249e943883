"""Pieces that need no Docker engine: wire format, endings, channel framing, recipe hashing."""

from __future__ import annotations

import shutil
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


@pytest.fixture
def recipes(tmp_path, monkeypatch):
    """A copy of sandboxes/ that the image functions read instead of the real one."""
    root = tmp_path / "sandboxes"
    shutil.copytree(images.recipes_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(images, "recipes_root", lambda: root)
    return root


def test_a_shared_file_is_in_the_context_and_the_hash_of_every_recipe_that_names_it(recipes):
    (recipes / "plain").mkdir()
    (recipes / "plain" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    (recipes / "plain" / "packages.txt").write_text("python3\n")
    for name in ("python", "reval"):
        assert images.context_files(name)["runner.py"] == recipes / "common" / "runner.py"
    assert set(images.context_files("plain")) == {"Dockerfile", "packages.txt"}  # names none: its own folder
    assert "common" not in images.recipe_names()
    before = {n: images.recipe_hash(n) for n in ("python", "reval", "plain")}
    runner = recipes / "common" / "runner.py"
    runner.write_text(runner.read_text() + "# edited\n")
    after = {n: images.recipe_hash(n) for n in ("python", "reval", "plain")}
    assert after["python"] != before["python"] and after["reval"] != before["reval"]  # both images rebuild
    assert after["plain"] == before["plain"]


@pytest.mark.parametrize("listed, clash, words", [
    ("nosuch.py\n", False, ["common.txt", "'nosuch.py'", "no such shared file", "runner.py"]),
    ("../python/Dockerfile\n", False, ["by its path inside it"]),
    ("runner.py\n", True, ["has a file", "of its own"]),
])
def test_a_bad_common_list_says_what_is_wrong(recipes, listed, clash, words):
    (recipes / "python" / "common.txt").write_text(listed)
    if clash:
        (recipes / "python" / "runner.py").write_text("# a copy\n")
    with pytest.raises(images.ImageBuildError) as err:
        images.recipe_hash("python")
    assert all(w in str(err.value) for w in words), str(err.value)
