#!/usr/bin/env python3
"""COFFE's per-sample check program.  Runs INSIDE the sandbox, never on the host.

The harness sends this file with `job.json` (what to run) and writes a one-line nonce on stdin; the result is
printed as the last line of the real stdout: `@@coffe <nonce> {json}`.  Standard library only, Python >= 3.9.
This process (the supervisor) keeps the nonce and the expected outputs and never runs the model's code: that
runs in a worker process (`check.py --worker` for correctness, `check.py --count-worker` for counting) that gets
only the code and the inputs.

job.json:
  level        "function" | "file"
  mode         "correct": run the correctness tests, fail fast, exit 0 (all pass) / 1 (an output differs)
                          / 2 (the code does not compile or define `solution`, raises, or runs past a limit)
               "count":   run the code on the stressful tests in a worker, under cachegrind ("counter":
                          "cachegrind") or natively ("native", the reference's first pass: times only)
  semantics    "harness" (default) | "official": COFFE's own execution rules (correctness only; see below)
  io           official semantics only: the clean-up made a stdin/stdout program of the code
  code         the program: at function level it defines `solution`; at file level it reads stdin
  tests        correctness tests: [{"input": [args...] | [stdin], "output": [expected]}]
  limits       per-test limits in seconds (one per test)
  stress       stressful tests: function level, a Python expression giving the argument list;
               file level, a program defining generate_input() that returns the stdin text
  stress_only  indices of the stressful tests to run (default: all)

Every compile of foreign code (the model's, an input expression, a generator) uses `dont_inherit=True`: this file's
`from __future__ import annotations` must not reach it (annotations are evaluated, as in plain Python).

Correctness, harness semantics: the module is executed once with `random.seed(1024)`, then `solution(*input)` per
test (function level), or the program is run as __main__ with stdin on fd 0 (file level); outputs are compared
with COFFE's lenient rules, element by element.  Official semantics (`-T extraction=official`): as COFFE's
pipeline runs it -- function level the same call but compared by COFFE's own `is_equal` (float tolerance only for
a float or a flat list of floats); file level each test executes the program in one shared globals dict with
`sys.stdin`, its `readline`/`readlines`/`read` and `open` replaced by the input text (readline gives lines without
their newline), stdout captured as text, and `exit()` a failure.  Both: recursion limit 10**6 and integer strings
of up to 10**6 digits, as COFFE sets them.

Counting: the worker builds every stressful input, compiles the code (function level), imports the usual modules,
then takes a snapshot of its instruction count -- it forks a child that exits at once, and cachegrind reports the
child's count, which is the parent's up to that point -- and only then runs the model's code: per test a fresh
namespace, `gc.collect()`, and the call (function level) or the compile and run of the program (file level).  The
count is the worker's final total minus the snapshot: everything the model's code did, nothing before it.
cachegrind (valgrind 3.19) has no client requests, so the code cannot stop, zero or dump the count; the count is
read from valgrind's own log, which reaches the supervisor through a pipe the worker has no descriptor of (valgrind
keeps its log fd out of the program's reach); and before the model's code runs the worker installs a seccomp filter
that refuses fork, vfork, non-thread clone and exec (threads are allowed: cachegrind counts them), so no work can
be moved to an uncounted process and nothing outlives the worker to write after its total.  Whatever does not fit
this (a second process's count, a total that is not the worker's last line, the worker killed or exiting badly) is
reported as `tampered` or as no count.
"""

from __future__ import annotations

import gc
import json
import math
import os
import random
import re
import signal
import sys
import time
import traceback

SEED = 1024
CODE_FILE = "<solution>"
RECURSION_LIMIT = 10 ** 6  # COFFE's
INT_DIGITS = 10 ** 6  # COFFE's sys.set_int_max_str_digits
OFFICIAL_IO_LIMIT_S = 300.0  # COFFE's per-test limit (a fixed reference time of 30 s x 10)
VALGRIND = "/usr/bin/valgrind"
COUNT_SETUP = ".count_setup.json"
PRELOADED = ("typing", "math", "collections", "itertools", "functools", "heapq", "bisect", "re", "string",
             "operator")


class TestTimeout(BaseException):
    """Raised by SIGALRM when a test runs past its limit (BaseException: `except Exception` cannot eat it)."""


def _on_alarm(signum, frame):
    raise TestTimeout()


def _arm(seconds):
    signal.setitimer(signal.ITIMER_REAL, max(0.001, float(seconds)))


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


def _python_limits():
    sys.setrecursionlimit(RECURSION_LIMIT)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(INT_DIGITS)


def _compile(source, name, mode="exec"):
    """Foreign code, compiled without this file's future flags (no postponed annotations)."""
    return compile(source, name, mode, dont_inherit=True)


# ------------------------------------------------------------------------------------------- comparison
def _strip(s):
    for ch in ("\n", " ", "[", "]"):
        s = s.replace(ch, "")
    return s


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _close(a, b):
    """Tuples as lists, floats within atol 1e-6 (+ rtol 1e-7), element by element."""
    if _is_number(a) and _is_number(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        try:
            return abs(a - b) <= 1e-6 + 1e-7 * abs(b) or (math.isnan(a) and math.isnan(b))
        except (TypeError, OverflowError):
            return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - a broken __eq__ is a mismatch
        return False


def is_equal(got, expected):
    """Our comparison (COFFE's rules, applied element by element): exact; else, for strings, equal once newlines,
    spaces and brackets are deleted; else equal with tuples read as lists and floats compared with atol 1e-6."""
    try:
        if got == expected:
            return True
    except Exception:  # noqa: BLE001
        pass
    if isinstance(got, str) and isinstance(expected, str):
        return _strip(got) == _strip(expected)
    return _close(got, expected)


def _as_lists(x):
    if isinstance(x, (list, tuple)):
        return [_as_lists(v) for v in x]
    if isinstance(x, dict):
        return {k: _as_lists(v) for k, v in x.items()}
    return x


def _floats(x):
    """COFFE's is_floats: a float, or a list or tuple whose elements are all floats."""
    if isinstance(x, float):
        return True
    return isinstance(x, (list, tuple)) and all(isinstance(v, float) for v in x)


def _allclose(actual, desired):
    """numpy.testing.assert_allclose(actual, desired, atol=1e-6) (rtol 1e-7, NaN equal to NaN) on a float or a
    flat list of floats; a scalar is compared with every element of the other side."""
    def close(x, y):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        if math.isinf(x) or math.isinf(y):
            return x == y
        return abs(x - y) <= 1e-6 + 1e-7 * abs(y)

    xs = list(actual) if isinstance(actual, (list, tuple)) else None
    ys = list(desired) if isinstance(desired, (list, tuple)) else None
    if xs is None and ys is None:
        return close(actual, desired)
    if xs is None:
        return all(close(actual, y) for y in ys)
    if ys is None:
        return all(close(x, desired) for x in xs)
    return len(xs) == len(ys) and all(close(x, y) for x, y in zip(xs, ys))


def official_is_equal(got, expected):
    """COFFE's is_equal exactly: ==; strings equal once newlines, spaces and brackets are deleted; equal with
    tuples turned into lists (recursively, dict values too); a float or a flat list of floats on both sides within
    atol 1e-6.  (Nested lists of floats and int/float mixes are compared exactly, as COFFE does.)"""
    try:
        if got == expected:
            return True
    except Exception:  # noqa: BLE001 - COFFE: the comparison raising fails the test
        return False
    if isinstance(got, str) and isinstance(expected, str) and _strip(got) == _strip(expected):
        return True
    try:
        if _as_lists(got) == _as_lists(expected):
            return True
    except Exception:  # noqa: BLE001
        return False
    if _floats(got) and _floats(expected):
        return _allclose(expected, got)
    return False


# ------------------------------------------------------------------------------------------- running
def _fresh_namespace():
    return {"__name__": "__main__", "__builtins__": __builtins__}


def _define_solution(code, namespace=None):
    """Execute the function-level code in a fresh namespace; return its `solution`."""
    ns = namespace if namespace is not None else _fresh_namespace()
    ns["__name__"] = "solution_module"
    exec(code if not isinstance(code, str) else _compile(code, CODE_FILE), ns)
    fn = ns.get("solution")
    if not callable(fn):
        raise NameError("the code defines no function `solution` (the entry point)")
    return fn


class _Stdio:
    """Points fds 0 and 1 (and sys.stdin/sys.stdout) at files in the work dir for one program run."""

    def __init__(self, stdin_text):
        self.stdin_text = stdin_text

    def __enter__(self):
        with open(".stdin", "w", encoding="utf-8") as fh:
            fh.write(self.stdin_text)
        self.in_fd = os.open(".stdin", os.O_RDONLY)
        self.out_fd = os.open(".stdout", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(self.in_fd, 0)
        os.dup2(self.out_fd, 1)
        self.saved = (sys.stdin, sys.stdout)
        sys.stdin = open(0, "r", encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        return self

    def output(self):
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001
            pass
        os.lseek(self.out_fd, 0, 0)
        chunks = []
        while True:
            b = os.read(self.out_fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode("utf-8", "replace")

    def __exit__(self, *exc):
        for f in (sys.stdin, sys.stdout):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass
        sys.stdin, sys.stdout = self.saved
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        for fd in (self.in_fd, self.out_fd, null):
            os.close(fd)
        return False


def _run_program(code):
    """Compile and execute a file-level program as __main__.  exit()/sys.exit(0) end it normally."""
    try:
        exec(_compile(code, CODE_FILE), _fresh_namespace())
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
    finally:
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001
            pass


class _OfficialStdin:
    """COFFE's patched stdin for one test: a text stream of the input whose readline gives the input's lines
    without their newline (StopIteration past the last), readlines the lines, read the whole text."""

    def __init__(self, text):
        import io

        self.stream = io.StringIO(text)
        lines = iter(text.split("\n"))
        self.readline = lambda *a: next(lines)
        self.readlines = lambda *a: text.split("\n")
        self.read = lambda *a: text

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def __iter__(self):
        return iter(self.stream)


class _OfficialFile:
    """What COFFE's patched `open` returns, whatever is opened: the input text."""

    def __init__(self, text):
        import io

        self.stream = io.StringIO(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def __iter__(self):
        return iter(self.stream)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _WriteOnly:
    """COFFE's swallowed stdio at function level: writes vanish, reading raises OSError."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass

    def _refuse(self, *args, **kwargs):
        raise OSError("stdin is not readable here")

    read = readline = readlines = _refuse

    def readable(self):
        return False

    def writable(self):
        return True


def _run_official_program(code, shared_globals, stdin_text):
    """One test of a stdin/stdout program as COFFE's pipeline runs it; returns the captured stdout."""
    import builtins
    import io

    saved = (sys.stdin, sys.stdout, builtins.open)
    sys.stdin = _OfficialStdin(stdin_text)
    sys.stdout = io.StringIO()
    builtins.open = lambda *a, **k: _OfficialFile(stdin_text)
    try:
        exec(_compile(code.replace("if __name__", "if 1 or __name__"), CODE_FILE), shared_globals)
        return sys.stdout.getvalue()
    finally:
        sys.stdin, sys.stdout, builtins.open = saved


def _error_text(exc):
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(tb[-3:])[-1500:]


# ------------------------------------------------------------------------------------------ correctness
# The model's code never runs in the process that knows the nonce and the expected outputs.  The supervisor
# (this program's main) keeps both, makes itself undumpable (no ptrace, no /proc/<pid>/mem for the same uid),
# and starts a fresh interpreter, the worker, that gets only the code and each test's input over a pipe and
# answers with the output as plain JSON.  The supervisor compares it with the expected output and enforces
# the time limit itself, so code that walks frames, overrides __eq__, disables SIGALRM or writes to any fd
# it can find cannot turn a wrong answer into a pass.

GRACE_S = 1.0  # past a test's limit, the supervisor kills a worker that did not stop itself


def _undumpable():
    """prctl(PR_SET_DUMPABLE, 0): processes of the same uid can no longer ptrace us or read our memory."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except Exception:  # noqa: BLE001 - not Linux: the separate process is still the main defence
        pass


def _plain(x, depth=0):
    """The worker's answer as plain JSON: exact built-in types kept, tuples/sets/dicts tagged, anything else
    (including subclasses with a clever __eq__) reduced to its base value or its repr."""
    if depth > 200:
        raise ValueError("the output is nested too deeply")
    t = type(x)
    if x is None or t in (bool, int, str):
        return x
    if t is float:
        return x if math.isfinite(x) else {"__float__": repr(x)}
    if t is list:
        return [_plain(v, depth + 1) for v in x]
    if t is tuple:
        return {"__tuple__": [_plain(v, depth + 1) for v in x]}
    if t in (set, frozenset):
        return {"__set__": [_plain(v, depth + 1) for v in x]}
    if t is dict:
        return {"__dict__": [[_plain(k, depth + 1), _plain(v, depth + 1)] for k, v in x.items()]}
    for base in (bool, int, float, str):
        if isinstance(x, base):
            return _plain(base(x), depth + 1)
    return {"__repr__": repr(x)[:1000]}


class _Opaque:
    """An output that was no plain value: equal to nothing."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return False

    __hash__ = None

    def __repr__(self):
        return self.text


def _unplain(x):
    """Back from JSON, in the supervisor (plain data only: nothing of the worker's can run here)."""
    if isinstance(x, list):
        return [_unplain(v) for v in x]
    if isinstance(x, dict) and len(x) == 1:
        (tag, v), = x.items()
        if tag == "__tuple__":
            return tuple(_unplain(e) for e in v)
        if tag == "__set__":
            try:
                return set(_unplain(e) for e in v)
            except TypeError:
                return _Opaque("set(...)")
        if tag == "__dict__":
            try:
                return {_unplain(k): _unplain(e) for k, e in v}
            except TypeError:
                return _Opaque("dict(...)")
        if tag == "__float__":
            return float(v)
        if tag == "__repr__":
            return _Opaque(str(v))
    if isinstance(x, dict):
        return _Opaque("dict")
    return x


def _worker(read_fd, write_fd):
    """The correctness worker: runs the model's code on one test at a time.  Nothing it sends is trusted."""
    requests = os.fdopen(read_fd, "r", encoding="utf-8")
    replies = os.fdopen(write_fd, "w", encoding="utf-8")
    setup = json.loads(requests.readline())
    level, code, official = setup["level"], setup["code"], setup.get("semantics") == "official"
    program = (setup["io"] if official else level == "file")
    signal.signal(signal.SIGALRM, _on_alarm)
    _python_limits()
    fn = None
    shared_globals = {}  # COFFE runs every test of a program in one globals dict
    for line in requests:
        test = json.loads(line)
        reply = {}
        try:
            if not program:
                if fn is None:
                    if official:  # COFFE runs a function's module and calls with stdio swallowed, reads raising
                        sys.stdin = sys.stdout = sys.stderr = _WriteOnly()
                    random.seed(SEED)
                    fn = _define_solution(code)
                args = test["input"]
                start = time.perf_counter()
                _arm(test["limit"])
                try:
                    got = fn(*args)
                finally:
                    _disarm()
                reply["time"] = time.perf_counter() - start
            elif official:
                start = time.perf_counter()
                _arm(test["limit"])
                try:
                    got = _run_official_program(code, shared_globals, test["input"][0])
                finally:
                    _disarm()
                reply["time"] = time.perf_counter() - start
            else:
                with _Stdio(test["input"][0]) as io_:
                    start = time.perf_counter()
                    _arm(test["limit"])
                    try:
                        _run_program(code)
                    finally:
                        _disarm()
                    reply["time"] = time.perf_counter() - start
                    got = io_.output()
            reply.update(status="ok", value=_plain(got))
        except TestTimeout:
            reply = {"status": "timeout"}
        except SyntaxError as exc:
            reply = {"status": "error", "reason": "syntax error: %s (line %s)" % (exc.msg, exc.lineno)}
        except RecursionError as exc:
            reply = {"status": "error", "reason": "raised RecursionError", "error": _error_text(exc)}
        except BaseException as exc:  # noqa: BLE001 - the model's code raised: an error verdict
            reply = {"status": "error", "reason": "raised %s: %s" % (type(exc).__name__, exc),
                     "error": _error_text(exc)}
        replies.write(json.dumps(reply, default=repr) + "\n")
        replies.flush()


class _Worker:
    """The supervisor's handle on a worker process."""

    def __init__(self, setup, argv_prefix=(), flag="--worker", log_fd=None):
        import subprocess

        to_worker_r, self.to_worker = os.pipe()
        self.from_worker, from_worker_w = os.pipe()
        fds = (to_worker_r, from_worker_w) + ((log_fd,) if log_fd is not None else ())
        self.proc = subprocess.Popen(
            list(argv_prefix) + [sys.executable, os.path.abspath(__file__), flag, str(to_worker_r),
                                 str(from_worker_w)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=fds, start_new_session=False)
        os.close(to_worker_r)
        os.close(from_worker_w)
        self.buffer = b""
        self._send(setup)

    def _send(self, obj):
        data = (json.dumps(obj) + "\n").encode("utf-8")
        try:
            while data:
                data = data[os.write(self.to_worker, data):]
        except BrokenPipeError:
            pass  # the worker died: its next reply says so

    def ask(self, test_input, limit):
        """The worker's reply to one test, or None when it did not answer in time (it is then killed)."""
        self._send({"input": test_input, "limit": limit})
        return self.reply(limit + GRACE_S)

    def reply(self, timeout_s, also=None):
        """The next reply line, or None past timeout_s (the worker is then killed).  `also`: (fd, callback) read
        while waiting (the counting worker's valgrind log)."""
        import select

        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            fds = [self.from_worker] + ([also[0]] if also and also[0] is not None else [])
            ready = select.select(fds, [], [], max(0.0, left))[0] if left > 0 else []
            if not ready:
                self.kill()
                return None
            if also and also[0] in ready:
                also[1]()
            if self.from_worker not in ready:
                continue
            chunk = os.read(self.from_worker, 1 << 20)
            if not chunk:  # the worker died
                self.proc.wait()
                return {"status": "error", "reason": "the program ended the checking process (exit status %s)"
                        % self.proc.returncode}
            self.buffer += chunk
            if len(self.buffer) > (64 << 20):
                self.kill()
                return {"status": "error", "reason": "the output is too large"}
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            return {"status": "error", "reason": "the program wrote into the checker's channel"}
        return reply if isinstance(reply, dict) else {"status": "error", "reason": "garbled reply"}

    def kill(self):
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()

    def close(self):
        for fd in (self.to_worker, self.from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        self.kill()


def run_correctness(job):
    level, code, tests, limits = job["level"], job["code"], job["tests"], job["limits"]
    official = job.get("semantics") == "official"
    compare = official_is_equal if official else is_equal
    try:
        _compile(code, CODE_FILE)
    except SyntaxError as exc:
        return 2, {"reason": "syntax error: %s (line %s)" % (exc.msg, exc.lineno)}
    except (ValueError, MemoryError, RecursionError) as exc:
        return 2, {"reason": "the code cannot be compiled: %s" % type(exc).__name__}
    worker = _Worker({"level": level, "code": code, "semantics": job.get("semantics", "harness"),
                      "io": bool(job.get("io"))})
    times = []
    try:
        for i, test in enumerate(tests):
            limit = limits[i]
            reply = worker.ask(test["input"], limit)
            if reply is None or reply.get("status") == "timeout":
                return 2, {"test": i, "reason": "timeout: correctness test %d ran past its limit of %.2fs"
                           % (i, limit), "times": times}
            if reply.get("status") != "ok":
                out = {"test": i, "reason": "correctness test %d %s" % (i, str(reply.get("reason"))[:500]),
                       "times": times}
                if "syntax error" in str(reply.get("reason")):
                    out["reason"] = str(reply["reason"])[:500]
                if reply.get("error"):
                    out["error"] = str(reply["error"])[:1500]
                return 2, out
            try:
                got = _unplain(reply.get("value"))
                t = float(reply.get("time", 0.0))
            except (TypeError, ValueError, RecursionError):
                return 2, {"test": i, "reason": "correctness test %d: unreadable output" % i, "times": times}
            times.append(max(0.0, t))
            expected = test["output"][0]
            if not compare(got, expected):
                return 1, {"test": i, "reason": "wrong output on correctness test %d" % i,
                           "got": _short(got), "expected": _short(expected), "times": times}
        return 0, {"times": times}
    finally:
        worker.close()


def _short(value, n=300):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[:n] + "..."


# ------------------------------------------------------------------------------------------- counting
_sample_310 = random.Random.sample


def _sample_compat(self, population, k, *args, **kwargs):
    """random.sample as Python 3.10 had it: a set is accepted (read as a tuple in iteration order)."""
    if isinstance(population, (set, frozenset)):
        population = tuple(population)
    return _sample_310(self, population, k, *args, **kwargs)


def _build_input(level, spec):
    """The argument list (function level) or the stdin text (file level) of one stressful test."""
    random.seed(SEED)
    if level == "function":
        import collections, functools, heapq, itertools, math as math_, string  # noqa: E401
        ns = {"random": random, "math": math_, "string": string, "itertools": itertools,
              "collections": collections, "heapq": heapq, "functools": functools}
        args = eval(_compile(spec, "<input>", "eval"), ns)
        return list(args) if isinstance(args, (list, tuple)) else [args]
    ns = _fresh_namespace()
    ns["__name__"] = "generator"
    exec(_compile(spec, "<generator>"), ns)
    text = ns["generate_input"]()
    if not isinstance(text, str):
        raise TypeError("generate_input() returned %s, not str" % type(text).__name__)
    return text


def _libc_fork():
    import ctypes

    pid = ctypes.CDLL(None, use_errno=True).fork()
    if pid < 0:
        raise OSError(ctypes.get_errno(), "fork")
    return pid


def _process_guard():
    """A seccomp filter, prepared: calling the result installs it and returns None, or why it could not be
    installed.  Under it fork, vfork, clone without CLONE_THREAD, exec and x32 calls fail (EPERM; clone3 ENOSYS,
    so that threads fall back to clone).  Filters cannot be removed, so the model's code runs under it."""
    import ctypes
    import struct

    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, 0xC000003E), (ret, 0, 0, eperm),  # not x86-64: refuse
            (ld, 0, 0, 0), (jge, 0, 1, 0x40000000), (ret, 0, 0, eperm)]
    for nr in (59, 322, 57, 58):  # execve, execveat, fork, vfork
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
    prog += [(jeq, 0, 1, 435), (ret, 0, 0, enosys),  # clone3
             (jeq, 0, 3, 56), (ld, 0, 0, 16), (jset, 1, 0, 0x10000), (ret, 0, 0, eperm),  # clone: threads only
             (ret, 0, 0, allow)]
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *ins) for ins in prog))
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(code)))
    libc = ctypes.CDLL(None, use_errno=True)
    args = (ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0),
            ctypes.c_ulong(2), ctypes.c_void_p(ctypes.addressof(fprog)))

    def install():
        if libc.prctl(38, args[0], args[1], args[2], args[3]) != 0:  # PR_SET_NO_NEW_PRIVS
            return "no_new_privs: errno %d" % ctypes.get_errno()
        if libc.prctl(22, args[4], args[5], args[1], args[2]) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
            return "seccomp filter: errno %d" % ctypes.get_errno()
        return None

    install.keep = (code, fprog)
    return install


def _count_worker(read_fd, write_fd):
    """The counting worker (under cachegrind, or native for the reference's first pass).  Everything up to the
    snapshot is ours; from the first test on, the model's code runs here and nothing this process says is
    trusted, except through what valgrind counts."""
    os.close(read_fd)  # the job comes as a file (see run_counts)
    replies = os.fdopen(write_fd, "w", encoding="utf-8")

    def say(obj):
        replies.write(json.dumps(obj) + "\n")
        replies.flush()

    with open(COUNT_SETUP, encoding="utf-8") as fh:
        setup = json.loads(fh.read())
    os.unlink(COUNT_SETUP)
    if setup.get("log_fd") is not None:
        os.close(setup["log_fd"])  # valgrind writes its log through its own copy, out of the program's range
    level, code, indices, limits = setup["level"], setup["code"], setup["indices"], setup["limits"]
    timed = not setup.get("counted")  # under cachegrind every message after the snapshot has a fixed size
    signal.signal(signal.SIGALRM, _on_alarm)
    _python_limits()
    for name in PRELOADED:  # an `import` in the code costs a dictionary look-up, for every answer alike
        __import__(name)
    # Python 3.11 removed random.sample(set); COFFE's generators were written for 3.10.
    random.Random.sample = _sample_compat
    random.sample = random._inst.sample
    inputs, built = {}, []
    for i, spec in zip(indices, setup["stress"]):
        try:
            inputs[i] = _build_input(level, spec)
            built.append({"i": i, "ok": True})
        except BaseException as exc:  # noqa: BLE001 - a data problem (the generator), not the model's
            built.append({"i": i, "ok": False, "stage": "input",
                          "reason": "%s: %s" % (type(exc).__name__, str(exc)[:300])})
    random.Random.sample = _sample_310
    compiled = _compile(code, CODE_FILE) if level == "function" else None
    install_guard = _process_guard()
    gc.collect()
    gc.freeze()  # what exists now is never traversed again: collections later cost what the code allocates
    # The snapshot: a child that exits at once; cachegrind reports its count, the parent's up to here.  libc's
    # fork rather than os.fork: the latter runs Python's at-fork hooks in the child (random reseeds itself from
    # os.urandom, whose bytes change the child's count by a few instructions from run to run).
    # SIGCHLD stays blocked: its arrival would interrupt whatever system call the worker is in (waitpid, a write)
    # at a moment that depends on timing, and Python's retry of it costs instructions.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    snapshot = _libc_fork()
    if snapshot == 0:
        os._exit(0)
    os.waitpid(snapshot, 0)
    guard = install_guard()
    say({"ready": True, "snapshot_pid": "%012d" % snapshot, "guard": guard, "inputs": built})
    for pos, i in enumerate(indices):
        if i not in inputs:
            continue
        start = time.perf_counter() if timed else 0.0  # reading the clock (vDSO) costs a varying few instructions
        row = {"i": i}
        try:
            if level == "function":
                fn = _define_solution(compiled)  # a fresh namespace: caches of an earlier test do not help
                gc.collect()
                _arm(limits[pos])
                try:
                    fn(*inputs.pop(i))
                finally:
                    _disarm()
            else:
                with _Stdio(inputs.pop(i)):
                    gc.collect()
                    _arm(limits[pos])
                    try:
                        _run_program(code)
                    finally:
                        _disarm()
            row["ok"] = True
        except TestTimeout:
            row.update(ok=False, stage="run", reason="timeout: ran past %.1fs" % limits[pos])
        except BaseException as exc:  # noqa: BLE001
            row.update(ok=False, stage="run", reason="%s: %s" % (type(exc).__name__, str(exc)[:300]))
        if timed:
            row["wall_s"] = round(time.perf_counter() - start, 4)
        say(row)
    os._exit(0)


_SUMMARY = re.compile(r"^==(\d+)== I\s+refs:\s+([\d,]+)\s*$")
_HEADER = re.compile(r"^==(\d+)== Command: ")


def read_count(log_text, worker_pid, snapshot_pid, exit_code, result_totals=None):
    """The model code's instructions from valgrind's log: (count, None) or (None, why).  Why starts with
    "tampered: " when the log cannot be valgrind's own account of one worker and its snapshot.  `result_totals`
    gets [the snapshot's total, the worker's total] where both are there."""
    result_totals = [] if result_totals is None else result_totals
    summaries = [(int(m.group(1)), int(m.group(2).replace(",", "")))
                 for m in map(_SUMMARY.match, log_text.splitlines()) if m]
    headers = [int(m.group(1)) for m in map(_HEADER.match, log_text.splitlines()) if m]
    if exit_code != 0:
        return None, "the counted worker did not end normally (exit status %s)" % exit_code
    if headers != [worker_pid]:
        return None, "tampered: valgrind's log shows %d program starts (expected one)" % len(headers)
    if len(summaries) < 2 or summaries[0][0] != snapshot_pid or summaries[-1][0] != worker_pid:
        return None, "tampered: valgrind's log does not end with the counted worker's own total"
    if any(pid not in (snapshot_pid, worker_pid) for pid, _ in summaries):
        return None, "tampered: another process's count is in valgrind's log"
    total = summaries[-1][1] - summaries[0][1]
    result_totals[:] = [summaries[0][1], summaries[-1][1]]
    if total < 0:
        return None, "tampered: the total is below the snapshot"
    return total, None


def run_counts(job):
    """Supervise one counting worker: its per-test rows, and its count (cachegrind) or times (native)."""
    level = job["level"]
    indices = list(range(len(job["stress"]))) if job.get("stress_only") is None else list(job["stress_only"])
    limits = job["limits"]
    counted = job.get("counter", "cachegrind") == "cachegrind"
    log_r = log_w = None
    prefix = []
    if counted:
        log_r, log_w = os.pipe()
        prefix = [VALGRIND, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                  "--trace-children=yes", "--vgdb=no", "--log-fd=%d" % log_w]
    setup = {"level": level, "code": job["code"], "indices": indices, "limits": limits, "counted": counted,
             "log_fd": log_w, "stress": [job["stress"][i] for i in indices]}
    # The setup goes through a file, read in one piece: read from a pipe, it arrives in chunks of a size that
    # depends on timing, and the heap the reads leave behind moved the count after the snapshot by a few
    # instructions now and then.
    with open(COUNT_SETUP, "w", encoding="utf-8") as fh:
        json.dump(setup, fh)
    worker = _Worker({}, prefix, flag="--count-worker", log_fd=log_w)
    log = []

    def drain():
        chunk = os.read(log_r, 1 << 16)
        if chunk and sum(map(len, log)) < (4 << 20):
            log.append(chunk)

    also = (log_r, drain) if counted else None
    if log_w is not None:
        os.close(log_w)
    rows = {}
    result = {"tests": [], "count": None, "count_error": None}
    try:
        ready = worker.reply(job.get("setup_limit", 600.0), also)
        if not ready or not ready.get("ready"):
            result["reason"] = "the inputs could not be built: %s" % ((ready or {}).get("reason") or "timeout")
            return 0, result
        for row in ready.get("inputs", []):
            if not row.get("ok"):
                rows[row["i"]] = row
        result["guard"] = ready.get("guard")
        for pos, i in enumerate(indices):
            if i in rows:
                continue
            reply = worker.reply(limits[pos] + GRACE_S, also)
            if reply is None:
                rows[i] = {"i": i, "ok": False, "stage": "run", "reason": "timeout: ran past %.1fs" % limits[pos]}
                break
            if "i" not in reply:
                rows[i] = {"i": i, "ok": False, "stage": "run", "reason": str(reply.get("reason"))[:300]}
                break
            rows[reply["i"]] = reply
            if not reply.get("ok") and job.get("stop_at_failure"):
                break
        worker.proc.wait()
        if counted:
            while True:
                chunk = os.read(log_r, 1 << 16)
                if not chunk:
                    break
                if sum(map(len, log)) < (4 << 20):
                    log.append(chunk)
            result["totals"] = []
            result["count"], result["count_error"] = read_count(
                b"".join(log).decode("utf-8", "replace"), worker.proc.pid, int(ready.get("snapshot_pid") or -1),
                worker.proc.returncode, result["totals"])
            if ready.get("guard"):
                result["count"], result["count_error"] = None, "the worker could not be fenced in: " + ready["guard"]
    finally:
        worker.close()
        if log_r is not None:
            os.close(log_r)
    result["tests"] = [rows.get(i, {"i": i, "ok": False, "stage": "run", "reason": "not reached"}) for i in indices]
    return 0, result


# ------------------------------------------------------------------------------------------------ main
def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker(int(sys.argv[2]), int(sys.argv[3]))
        os._exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "--count-worker":
        _count_worker(int(sys.argv[2]), int(sys.argv[3]))
        os._exit(0)
    _undumpable()
    _python_limits()  # the worker's outputs may hold integers of up to 10**6 digits
    nonce = sys.stdin.readline().strip()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    with open("job.json", encoding="utf-8") as fh:
        job = json.load(fh)
    os.unlink("job.json")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    if job["mode"] == "correct":
        code, result = run_correctness(job)
    elif job["mode"] == "count":
        code, result = run_counts(job)
    else:
        code, result = 3, {"reason": "unknown mode %r" % job["mode"]}
    out.write("\n@@coffe %s %s\n" % (nonce, json.dumps(result, default=repr)))
    out.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
