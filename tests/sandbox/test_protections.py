"""One test per protection, each with a real container: what a user would check from outside."""

from __future__ import annotations

import time

import pytest

from harness.sandbox import Ending, RunLimits

pytestmark = pytest.mark.docker


def py(pool, code: str, **kw):
    return pool.run(["python3", "main.py"], files={"main.py": code}, **kw)


def test_network_is_refused(pool):
    r = py(pool, """
import socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3); print("CONNECTED")
except OSError as e:
    print("refused:", e)
try:
    socket.getaddrinfo("pypi.org", 443); print("RESOLVED")
except OSError as e:
    print("no dns:", e)
print(sorted(i[1] for i in socket.if_nameindex()))
""")
    assert r.ok, r
    assert "CONNECTED" not in r.stdout and "RESOLVED" not in r.stdout
    assert "Network is unreachable" in r.stdout
    assert "['lo']" in r.stdout  # no interface but loopback


def test_fork_bomb_is_contained(pool):
    r = py(pool, """
import os
n = 0
while True:
    try:
        os.fork(); n += 1
    except OSError:
        pass
""", limits=RunLimits(timeout_s=4))
    assert r.ending is Ending.TIMED_OUT
    after = py(pool, "print('alive')")
    assert after.ok and after.stdout == "alive\n"


def test_memory_bomb_is_killed_with_a_memory_verdict(pool):
    from harness.sandbox import verdict_from_result
    from harness.types import Status

    r = py(pool, "x = bytearray(1 << 30)\nprint('allocated')", limits=RunLimits(timeout_s=20))
    assert r.ending is Ending.MEMORY_KILLED, r
    assert "allocated" not in r.stdout
    v = verdict_from_result(r)
    assert v.status is Status.ERROR and "memory" in v.details["reason"]
    assert py(pool, "print(sum(range(10)))").stdout == "45\n"


def test_disk_fill_is_stopped(pool):
    r = py(pool, """
import os
chunk = b"x" * (1 << 20)
written = 0
try:
    with open("fill", "wb") as f:
        while True:
            f.write(chunk); f.flush(); written += 1
except OSError as e:
    print("stopped after", written, "MiB:", e)
""", limits=RunLimits(timeout_s=20, file_size_mb=1024))
    assert r.ok, r
    assert "No space left on device" in r.stdout
    # the next sample has the space back (work dirs are removed after each sample)
    after = py(pool, "import os; s = os.statvfs('.'); print(s.f_bavail * s.f_frsize // (1 << 20))")
    assert int(after.stdout) >= 28


def test_file_size_limit(pool):
    r = py(pool, "open('big', 'wb').write(b'x' * (3 << 20))", limits=RunLimits(timeout_s=10, file_size_mb=1))
    assert not r.ok  # SIGXFSZ or EFBIG


def test_infinite_loop_is_stopped_by_the_deadline(pool):
    t0 = time.monotonic()
    r = py(pool, "while True:\n    pass", limits=RunLimits(timeout_s=1.5))
    took = time.monotonic() - t0
    assert r.ending is Ending.TIMED_OUT
    assert took < 1.5 + 3.0
    assert r.exit_code != 0


def test_sleeping_past_the_deadline_is_stopped(pool):
    r = py(pool, "import time; time.sleep(60)", limits=RunLimits(timeout_s=1))
    assert r.ending is Ending.TIMED_OUT and r.wall_s < 3


def test_writes_outside_the_work_dir_are_refused(pool):
    r = py(pool, """
for path in ["/x", "/etc/passwd", "/opt/harness/runner.py", "/usr/bin/python3", "/root/x", "/home/x"]:
    try:
        open(path, "a").write("x"); print("WROTE", path)
    except OSError as e:
        print("refused", path, e.strerror)
open("mine.txt", "w").write("ok"); print("work dir ok")
""")
    assert r.ok, r
    assert "WROTE" not in r.stdout
    assert r.stdout.count("refused") == 6 and "work dir ok" in r.stdout


def test_privilege_escalation_is_refused(pool):
    r = py(pool, """
import os
print("uid", os.getuid(), os.geteuid())
status = open("/proc/self/status").read()
print([l for l in status.splitlines() if l.startswith(("CapEff", "CapPrm", "NoNewPrivs"))])
for what, fn in [("setuid", lambda: os.setuid(0)), ("chown", lambda: os.chown("main.py", 0, 0)),
                 ("chroot", lambda: os.chroot("/"))]:
    try:
        fn(); print("ESCALATED", what)
    except OSError as e:
        print("refused", what, e.strerror)
""")
    assert r.ok, r
    assert "uid 65534 65534" in r.stdout
    assert "'CapEff:\\t0000000000000000'" in r.stdout and "'NoNewPrivs:\\t1'" in r.stdout
    assert "ESCALATED" not in r.stdout and r.stdout.count("refused") == 3


def test_output_flood_is_capped(pool):
    cap = 64 * 1024
    r = py(pool, "import sys\nfor _ in range(200):\n    sys.stdout.write('y' * 100000)\nsys.stderr.write('e' * 10**6)",
           limits=RunLimits(timeout_s=20, output_cap_bytes=cap))
    assert r.ok, r.detail
    assert r.stdout_truncated and len(r.stdout) == cap
    assert r.stderr_truncated and len(r.stderr) == cap


def test_host_environment_is_not_visible(pool, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-123")
    r = py(pool, "import os\nprint(sorted(os.environ))\nprint(open('/proc/1/environ','rb').read())",
           env={"MY_VAR": "given"})
    assert "sk-host-secret" not in r.stdout + r.stderr
    assert "OPENAI_API_KEY" not in r.stdout
    assert "MY_VAR" in r.stdout


def test_leftovers_of_one_sample_do_not_reach_the_next(pool):
    first = py(pool, """
import os, subprocess
subprocess.Popen(["sleep", "1000"], start_new_session=True)   # escapes the sample's process group
open("/tmp/planted", "w").write("from sample 1")
open("/dev/shm/planted", "w").write("from sample 1")
os.makedirs("/tmp/work/other", exist_ok=True)
print("planted")
""")
    assert first.ok and first.stdout == "planted\n"
    assert any("sleep 1000" in x for x in first.leftovers), first.leftovers
    assert any("/tmp/planted" in x for x in first.leftovers)
    second = py(pool, """
import os
procs = [open(f"/proc/{p}/cmdline").read() for p in os.listdir("/proc") if p.isdigit()]
print("sleep" in " ".join(procs), os.path.exists("/tmp/planted"), os.path.exists("/dev/shm/planted"))
""")
    assert second.stdout == "False False False\n", second
    assert second.container_id != first.container_id  # the spoiled container was thrown away


def test_a_clean_pool_reuses_its_container_and_recycles_after_n(python_image, docker_client):
    from harness.sandbox import WarmPool

    from .conftest import TEST_LIMITS

    with WarmPool(python_image.tag, TEST_LIMITS, size=1, recycle_after=3, client=docker_client) as p:
        ids = [p.run(["true"]).container_id for _ in range(4)]
    assert ids[0] == ids[1] == ids[2] and ids[3] != ids[0]
