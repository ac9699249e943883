#!/usr/bin/env python3
"""COFFE's per-sample check program.  Runs INSIDE the sandbox, never on the host.

The harness sends this file with `job.json` (what to run) and writes a one-line nonce on stdin; the result is
printed as the last line of the real stdout: `@@coffe <nonce> {json}`.  Standard library only, Python >= 3.9.
In "correct" mode the model's code runs in a separate worker process (`check.py --worker`) that never sees
the nonce or the expected outputs; see the correctness section below.

job.json:
  level        "function" | "file"
  mode         "correct": run the correctness tests, fail fast, exit 0 (all pass) / 1 (an output differs)
                          / 2 (the code does not compile or define `solution`, raises, or runs past a limit)
               "count":   build each stressful input (not counted), then call the solution on it inside
                          vgcount.count_call("s<i>", ...) under callgrind; exit 0 unless the code is broken
  code         the program: at function level it defines `solution`; at file level it reads stdin
  tests        correctness tests: [{"input": [args...] | [stdin], "output": [expected]}]
  limits       per-test limits in seconds (one per test, relative to the reference solution's time)
  stress       stressful tests: function level, a Python expression giving the argument list;
               file level, a program defining generate_input() that returns the stdin text
  stress_only  indices of the stressful tests to run (default: all)

Counted region (mode "count"): function level, only `solution(*args)`; file level, compiling and executing the
program with stdin and stdout redirected (not interpreter start-up, not the input generator).  Each test runs
in a fresh namespace (module-level caches of the code do not carry over), with `random.seed(1024)` before its
input is built, as COFFE does.
"""

from __future__ import annotations

import gc
import json
import math
import os
import random
import signal
import sys
import time
import traceback

SEED = 1024
CODE_FILE = "<solution>"


class TestTimeout(BaseException):
    """Raised by SIGALRM when a test runs past its limit (BaseException: `except Exception` cannot eat it)."""


def _on_alarm(signum, frame):
    raise TestTimeout()


def _arm(seconds):
    signal.setitimer(signal.ITIMER_REAL, max(0.001, float(seconds)))


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


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
    except Exception:  # noqa: BLE001 - a broken __eq__ of the model's objects is a mismatch
        return False


def is_equal(got, expected):
    """COFFE's comparison: exact; else, for strings, equal once newlines, spaces and brackets are deleted;
    else equal with tuples read as lists and floats compared with atol 1e-6."""
    try:
        if got == expected:
            return True
    except Exception:  # noqa: BLE001
        pass
    if isinstance(got, str) and isinstance(expected, str):
        return _strip(got) == _strip(expected)
    return _close(got, expected)


# ------------------------------------------------------------------------------------------- running
def _fresh_namespace():
    return {"__name__": "__main__", "__builtins__": __builtins__}


def _define_solution(code):
    """Execute the function-level code in a fresh namespace; return its `solution`."""
    ns = _fresh_namespace()
    ns["__name__"] = "solution_module"
    exec(compile(code, CODE_FILE, "exec"), ns)
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


def _run_program(code, flush_into=None):
    """Compile and execute a file-level program as __main__.  exit()/sys.exit(0) end it normally."""
    try:
        exec(compile(code, CODE_FILE, "exec"), _fresh_namespace())
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
    finally:
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001
            pass


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
    """The worker: runs the model's code on one test at a time.  Nothing it sends is trusted."""
    requests = os.fdopen(read_fd, "r", encoding="utf-8")
    replies = os.fdopen(write_fd, "w", encoding="utf-8")
    setup = json.loads(requests.readline())
    level, code = setup["level"], setup["code"]
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    fn = None
    for line in requests:
        test = json.loads(line)
        reply = {}
        try:
            if level == "function":
                fn = _define_solution(code) if fn is None or setup.get("fresh_each_test") else fn
                args = test["input"]
                start = time.perf_counter()
                _arm(test["limit"])
                try:
                    got = fn(*args)
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

    def __init__(self, level, code, fresh_each_test):
        import subprocess

        to_worker_r, self.to_worker = os.pipe()
        self.from_worker, from_worker_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", str(to_worker_r), str(from_worker_w)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_worker_r, from_worker_w), start_new_session=False)
        os.close(to_worker_r)
        os.close(from_worker_w)
        self.buffer = b""
        self._send({"level": level, "code": code, "fresh_each_test": bool(fresh_each_test)})

    def _send(self, obj):
        data = (json.dumps(obj) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.to_worker, data):]

    def ask(self, test_input, limit):
        """The worker's reply to one test, or None when it did not answer in time (it is then killed)."""
        import select

        self._send({"input": test_input, "limit": limit})
        deadline = time.monotonic() + limit + GRACE_S
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready = select.select([self.from_worker], [], [], max(0.0, left))[0] if left > 0 else []
            if not ready:
                self.kill()
                return None
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
    try:
        compile(code, CODE_FILE, "exec")
    except SyntaxError as exc:
        return 2, {"reason": "syntax error: %s (line %s)" % (exc.msg, exc.lineno)}
    worker = _Worker(level, code, job.get("fresh_each_test"))
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
            if not is_equal(got, expected):
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
        args = eval(spec, ns)
        return list(args) if isinstance(args, (list, tuple)) else [args]
    ns = _fresh_namespace()
    ns["__name__"] = "generator"
    exec(compile(spec, "<generator>", "exec"), ns)
    text = ns["generate_input"]()
    if not isinstance(text, str):
        raise TypeError("generate_input() returned %s, not str" % type(text).__name__)
    return text


def run_counts(job):
    from vgcount import count_call

    level, code = job["level"], job["code"]
    limits = job["limits"]
    only = job.get("stress_only")
    indices = list(range(len(job["stress"]))) if only is None else list(only)
    # Python 3.11 removed random.sample(set); COFFE's generators were written for 3.10.
    random.Random.sample = _sample_compat
    module_sample, random.sample = random.sample, random._inst.sample  # the module's function, rebound
    if level == "function":
        try:
            _define_solution(code)
        except BaseException as exc:  # noqa: BLE001
            return 2, {"reason": "the code cannot be loaded: %s: %s" % (type(exc).__name__, exc)}
    tests = []
    for pos, i in enumerate(indices):
        row = {"i": i}
        tests.append(row)
        try:
            spec = _build_input(level, job["stress"][i])
        except BaseException as exc:  # noqa: BLE001 - a data problem (the generator), not the model's
            row.update(ok=False, stage="input", reason="%s: %s" % (type(exc).__name__, str(exc)[:300]))
            continue
        limit = limits[pos]
        start = time.perf_counter()
        try:
            if level == "function":
                fn = _define_solution(code)  # fresh namespace: caches of an earlier test do not help
                gc.collect()  # the collector's counters start from zero: counts do not depend on history
                _arm(limit)
                try:
                    count_call("s%d" % i, fn, *spec)
                finally:
                    _disarm()
            else:
                with _Stdio(spec):
                    gc.collect()
                    _arm(limit)
                    try:
                        count_call("s%d" % i, _run_program, code)
                    finally:
                        _disarm()
            row.update(ok=True)
        except TestTimeout:
            row.update(ok=False, stage="run", reason="timeout: ran past %.1fs" % limit)
        except BaseException as exc:  # noqa: BLE001
            row.update(ok=False, stage="run", reason="%s: %s" % (type(exc).__name__, str(exc)[:300]))
        row["wall_s"] = round(time.perf_counter() - start, 4)
    random.Random.sample, random.sample = _sample_310, module_sample
    return 0, {"tests": tests}


# ------------------------------------------------------------------------------------------------ main
def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker(int(sys.argv[2]), int(sys.argv[3]))
        os._exit(0)
    _undumpable()
    nonce = sys.stdin.readline().strip()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    with open("job.json", encoding="utf-8") as fh:
        job = json.load(fh)
    os.unlink("job.json")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # the model's code reads no leftover stdin and writes nothing we parse
    os.dup2(null, 1)
    os.close(null)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
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
