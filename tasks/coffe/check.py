#!/usr/bin/env python3
"""COFFE's per-sample check program.  Runs INSIDE the sandbox, never on the host.

The harness sends this file with `job.json` (what to run) and writes a one-line nonce on stdin; the result is
printed as the last line of the real stdout: `@@coffe <nonce> {json}`.  Standard library only, Python >= 3.9.

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

import copy
import gc
import io
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


def run_correctness(job):
    level, code, tests, limits = job["level"], job["code"], job["tests"], job["limits"]
    times = []
    if level == "function":
        try:
            compile(code, CODE_FILE, "exec")
        except SyntaxError as exc:
            return 2, {"reason": "syntax error: %s (line %s)" % (exc.msg, exc.lineno)}
    for i, test in enumerate(tests):
        limit = limits[i]
        try:
            if level == "function":
                fn = _define_solution(code) if i == 0 or job.get("fresh_each_test") else fn
                args = copy.deepcopy(test["input"])
                start = time.perf_counter()
                _arm(limit)
                try:
                    got = fn(*args)
                finally:
                    _disarm()
                times.append(time.perf_counter() - start)
            else:
                with _Stdio(test["input"][0]) as io_:
                    start = time.perf_counter()
                    _arm(limit)
                    try:
                        _run_program(code)
                    finally:
                        _disarm()
                    times.append(time.perf_counter() - start)
                    got = io_.output()
        except TestTimeout:
            return 2, {"test": i, "reason": "timeout: correctness test %d ran past its limit of %.2fs" % (i, limit),
                       "times": times}
        except SyntaxError as exc:
            return 2, {"test": i, "reason": "syntax error: %s (line %s)" % (exc.msg, exc.lineno)}
        except RecursionError as exc:
            return 2, {"test": i, "reason": "correctness test %d raised RecursionError" % i, "error": _error_text(exc)}
        except BaseException as exc:  # noqa: BLE001 - the model's code raised: an error verdict
            return 2, {"test": i, "reason": "correctness test %d raised %s: %s" % (i, type(exc).__name__, exc),
                       "error": _error_text(exc), "times": times}
        expected = test["output"][0]
        if not is_equal(got, expected):
            return 1, {"test": i, "reason": "wrong output on correctness test %d" % i,
                       "got": _short(got), "expected": _short(expected), "times": times}
    return 0, {"times": times}


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
