"""`harness validate --task swebench-live` on the project's toy repository, in real containers: lists derived
where the data has none, a gold patch that does not fix is broken, a coin-flipping test is flaky, a run then
reports resolved and resolved_validated; Ctrl-C keeps what is finished. Then the real instance amoffat__sh-744
(slow: its test suite takes over a minute a run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from harness.registry import get_task

from ..conftest import REPO, write_jsonl
from . import toyrepo

TASK = get_task("swebench-live")


def module(name: str):
    return __import__(type(TASK).__module__ + "." + name, fromlist=["x"])


images, validation = module("images"), module("validate")

CALC_ONLY = ["pytest -rA tests/test_calc.py"]  # the whole test command of the derivation (the toy's hangs)
COINS = "".join(f"import os\n\n\ndef test_coin_{i}():\n    assert os.urandom(1)[0] < 128\n\n\n" for i in range(4))
COIN_IDS = [f"tests/test_coin.py::test_coin_{i}" for i in range(4)]


@pytest.fixture(scope="module")
def toy(docker_client, tmp_path_factory):
    """The toy repository and its image (built once; cached images are labelled, so kept for the next session)."""
    repo = toyrepo.make_repo(tmp_path_factory.mktemp("toy") / "calc")
    tag = images.build_recipe_image(images.Recipe(instance_id=toyrepo.INSTANCE_ID, source=repo.path,
                                                  base_commit=repo.base_commit))
    return repo, tag


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Validations are stored per machine: each test gets a cache folder of its own."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))


def rows(repo) -> dict[str, dict]:
    """Instances of the toy repository, one per case, by id."""
    base = repo.instance()
    coins_patch = repo.patch({**toyrepo.TEST_PATCH, "tests/test_coin.py": COINS})
    return {
        # no lists: derived from the whole (calc-only) test command
        "toy__derive-1": {**base, "instance_id": "toy__derive-1", "FAIL_TO_PASS": None, "PASS_TO_PASS": None,
                          "test_cmds": CALC_ONLY, "created_at": "2025-01-05T10:00:00Z"},
        # a "gold" patch that does not fix the bug
        "toy__broken-1": {**base, "instance_id": "toy__broken-1", "patch": repo.patch({"README.md": "# calc\n"}),
                          "created_at": "2025-01-20T10:00:00Z"},
        # the test patch adds tests that pass or fail at random: they pass in some runs, not in others
        "toy__flaky-1": {**base, "instance_id": "toy__flaky-1", "test_patch": coins_patch,
                         "PASS_TO_PASS": toyrepo.PASS_TO_PASS + COIN_IDS, "created_at": "2025-02-02T10:00:00Z"},
        # FAIL_TO_PASS names a test that passes without the fix: the empty patch resolves
        "toy__passes-1": {**base, "instance_id": "toy__passes-1", "FAIL_TO_PASS": ["tests/test_calc.py::test_add"],
                          "PASS_TO_PASS": ["tests/test_calc.py::test_sub"], "created_at": "2025-02-03T10:00:00Z"},
    }


def data_and_args(tmp_path, repo, tag, ids):
    cases = rows(repo)
    data = write_jsonl(tmp_path / "toy.jsonl", [cases[i] for i in ids])
    mapping = tmp_path / "images.json"
    mapping.write_text(json.dumps({i: tag for i in ids}))
    return data, ["-T", f"image_map={mapping}", "-T", "pull=never", "-T", "test_timeout=60"]


def validate_json(cli, data, args, *more):
    result = cli("validate", "--task", "swebench-live", "--data", str(data), *args, *more, "--format", "json")
    return json.loads(result.stdout), result


def test_lists_are_derived_broken_and_flaky_instances_are_named_and_a_run_reports_both_scores(cli, tmp_path, toy):
    repo, tag = toy
    ids = ["toy__derive-1", "toy__broken-1", "toy__flaky-1", "toy__passes-1"]
    data, args = data_and_args(tmp_path, repo, tag, ids)
    out, _ = validate_json(cli, data, args, "--repeats", "3", "--grade-workers", "2")
    by_id = {v["sample_id"]: v for v in out["validations"]}
    assert [v["sample_id"] for v in out["validations"]] == ids  # the data's order

    derived = by_id["toy__derive-1"]
    assert derived["status"] == "ok", derived
    assert derived["facts"] == {"lists": "derived", "f2p": 1, "p2p": 6, "runs": 6}
    inst = next(s for s in TASK.samples(TASK_OPTS(data, args)) if s.id == "toy__derive-1")
    assert inst.reference["fail_to_pass"] == toyrepo.FAIL_TO_PASS  # exactly the test the test patch adds
    assert sorted(inst.reference["pass_to_pass"]) == sorted(toyrepo.PASS_TO_PASS)

    broken = by_id["toy__broken-1"]
    assert broken["status"] == "broken"
    assert "the gold patch does not resolve" in broken["reason"] and "test_mean_empty (failed)" in broken["reason"]
    passes = by_id["toy__passes-1"]
    assert passes["status"] == "broken" and "the empty patch resolves" in passes["reason"]
    flaky = by_id["toy__flaky-1"]
    # four coins over six runs: all alike in every run with probability (2/64)^4, about one in a million
    assert flaky["status"] == "flaky" and "test_coin_" in flaky["reason"], flaky
    assert out["counts"] == {"ok": 1, "broken": 2, "flaky": 1, "infra": 0, "stored_before": 0}

    # again: everything is found stored, nothing runs; the table is plain text, one row per instance
    again = cli("validate", "--task", "swebench-live", "--data", str(data), *args, "--repeats", "3")
    lines = again.stdout.splitlines()
    assert lines[0].split() == ["instance", "status", "lists", "f2p", "p2p", "runs", "time", "reason"]
    assert [line.split()[:2] for line in lines[2:]] == [[i, by_id[i]["status"]] for i in ids]
    assert all(line.split()[6] == "stored" for line in lines[2:])
    assert "4 of 4 validated: 1 ok, 2 broken, 1 flaky (4 were stored" in again.stderr

    # a run of the gold patches: the derived lists grade, resolved counts all, resolved_validated the ok one
    cli("run", "--task", "swebench-live", "--data", str(data), *args, "--model", "oracle")
    rep = cli.report()
    m, c = rep["metrics"], rep["metric_counts"]
    passed = rep["counts"]["pass"]
    assert rep["counts"]["ungradable"] == 0 and passed >= 2  # derive-1 and passes-1 resolve; flaky-1 by chance
    assert m["resolved"] == passed / 4 and m["resolved_validated"] == 1.0
    assert c["validated"] == 1 and c["left_out_broken"] == 2 and c["left_out_flaky"] == 1
    assert m["resolved[month=2025-01]"] == 0.5


def TASK_OPTS(data, args):
    from harness.task import LoadOptions

    pairs = dict(a.split("=", 1) for a in args[1::2])
    return LoadOptions(data=str(data), args=TASK.parse_args(pairs))


def test_repeats_1_costs_two_runs_and_more_repeats_validate_again(cli, tmp_path, toy):
    repo, tag = toy
    data, args = data_and_args(tmp_path, repo, tag, ["toy__derive-1"])
    out, _ = validate_json(cli, data, args, "--repeats", "1")
    assert out["validations"][0]["facts"]["runs"] == 2 and out["validations"][0]["status"] == "ok"
    stored, _ = validate_json(cli, data, args, "--repeats", "1")
    assert stored["validations"][0]["stored"] is True
    more, _ = validate_json(cli, data, args, "--repeats", "2")  # one run each is not enough for two
    assert more["validations"][0]["stored"] is False and more["validations"][0]["facts"]["runs"] == 4
    fresh, _ = validate_json(cli, data, args, "--repeats", "1", "--fresh")
    assert fresh["validations"][0]["stored"] is False


def test_tests_of_a_file_that_cannot_be_collected_without_the_fix_count_as_errors(cli, tmp_path, toy):
    """The test patch imports what the fix adds: without the fix pytest reports one error for the whole file."""
    repo, tag = toy
    data, args = data_and_args(tmp_path, repo, tag, ["toy__derive-1"])
    tests = toyrepo.TESTS.replace("import add, clamp, mean, sub", "import add, clamp, mean, median, sub")
    tests += "\n\ndef test_median():\n    assert median([3, 1, 2]) == 2\n"
    fix = toyrepo.CALC + "\n\ndef median(values):\n    return sorted(values)[1]\n"
    row = {**rows(repo)["toy__derive-1"], "patch": repo.patch({"calc.py": fix}),
           "test_patch": repo.patch({"tests/test_calc.py": tests})}
    write_jsonl(data, [row])
    out, _ = validate_json(cli, data, args, "--repeats", "1")
    v = out["validations"][0]
    assert v["status"] == "ok" and v["facts"]["f2p"] == 7 and v["facts"]["p2p"] == 0, v
    sample = next(TASK.samples(TASK_OPTS(data, args)))
    every_test = [*toyrepo.PASS_TO_PASS, "tests/test_calc.py::test_median"]  # all errored without the fix
    assert sorted(sample.reference["fail_to_pass"]) == sorted(every_test)


def test_an_instance_whose_gold_patch_does_not_apply_is_broken_and_nothing_is_derived(cli, tmp_path, toy):
    repo, tag = toy
    data, args = data_and_args(tmp_path, repo, tag, ["toy__derive-1"])
    row = rows(repo)["toy__derive-1"]
    row["patch"] = ("diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n"
                    "-nothing like this\n-is in the file\n-at all\n+x\n+y\n+z\n")
    write_jsonl(data, [row])
    out, _ = validate_json(cli, data, args, "--repeats", "1")
    v = out["validations"][0]
    assert v["status"] == "broken" and v["reason"] == "the gold patch does not apply" and v["facts"]["f2p"] == 0
    cli("run", "--task", "swebench-live", "--data", str(data), *args, "--model", "oracle")
    assert cli.report()["counts"]["ungradable"] == 1  # no lists were derived: it cannot be graded


def test_ctrl_c_keeps_what_is_finished_and_removes_the_containers_in_flight(tmp_path, toy):
    repo, tag = toy
    cases = rows(repo)
    hang = {**cases["toy__broken-1"], "instance_id": "toy__hang-1", "patch": cases["toy__derive-1"]["patch"],
            "FAIL_TO_PASS": [toyrepo.HANG]}
    data = write_jsonl(tmp_path / "d.jsonl", [cases["toy__derive-1"], hang])
    mapping = tmp_path / "images.json"
    mapping.write_text(json.dumps({"toy__derive-1": tag, "toy__hang-1": tag}))
    env = {**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "--store", str(tmp_path / "s.sqlite"), "validate",
                             "--task", "swebench-live", "--data", str(data), "-T", f"image_map={mapping}",
                             "-T", "test_timeout=300", "--repeats", "1", "--grade-workers", "2", "--format", "json"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = validation.ValidationStore(validation.DerivedCache(tmp_path / "cache" / "derived.sqlite"))
    deadline = time.monotonic() + 120
    while store.latest("toy__derive-1") is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert store.latest("toy__derive-1") is not None, proc.stderr.read() if proc.poll() is not None else "slow"
    time.sleep(1.0)  # the hanging instance is in its test run
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Interrupted: what finished is stored" in err
    report = json.loads(out)
    assert report["interrupted"] and [v["sample_id"] for v in report["validations"]] == ["toy__derive-1"]
    assert store.latest("toy__hang-1") is None  # nothing of the instance in flight
    from harness.sandbox.engine import LABEL_OWNER_PID, docker_client

    left = docker_client().containers.list(all=True, filters={"label": f"{LABEL_OWNER_PID}={proc.pid}"})
    assert left == []


class Delegate:
    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)


class OneImageRegistry(images.Images):
    """Images whose registry holds one image, PULLED, which a pull makes by tagging a local image with its name
    (no registry answers here); the rest is the real engine."""

    PULLED = "harness-test-registry/toy-calc:latest"

    def __init__(self, source: str, **kwargs):
        super().__init__(**kwargs)
        real = images.docker_client()
        self._client = Delegate(real)
        self._client.images = Delegate(real.images)
        self._client.images.pull = lambda name: real.images.get(source).tag(name)

    def _pullable(self, name: str) -> bool:
        return name == self.PULLED


def test_lists_derived_in_a_pulled_image_are_found_once_it_is_here(tmp_path, toy):
    repo, tag = toy
    row = rows(repo)["toy__derive-1"]
    sample = next(TASK.samples(TASK_OPTS(write_jsonl(tmp_path / "d.jsonl", [row]), ["-T", "pull=never"])))
    task = type(TASK)(TASK.folder)
    task.images = OneImageRegistry(tag, mapping={"toy__derive-1": OneImageRegistry.PULLED}, recipes_dir=tmp_path,
                                   uses=images.UseLog(tmp_path / "uses.sqlite"), log=lambda m: None)
    inst = validation.instance_of(sample)
    assert task.images.plan(inst).how == "pull"
    try:
        result = validation.validate_sample(task, sample, repeats=1, fresh=False, stop=threading.Event())
        assert result.status == "ok" and task.images.plan(inst).how == "local"
        derived = validation.derived_tests(inst, task.images)  # what the task's samples look up
        assert derived is not None and derived[0] == tuple(toyrepo.FAIL_TO_PASS)
    finally:
        images.docker_client().images.remove(OneImageRegistry.PULLED)


STUCK_TASK = '''\
import _thread
import time
from pathlib import Path

from harness.validate import Validation
from tests.fixtures.echo_task import EchoTask


class StuckValidation(EchoTask):
    name = "echo-stuck-validation"

    def validate(self, sample, *, repeats, fresh, stop):
        if sample.id == "n00000":
            return Validation(sample.id, "ok", "first")
        time.sleep(0.5)  # the command is waiting on its samples by now
        _thread.interrupt_main()  # Ctrl-C while this sample is in flight
        time.sleep(3)  # and it does not stop within the grace period (a Docker call that hangs)
        return Validation(sample.id, "ok", "late")


TASK = StuckValidation(Path(__file__).parent)
'''


def test_ctrl_c_reports_what_finished_even_when_a_sample_in_flight_does_not_stop(cli, tmp_path, monkeypatch):
    import harness.validate

    folder = tmp_path / "stuck_task"
    folder.mkdir()
    (folder / "__init__.py").write_text(STUCK_TASK)
    (folder / "prompt.jinja").write_text("{{ x }}\n")
    monkeypatch.setenv("ECHO_TASK_SIZE", "2")
    monkeypatch.setattr(harness.validate, "STOP_GRACE_S", 0.5)
    result = cli("validate", "--task", str(folder), "--grade-workers", "1", "--format", "json", ok=False)
    assert result.exit_code == 130, result.output
    report = json.loads(result.stdout)
    assert report["interrupted"] and [v["reason"] for v in report["validations"]] == ["first"]


TWICE_TASK = '''\
import _thread
import os
import time
from pathlib import Path

from harness.validate import Validation
from tests.fixtures.echo_task import EchoTask


class TwiceInterrupted(EchoTask):
    name = "echo-twice-interrupted"

    def validate(self, sample, *, repeats, fresh, stop):
        if sample.id == "n00000":
            return Validation(sample.id, "ok", "first")
        time.sleep(0.5)
        _thread.interrupt_main()  # Ctrl-C while this sample is in flight
        stop.wait(30)  # the command is handling it: in its grace period
        _thread.interrupt_main()  # a second Ctrl-C
        time.sleep(20)  # and this sample never stops by itself
        return Validation(sample.id, "ok", "late")

    def close(self):
        _thread.interrupt_main()  # another Ctrl-C while the task closes (removes its containers)
        time.sleep(0.2)
        Path(os.environ["TWICE_CLOSED"]).write_text("closed")
        super().close()


TASK = TwiceInterrupted(Path(__file__).parent)
'''


def test_a_second_ctrl_c_cuts_the_grace_short_and_one_while_closing_does_not_cut_the_close(cli, tmp_path,
                                                                                             monkeypatch):
    import harness.validate

    folder = tmp_path / "twice_task"
    folder.mkdir()
    (folder / "__init__.py").write_text(TWICE_TASK)
    (folder / "prompt.jinja").write_text("{{ x }}\n")
    closed = tmp_path / "closed"
    monkeypatch.setenv("ECHO_TASK_SIZE", "2")
    monkeypatch.setenv("TWICE_CLOSED", str(closed))
    monkeypatch.setattr(harness.validate, "STOP_GRACE_S", 60.0)
    started = time.monotonic()
    result = cli("validate", "--task", str(folder), "--grade-workers", "1", "--format", "json", ok=False)
    assert time.monotonic() - started < 30  # not the 60 s grace
    assert result.exit_code == 130, result.output
    assert closed.read_text() == "closed"  # the task's close ran to its end
    report = json.loads(result.stdout)
    assert report["interrupted"] and [v["reason"] for v in report["validations"]] == ["first"]
    assert "Interrupted: what finished is stored" in result.stderr


def test_an_instance_without_an_image_is_infra_not_stored_and_the_window_chooses_instances(cli, tmp_path, toy):
    repo, _ = toy
    data, args = data_and_args(tmp_path, repo, "harness-swe-not-here:nope", list(rows(repo)))
    result = cli("validate", "--task", "swebench-live", "--data", str(data), *args, "--since", "2025-02-01",
                 "--format", "json", ok=False)
    assert result.exit_code == 3 and "run the same command again to retry" in result.stderr
    out = json.loads(result.stdout)
    assert [v["sample_id"] for v in out["validations"]] == ["toy__flaky-1", "toy__passes-1"]  # February's
    assert all(v["status"] == "infra" and "harness-swe-not-here:nope" in v["reason"] for v in out["validations"])
    assert validation.ValidationStore().latest("toy__flaky-1") is None
    bad = cli("validate", "--task", "swebench-live", "--data", str(data), "--ids", "toy__nope-1", ok=False)
    assert bad.exit_code == 1 and "--ids: toy__nope-1 not in the data" in bad.output
    no_subset = cli("validate", "--task", "swebench-live", "--data", str(data), "--subset", "tiny", ok=False)
    assert no_subset.exit_code == 1 and "has no subset 'tiny'" in no_subset.output
    backwards = cli("validate", "--task", "swebench-live", "--data", str(data), "--since", "2025-03-01",
                    "--until", "2025-02-01", ok=False)
    assert backwards.exit_code == 1 and "the window holds nothing" in backwards.output


def test_the_derivation_rule_by_hand():
    before = {"t.py::fails": "failed", "t.py::errs": "error", "t.py::keeps": "passed", "t.py::skips": "passed",
              "t.py::breaks": "passed", "t.py::vanishes": "passed", "u.py": "error", "t.py::stays_failed": "failed"}
    after = {"t.py::fails": "passed", "t.py::errs": "passed", "t.py::keeps": "passed", "t.py::skips": "skipped",
             "t.py::breaks": "failed", "t.py::appears": "passed", "u.py::uncollected": "passed",
             "t.py::stays_failed": "error"}
    f2p, p2p, left_out = validation.derive(before, after)
    assert f2p == ["t.py::errs", "t.py::fails", "u.py::uncollected"] and p2p == ["t.py::keeps"]
    assert left_out == {"skipped": 1, "missing before": 1, "missing after": 1, "fail after": 2}


def test_a_task_without_the_hook_has_nothing_to_validate(cli):
    result = cli("validate", "--task", str(REPO / "tests" / "fixtures" / "echo_task"))
    assert result.exit_code == 0 and result.stderr.strip() == "task echo has nothing to validate"


# ------------------------------------------------------------------------------------------------ sh-744
SH744_F2P = "tests/sh_test.py::FunctionalTests::test_async_return_cmd"


@pytest.mark.slow
def test_real_instance_sh744_lists_are_derived_and_gold_resolves(cli, tmp_path, docker_client, shared_data):
    """The one real SWE-bench-Live instance we have (no lists in its data): derived with --repeats 1, which is
    two runs of its test suite (the derivation runs are the gold and empty runs), in the image built offline from
    its recipe (shared with test_real_sh744.py: the same recipe gives the same tag)."""
    raw = shared_data / "swebench" / "live_amoffat__sh-744.raw.jsonl"
    repos = shared_data / "swebench" / "repos"
    args = ["-T", f"repos_dir={repos}", "-T", "pull=never", "-T", "test_timeout=900"]
    recipe = images.recipe_for("amoffat__sh-744", repos_dir=repos)
    images.build_recipe_image(recipe)  # idempotent: reused when present
    started = time.monotonic()
    out, _ = validate_json(cli, raw, args, "--repeats", "1")
    seconds = time.monotonic() - started
    v = out["validations"][0]
    print(f"\nsh-744: validate --repeats 1 took {seconds:.0f} s: {v}")
    assert v["status"] == "ok", v
    assert v["facts"]["lists"] == "derived" and v["facts"]["runs"] == 2 and v["facts"]["f2p"] == 1
    assert 170 <= v["facts"]["p2p"] <= 185
    sample = next(TASK.samples(TASK_OPTS(raw, args)))
    assert sample.reference["fail_to_pass"] == [SH744_F2P]
    record = validation.ValidationStore().latest("amoffat__sh-744")
    print(f"sh-744: left out of the lists: {record['left_out']}; runs: "
          + ", ".join(f"{r['patch']} {r['seconds']:.0f} s exit {r['exit_code']}" for r in record["runs"]))
    assert [(r["patch"], r["resolved"]) for r in record["runs"]] == [("empty", False), ("gold", True)]
