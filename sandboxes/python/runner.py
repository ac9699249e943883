#!/usr/bin/env python3
"""The harness's in-container runner: executes one sample at a time, each in a fresh child process.

Protocol (stdin/stdout of this process, one JSON object per line):
  -> {"op": "run", "argv": [...], "files": {relpath: {"text": str} | {"b64": str}}, "stdin": str,
      "env": {..}, "timeout_s": float, "cpu_s": int, "fsize_bytes": int, "nofile": int,
      "output_cap": int, "count": null | "cachegrind" | "callgrind" | "perf"}
  <- {"ok": true, "exit_code": int|null, "signal": int|null, "timed_out": bool, "oom_killed": bool,
      "cpu_limit_hit": bool, "stdout": str, "stderr": str, "stdout_truncated": bool, "stderr_truncated": bool,
      "wall_s": float, "peak_rss_kb": int, "instructions": int|null, "instruction_counts": {name: int},
      "count_method": str|null, "count_error": str|null, "leftovers": [str], "runner_error": str|null}
  -> {"op": "ping"}   <- {"ok": true, "pong": true, "pid": int}
  -> {"op": "exit"}   (the runner exits)

Each sample gets: a fresh work dir under WORK_ROOT (removed afterwards), its own session/process group,
rlimits (CPU seconds, file size, open files, no core dumps), an environment built only from the request,
and a wall deadline after which its whole group is killed.  After the sample every process in the
container other than this runner and PID 1 is killed, and files left outside the work dir in the
writable places are removed; both are reported as `leftovers` so that the host retires the container.

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
import struct
import sys
import time

WORK_ROOT = os.environ.get("HARNESS_WORK_ROOT", "/tmp/work")
SCRATCH_DIRS = ["/tmp", "/dev/shm"]
# Killing "every other process" and emptying /tmp is only right inside a sandbox container.  It is done
# only when asked with --sweep-container, and never as root (so that a runner started on a host by
# mistake cannot kill the host's processes or wipe its /tmp).
SWEEP = False
VALGRIND = "/usr/bin/valgrind"
VGCOUNT_DIR = os.path.dirname(os.path.abspath(__file__))  # vgcount.py lives next to this file
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


# ---------------------------------------------------------------------------------------------- cgroup
def _oom_kill_count() -> int | None:
    """How many times the OOM killer struck in this container's memory cgroup (v1 or v2), if readable."""
    for path, key in (("/sys/fs/cgroup/memory.events", "oom_kill"),
                      ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill")):
        try:
            with open(path) as fh:
                for line in fh:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except OSError:
            continue
    return None


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


def _count_argv(method: str, work: str, argv: list[str]) -> list[str]:
    if method == "cachegrind":
        return [VALGRIND, "--tool=cachegrind", "--cache-sim=no", "--log-file=" + work + "/.vg.log",
                "--cachegrind-out-file=" + work + "/.cg.out"] + argv
    if method == "callgrind":
        return [VALGRIND, "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                "--log-file=" + work + "/.vg.log", "--callgrind-out-file=" + work + "/.callgrind.out"] + argv
    raise ValueError("unknown instruction count method %r (use cachegrind, callgrind or perf)" % method)


def _read_counts(method: str, work: str) -> tuple[int | None, dict]:
    if method == "cachegrind":
        with open(work + "/.cg.out") as fh:
            for line in fh:
                if line.startswith("summary:"):
                    return int(line.split()[1]), {}
        raise ValueError("cachegrind wrote no summary line")
    counts = {}
    for name in sorted(os.listdir(work)):
        if not name.startswith(".callgrind.out."):
            continue
        label, total = None, None
        with open(os.path.join(work, name)) as fh:
            for line in fh:
                if line.startswith("desc: Trigger: Client Request: "):
                    label = line.split("Client Request: ", 1)[1].strip()
                elif line.startswith("totals:"):
                    total = int(line.split()[1])
        if total is not None:
            key, n = label or name, 1
            while key in counts:  # the same label twice: "label", "label#2", ...
                n += 1
                key = "%s#%d" % (label or name, n)
            counts[key] = total
    return None, counts


def run_sample(req: dict) -> dict:
    os.makedirs(WORK_ROOT, exist_ok=True)
    # Always the same path: a sample's instruction count must not depend on where it ran.
    work = os.path.join(WORK_ROOT, "sample")
    if os.path.lexists(work):
        _rm_tree(work)
    os.mkdir(work, 0o700)
    res = {"ok": True, "exit_code": None, "signal": None, "timed_out": False, "oom_killed": False,
           "cpu_limit_hit": False, "stdout": "", "stderr": "", "stdout_truncated": False,
           "stderr_truncated": False, "wall_s": 0.0, "peak_rss_kb": 0, "instructions": None,
           "instruction_counts": {}, "count_method": None, "count_error": None, "leftovers": [],
           "runner_error": None}
    try:
        _write_files(work, req.get("files") or {})
        _execute(req, work, res)
    finally:
        _rm_tree(work)
        if SWEEP:
            res["leftovers"] = _kill_leftover_processes() + _clean_scratch(keep=WORK_ROOT)
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
    argv = list(req["argv"])
    env = {"PATH": DEFAULT_PATH, "HOME": work, "LANG": "C.UTF-8", "TMPDIR": work}
    if method in ("cachegrind", "callgrind", "perf"):
        env["PYTHONHASHSEED"] = "0"
    if method == "callgrind":
        env["PYTHONPATH"] = VGCOUNT_DIR
    env.update({str(k): str(v) for k, v in (req.get("env") or {}).items()})
    if method in ("cachegrind", "callgrind"):
        argv = _count_argv(method, work, argv)
    cap = int(req.get("output_cap", 1 << 20))
    timeout_s = float(req.get("timeout_s", 10.0))
    cpu_s = int(req.get("cpu_s") or max(1, int(timeout_s) + 1))
    fsize = int(req.get("fsize_bytes") or (64 << 20))
    nofile = int(req.get("nofile") or 256)
    stdin_data = (req.get("stdin") or "").encode("utf-8")

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    go_r, go_w = os.pipe()      # the child waits on this before exec (lets us attach a perf counter)
    fail_r, fail_w = os.pipe()  # the child reports an exec failure here (closed on successful exec)
    os.set_inheritable(fail_w, False)
    oom_before = _oom_kill_count()
    start = time.monotonic()
    pid = os.fork()
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
            try:
                with open("/proc/self/oom_score_adj", "w") as fh:
                    fh.write("1000")  # the OOM killer takes the sample, never the runner
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
    for fd in (in_r, out_w, err_w, go_r, fail_w):
        os.close(fd)
    perf_fd = None
    if method == "perf":
        try:
            perf_fd = perf_open_instructions(pid)
        except OSError as exc:
            res["count_error"] = str(exc)
    os.write(go_w, b"g")
    os.close(go_w)

    out, err = _Capped(cap), _Capped(cap)
    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ, out)
    sel.register(err_r, selectors.EVENT_READ, err)
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
    while True:
        if status is None:
            wpid, st, ru = os.wait4(pid, os.WNOHANG)
            if wpid == pid:
                status, rusage = st, ru
                exited_at = time.monotonic()
        open_reads = [k for k in sel.get_map().values() if k.data is not None]
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
        wait = 0.05 if status is not None else min(0.05, max(0.0, deadline - now))
        for key, _ in sel.select(timeout=wait):
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
        os.close(key.fd)
    sel.close()
    fail_msg = os.read(fail_r, 4096)
    os.close(fail_r)
    if fail_msg:
        res["runner_error"] = "could not start %r: %s" % (argv[0], fail_msg.decode("utf-8", "replace"))

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

    if method in ("cachegrind", "callgrind"):
        res["count_method"] = "valgrind-" + method
        if not (res["timed_out"] or res["oom_killed"] or res["signal"]):
            try:
                res["instructions"], res["instruction_counts"] = _read_counts(method, work)
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
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    stdout.write(json.dumps({"ok": True, "ready": True, "pid": os.getpid()}).encode() + b"\n")
    stdout.flush()
    for line in stdin:
        line = line.strip()
        if not line:
            continue
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
        stdout.write(json.dumps(resp).encode() + b"\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
