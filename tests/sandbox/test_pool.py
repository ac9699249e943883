"""The warm pool's own guarantees: what a sample can reach in its container, what retires a container, and
that retiring one neither stalls the sample path nor starts more containers than it replaces."""

from __future__ import annotations

import socket
import struct

import pytest

from harness.sandbox import RunLimits, RunnerLost, WarmPool
from harness.sandbox.channel import RunnerChannel
from harness.sandbox.limits import RunLimits as _RunLimits
from harness.sandbox.pool import RECYCLE_AFTER, RunnerContainer

from .conftest import TEST_LIMITS


def py(pool, code: str, **kw):
    return pool.run(["python3", "main.py"], files={"main.py": code}, **kw)


@pytest.mark.docker
def test_a_sample_can_reach_neither_the_runner_nor_its_stream(pool):
    r = py(pool, """
import ctypes, os
print("parent", os.getppid(), open("/proc/1/cmdline", "rb").read().split(b"\\0")[2].decode())
for path, mode in [("/proc/1/fd/0", os.O_WRONLY), ("/proc/1/fd/1", os.O_WRONLY), ("/proc/1/fd/2", os.O_WRONLY),
                   ("/proc/1/mem", os.O_RDWR)]:
    try:
        os.close(os.open(path, mode)); print("OPENED", path)
    except OSError as e:
        print("refused", path, e.strerror)
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace", libc.ptrace(16, 1, 0, 0))  # PTRACE_ATTACH
""")
    assert r.ok, r
    assert "parent 1 /opt/harness/runner.py" in r.stdout  # the runner is PID 1, no init in front of it
    assert "OPENED" not in r.stdout and r.stdout.count("refused") == 4, r.stdout
    assert "ptrace -1" in r.stdout


@pytest.mark.docker
def test_ipc_objects_and_message_queues_retire_the_container(pool):
    first = py(pool, """
import ctypes
libc = ctypes.CDLL(None)
print(libc.shmget(0x4242, 4096, 0o1000 | 0o666) >= 0)   # IPC_CREAT: outlives this process
open("/dev/mqueue/planted", "w").close()
""")
    assert first.ok and first.stdout == "True\n", first
    assert any(x.startswith("ipc shm") for x in first.leftovers), first.leftovers
    assert "file /dev/mqueue/planted" in first.leftovers
    second = py(pool, """
import ctypes, os
print(ctypes.CDLL(None).shmget(0x4242, 0, 0), os.listdir("/dev/mqueue"))
""")
    assert second.stdout == "-1 []\n", second  # a fresh IPC namespace: nothing of the first sample's
    assert second.container_id != first.container_id


@pytest.mark.docker
def test_a_replaced_work_root_retires_the_container(pool):
    first = py(pool, "import os\nos.rename('/tmp/work', '/tmp/moved')\nos.symlink('/dev/shm', '/tmp/work')")
    assert first.ok, first
    assert "file /tmp/work replaced" in first.leftovers, first.leftovers
    second = py(pool, "import os\nprint(os.getcwd(), os.path.islink('/tmp/work'))")
    assert second.stdout == "/tmp/work/sample False\n" and second.container_id != first.container_id


@pytest.mark.docker
def test_orphans_are_reaped_while_the_sample_runs(pool):
    # 150 orphans, one at a time, under a 64-pid limit: they only fit if PID 1 (the runner) reaps them
    r = py(pool, """
import os, time
for _ in range(150):
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.01)
print("ok")
""", limits=RunLimits(timeout_s=20))
    assert r.ok and r.stdout == "ok\n", r


@pytest.mark.docker
def test_retiring_starts_one_replacement_and_the_spare_serves_meanwhile(python_image, docker_client):
    with WarmPool(python_image.tag, TEST_LIMITS, size=1, recycle_after=1, spares=1, client=docker_client) as p:
        p.wait_warm()
        assert p.started == 2  # size + spares, before any sample
        ids = [p.run(["true"]).container_id for _ in range(4)]
        p.wait_warm()
        assert len(set(ids)) == 4 and p.recycled == p.retired == 4
        assert p.started == 2 + 4  # one replacement per retirement; no sample started one of its own


@pytest.mark.docker
def test_a_clean_container_serves_many_samples_by_default(python_image, docker_client):
    assert RECYCLE_AFTER >= 500  # recycling costs ~0.3 s of CPU: see harness/sandbox/pool.py
    with WarmPool(python_image.tag, TEST_LIMITS, size=1, client=docker_client) as p:
        ids = {p.run(["python3", "-c", "pass"]).container_id for _ in range(60)}
        assert len(ids) == 1 and p.retired == 0


class _GoneContainer:
    id = "0" * 64
    removed = False

    def remove(self, force: bool = False) -> None:
        self.removed = True


def _runner_container_on(sock: socket.socket) -> RunnerContainer:
    c = RunnerContainer.__new__(RunnerContainer)
    c.image, c.runs, c.dead = "x", 0, False
    c.container, c.channel = _GoneContainer(), RunnerChannel(sock)
    return c


def test_an_answer_with_another_id_is_not_taken_and_the_container_is_thrown_away():
    host, runner = socket.socketpair()
    c = _runner_container_on(host)
    forged = b'{"ok": true, "id": null, "exit_code": 0, "stdout": "PASS"}\n'
    runner.sendall(struct.pack(">BxxxL", 1, len(forged)) + forged)
    with pytest.raises(RunnerLost, match="not for this request") as info:
        c.run({"op": "run", "id": "0123456789abcdef"}, _RunLimits(timeout_s=2))
    assert info.value.during_sample and c.dead and c.container.removed
    runner.close()


def test_the_answer_with_the_requests_id_is_taken():
    host, runner = socket.socketpair()
    c = _runner_container_on(host)
    answer = b'{"ok": true, "id": "0123456789abcdef", "exit_code": 0}\n'
    runner.sendall(struct.pack(">BxxxL", 1, len(answer)) + answer)
    assert c.run({"op": "run", "id": "0123456789abcdef"}, _RunLimits(timeout_s=2))["exit_code"] == 0
    assert not c.dead
    runner.close()


@pytest.mark.docker
def test_a_sample_gets_its_limits_session_and_oom_score(pool):
    r = py(pool, """
import os, resource
print([resource.getrlimit(getattr(resource, "RLIMIT_" + n)) for n in ("CPU", "FSIZE", "NOFILE", "CORE")])
print(open("/proc/self/oom_score_adj").read().strip(), os.getsid(0) == os.getpgid(0) == os.getpid(), os.getcwd())
print(sorted(os.listdir("/proc/self/fd")))
""", limits=RunLimits(timeout_s=4, file_size_mb=3, open_files=64))
    assert r.ok, r
    assert r.stdout.splitlines() == [f"[(5, 5), ({3 << 20}, {3 << 20}), (64, 64), (0, 0)]",
                                     "1000 True /tmp/work/sample", "['0', '1', '2', '3']"]


@pytest.mark.docker
@pytest.mark.parametrize("argv, files", [
    (["no-such-command"], None),
    (["./main.py"], {"main.py": "print('ran')"}),  # not executable (and /tmp is noexec)
])
def test_a_command_that_cannot_start_is_failed_to_start(pool, argv, files):
    from harness.sandbox import Ending

    r = pool.run(argv, files=files)
    assert r.ending is Ending.FAILED_TO_START and r.exit_code == 127, r
    assert r.detail.startswith(f"could not start {argv[0]!r}") and r.stdout == r.stderr == ""
