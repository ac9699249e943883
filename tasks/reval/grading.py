"""Grading REval items: ground truth traced in the sandbox (cached once per machine), answers compared with it.

- Ground truth of a (program, input) pair: tracer.py in the harness-reval image, one sandbox run per pair, kept in
  the engine's derived-reference cache (`ctx.derived`), keyed by the pair's content, the tracer's code and the
  image's id: traced once per program, input and image, whatever the run. A pair whose reference does not run here
  (an exception, a failing test, a missing module) makes its items ungradable, with the reason.
- Coverage and path answers are compared on the host (no code of the model's runs).
- State answers are read on the host where they are literals (ast.literal_eval, a fixed table of types) and in the
  sandbox otherwise (check_state.py); the reading is compared with the traced values here.
- Output answers: the hole expressions (output_answer.py) are run and the asserts checked in the sandbox
  (check_output.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.sandbox import ContainerLimits, Ending, InfraError, RunLimits, WarmPool
from harness.sandbox.grading import SandboxFailed, infra_verdict, run_checked, run_details
from harness.types import Sample, Status, Verdict, stable_hash

from . import state_answer, values
from .state_answer import NeedsSandbox, Reading

if TYPE_CHECKING:
    from harness.context import TaskContext

HERE = Path(__file__).resolve().parent
IMAGE = "reval"
CONTAINER = ContainerLimits(memory_mb=2048, cpus=1.0, pids=64, tmpfs_mb=128)
TRACE_LIMITS = RunLimits(timeout_s=900, output_cap_bytes=64 << 20)  # up to 5 inputs of 120 s each
STATE_LIMITS = RunLimits(timeout_s=20)
OUTPUT_LIMITS = RunLimits(timeout_s=90)
ENV = {"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
TRACE_FILES = ("tracer.py", "values.py")
STATE_FILES = ("check_state.py", "state_answer.py", "values.py")
OUTPUT_FILES = ("check_output.py", "holes.py", "values.py")
TRUTH_FORMAT = "1"  # bump when the shape of a cached truth entry changes


def _read(names: tuple[str, ...]) -> dict[str, str]:
    return {name: (HERE / name).read_text(encoding="utf-8") for name in names}


def pair_key(program: dict, pair: dict) -> str:
    """What a pair's truth is derived from: the program with all its pairs (traced together, in order) and the
    pair."""
    return stable_hash(program, pair["input_index"])


def ungradable(reason: str) -> Verdict:
    return Verdict(Status.UNGRADABLE, 0.0, {"reason": reason})


class Grader:
    """Grades the samples of one run; the pool and the truth cache come from the run's context on first use."""

    retry_wait_s = 1.0

    def __init__(self, ctx: TaskContext, harness_parsing: bool):
        self.ctx = ctx
        self.harness = harness_parsing
        self.trace_files = _read(TRACE_FILES)
        self.state_files = _read(STATE_FILES)
        self.output_files = _read(OUTPUT_FILES)
        self.trace_code = hashlib.sha256((TRUTH_FORMAT + json.dumps(self.trace_files, sort_keys=True)
                                          + json.dumps(ENV, sort_keys=True)).encode()).hexdigest()
        self._pool: WarmPool | None = None
        self._view = None
        self._lock = threading.Lock()
        self._pair_locks: dict[str, threading.Lock] = {}
        self._answerable: dict[str, bool] = {}
        self.stats = {"traced": 0, "truth_cached": 0, "state_in_sandbox": 0, "output_runs": 0}

    # ----------------------------------------------------------------------------------------- resources
    def pool(self) -> WarmPool:
        with self._lock:
            if self._pool is None:
                self._pool = self.ctx.sandbox_pool(IMAGE, CONTAINER)
            return self._pool

    def view(self):
        image = self.pool().image_id
        with self._lock:
            if self._view is None:
                self._view = self.ctx.derived("truth", code=self.trace_code, image=image)
            return self._view

    def _pair_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._pair_locks.setdefault(key, threading.Lock())

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    # --------------------------------------------------------------------------------------------- truth
    def truth(self, sample: Sample) -> dict:
        """The pair's traced truth: {"ok": True, "atoms": [...], ...} or {"ok": False, "error": why}. On a miss the
        whole program is traced (all its pairs, in order, in one namespace, as REval runs them) and every pair
        cached."""
        program = sample.inputs["program"]
        keys = [pair_key(program, p) for p in program["pairs"]]
        key = pair_key(program, sample.inputs["pair"])
        view = self.view()
        with self._pair_lock(keys[0]):
            found = view.get(key)
            if found is not None:
                self._count("truth_cached")
                return found
            results = self._trace(program)
            view.put_many(dict(zip(keys, results)))
            self._count("traced")
            return results[keys.index(key)]

    def _trace(self, program: dict) -> list[dict]:
        job = {"program": {"kind": program["kind"], "code": program["code"], "entry_point": program["entry_point"],
                           "test": program["test"],
                           "inputs": [{"key": str(n), "index": pair["input_index"],
                                       "args": pair["input_text"] if program["kind"] == "function" else None,
                                       "expected": pair["expected"],
                                       "atoms": [{"lineno": ln, "var": var} for ln, var in pair["atoms"]]}
                                      for n, pair in enumerate(program["pairs"])]}}
        nonce = secrets.token_hex(12)
        result = run_checked(self.pool(), ["python3", "tracer.py"], files={**self.trace_files, "job.json":
                                                                          json.dumps(job)},
                             stdin=nonce + "\n", env=ENV, limits=TRACE_LIMITS, retry_wait_s=self.retry_wait_s)
        marker = f"@@reval-trace {nonce} "
        lines = [ln for ln in result.stdout.splitlines() if ln.startswith(marker)]
        if result.ending is not Ending.EXITED or not lines:
            why = result.detail or f"exit {result.exit_code}"
            failed = {"ok": False, "error": f"the tracer gave no result ({result.ending.value}: {why}): "
                                            f"{result.stderr[-500:]}"}
            return [failed] * len(program["pairs"])
        out = json.loads(lines[-1][len(marker):])
        return [out[str(n)] for n in range(len(program["pairs"]))]

    # --------------------------------------------------------------------------------------------- grade
    def grade(self, sample: Sample, answer: Any) -> Verdict:
        try:
            truth = self.truth(sample)
            if not truth.get("ok"):
                return ungradable(f"the ground truth of {sample.inputs['program']['task_id']} input "
                                  f"{sample.inputs['pair']['input_index']} cannot be computed: {truth.get('error')}")
            task = sample.inputs["task"]
            if task == "output":
                return self._output(sample, answer)
            atom = truth["atoms"][sample.inputs["atom"]]
            return {"coverage": _coverage, "path": _path, "state": self._state}[task](atom, answer)
        except SandboxFailed as failed:
            return failed.verdict
        except InfraError as exc:
            return infra_verdict(exc, 1)

    # state ---------------------------------------------------------------------------------------------
    def _state(self, atom: dict, answer: dict) -> Verdict:
        st = atom["state"]
        if "error" in st:
            return ungradable(f"REval cannot read this state variable: {st['error']}")
        truth = None if st.get("nil") else [values.decode(t) for t in st["values"]]
        if truth is not None and self.state_answer_for(truth) is None:
            return ungradable("the true value is an object no `value; type` answer can denote: "
                              + ", ".join(sorted({values.type_name(type(t)) for t in truth})))
        text = answer["text"]
        details: dict[str, Any] = {"truth": "Nil" if truth is None else [values.describe(t) for t in st["values"]][:5],
                                   "answer": text, "baseline": truth is None}
        if text is None:
            reading = Reading("error", why="no answer (an unfinished chain of thought)")
        else:
            try:
                reading = state_answer.read(text, state_answer.literal_values, self.harness)
            except NeedsSandbox:
                reading = self._read_in_sandbox(text)
                details["read_in_sandbox"] = True
        details["reading"] = reading.kind if reading.kind != "value" else \
            f"{values.describe(values.encode(reading.value))}; {getattr(reading.type, '__name__', reading.type)}"
        if reading.why:
            details["why"] = reading.why
        ok = state_answer.matches(reading, truth)
        return Verdict(Status.PASS if ok else Status.FAIL, float(ok), details)

    def state_answer_for(self, truth: list | None) -> str | None:
        """A `value; type` answer that reads back as one of the true values (read here, or in the sandbox where it
        must be evaluated), or None: an object that no answer can denote (such an item is ungradable)."""
        if truth is None:
            return "Nil"
        for value in truth:
            for text in _candidates(value):
                try:
                    reading = state_answer.read(text, state_answer.literal_values, self.harness)
                except NeedsSandbox:
                    key = stable_hash("state-answerable", text, self.harness)
                    with self._lock:
                        known = self._answerable.get(key)
                    if known is None:
                        known = state_answer.matches(self._read_in_sandbox(text), truth)
                        with self._lock:
                            self._answerable[key] = known
                    if known:
                        return text
                    continue
                if state_answer.matches(reading, truth):
                    return text
        return None

    def _read_in_sandbox(self, text: str) -> Reading:
        self._count("state_in_sandbox")
        result = run_checked(self.pool(), ["python3", "check_state.py"],
                             files={**self.state_files, "job.json": json.dumps({"answer": text,
                                                                                "harness": self.harness})},
                             env=ENV, limits=STATE_LIMITS, retry_wait_s=self.retry_wait_s)
        lines = [ln for ln in result.stdout.splitlines() if ln.startswith("@@reval-state ")]
        if result.ending is not Ending.EXITED or not lines:
            return Reading("error", why=f"evaluating the answer failed ({result.ending.value})")
        try:
            got = json.loads(lines[-1][len("@@reval-state "):])
            if got.get("kind") == "value":
                return Reading("value", values.decode(got["value"]), values.decode(got["type"]))
            return Reading(str(got.get("kind")), why=str(got.get("why", "")))
        except (ValueError, TypeError, KeyError, AttributeError):
            return Reading("error", why="the answer's evaluation printed something unreadable")

    # output --------------------------------------------------------------------------------------------
    def _output(self, sample: Sample, answer: dict) -> Verdict:
        if answer.get("problem"):
            return Verdict(Status.FAIL, 0.0, {"reason": answer["problem"]})
        program, pair = sample.inputs["program"], sample.inputs["pair"]
        if program["kind"] == "function":
            verdict = _output_on_host(self.truth(sample), answer["holes"])
            if verdict is not None:
                return verdict
        job = {"kind": program["kind"], "code": program["code"], "entry_point": program["entry_point"],
               "test": program["test"], "test_class_index": pair["input_index"], "question": pair["question"],
               "original": pair["input_text"] if program["kind"] == "class" else None, "holes": answer["holes"]}
        nonce = secrets.token_hex(12)
        self._count("output_runs")
        result = run_checked(self.pool(), ["python3", "check_output.py"],
                             files={**self.output_files, "job.json": json.dumps(job)}, stdin=nonce + "\n",
                             env=ENV, limits=OUTPUT_LIMITS, retry_wait_s=self.retry_wait_s)
        marker = f"@@reval-output {nonce} "
        lines = [ln for ln in result.stdout.splitlines() if ln.startswith(marker)]
        details = run_details(result)
        details["holes"] = list(answer["holes"])
        if result.ending is not Ending.EXITED or not lines:
            details["reason"] = f"the check did not finish ({result.ending.value} {result.detail})".strip()
            return Verdict(Status.ERROR, 0.0, details)
        got = json.loads(lines[-1][len(marker):])
        details["reason"] = got.get("reason", "")
        status = {"pass": Status.PASS, "fail": Status.FAIL, "error": Status.ERROR,
                  "ungradable": Status.UNGRADABLE}.get(got.get("verdict"), Status.ERROR)
        return Verdict(status, float(status is Status.PASS), details)


def _output_on_host(truth: dict, holes: list[str]) -> Verdict | None:
    """`assert f(args) == <literal>` decided here: the traced result (plain data) against the literal, with `==` as
    the assert would; None where only the sandbox can tell (an expression, a result that is not plain data)."""
    if len(holes) != 1 or "result" not in truth:
        return None
    try:
        expected = state_answer.literal(holes[0])
    except (NeedsSandbox, SyntaxError):
        return None
    result = values.decode(truth["result"])
    if _has_opaque(result):
        return None
    try:
        ok = bool(result == expected)
    except Exception as exc:  # noqa: BLE001 - the assert raises: a fail
        return Verdict(Status.FAIL, 0.0, {"reason": f"comparing raised {type(exc).__name__}", "holes": holes})
    details = {"holes": holes, "decided": "on the host (a literal against the traced result)"}
    if not ok:
        details["reason"] = f"assertion failed: {values.describe(truth['result'])} != {holes[0][:200]}"
    return Verdict(Status.PASS if ok else Status.FAIL, float(ok), details)


def _has_opaque(value: Any, depth: int = 0) -> bool:
    if isinstance(value, values.OpaqueValue) or depth > values.MAX_DEPTH:
        return True
    if isinstance(value, dict):
        return any(_has_opaque(k, depth + 1) or _has_opaque(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_opaque(v, depth + 1) for v in value)
    return type(value).__module__ == "numpy"


def _coverage(atom: dict, answer: dict) -> Verdict:
    truth, predicted = bool(atom["covered"]), answer["value"]
    ok = predicted == ("YES" if truth else "NO")
    details = {"truth": truth, "predicted": predicted, "baseline": truth}
    return Verdict(Status.PASS if ok else Status.FAIL, float(ok), details)


def _path(atom: dict, answer: dict) -> Verdict:
    truth, lines = list(atom["next"]), list(answer["lines"])
    ok = any(n in truth for n in lines)
    details = {"truth": truth, "predicted": lines, "baseline": -1 in truth}
    return Verdict(Status.PASS if ok else Status.FAIL, float(ok), details)


# ------------------------------------------------------------------------------------------------ the oracle
def _source(value: Any) -> str:
    """Python text for a value, where its repr is not (a datetime inside a container: REval's checker names the
    class `datetime`)."""
    import datetime

    if type(value) is datetime.datetime and value.tzinfo is None:
        return (f"datetime({value.year}, {value.month}, {value.day}, {value.hour}, {value.minute}, {value.second}, "
                f"{value.microsecond})")
    if type(value) in (list, tuple):
        inner = ", ".join(_source(v) for v in value)
        return f"[{inner}]" if type(value) is list else f"({inner}{',' if len(value) == 1 else ''})"
    if type(value) is dict:
        return "{" + ", ".join(f"{_source(k)}: {_source(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _candidates(value: Any) -> list[str]:
    cls = type(value)
    name = values.type_name(cls)
    if isinstance(value, values.OpaqueValue):
        return []
    if isinstance(value, type):
        return [f"{value.__name__}; type"] if value.__module__ == "builtins" else []
    if cls.__module__ == "numpy" and cls.__name__ == "ndarray":
        return [f"{value.tolist()!r}; numpy.ndarray"]
    if cls.__module__ == "numpy":
        return [f"{value.item()!r}; {name}"]
    if name == "datetime.datetime":
        return [f"{value}; datetime.datetime"]
    if name in ("collections.deque",):
        return [f"{list(value)!r}; {name}"]
    if name in ("collections.OrderedDict", "collections.defaultdict", "collections.Counter"):
        return [f"{dict(value)!r}; {name}"]
    if name == "decimal.Decimal":
        return [f"{str(value)!r}; {name}"]
    candidates = [f"{value!r}; {name}"]
    if _source(value) != repr(value):
        candidates.append(f"{_source(value)}; {name}")
    return candidates
