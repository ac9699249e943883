"""Grading in the sandbox on the project's own fixture: correctness verdicts, instruction counts, the reference
cache, the pool taken from the TaskContext, the metrics from stored verdicts, and the oracle through the CLI."""

from __future__ import annotations

import json

import pytest

from harness.context import TaskContext
from harness.derived import DerivedCache
from harness.task import LoadOptions
from harness.types import SampleResult, Status

from .conftest import FIXTURE, TASK, new_task

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_client")]
grader_mod = __import__(type(TASK).__module__ + ".grader", fromlist=["x"])

FN = {s.id: s for s in TASK.samples(LoadOptions(split="function", data=str(FIXTURE)))}
FILE = list(TASK.samples(LoadOptions(split="file", data=str(FIXTURE))))
TRIANGLE, SORT, NO_TESTS = FILE

SQUARES = {  # HumanEval/0; the reference is a plain loop
    "fast": ("```python\nimport operator\n\ndef sum_of_squares(nums):\n"
             "    return sum(map(operator.mul, nums, nums))\n```"),
    "slow": ("```python\ndef sum_of_squares(nums):\n    total = 0\n    for x in nums:\n        s = 0\n"
             "        for _ in range(abs(x)):\n            s += abs(x)\n        total += s\n    return total\n```"),
    "wrong": "```python\ndef sum_of_squares(nums):\n    return sum(nums)\n```",
    "syntax": "```python\ndef sum_of_squares(nums)\n    return 0\n```",
    "raises": "```python\ndef sum_of_squares(nums):\n    return nums[0] ** 2 + sum_of_squares(nums[1:])\n```",
    "loops": "```python\ndef sum_of_squares(nums):\n    while True:\n        pass\n```",
}
TRIANGLE_ANSWERS = {
    "fast": "```python\nn = int(input())\nprint(n * (n + 1) // 2)\n```",
    "slow": ("```python\nimport sys\nn = int(sys.stdin.readline())\nt = 0\nfor i in range(1, n + 1):\n"
             "    for _ in range(3):\n        t += i\nprint(t // 3)\nexit(0)\n```"),
    "wrong": "```python\nprint(int(input()))\n```",
}


def grade(task, sample, text):
    return task.grade(sample, task.extract(sample, text))


def test_function_level_verdicts_and_counts(graded_task):
    v = {name: grade(graded_task, FN["HumanEval/0"], text) for name, text in SQUARES.items()}
    assert v["fast"].status is Status.PASS and v["slow"].status is Status.PASS
    assert v["wrong"].status is Status.FAIL and v["wrong"].details["test"] == 0
    assert v["wrong"].details["got"] == "6" and v["wrong"].details["expected"] == "14"
    assert v["syntax"].status is Status.ERROR and "syntax" in v["syntax"].details["reason"]
    assert v["raises"].status is Status.ERROR and "IndexError" in v["raises"].details["reason"]
    assert v["loops"].status is Status.ERROR and "timeout" in v["loops"].details["reason"]
    fast, slow = v["fast"].details["efficiency"], v["slow"].details["efficiency"]
    assert fast["method"] == "valgrind-cachegrind-worker" and fast["image_id"].startswith("sha256:")
    assert fast["tests"] == [0, 1] and fast["excluded"] == {}
    assert fast["reference_total"] == slow["reference_total"]
    assert fast["prediction_total"] < fast["reference_total"] < slow["prediction_total"]
    # only the model's code is counted: a few hundred thousand instructions, not an interpreter start-up (~30
    # million) nor building the inputs
    assert 50_000 < fast["reference_total"] < 5_000_000


def test_counts_are_deterministic_and_the_reference_is_paid_once(graded_task):
    grader = graded_task.grader
    sample = FN["Mbpp/1"]
    text = "```python\ndef mean_below(n):\n    return (n - 1) / 2\n```"
    first = grade(graded_task, sample, text)
    runs = grader.stats["reference_runs"]
    hits = grader.cache_hits
    again = grade(graded_task, sample, text)
    assert grader.stats["reference_runs"] == runs and grader.cache_hits > hits  # the cache answered
    a, b = first.details["efficiency"], again.details["efficiency"]
    assert a["reference_total"] == b["reference_total"]  # the cached reference
    assert abs(a["prediction_total"] - b["prediction_total"]) <= 50  # counted again: the same to a few instructions
    assert first.status is Status.PASS  # 1.0 vs the expected 1.0000000001: within the float tolerance


def test_lenient_rules_in_the_sandbox_and_excluded_stressful_inputs(graded_task):
    tup = grade(graded_task, FN["Mbpp/2"], "```python\ndef min_max(nums):\n    return min(nums), max(nums)\n```")
    assert tup.status is Status.PASS  # a tuple against the expected list
    eff = tup.details["efficiency"]
    assert eff["tests"] == [0] and "NameError" in eff["excluded"]["1"]  # the broken input is left out, for both
    s = grade(graded_task, FN["HumanEval/1"],
              "```python\ndef show_sorted(nums):\n    return ' '.join(map(str, sorted(nums)))\n```")
    assert s.status is Status.FAIL  # "1 2 3" -> "123" is not "1,2,3"
    s = grade(graded_task, FN["HumanEval/1"],
              "```python\ndef show_sorted(nums):\n    return ','.join(map(str, sorted(nums)))\n```")
    assert s.status is Status.PASS  # "1,2,3" against "[1, 2, 3]" once spaces and brackets are deleted


def test_file_level_verdicts_counts_and_data_problems(graded_task):
    v = {name: grade(graded_task, TRIANGLE, text) for name, text in TRIANGLE_ANSWERS.items()}
    assert v["fast"].status is Status.PASS and v["slow"].status is Status.PASS, v
    assert v["wrong"].status is Status.FAIL
    fast, slow = v["fast"].details["efficiency"], v["slow"].details["efficiency"]
    # generator 1 uses random.sample on a set (Python 3.10 only): it runs; generator 2 is broken: excluded
    assert fast["tests"] == [0, 1] and set(fast["excluded"]) == {"2"}
    assert "generator is broken" in fast["excluded"]["2"]
    assert fast["prediction_total"] < fast["reference_total"] < slow["prediction_total"]
    sort = grade(graded_task, SORT, "```python\nn = int(input())\nprint(*sorted(map(int, input().split())))\n```")
    assert sort.status is Status.PASS  # "9\n" against "9"
    missing = grade(graded_task, NO_TESTS, "```python\nprint(input()[::-1])\n```")
    assert missing.status is Status.UNGRADABLE and "no correctness tests" in missing.details["ungradable"]


def test_metrics_from_graded_verdicts(graded_task):
    s = FN["HumanEval/0"]
    fast, slow, wrong = (grade(graded_task, s, SQUARES[k]) for k in ("fast", "slow", "wrong"))
    mb = grade(graded_task, FN["Mbpp/2"], graded_task.reference_response(FN["Mbpp/2"]))
    results = [SampleResult(s.id, (fast, slow, wrong, fast)), SampleResult("Mbpp/2", (mb, mb, mb, mb))]
    m = graded_task.aggregate(results, 4)
    assert m.values["pass@1"] == pytest.approx((3 / 4 + 1) / 2)
    assert m.values["efficient@1"] == pytest.approx((2 / 4 + 0) / 2)  # the oracle equals the reference: not below
    f, sl, r = (fast.details["efficiency"]["prediction_total"], slow.details["efficiency"]["prediction_total"],
                fast.details["efficiency"]["reference_total"])
    rm = mb.details["efficiency"]["reference_total"]
    assert mb.details["efficiency"]["prediction_total"] == rm
    assert m.values["speedup"] == pytest.approx((3 * r + 4 * rm) / (2 * f + sl + 4 * rm))
    assert m.values["speedup[MBPP]"] == 1.0


def test_the_pool_follows_grade_workers_and_is_made_on_first_use(tmp_path):
    task = new_task()
    ctx = TaskContext(task, grade_workers=3, derived=DerivedCache(tmp_path / "derived.sqlite"))
    task.open(ctx)
    try:
        assert task.grader._pool is None  # opening starts no container: a fully cached run needs none
        verdict = grade(task, FN["HumanEval/0"], SQUARES["wrong"])
        assert verdict.status is Status.FAIL
        assert task.grader.pool().size == 3
        assert task.grader.pool() is ctx.sandbox_pool("python", grader_mod.CONTAINER)
    finally:
        task.close()
        ctx.close()
    assert task.grader is None


def test_the_oracle_scores_full_marks_through_the_cli(graded_task, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))  # the runner's derived cache: this test's
    for split in ("function", "file"):
        cli("run", "--task", "coffe", "--model", "oracle", "--split", split, "--data", str(FIXTURE))
        rep = cli.report()
        assert rep["metrics"]["pass@1"] == 1 and rep["metrics"]["speedup"] == 1.0
        assert rep["metrics"]["efficient@1"] == 0  # equal to the best reference is not strictly below it
        assert rep["record"]["grader_image"] == graded_task.grader_image
        assert rep["record"]["grader_image_id"].startswith("sha256:")  # the digest the verdicts were graded on
    assert rep["counts"]["ungradable"] == 1 and rep["metric_counts"]["problems"] == 2
    assert rep["record"]["task"]["args"] == {"extraction": "harness", "efficiency": "on"}
    # COFFE's own extraction is a task option: another run (its own name), the same full marks for the oracle
    cli("run", "--task", "coffe", "--model", "oracle", "-T", "extraction=official", "--data", str(FIXTURE))
    official = cli.report()
    assert official["record"]["task"]["args"] == {"extraction": "official", "efficiency": "on"}
    assert official["run"].startswith("coffe-function-") and official["metrics"]["pass@1"] == 1
    assert official["metrics"]["pass@1[HumanEval]"] == 1 and official["metrics"]["pass@1[MBPP]"] == 1


CHEATS = {  # answers to HumanEval/0 (sum of squares) that try to fake a pass instead of computing it
    "forges the result line": (
        "```python\nimport sys, os, json\ndef sum_of_squares(nums):\n    f = sys._getframe()\n"
        "    while f is not None:\n        loc = f.f_locals\n        if 'nonce' in loc and 'out' in loc:\n"
        "            loc['out'].write('\\n@@coffe %s %s\\n' % (loc['nonce'], json.dumps({'times': [0.0] * 9})))\n"
        "            loc['out'].flush()\n            os._exit(0)\n        f = f.f_back\n    return -1\n```"),
    "equals everything": (
        "```python\nclass Anything(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
        "def sum_of_squares(nums):\n    return Anything(-1)\n```"),
    "reads the expected outputs": (
        "```python\nimport gc, json\ndef sum_of_squares(nums):\n    for o in gc.get_objects():\n"
        "        if isinstance(o, dict) and 'tests' in o and 'code' in o:\n"
        "            for t in o['tests']:\n                if t['input'] == [nums]:\n                    return t['output'][0]\n"
        "    try:\n        job = json.load(open('job.json'))\n"
        "        return next(t['output'][0] for t in job['tests'] if t['input'] == [nums])\n"
        "    except Exception:\n        return -1\n```"),
    "ignores the alarm": (
        "```python\nimport signal\ndef sum_of_squares(nums):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "    while True:\n        pass\n```"),
    "kills the checker": (
        "```python\nimport os, signal\ndef sum_of_squares(nums):\n    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    return 0\n```"),
}


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_code_that_tries_to_fake_a_pass_does_not_pass(graded_task, name):
    verdict = grade(graded_task, FN["HumanEval/0"], CHEATS[name])
    assert verdict.status in (Status.FAIL, Status.ERROR), (name, verdict.details)


def test_a_prediction_that_kills_the_sandbox_runner_gets_an_error_not_infra(graded_task, monkeypatch):
    # The prediction runs in check.py's worker, a grandchild of the runner.  kill(1) and kill(-1) reach every
    # process of its uid in the container: the supervisor always, and the runner too where it is not PID 1 (a
    # pool with an init process); then the runner is lost on every attempt, which is the prediction's doing.
    # Either way the verdict is the prediction's error, never infra.  (The lost-runner path alone, with a
    # scripted sandbox: test_sandbox_failures.py.)
    monkeypatch.setattr(graded_task.grader, "retry_wait_s", 0.0)
    text = ("```python\nimport os, signal\ndef sum_of_squares(nums):\n    os.kill(1, signal.SIGKILL)\n"
            "    os.kill(-1, signal.SIGKILL)\n```")
    verdict = grade(graded_task, FN["HumanEval/0"], text)
    assert verdict.status is Status.ERROR, verdict.details
    reason = verdict.details["reason"]
    assert "killed the sandbox runner" in reason or "killed by signal 9" in reason, reason
    assert grade(graded_task, FN["HumanEval/0"], SQUARES["fast"]).status is Status.PASS  # the pool carries on


# ------------------------------------------------------------------------------- causes 1 and 2, in the sandbox
def opened_task(tmp_path, **raw):
    """A task opened as a run with `-T KEY=VALUE ...` opens it, with a derived cache of this test's own."""
    task = new_task()
    ctx = TaskContext(task, grade_workers=2, args=task.parse_args(raw),
                      derived=DerivedCache(tmp_path / "derived.sqlite"))
    task.open(ctx)
    return task, ctx


def test_an_undefined_annotation_is_an_error_as_in_plain_python(graded_task):
    # MBPP prompts carry no imports; before check.py compiled with dont_inherit=True its own future flags made
    # annotations lazy, and this answer passed
    text = "```python\ndef min_max(nums: Sequence[int]):\n    return min(nums), max(nums)\n```"
    verdict = grade(graded_task, FN["Mbpp/2"], text)
    assert verdict.status is Status.ERROR and "NameError" in verdict.details["reason"], verdict.details


def test_coffe_s_own_clean_up_and_execution_rules(graded_task, tmp_path):
    task, ctx = opened_task(tmp_path, extraction="official", efficiency="off")
    try:
        restated = "```python\ndef sum_of_squares(nums: List[int]) -> int:\n    return sum(x * x for x in nums)\n```"
        v = grade(task, FN["HumanEval/0"], restated)
        assert v.status is Status.ERROR and "NameError" in v.details["reason"]  # no prompt, so no typing import
        assert grade(graded_task, FN["HumanEval/0"], restated).status is Status.PASS  # ours adds the import
        v = grade(task, FN["HumanEval/0"], "I would rather not.")
        assert v.status is Status.FAIL and "-1" in v.details["reason"]
        assert grade(task, FN["HumanEval/0"], "    return sum(x * x for x in nums)\n").status is Status.PASS
        # file level: COFFE's patched stdin (no .buffer), exit() a failure; both fine with our rules
        buffer = "```python\nimport sys\nn = int(sys.stdin.buffer.readline())\nprint(n * (n + 1) // 2)\n```"
        exits = "```python\nn = int(input())\nprint(n * (n + 1) // 2)\nexit(0)\n```"
        lines = "```python\nimport sys\nn = int(sys.stdin.readline())\nprint(n * (n + 1) // 2)\n```"
        assert grade(task, TRIANGLE, buffer).status is Status.ERROR
        assert grade(task, TRIANGLE, exits).status is Status.ERROR
        assert grade(task, TRIANGLE, lines).status is Status.PASS
        assert all(grade(graded_task, TRIANGLE, t).status is Status.PASS for t in (buffer, exits, lines))
    finally:
        task.close()
        ctx.close()


# ---------------------------------------------------------------------------------- correctness only
def test_correctness_only_counts_nothing_and_reports_pass_at_k_only(tmp_path):
    task, ctx = opened_task(tmp_path, efficiency="off")
    try:
        v = {k: grade(task, FN["HumanEval/0"], SQUARES[k]) for k in ("fast", "wrong")}
        assert v["fast"].status is Status.PASS and "skipped" in v["fast"].details["efficiency"]
        assert task.grader._views.keys() == {"wall-native"}  # the reference's times only: nothing was counted
        m = task.aggregate([SampleResult("HumanEval/0", (v["fast"], v["wrong"]))], 2)
        assert m.values["pass@1"] == 0.5 and m.counts["counting_off"] == 1
        assert not any(k.startswith(("efficient", "speedup")) for k in m.values)
    finally:
        task.close()
        ctx.close()


def test_a_coffe_prediction_file_replays_through_the_cli(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    preds = {FN["HumanEval/0"].inputs["prompt"]: [[SQUARES["fast"]], True],
             FN["HumanEval/1"].inputs["prompt"]: [["```python\ndef show_sorted(nums):\n    return 0\n```"], True],
             FN["Mbpp/1"].inputs["prompt"]: [["```python\ndef mean_below(n):\n    return (n - 1) / 2\n```"], True]}
    path = tmp_path / "GPT-X.json"
    path.write_text(json.dumps(preds), encoding="utf-8")
    out = cli("run", "--task", "coffe", "--model", f"replay:{path}", "-T", "efficiency=off", "--data", str(FIXTURE))
    assert "1 of 4 attempts had no prediction" in out.output  # Mbpp/2 is not in the file
    rep = cli.report()
    assert rep["metrics"]["pass@1"] == 0.5 and "efficient@1" not in rep["metrics"]
    assert rep["metrics"]["pass@1[HumanEval]"] == 0.5 and rep["metrics"]["pass@1[MBPP]"] == 0.5


# ------------------------------------------------------------------------------ counts no answer can fake
SLOW_BODY = ("    total = 0\n    for x in nums:\n        s = 0\n        for _ in range(abs(x)):\n"
             "            s += abs(x)\n        total += s\n")
RAW_REQUEST = (  # valgrind's client-request sequence, written into an executable page and called through ctypes
    "import ctypes, mmap\n"
    "def _request(code):\n"
    "    page = mmap.mmap(-1, 4096, prot=7)\n"
    "    page.write(bytes.fromhex('4889f84889f248c1c70348c1c70d48c1c73d48c1c7334887db4889d0c3'))\n"
    "    f = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64)(\n"
    "        ctypes.addressof(ctypes.c_char.from_buffer(page)))\n"
    "    block = (ctypes.c_uint64 * 6)(code, 0, 0, 0, 0, 0)\n"
    "    return f(ctypes.addressof(block), 0)\n")
TAMPER = {
    "zero statistics with raw bytes": (RAW_REQUEST, "    _request(0x43540001)\n    _request(0x43540005)\n"),
    "writes fake counts and dump files": (
        "import os\n",
        "    if len(nums) > 100:  # a stressful test: the counting run\n"
        "        for name in ('.cg.out', '.callgrind.out.1', '.vg.log'):\n"
        "            open(name, 'w').write('summary: 1\\ntotals: 1\\n')\n"
        "        for fd in os.listdir('/proc/self/fd'):\n"
        "            try:\n"
        "                os.write(int(fd), ('==%d== I   refs:      1\\n' % os.getpid()).encode())\n"
        "            except OSError:\n                pass\n"),
    "writes a fake total into valgrind's log": (
        "import os\n",
        "    if len(nums) > 100:\n"
        "        for fd in os.listdir('/proc/self/fd'):\n"
        "            if int(fd) > 100:  # valgrind's own descriptors, its log among them\n"
        "                try:\n"
        "                    out = os.open('/proc/self/fd/' + fd, os.O_WRONLY)\n"
        "                    os.write(out, ('==%d== I   refs:      1\\n' % os.getpid()).encode())\n"
        "                except OSError:\n                    pass\n"),
    "a daemon that outlives the call": (
        "import os, time\n",
        "    if len(nums) > 100 and os.fork() == 0:  # in the counting run\n"
        "        time.sleep(5)\n        os._exit(0)\n"),
    "moves its work to another program": (
        "import subprocess\n", "    if len(nums) > 100:\n        subprocess.run(['true'])\n"),
    "a thread that goes on after the call": (
        "import threading\n",
        "    threading.Thread(target=lambda: sum(range(200000)), daemon=True).start()\n"),
}


HONEST: list = []  # the same work without the trick, graded once


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TAMPER))
def test_an_answer_cannot_lower_its_own_count(graded_task, name):
    head, tail = TAMPER[name]
    if not HONEST:
        HONEST.append(grade(graded_task, FN["HumanEval/0"],
                            f"```python\ndef sum_of_squares(nums):\n{SLOW_BODY}    return total\n```"))
    plain = HONEST[0]
    text = f"```python\n{head}\ndef sum_of_squares(nums):\n{SLOW_BODY}{tail}    return total\n```"
    verdict = grade(graded_task, FN["HumanEval/0"], text)
    assert verdict.status is Status.PASS, verdict.details  # correct: only its efficiency is at stake
    eff, honest = verdict.details["efficiency"], plain.details["efficiency"]["prediction_total"]
    got = eff["prediction_total"]
    assert got is None or got >= honest, (name, eff)  # its true count (at least the honest work), or none
    assert got is not None or eff.get("failed") or eff.get("tampered"), eff
    m = graded_task.aggregate([SampleResult("HumanEval/0", (verdict,))], 1)
    assert m.values["efficient@1"] == 0
