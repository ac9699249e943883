#!/usr/bin/env python3
"""The harness's in-container runner: executes one sample at a time, each in a fresh child process.

Protocol (stdin/stdout of this process, one JSON object per line):
  -> {"op": "run", "argv": [...], "files": {relpath: {"text": str} | {"b64": str}}, "stdin": str,
      "env": {..}, "timeout_s": float, "cpu_s": int, "fsize_bytes": int, "nofile": int,
      "output_cap": int, "count": null | "cachegrind" | "perf"}
  <- {"ok": true, "id": the request's "id", "exit_code": int|null, "signal": int|null, "timed_out": bool,
      "oom_killed": bool, "cpu_limit_hit": bool, "stdout": str, "stderr": str, "stdout_truncated": bool,
      "stderr_truncated": bool, "wall_s": float, "peak_rss_kb": int, "instructions": int|null,
      "count_method": str|null, "count_error": str|null, "leftovers": [str], "runner_error": str|null}
  -> {"op": "ping"}   <- {"ok": true, "pong": true, "pid": int}
  -> {"op": "exit"}   (the runner exits)

Every answer carries the "id" of the request it answers (the host sends a fresh random one each time), so
that a line written into the stream by anyone but this runner is seen as such on the host.

Each sample gets: a fresh work dir under WORK_ROOT (removed afterwards), its own session/process group,
rlimits (CPU seconds, file size, open files, no core dumps; soft = hard), OOM score 1000, an environment
built only from the request, and a wall deadline after which its whole group is killed.  It is started with
posix_spawn (vfork + exec, no copy of this process) through util-linux's prlimit, which sets the rlimits and
execs the command; forking this runner instead cost ~1 ms more per sample (page-table copy, copy-on-write
faults, tearing the copy down at exec).  Instruction counts keep the fork, which lets a perf counter be
attached between fork and exec; so does an image without prlimit.  After the sample every process in the
container other than this runner and PID 1 is killed, files left outside the work dir in the writable
places are removed, and System V IPC objects are looked for; all are reported as `leftovers` so that the
host retires the container.

In a pool container this runner is PID 1 (no init in front of it) and not dumpable (PR_SET_DUMPABLE 0):
a sample runs as the same user, so otherwise it could ptrace the runner or an init, write its memory through
/proc/<pid>/mem, or open its stdin/stdout through /proc/<pid>/fd and forge answers or requests; PID 1 also
cannot be killed from inside the container.  As PID 1 it reaps the orphans a sample leaves, while the sample
runs.  It is dumpable only for the moment it starts a sample (see _fork_limited).

Standalone on purpose: standard library only, Python >= 3.9, no harness imports.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import json
import os
import resource
import selectors
import shutil
import signal
import stat
import struct
import sys
import time

WORK_ROOT = os.environ.get("HARNESS_WORK_ROOT", "/tmp/work")
SCRATCH_DIRS = ["/tmp", "/dev/shm", "/dev/mqueue"]  # the writable places (POSIX queues in mqueue)
SYSV_IPC = ("shm", "sem", "msg")  # /proc/sysvipc/<kind>: these live in the container's IPC namespace
# Killing "every other process" and emptying /tmp is only right inside a sandbox container.  It is done
# only when asked with --sweep-container, and never as root (so that a runner started on a host by
# mistake cannot kill the host's processes or wipe its /tmp).
SWEEP = False
VALGRIND = "/usr/bin/valgrind"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


# ---------------------------------------------------------------------------------------------- cgroup
_OOM_EVENT_FILES = ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"]  # v2, v1


def _oom_kill_count() -> int | None:
    """How many times the OOM killer struck in this container's memory cgroup (v1 or v2), if readable."""
    for path in list(_OOM_EVENT_FILES):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            if len(_OOM_EVENT_FILES) > 1:
                _OOM_EVENT_FILES.remove(path)  # the other cgroup version: not looked for again
            continue
        try:
            text = os.read(fd, 4096)
        finally:
            os.close(fd)
        for line in text.splitlines():
            name, _, value = line.partition(b" ")
            if name == b"oom_kill":
                return int(value)
    return None


# ------------------------------------------------------------------------------------------ prctl
_PR_SET_DUMPABLE = 4
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux/glibc
    _prctl = None


def _set_dumpable(on: bool) -> bool:
    return _prctl is not None and _prctl(_PR_SET_DUMPABLE, int(on), 0, 0, 0) == 0


# ------------------------------------------------------------------------------------------------ perf
PERF_TYPE_HARDWARE = 0
PERF_COUNT_HW_INSTRUCTIONS = 1
_PERF_FLAG_DISABLED = 1 << 0
_PERF_FLAG_INHERIT = 1 << 1
_PERF_FLAG_EXCLUDE_KERNEL = 1 << 5
_PERF_FLAG_EXCLUDE_HV = 1 << 6
_PERF_FLAG_ENABLE_ON_EXEC = 1 << 12
_SYS_perf_event_open = {"x86_64": 298, "aarch64": 241}.get(os.uname().machine)


def perf_open_instructions(pid: int) -> int:
    """Open a user-space instruction counter on `pid` (and its children), enabled at its next exec."""
    if _SYS_perf_event_open is None:
        raise OSError(errno.ENOSYS, "perf_event_open: unknown syscall number on " + os.uname().machine)
    flags = (_PERF_FLAG_DISABLED | _PERF_FLAG_INHERIT | _PERF_FLAG_EXCLUDE_KERNEL
             | _PERF_FLAG_EXCLUDE_HV | _PERF_FLAG_ENABLE_ON_EXEC)
    # struct perf_event_attr (PERF_ATTR_SIZE_VER5 = 112 bytes): type, size, config, sample_period,
    # sample_type, read_format, flags bitfield, then fields we leave zero.
    attr = struct.pack("IIQQQQQ", PERF_TYPE_HARDWARE, 112, PERF_COUNT_HW_INSTRUCTIONS, 0, 0, 0, flags)
    attr = attr.ljust(112, b"\0")
    buf = ctypes.create_string_buffer(attr, 112)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(_SYS_perf_event_open, buf, pid, -1, -1, 0)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, "perf_event_open: " + os.strerror(err))
    return fd


# ---------------------------------------------------------------------------------------------- files
def _write_files(work: str, files: dict) -> None:
    for rel, spec in (files or {}).items():
        path = os.path.normpath(os.path.join(work, rel))
        if not (path + "/").startswith(work.rstrip("/") + "/"):
            raise ValueError("file path escapes the work dir: %r" % rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = base64.b64decode(spec["b64"]) if "b64" in spec else spec["text"].encode("utf-8")
        with open(path, "wb") as fh:
            fh.write(data)
        if spec.get("mode") is not None:
            os.chmod(path, int(spec["mode"]))


def _rm_tree(path: str) -> None:
    def _force(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=_force)


# ---------------------------------------------------------------------------------------- processes
def _other_pids() -> list[int]:
    """Processes of our own uid, other than this runner and PID 1."""
    me, uid = os.getpid(), os.getuid()
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            pid = int(name)
            try:
                owner = os.stat("/proc/" + name).st_uid
            except OSError:
                continue
            if pid not in (1, me) and owner == uid:
                pids.append(pid)
    return pids


def _describe(pid: int) -> str:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return "%d:%s" % (pid, fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:80])
    except OSError:
        return str(pid)


def _kill_leftover_processes() -> list[str]:
    """SIGKILL every process except this runner and PID 1; return what was found alive."""
    found = []
    for _ in range(50):
        pids = _other_pids()
        # a zombie that is our own child is reaped below, not reported
        alive = []
        for pid in pids:
            try:
                with open("/proc/%d/stat" % pid) as fh:
                    state = fh.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        if not alive:
            break
        for pid in alive:
            desc = _describe(pid)
            if desc not in found:
                found.append(desc)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        time.sleep(0.02)
    _reap()
    return ["process " + d for d in found]


def _reap_orphans(keep: int) -> None:
    """Reap exited children other than `keep` (whose status the caller still wants)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in (0, keep):
            return
        try:
            os.waitpid(info.si_pid, 0)
        except ChildProcessError:
            return


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _clean_scratch(keep: str) -> list[str]:
    """Remove anything in the writable scratch places apart from the work root; report what was there."""
    found = []
    for d in SCRATCH_DIRS:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            path = os.path.join(d, name)
            if path == keep:
                continue
            found.append("file " + path)
            if os.path.isdir(path) and not os.path.islink(path):
                _rm_tree(path)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
    return found


def _sysv_ipc_objects() -> list[str]:
    """System V shared memory segments, semaphore sets and message queues (they outlive their creator)."""
    found = []
    for kind in SYSV_IPC:
        try:
            fd = os.open("/proc/sysvipc/" + kind, os.O_RDONLY)
        except OSError:
            continue
        try:
            rows = os.read(fd, 1 << 16).decode("ascii", "replace").splitlines()[1:]  # a header line first
        finally:
            os.close(fd)
        found += ["ipc %s key=%s id=%s" % (kind, *row.split()[:2]) for row in rows if row.strip()]
    return found


def _work_root_replaced() -> list[str]:
    try:
        st = os.lstat(WORK_ROOT)
    except OSError:
        return ["file " + WORK_ROOT + " removed"]
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return ["file " + WORK_ROOT + " replaced"]
    return []


# ---------------------------------------------------------------------------------------------- run
class _Capped:
    def __init__(self, cap: int):
        self.cap = cap
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.cap - self.size
        if room > 0:
            self.chunks.append(data[:room])
            self.size += min(room, len(data))
        if len(data) > max(room, 0):
            self.truncated = True

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")


def _cachegrind_argv(work: str, argv: list[str]) -> list[str]:
    return [VALGRIND, "--tool=cachegrind", "--cache-sim=no", "--log-file=" + work + "/.vg.log",
            "--cachegrind-out-file=" + work + "/.cg.out"] + argv


def _read_cachegrind_total(work: str) -> int:
    with open(work + "/.cg.out") as fh:
        for line in fh:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise ValueError("cachegrind wrote no summary line")


def run_sample(req: dict) -> dict:
    os.makedirs(WORK_ROOT, exist_ok=True)
    # Always the same path: a sample's instruction count must not depend on where it ran.
    work = os.path.join(WORK_ROOT, "sample")
    if os.path.lexists(work):
        _rm_tree(work)
    os.mkdir(work, 0o700)
    res = {"ok": True, "id": req.get("id"), "exit_code": None, "signal": None, "timed_out": False, "oom_killed": False,
           "cpu_limit_hit": False, "stdout": "", "stderr": "", "stdout_truncated": False,
           "stderr_truncated": False, "wall_s": 0.0, "peak_rss_kb": 0, "instructions": None,
           "count_method": None, "count_error": None, "leftovers": [], "runner_error": None}
    try:
        _write_files(work, req.get("files") or {})
        _execute(req, work, res)
    finally:
        _rm_tree(work)
        if SWEEP:
            res["leftovers"] = (_kill_leftover_processes() + _work_root_replaced()
                                + _clean_scratch(keep=WORK_ROOT) + _sysv_ipc_objects())
        try:
            if os.listdir(WORK_ROOT):
                res["leftovers"].append("file " + WORK_ROOT + " not empty")
                for name in os.listdir(WORK_ROOT):
                    _rm_tree(os.path.join(WORK_ROOT, name))
        except OSError:
            pass
    return res


def _execute(req: dict, work: str, res: dict) -> None:
    method = req.get("count")
    if method not in (None, "cachegrind", "perf"):
        raise ValueError("unknown instruction count method %r (use cachegrind or perf)" % method)
    argv = list(req["argv"])
    env = {"PATH": DEFAULT_PATH, "HOME": work, "LANG": "C.UTF-8", "TMPDIR": work}
    if method is not None:
        env["PYTHONHASHSEED"] = "0"
    env.update({str(k): str(v) for k, v in (req.get("env") or {}).items()})
    if method == "cachegrind":
        argv = _cachegrind_argv(work, argv)
    cap = int(req.get("output_cap", 1 << 20))
    timeout_s = float(req.get("timeout_s", 10.0))
    cpu_s = int(req.get("cpu_s") or max(1, int(timeout_s) + 1))
    fsize = int(req.get("fsize_bytes") or (64 << 20))
    nofile = int(req.get("nofile") or 256)
    stdin_data = (req.get("stdin") or "").encode("utf-8")

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    oom_before = _oom_kill_count()
    start = time.monotonic()
    perf_fd = None
    spawned = method is None and PRLIMIT is not None
    if spawned:
        pid, fail_msg = _spawn_limited(argv, env, work, (in_r, out_w, err_w), cpu_s, fsize, nofile)
    else:
        pid, fail_msg, perf_fd = _fork_limited(argv, env, work, (in_r, out_w, err_w), cpu_s, fsize, nofile,
                                               perf=method == "perf", res=res)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    if pid is None:  # could not even be spawned (prlimit missing or not executable)
        os.close(in_w)
        for fd in (out_r, err_r):
            os.close(fd)
        res["runner_error"] = "could not start %r: %s" % (argv[0], fail_msg.decode("utf-8", "replace"))
        res["exit_code"] = 127
        return
    _supervise(res, pid, spawned, fail_msg, perf_fd, method, argv, work, out_r, err_r, in_w, stdin_data, cap,
               timeout_s, cpu_s, start, oom_before)


def _spawn_limited(argv: list, env: dict, work: str, stdio: tuple, cpu_s: int, fsize: int,
                   nofile: int) -> tuple:
    """Start the sample through posix_spawn (vfork + exec: no copy of this process) and prlimit, which
    sets the rlimits (soft = hard) and execs the command.  The OOM score is inherited: the runner raises
    its own for the moment of the spawn, then lowers it back (allowed down to its start value).  Its
    /proc/self files are writable only while it is dumpable: for that moment too (see _fork_limited)."""
    wrapped = [PRLIMIT, "--cpu=%d" % cpu_s, "--fsize=%d" % fsize, "--nofile=%d" % nofile, "--core=0",
               "--"] + argv
    actions = [(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(stdio)]
    _set_dumpable(True)
    _set_oom_score_adj(b"1000")  # the OOM killer takes the sample, never the runner
    try:
        os.chdir(work)
        return os.posix_spawn(PRLIMIT, wrapped, env, file_actions=actions, setsid=True), b""
    except OSError as exc:
        return None, ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace")
    finally:
        os.chdir("/")
        _set_oom_score_adj(_OOM_SCORE_ADJ_START)
        _set_dumpable(False)


def _fork_limited(argv: list, env: dict, work: str, stdio: tuple, cpu_s: int, fsize: int, nofile: int, *,
                  perf: bool, res: dict) -> tuple:
    """Start the sample from a fork of this runner (instruction counts: a perf counter is attached between
    fork and exec, and the counting methods keep the start they were measured with)."""
    in_r, out_w, err_w = stdio
    go_r, go_w = os.pipe()      # the child waits on this before exec (lets us attach a perf counter)
    fail_r, fail_w = os.pipe()  # the child reports an exec failure here (closed on successful exec)
    os.set_inheritable(fail_w, False)
    # The child must be dumpable (its /proc files, oom_score_adj among them, and a perf counter on it need
    # that), so it is forked while the runner is, for the moment of the fork: no other process of our user
    # exists then (the previous sample's were killed, or the container was retired), and exec resets it.
    _set_dumpable(True)
    try:
        pid = os.fork()
    except BaseException:
        _set_dumpable(False)
        raise
    if pid == 0:  # ---- child
        try:
            os.setsid()
            for fd_from, fd_to in ((in_r, 0), (out_w, 1), (err_w, 2)):
                os.dup2(fd_from, fd_to)
            os.closerange(3, go_r)
            os.closerange(go_r + 1, fail_w)
            os.closerange(fail_w + 1, 65536)
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            try:  # the OOM killer takes the sample, never the runner (os.* calls: the forked copy stays small)
                fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
                os.write(fd, b"1000")
                os.close(fd)
            except OSError:
                pass
            os.chdir(work)
            os.read(go_r, 1)
            os.close(go_r)
            os.execvpe(argv[0], argv, env)
        except BaseException as exc:  # noqa: BLE001 - report anything, then die
            try:
                os.write(fail_w, ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace")[:2000])
            finally:
                os._exit(127)
    # ---- parent
    _set_dumpable(False)
    for fd in (go_r, fail_w):
        os.close(fd)
    perf_fd = None
    if perf:
        try:
            perf_fd = perf_open_instructions(pid)
        except OSError as exc:
            res["count_error"] = str(exc)
    os.write(go_w, b"g")
    os.close(go_w)
    # Wait for the exec (fail_w closes) or the child's report of why it could not: until then the child
    # shares this process's memory copy-on-write, and every page the runner touched meanwhile was copied.
    fail_msg = os.read(fail_r, 4096)
    os.close(fail_r)
    return pid, fail_msg, perf_fd


def _supervise(res: dict, pid: int, spawned: bool, fail_msg: bytes, perf_fd, method, argv: list, work: str,
               out_r: int, err_r: int, in_w: int, stdin_data: bytes, cap: int, timeout_s: float, cpu_s: int,
               start: float, oom_before) -> None:
    """Feed the sample its stdin, collect its output, enforce the deadline, and read how it ended."""
    out, err = _Capped(cap), _Capped(cap)
    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ, out)
    sel.register(err_r, selectors.EVENT_READ, err)
    # The child's exit wakes the select through a pidfd.  Without one, the loop could only learn of the exit
    # by polling: its stdout/stderr reach EOF a moment before the child becomes a zombie (the kernel closes
    # its files first), so a fixed poll interval was paid in full by about one sample in four.
    exit_fd = _pidfd(pid)
    if exit_fd is not None:
        sel.register(exit_fd, selectors.EVENT_READ, _EXITED)
    os.set_blocking(in_w, False)
    pending_in = stdin_data
    if pending_in:
        sel.register(in_w, selectors.EVENT_WRITE, None)
    else:
        os.close(in_w)
    deadline = start + timeout_s
    status = None
    rusage = None
    exited_at = 0.0
    poll = 0.0005  # without a pidfd: waiting for the exit with no pipe open, backing off to 50 ms
    reaper = os.getpid() == 1  # the orphans the sample leaves are ours to reap, at least every 50 ms
    while True:
        if status is None:
            wpid, st, ru = os.wait4(pid, os.WNOHANG)
            if wpid == pid:
                status, rusage = st, ru
                exited_at = time.monotonic()
            elif reaper:
                _reap_orphans(pid)
        open_reads = [k for k in sel.get_map().values() if isinstance(k.data, _Capped)]
        if status is not None and not open_reads:
            break
        now = time.monotonic()
        if now >= deadline and status is None:
            res["timed_out"] = True
            _kill_group(pid)
            _, status, rusage = os.wait4(pid, 0)
            exited_at = time.monotonic()
        if status is not None and now >= exited_at + 0.5:
            break  # a process the sample left behind holds the pipes open; it is killed in the clean-up
        if status is not None:
            wait = 0.05  # only pipes held open by something the sample left behind
        elif exit_fd is not None:  # the exit, output or the deadline wakes us
            wait = min(0.05, max(0.0, deadline - now)) if reaper else max(0.0, deadline - now)
        elif not open_reads:
            wait, poll = min(poll, max(0.0, deadline - now)), min(poll * 2, 0.05)
        else:
            wait = min(0.05, max(0.0, deadline - now))
        for key, _ in sel.select(timeout=wait):
            if key.data is _EXITED:
                sel.unregister(key.fd)  # reaped by the wait4 at the top of the loop
                continue
            if key.data is None:  # stdin writable
                try:
                    n = os.write(in_w, pending_in[:65536])
                    pending_in = pending_in[n:]
                except BrokenPipeError:
                    pending_in = b""
                if not pending_in:
                    sel.unregister(in_w)
                    os.close(in_w)
                continue
            try:
                data = os.read(key.fd, 65536)
            except OSError:
                data = b""
            if data:
                key.data.add(data)
            else:
                sel.unregister(key.fd)
                os.close(key.fd)
    res["wall_s"] = round(time.monotonic() - start, 6)
    _kill_group(pid)  # anything the sample started in its group dies with it
    for key in list(sel.get_map().values()):
        sel.unregister(key.fd)
        if key.fd != exit_fd:
            os.close(key.fd)
    sel.close()
    if exit_fd is not None:
        os.close(exit_fd)
    if fail_msg:
        res["runner_error"] = "could not start %r: %s" % (argv[0], fail_msg.decode("utf-8", "replace"))
    elif spawned and os.WIFEXITED(status) and os.WEXITSTATUS(status) in (126, 127) \
            and err.text().startswith(_PRLIMIT_EXEC_FAILED):
        # prlimit could not exec the command (not found, not executable, noexec mount): nothing ran.  Only
        # the sample itself could fake this (exit 126/127 and this line first on stderr), for its own verdict.
        why = (err.text()[len(_PRLIMIT_EXEC_FAILED):].splitlines() or [""])[0]
        res["runner_error"] = "could not start %r: %s" % (argv[0], why)
        status, err = 127 << 8, _Capped(cap)  # as from the fork path: exit status 127, no output

    if os.WIFEXITED(status):
        res["exit_code"] = os.WEXITSTATUS(status)
    elif os.WIFSIGNALED(status):
        res["signal"] = os.WTERMSIG(status)
        res["exit_code"] = 128 + res["signal"]
    res["peak_rss_kb"] = int(rusage.ru_maxrss) if rusage else 0
    cpu_used = (rusage.ru_utime + rusage.ru_stime) if rusage else 0.0
    res["cpu_limit_hit"] = res["signal"] in (signal.SIGXCPU, signal.SIGKILL) and cpu_used >= cpu_s - 0.05
    oom_after = _oom_kill_count()
    res["oom_killed"] = (oom_before is not None and oom_after is not None and oom_after > oom_before)
    res["stdout"], res["stdout_truncated"] = out.text(), out.truncated
    res["stderr"], res["stderr_truncated"] = err.text(), err.truncated

    if method == "cachegrind":
        res["count_method"] = "valgrind-cachegrind"
        if not (res["timed_out"] or res["oom_killed"] or res["signal"]):
            try:
                res["instructions"] = _read_cachegrind_total(work)
            except (OSError, ValueError) as exc:
                res["count_error"] = "%s: %s" % (type(exc).__name__, exc)
    elif method == "perf":
        res["count_method"] = "perf_event_open-instructions-user"
        if perf_fd is not None:
            try:
                res["instructions"] = struct.unpack("Q", os.read(perf_fd, 8))[0]
            except OSError as exc:
                res["count_error"] = str(exc)
            os.close(perf_fd)


_EXITED = object()  # selector data of the child's pidfd

# util-linux prlimit sets a command's rlimits and execs it; without it samples are forked from the runner
PRLIMIT = "/usr/bin/prlimit" if os.access("/usr/bin/prlimit", os.X_OK) else None
_PRLIMIT_EXEC_FAILED = "prlimit: failed to execute "


def _read_oom_score_adj() -> bytes:
    try:
        with open("/proc/self/oom_score_adj", "rb") as fh:
            return fh.read().strip() or b"0"
    except OSError:
        return b"0"


_OOM_SCORE_ADJ_START = _read_oom_score_adj()


def _set_oom_score_adj(value: bytes) -> None:
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
    except OSError:
        return
    try:
        os.write(fd, value)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pidfd(pid: int) -> int | None:
    """A pidfd of the child (readable once it has exited), or None where the kernel or Python has none."""
    try:
        return os.pidfd_open(pid)  # Python >= 3.9, Linux >= 5.3
    except (AttributeError, OSError):
        return None


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------- main
def main(argv: list[str]) -> int:
    global SWEEP
    if "--sweep-container" in argv:
        if os.getuid() == 0:
            sys.stderr.write("runner: refusing --sweep-container as root\n")
            return 2
        SWEEP = True
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    # Not dumpable: a sample (same user) can then neither ptrace this runner nor open its /proc/<pid>/mem
    # or /proc/<pid>/fd (its stdin/stdout are the host's channel).  SIGINT's Python handler goes: as PID 1
    # the runner then ignores SIGINT from inside the container, like SIGTERM and SIGKILL.
    _set_dumpable(False)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    stdout.write(json.dumps({"ok": True, "ready": True, "pid": os.getpid()}).encode() + b"\n")
    stdout.flush()
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        req = {}
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "exit":
                return 0
            if op == "ping":
                resp = {"ok": True, "pong": True, "pid": os.getpid()}
            elif op == "run":
                resp = run_sample(req)
            else:
                resp = {"ok": False, "runner_error": "unknown op %r" % op}
        except Exception as exc:  # noqa: BLE001 - the host must always get an answer
            resp = {"ok": False, "runner_error": "%s: %s" % (type(exc).__name__, exc)}
        resp["id"] = req.get("id") if isinstance(req, dict) else None
        stdout.write(json.dumps(resp).encode() + b"\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
