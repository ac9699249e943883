"""SWE-bench-Live grading in real containers, on the project's own toy instance (tests/swebench_live/toyrepo.py) in
an image built offline from a recipe: the verdict of each kind of patch, the fallbacks, the deadline, tests the
patch edits, exit codes that the per-test results contradict, and `harness run` end to end (oracle and replay).
One image serves the whole module."""

from __future__ import annotations

import json
import os

import pytest

from harness.context import TaskContext
from harness.sandbox import InfraError
from harness.task import load_template
from harness.types import Answer, Status
from tests.swebench_live import toyrepo
from tests.swebench_live.conftest import module, new_task

pytestmark = pytest.mark.docker

data, evaluate = module("data"), module("evaluate")
TESTS = toyrepo.FAIL_TO_PASS + toyrepo.PASS_TO_PASS

CHEAT_DESELECT = '''\
def pytest_collection_modifyitems(config, items):
    dropped = [i for i in items if i.nodeid.endswith("::test_add")]
    config.hook.pytest_deselected(items=dropped)
    items[:] = [i for i in items if i not in dropped]
'''
EXIT_7_AFTER_ALL = "import os\n\n\ndef pytest_unconfigure(config):\n    os._exit(7)\n"


def run(toy_image, patch: str, tests=TESTS, timeout_s: float = 60, inst=None):
    _toy, default, tag = toy_image
    return evaluate.run_instance(tag, inst or default, patch, tests=tests, timeout_s=timeout_s)


class Opened:
    """The task opened as a run opens it, with the toy instances mapped to the toy image (no recipe, no pulls)."""

    def __init__(self, task, folder, toy, row):
        self.task, self.folder, self.toy, self.row = task, folder, toy, row

    def sample(self, **overrides):
        return data.to_sample(data.parse_row({**self.row, **overrides}, "row"))

    def grade(self, patch: str, **overrides):
        return self.task.grade(self.sample(**overrides), Answer(patch, patch))


@pytest.fixture(scope="module")
def opened(toy_image, tmp_path_factory):
    toy, inst, tag = toy_image
    folder = tmp_path_factory.mktemp("swe-opened")
    (folder / "map.json").write_text(json.dumps({inst.instance_id: tag, "toy__calc-2": tag,
                                                 "toy__missing-1": "harness-swe-no-such-image:0"}))
    (folder / "recipes").mkdir()
    task = new_task()
    ctx = TaskContext(task, grade_workers=1, args=task.parse_args(
        {"image_map": str(folder / "map.json"), "recipes_dir": str(folder / "recipes"), "pull": "never",
         "test_timeout": "60"}), log=lambda msg: None)
    task.open(ctx)
    yield Opened(task, folder, toy, toy.instance())
    task.close()
    ctx.close()


# ------------------------------------------------------------------------------------------ verdicts
def test_the_gold_patch_resolves(opened):
    v = opened.grade(opened.toy.patch(toyrepo.FIX))
    assert v.status is Status.PASS and v.score == 1.0
    d = v.details
    assert d["apply_method"] == "git apply" and d["exit_code"] == 0 and "disagreement" not in d
    assert d["fail_to_pass"] == {"tests/test_calc.py::test_mean_empty": "passed"}
    assert d["tests"] == {"passed": 7, "failed": 0, "skipped": 0, "missing": 0} and d["results_from"] == "junit"
    assert set(d["phases"]) == {"start", "apply", "test", "teardown"}


def test_the_empty_patch_does_not(opened):
    v = opened.grade("")
    assert v.status is Status.FAIL and v.details["empty_patch"] and v.details["apply_method"] is None
    assert v.details["failed_tests"] == ["tests/test_calc.py::test_mean_empty"]
    assert v.details["fail_to_pass"] == {"tests/test_calc.py::test_mean_empty": "failed"}
    assert "ZeroDivisionError" in v.details["log_tail"]


def test_a_patch_that_does_not_apply_is_the_models_error(opened):
    # a patch for a function calc.py does not have: no fallback finds where it goes
    bad = ("diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -30,3 +30,3 @@\n"
           " def divide(a, b):\n-    return a // b\n+    return a / b\n \n")
    v = opened.grade(bad)
    assert v.status is Status.ERROR and v.details["reason"] == "patch did not apply"
    assert "$ git apply: exit 1" in v.details["apply_log"] and "$ patch --fuzz=5" in v.details["apply_log"]
    into_git = ("--- a/.git/config\n+++ b/.git/config\n@@ -1,1 +1,2 @@\n [core]\n+\tfsmonitor = touch /tmp/x\n")
    v = opened.grade(into_git)
    assert v.status is Status.ERROR and "refused" in v.details["apply_log"]
    # the same as a context diff, which the check of paths does not read: patch must not read it either
    context_into_git = ("*** a/.git/config\n--- b/.git/config\n***************\n*** 1,2 ****\n--- 1,3 ----\n"
                        "  [core]\n+ \tfsmonitor = \"touch /tmp/x; false\"\n  \trepositoryformatversion = 0\n")
    v = opened.grade(context_into_git)
    assert v.status is Status.ERROR and v.details["reason"] == "patch did not apply", v.details


def test_a_patch_that_cannot_be_applied_in_time_is_the_models_error_not_infra(opened, monkeypatch):
    monkeypatch.setattr(evaluate, "STEP_TIMEOUT_S", 0.001)  # as a patch that keeps `git apply` busy would
    v = opened.grade(opened.toy.patch(toyrepo.FIX))
    assert v.status is Status.ERROR and v.details["reason"] == "patch did not apply"
    assert "$ git apply: still running after 0.001 s" in v.details["apply_log"]


def test_a_patch_that_breaks_a_pass_to_pass_test_fails(opened):
    v = opened.grade(opened.toy.patch(toyrepo.BREAKS_ADD))
    assert v.status is Status.FAIL and v.details["exit_code"] == 1
    assert v.details["failed_tests"] == ["tests/test_calc.py::test_add"]
    assert v.details["fail_to_pass"] == {"tests/test_calc.py::test_mean_empty": "passed"}


def test_a_fuzzy_patch_applies_through_the_last_fallback(opened, tmp_path):
    # the fix, made against a copy whose line before `def mean` differs: git apply refuses it, patch's fuzz does not
    other = toyrepo.make_repo(tmp_path / "other", {**toyrepo.FILES, "calc.py": toyrepo.CALC.replace(
        "\n\n\ndef mean", "\n\n# the mean\ndef mean")})
    fuzzy = other.patch({"calc.py": toyrepo.FIX["calc.py"].replace("\n\n\ndef mean", "\n\n# the mean\ndef mean")})
    assert "+# the mean" not in fuzzy and " # the mean" in fuzzy
    v = opened.grade(fuzzy)
    assert v.status is Status.PASS and v.details["apply_method"] == "patch --fuzz=5"


def test_edits_to_the_test_patchs_files_are_undone(opened):
    sabotage = {"tests/test_calc.py": toyrepo.TESTS.replace("assert add(2, 3) == 5", "assert add(2, 3) == 6")}
    v = opened.grade(opened.toy.patch({**toyrepo.FIX, **sabotage}))
    assert v.status is Status.PASS  # the edit of the test file is reset before the test patch
    cheat = {"tests/test_calc.py": toyrepo.TESTS + "\n\ndef test_mean_empty():\n    pass\n"}
    v = opened.grade(opened.toy.patch(cheat))
    assert v.status is Status.FAIL and v.details["failed_tests"] == ["tests/test_calc.py::test_mean_empty"]


def test_a_patch_in_the_test_patchs_way_is_the_models_error_not_ungradable(opened):
    # the test patch adds tests/new/test_x.py; the model's patch puts a file where its folder goes
    test_patch = opened.toy.patch({**toyrepo.TEST_PATCH, "tests/new/test_x.py": "def test_x():\n    pass\n"})
    v = opened.grade(opened.toy.patch({**toyrepo.FIX, "tests/new": "in the way\n"}), test_patch=test_patch)
    assert v.status is Status.ERROR and v.details["reason"] == "patch did not apply"
    assert "does not apply over the patch" in v.details["apply_log"]
    assert opened.grade(opened.toy.patch(toyrepo.FIX), test_patch=test_patch).status is Status.PASS


def test_ids_cut_short_at_a_space_as_swebench_lists_them_select_their_function(opened):
    words = ('\n\n@pytest.mark.parametrize("w", ["a b", "c d"])\ndef test_words(w):\n    assert " " in w\n')
    test_patch = opened.toy.patch({"tests/test_calc.py": toyrepo.TEST_PATCH["tests/test_calc.py"] + words})
    cut = "tests/test_calc.py::test_words[a"  # SWE-bench's parser splits `PASSED ...::test_words[a b]` at spaces
    v = opened.grade(opened.toy.patch(toyrepo.FIX), test_patch=test_patch, PASS_TO_PASS=[*toyrepo.PASS_TO_PASS, cut])
    assert v.status is Status.PASS and "disagreement" not in v.details, v.details
    assert v.details["tests"]["passed"] == 8


def test_exit_0_with_a_requested_test_missing_is_a_disagreement_and_a_fail(opened):
    v = opened.grade(opened.toy.patch({**toyrepo.FIX, "conftest.py": CHEAT_DESELECT}))
    assert v.status is Status.FAIL and v.details["exit_code"] == 0  # the run's own report contradicts its exit 0
    assert v.details["missing_tests"] == ["tests/test_calc.py::test_add"]
    assert v.details["disagreement"] == "the tests exited 0 but 1 requested test(s) did not report"
    v = opened.grade(opened.toy.patch({**toyrepo.FIX, "conftest.py": EXIT_7_AFTER_ALL}))
    assert v.status is Status.FAIL and v.details["exit_code"] == 7
    assert v.details["disagreement"] == "every requested test passed but the tests exited 7"


def test_patches_that_force_exit_0_without_the_fix_fail_as_disagreements(opened):
    """The exit code comes from pytest's process, which the patch's code runs in: where the run's own per-test
    report contradicts its exit 0, the verdict is a fail, flagged."""
    forced = "def pytest_sessionfinish(session, exitstatus):\n    session.exitstatus = 0\n"
    v = opened.grade(opened.toy.patch({"conftest.py": forced}))
    assert v.status is Status.FAIL and v.details["exit_code"] == 0 and v.details["failed_tests"] == toyrepo.FAIL_TO_PASS
    assert v.details["disagreement"] == "the tests exited 0 but 1 requested test(s) failed"
    collect_only = "[pytest]\npythonpath = .\naddopts = --collect-only\n"  # nothing runs: pytest exits 0
    v = opened.grade(opened.toy.patch({"pytest.ini": collect_only}))
    assert v.status is Status.FAIL and v.details["disagreement"] == \
        "the tests exited 0 but 7 requested test(s) did not report"


REPORT_ALL_PASSED = ("import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\n"
                     "def pytest_runtest_makereport(item, call):\n    outcome = yield\n"
                     "    outcome.get_result().outcome = 'passed'\n")


def test_a_patch_that_hooks_the_test_runner_is_named_in_its_verdict(opened):
    """A conftest.py that rewrites every report to passed makes pytest's own results agree with its exit 0: the
    run cannot tell it from a fix, so the verdict names the files that could do it and the metrics count it."""
    v = opened.grade(opened.toy.patch({"conftest.py": REPORT_ALL_PASSED}))
    assert v.status is Status.PASS and v.details["touches_test_runner"] == ["conftest.py"]
    gold = opened.grade(opened.toy.patch(toyrepo.FIX))
    assert gold.status is Status.PASS and "touches_test_runner" not in gold.details


def test_instances_that_cannot_be_graded_are_ungradable_or_infra(opened):
    gold = opened.toy.patch(toyrepo.FIX)
    v = opened.grade(gold, FAIL_TO_PASS=[], PASS_TO_PASS=[])
    assert v.status is Status.UNGRADABLE and "harness validate" in v.details["reason"]
    v = opened.grade(gold, test_cmds=[])
    assert v.status is Status.UNGRADABLE and "no test command" in v.details["reason"]
    broken_test_patch = opened.toy.patch(toyrepo.TEST_PATCH).replace(" class TestClamp:", " class TestClip:")
    v = opened.grade(gold, test_patch=broken_test_patch)
    assert v.status is Status.UNGRADABLE and "test patch did not apply" in v.details["reason"]
    v = opened.grade(gold, instance_id="toy__missing-1")
    assert v.status is Status.INFRA and "harness-swe-no-such-image:0" in v.details["reason"]


# ------------------------------------------------------------------------------------ run_instance
def test_a_hanging_test_is_stopped_at_the_deadline_and_its_container_removed(toy_image, docker_client):
    toy, inst, _tag = toy_image
    out = run(toy_image, toy.patch(toyrepo.FIX), tests=[*TESTS, toyrepo.HANG], timeout_s=3)
    assert out.timed_out and out.exit_code is None and out.phases["test"] >= 3  # not before the deadline
    left = docker_client.containers.list(all=True, filters={"label": [f"harness.sandbox.owner_pid={os.getpid()}",
                                                                      "harness.sandbox.kind=swe-instance"]})
    assert left == []
    task_verdict = module("__init__").verdict_of(out, inst, "x", 3)
    assert task_verdict.status is Status.ERROR and task_verdict.details["reason"] == "tests timed out after 3 s"


def test_the_whole_test_command_reports_every_test_by_node_id(toy_image):
    out = run(toy_image, toy_image[0].patch(toyrepo.FIX), tests=None)
    assert out.exit_code == 0 and out.selection == "all"
    assert out.tests == {t: "passed" for t in TESTS}  # tests/slow_checks.py is not collected by default
    empty = run(toy_image, "", tests=None)
    assert empty.exit_code == 1 and empty.tests["tests/test_calc.py::test_mean_empty"] == "failed"


def test_exactly_the_requested_tests_run(toy_image):
    out = run(toy_image, "", tests=["tests/test_calc.py::test_add", "tests/test_calc.py::TestClamp::test_clamp[5-5]"])
    assert out.exit_code == 0 and out.tests == {"tests/test_calc.py::test_add": "passed",
                                                "tests/test_calc.py::TestClamp::test_clamp[5-5]": "passed"}
    assert "2 passed" in out.log_tail


def test_an_image_that_is_not_there_is_infra(toy_image):
    _toy, inst, _tag = toy_image
    with pytest.raises(InfraError, match="is not on this machine"):
        evaluate.run_instance("harness-swe-no-such-image:0", inst, "", tests=TESTS, timeout_s=10)


def test_the_prompt_reads_the_files_from_the_image_when_there_is_no_recipe(opened):
    template, _ = load_template(opened.task.template_path())
    text = opened.task.render(opened.sample(), template).text
    assert "[start of calc.py]" in text and "16 |     return sum(values) / len(values)" in text


# ------------------------------------------------------------------------------------------- the CLI
def test_harness_run_with_the_oracle_and_replayed_predictions(cli, opened, tmp_path):
    folder, first = opened.folder, opened.row
    second = dict(first, instance_id="toy__calc-2", created_at="2025-03-01T00:00:00Z")
    rows = tmp_path / "instances.jsonl"
    rows.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    common = ["--task", "swebench-live", "--data", str(rows), "-T", f"image_map={folder / 'map.json'}",
              "-T", f"recipes_dir={folder / 'recipes'}", "-T", "pull=never", "-T", "test_timeout=60"]
    cli("run", *common, "--model", "oracle", "--run-name", "gold")
    gold = cli.report("gold")
    assert gold["counts"]["pass"] == 2 and gold["status"] == "complete"
    assert gold["metrics"]["resolved"] == 1.0 and gold["metrics"]["resolved[month=2025-03]"] == 1.0
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([
        {"instance_id": "toy__calc-1", "model_name_or_path": "m", "model_patch": first["patch"]},
        {"instance_id": "toy__calc-2", "model_name_or_path": "m", "model_patch": None}]))
    cli("run", *common, "--model", f"replay:{preds}", "--run-name", "replayed")
    replayed = cli.report("replayed")
    assert (replayed["counts"]["pass"], replayed["counts"]["fail"]) == (1, 1)
    assert replayed["metrics"]["resolved"] == 0.5 and replayed["metrics"]["resolved[repo=toy/calc]"] == 0.5
    shown = json.loads(cli("show", "replayed", "toy__calc-2", "--format", "json").stdout)
    assert shown["attempts"][0]["status"] == "fail" and shown["attempts"][0]["details"]["empty_patch"]
    shown = json.loads(cli("show", "replayed", "toy__calc-1", "--format", "json").stdout)
    assert shown["attempts"][0]["status"] == "pass"


def test_closing_the_task_removes_the_container_of_a_grade_in_flight(opened, docker_client):
    """A run that ends while an instance is still in its tests (Ctrl-C) removes its container; that grade ends as
    infra (retried on the next run), never as the model's fail."""
    import threading
    import time

    import docker.errors

    task = new_task()
    ctx = TaskContext(task, grade_workers=1, args=opened.task.ctx.args, log=lambda msg: None)
    task.open(ctx)
    sample = opened.sample(PASS_TO_PASS=[*toyrepo.PASS_TO_PASS, toyrepo.HANG])
    patch = opened.toy.patch(toyrepo.FIX)
    verdicts = []
    grading = threading.Thread(target=lambda: verdicts.append(task.grade(sample, Answer(patch, patch))))
    grading.start()
    ours = {"label": [f"harness.sandbox.owner_pid={os.getpid()}", "harness.sandbox.kind=swe-instance"]}

    def in_its_tests() -> bool:
        """The instance's pytest, the hanging test among its ids, is running in our container (not a fixed sleep
        after the container appeared: on a loaded machine the grade could still be copying files in or applying
        the patch, where the removal ends it with another reason)."""
        for box in docker_client.containers.list(filters=ours):
            try:
                processes = box.top()["Processes"] or []
            except docker.errors.APIError:  # not running yet, or gone
                continue
            if any(toyrepo.HANG in " ".join(p) for p in processes):
                return True
        return False

    deadline = time.monotonic() + 120
    while not in_its_tests() and time.monotonic() < deadline and grading.is_alive():
        time.sleep(0.1)
    assert in_its_tests(), f"the grade did not reach its tests: {verdicts}"
    task.close()
    ctx.close()
    grading.join(timeout=30)
    assert not grading.is_alive()
    assert docker_client.containers.list(all=True, filters=ours) == []
    assert verdicts[0].status is Status.INFRA and "removed" in verdicts[0].details["reason"]


def test_a_container_made_as_the_run_ends_is_removed_at_once(toy_image, docker_client):
    """The run closed its grades' containers while one was still being made: that one, tracked after the close,
    is removed then and there, and its grade is infra."""
    from harness.sandbox import ContainerLimits, InstanceSandbox

    _toy, _inst, tag = toy_image
    live = evaluate.LiveContainers()
    live.close_all()
    box = InstanceSandbox(tag, ContainerLimits(), user=None, read_only=False, work_dir="/testbed",
                          kind="swe-instance")
    ours = {"label": [f"harness.sandbox.owner_pid={os.getpid()}", "harness.sandbox.kind=swe-instance"]}
    assert docker_client.containers.list(all=True, filters=ours) != []
    with pytest.raises(InfraError, match="removed as it started"):
        live.add(box)
    assert docker_client.containers.list(all=True, filters=ours) == []
