"""SWE-bench-Live data on the host: the loaders (real files in the classic and the Live schema, JSONL, JSON,
parquet, a hub-style folder through `datasets`), bad rows named, filters, the prompt with the gold patch's files
read from a recipe's source, and patches taken out of responses. (Grading in containers: test_grading.py.)"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.task import LoadOptions, TaskError, load_template
from tests.conftest import write_jsonl
from tests.swebench_live import toyrepo
from tests.swebench_live.conftest import TASK, module, new_task

data, patches, context_files = module("data"), module("patches"), module("context_files")
Recipe = module("images").Recipe
TEMPLATE, _ = load_template(TASK.template_path())


def samples(path, **args) -> list:
    task = new_task()
    return list(task.samples(LoadOptions(data=str(path), args=task.parse_args({k: str(v) for k, v in args.items()}))))


@pytest.fixture
def toy(tmp_path):
    return toyrepo.make_repo(tmp_path / "toy")


# ------------------------------------------------------------------------------------------- real data
def test_the_classic_instances_load_with_their_lists_and_fields(shared_data):
    rows = samples(shared_data / "swebench" / "swebench_instances.jsonl")
    assert len(rows) == 14 and len({s.id for s in rows}) == 14
    by_id = {s.id: data.instance_of(s) for s in rows}
    inst = by_id["pydicom__pydicom-1194"]
    assert inst.repo == "pydicom/pydicom" and inst.created_at == "2020-09-22T03:16:19Z"
    assert inst.fail_to_pass == ("pydicom/tests/test_filewriter.py::TestCorrectAmbiguousVRElement::test_empty_value",)
    assert len(inst.pass_to_pass) == 162 and inst.test_cmds == () and inst.log_parser == "pytest"
    assert inst.extra["version"] == "2.0" and inst.extra["environment_setup_commit"].startswith("9d69811e")
    assert all(i.fail_to_pass and i.patch.startswith("diff --git") for i in by_id.values())
    assert {s.metadata["repo"] for s in rows} >= {"django/django", "sympy/sympy", "pytest-dev/pytest"}
    assert rows[0].metadata == {"repo": "pydicom/pydicom", "created_at": "2020-09-22T03:16:19Z"}


def test_the_raw_live_instance_loads_without_lists(shared_data):
    (s,) = samples(shared_data / "swebench" / "live_amoffat__sh-744.raw.jsonl")
    inst = data.instance_of(s)
    assert inst.instance_id == "amoffat__sh-744" and inst.created_at == "2025-01-08T22:39:32Z"
    assert inst.fail_to_pass == () and inst.pass_to_pass == ()
    assert inst.extra["pull_number"] == 744 and inst.extra["issue_numbers"] == [743]
    assert context_files.files_to_show(inst) == ["sh.py"]


def test_filters_by_id_and_repository(shared_data):
    path = shared_data / "swebench" / "swebench_instances.jsonl"
    assert [s.id for s in samples(path, ids="sympy__sympy-13031,pydicom__pydicom-1458")] == [
        "pydicom__pydicom-1458", "sympy__sympy-13031"]  # data order
    assert len(samples(path, repo="django/django")) == 6
    assert [s.id for s in samples(path, repo="django/django", ids="django__django-13251,sympy__sympy-13031")] == [
        "django__django-13251"]
    with pytest.raises(TaskError, match="-T ids: not in .*: nope__nope-1"):
        samples(path, ids="nope__nope-1,sympy__sympy-13031")


# ----------------------------------------------------------------------------------------- file formats
def test_json_lists_parquet_and_a_hub_style_folder_read_alike(tmp_path, toy):
    row = toy.instance()
    classic = dict(row, FAIL_TO_PASS=json.dumps(row["FAIL_TO_PASS"]), PASS_TO_PASS=json.dumps(row["PASS_TO_PASS"]),
                   created_at=dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc), version="0.1")
    del classic["test_cmds"]
    (tmp_path / "list.json").write_text(json.dumps([row]))
    pq.write_table(pa.Table.from_pylist([classic]), tmp_path / "classic.parquet")
    hub = tmp_path / "hub" / "data"
    hub.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([classic]), hub / "lite-00000-of-00001.parquet")
    jsonl = data.instance_of(samples(write_jsonl(tmp_path / "rows.jsonl", [row]))[0])
    from_json = data.instance_of(samples(tmp_path / "list.json")[0])
    from_parquet = data.instance_of(samples(tmp_path / "classic.parquet")[0])
    task = new_task()
    (hub_sample,) = task.samples(LoadOptions(data=f"hf:{tmp_path / 'hub'}", split="lite",
                                             args=task.parse_args({})))
    from_hub = data.instance_of(hub_sample)
    assert jsonl == from_json
    assert from_parquet == from_hub
    assert from_parquet.created_at == "2025-02-03T04:05:06Z" == jsonl.created_at
    assert from_parquet.fail_to_pass == jsonl.fail_to_pass and from_parquet.pass_to_pass == jsonl.pass_to_pass
    assert from_parquet.test_cmds == () and from_parquet.extra == {"version": "0.1"}
    assert jsonl.test_cmds == ("pytest -rA",)
    with pytest.raises(TaskError, match="cannot load split 'verified'"):
        list(task.samples(LoadOptions(data=f"hf:{tmp_path / 'hub'}", split="verified", args=task.parse_args({}))))
    # a folder is read by split
    (tmp_path / "byname").mkdir()
    write_jsonl(tmp_path / "byname" / "lite.jsonl", [row])
    assert [s.id for s in samples(tmp_path / "byname")] == [toyrepo.INSTANCE_ID]


def test_without_data_the_hub_is_asked_and_offline_says_what_to_do():
    task = new_task()
    with pytest.raises(TaskError) as err:
        task.source(LoadOptions(split="lite", args=task.parse_args({})))
    assert "SWE-bench-Live/SWE-bench-Live" in str(err.value) and "--data" in str(err.value)


@pytest.mark.parametrize("change,words", [
    ({"patch": None}, ["line 2", "missing field 'patch'"]),
    ({"repo": 7}, ["line 2", "field 'repo' must be a string"]),
    ({"FAIL_TO_PASS": "tests/x.py::t"}, ["line 2", "'FAIL_TO_PASS' is a string but not a JSON list"]),
    ({"PASS_TO_PASS": ["a", 3]}, ["line 2", "'PASS_TO_PASS' must be a list of strings"]),
    ({"test_cmds": "pytest"}, ["line 2", "'test_cmds' is a string but not a JSON list"]),
    ({"created_at": "last tuesday"}, ["line 2", "'created_at' is not an ISO 8601"]),
    ({"instance_id": toyrepo.INSTANCE_ID}, ["line 2", "occurs twice"]),
])
def test_a_bad_row_is_named_by_file_line_and_field(tmp_path, toy, change, words):
    good = toy.instance()
    bad = dict(good, instance_id="toy__calc-2", **{k: v for k, v in change.items() if k != "instance_id"})
    if "instance_id" in change:
        bad["instance_id"] = change["instance_id"]
    path = write_jsonl(tmp_path / "rows.jsonl", [good, bad])
    with pytest.raises(TaskError) as err:
        samples(path)
    message = str(err.value)
    assert str(path) in message and all(w in message for w in words), message
    assert "\n" not in message


def test_files_that_are_not_instances_are_refused_in_one_line(tmp_path):
    (tmp_path / "x.json").write_text('{"instance_id": "a"}')
    (tmp_path / "x.csv").write_text("a,b\n")
    (tmp_path / "broken.jsonl").write_text('{"instance_id": \n')
    for path, words in ((tmp_path / "x.json", "expected a JSON list"), (tmp_path / "x.csv", "unknown file type"),
                        (tmp_path / "broken.jsonl", "line 1: not valid JSON"), (tmp_path / "nope.jsonl", "not found"),
                        (tmp_path, "holds no lite.jsonl")):
        with pytest.raises(TaskError, match=words):
            samples(path)


def test_a_samples_round_trip_and_a_recipe_gives_the_test_command(tmp_path, shared_data):
    (s,) = samples(shared_data / "swebench" / "swebench_instances.jsonl", ids="sympy__sympy-13031")
    assert data.to_sample(data.instance_of(s)) == s and data.instance_of(s).test_cmds == ()
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "sympy__sympy-13031.json").write_text(json.dumps(
        {"instance_id": "sympy__sympy-13031", "source": str(tmp_path), "base_commit": "abc",
         "test_cmds": ["pytest -rA sympy/matrices/tests/test_sparse.py"]}))
    (s2,) = samples(shared_data / "swebench" / "swebench_instances.jsonl", ids="sympy__sympy-13031",
                    recipes_dir=recipes)
    assert data.instance_of(s2).test_cmds == ("pytest -rA sympy/matrices/tests/test_sparse.py",)


def test_the_shipped_toy_fixture_is_what_toyrepo_makes(tmp_path):
    assert toyrepo.shipped_files() == toyrepo.fixture_files(tmp_path), \
        "run `python tests/swebench_live/toyrepo.py` to rewrite the fixture"


# -------------------------------------------------------------------------------------------- the prompt
def test_the_prompt_shows_the_issue_and_the_gold_patchs_files_from_each_kind_of_source(tmp_path, toy):
    row = toy.instance(patch=toy.patch({**toyrepo.FIX, "README.md": None, "new.py": "x = 1\n"}))
    inst = data.parse_row(row, "row")
    assert context_files.files_to_show(inst) == ["README.md", "calc.py"]  # new.py does not exist yet
    tree = tmp_path / "tree"
    toyrepo.write_tree(tree, toyrepo.FILES)
    tarball = tmp_path / "toy.tar.gz"
    subprocess.run(["git", "-C", str(toy.path), "archive", "--format=tar.gz", "--prefix=calc-1/", "-o", str(tarball),
                    toy.base_commit], check=True)
    texts = set()
    for source in (toy.path, tree, tarball):
        files = context_files.gather(inst, recipe=Recipe(inst.instance_id, source, toy.base_commit))
        assert [(f.path, f.text) for f in files] == [("README.md", toyrepo.FILES["README.md"]),
                                                    ("calc.py", toyrepo.CALC)], source
        values = context_files.render_files(files)
        texts.add(TEMPLATE.render(repo=inst.repo, base_commit=inst.base_commit, instance_id=inst.instance_id,
                                  problem_statement=inst.problem_statement, hints_text="", files=values))
    (text,) = texts  # the same prompt whatever the source
    assert "mean([]) raises ZeroDivisionError" in text and "[start of calc.py]" in text
    assert "16 |     return sum(values) / len(values)" in text and "```diff" in text


def test_a_file_that_cannot_be_read_is_named_in_the_prompt_and_logged(tmp_path, toy):
    inst = data.parse_row(toy.instance(), "row")
    logged = []
    files = context_files.gather(inst, recipe=Recipe(inst.instance_id, tmp_path / "gone", "abc"), log=logged.append)
    assert files[0].text is None and "does not exist" in files[0].note and "calc.py" in logged[0]
    with tarfile.open(tmp_path / "empty.tar", "w"):
        pass
    files = context_files.gather(inst, recipe=Recipe(inst.instance_id, tmp_path / "empty.tar", "abc"))
    assert files[0].text is None and "not in the tarball" in files[0].note
    values = context_files.render_files(files)
    text = TEMPLATE.render(repo="r", base_commit="c", instance_id="i", problem_statement="p", hints_text="",
                           files=values)
    assert "[start of calc.py]\n(not shown: not in the tarball" in text
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "calc.py").write_bytes(b"\x7fELF\0\0")
    files = context_files.gather(inst, recipe=Recipe(inst.instance_id, tmp_path / "bin", "abc"))
    assert files[0].note == "a binary file"
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "calc.py").write_text("a file of the host's\n")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "sub").symlink_to(tmp_path / "host")  # a tree whose folder links out of it
    edit = "diff --git a/sub/calc.py b/sub/calc.py\n--- a/sub/calc.py\n+++ b/sub/calc.py\n@@ -1 +1 @@\n-a\n+b\n"
    inst = data.parse_row(toy.instance(patch=edit), "row")
    files = context_files.gather(inst, recipe=Recipe(inst.instance_id, tmp_path / "linked", "abc"))
    assert files[0].path == "sub/calc.py" and files[0].text is None, files


# ------------------------------------------------------------------------------------------ the answer
GOLD = ("diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -14,3 +14,5 @@\n def mean(values):\n"
        '     """The arithmetic mean of values."""\n+    if not values:\n+        return 0.0\n'
        "     return sum(values) / len(values)\n")


@pytest.mark.parametrize("response", [
    GOLD,
    "\n\n" + GOLD + "\n\n",
    f"Here is the fix.\n\n```diff\n{GOLD}```\n\nIt returns 0.0 for no values.",
    f"<think>maybe ```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n```</think>\n```patch\n{GOLD}```",
    f"```\n{GOLD}```",
    f"The patch:\n{GOLD}",
])
def test_the_diff_is_taken_out_of_a_response(response):
    assert patches.extract_patch(response) == GOLD


def test_two_diff_blocks_are_one_patch_and_no_diff_is_the_models_error():
    second = GOLD.replace("calc.py", "other.py")
    assert patches.extract_patch(f"```diff\n{GOLD}```\nand\n```diff\n{second}```") == GOLD + second
    assert patches.extract_patch("") == "" and patches.extract_patch("  \n") == ""
    with pytest.raises(ValueError, match="no unified diff"):
        patches.extract_patch("I would change mean() to return 0.0.\n```python\nreturn 0.0\n```")


def test_the_oracle_answers_the_gold_patch_and_extract_keeps_it(toy):
    sample = data.to_sample(data.parse_row(toy.instance(), "row"))
    answer = TASK.extract(sample, TASK.reference_response(sample))
    assert answer.value == answer.canonical == sample.reference["patch"]


def test_touched_files_of_renames_new_deleted_and_quoted_paths():
    patch = ('diff --git a/old name.py b/new name.py\nsimilarity index 100%\nrename from old name.py\n'
             'rename to new name.py\n'
             'diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n'
             '@@ -1 +0,0 @@\n-x\n'
             'diff --git a/made.py b/made.py\nnew file mode 100644\n--- /dev/null\n+++ b/made.py\n@@ -0,0 +1 @@\n+y\n'
             'diff --git "a/caf\\303\\251.py" "b/caf\\303\\251.py"\n'
             '--- "a/caf\\303\\251.py"\n+++ "b/caf\\303\\251.py"\n'
             '@@ -1 +1 @@\n-a\n+b\n')
    before, after = patches.touched_files(patch)
    assert before == ["old name.py", "gone.py", "café.py"]
    assert after == ["new name.py", "made.py", "café.py"]


def test_files_that_hook_the_test_runner_are_named():
    def diff(path, body, context=""):
        return (f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1,2 @@{context}\n"
                + "".join(f"{line}\n" for line in body))

    patch = (diff("src/calc.py", ["-a", "+b"]) + diff("tests/conftest.py", [" x", "+y"])
             + diff("pyproject.toml", ["-deps = []", '+deps = ["x"]'])
             + diff("setup.cfg", ["+addopts = -p myplugin"], context=" [tool:pytest]")
             + diff("tox.ini", ["-envlist = py3", "+envlist = py311"])
             + "--- a/site/evil.pth\n+++ b/site/evil.pth\n@@ -0,0 +1 @@\n+import os\n"
             + diff("sitecustomize.py", ["+import os"]))
    assert patches.test_runner_files(patch) == ["tests/conftest.py", "setup.cfg", "site/evil.pth",
                                                "sitecustomize.py"]
    assert patches.test_runner_files(diff("src/calc.py", ["-a", "+b"])) == []


def test_pytest_settings_far_below_their_section_and_plain_diffs_are_told_apart():
    # as git writes it: a hunk header never shows an INI/TOML section, so nothing here says "pytest"
    far = ("diff --git a/setup.cfg b/setup.cfg\nindex 1468751..7a3d0bf 100644\n--- a/setup.cfg\n+++ b/setup.cfg\n"
           "@@ -9,3 +9,4 @@ x3 = 3\n x4 = 4\n x5 = 5\n x6 = 6\n+addopts = -p evil\n"
           "diff --git a/pyproject.toml b/pyproject.toml\n--- a/pyproject.toml\n+++ b/pyproject.toml\n"
           "@@ -8,3 +8,4 @@ x2 = 2\n x3 = 3\n+filterwarnings = [\"ignore\"]\n")
    assert patches.test_runner_files(far) == ["setup.cfg", "pyproject.toml"]
    # a plain diff of several files: each file's own lines decide (tox.ini's context names pytest, not setup.cfg's)
    plain = ("--- a/setup.cfg\n+++ b/setup.cfg\n@@ -1 +1 @@\n-version = 1\n+version = 2\n"
             "--- a/tox.ini\n+++ b/tox.ini\n@@ -1,2 +1,2 @@\n [pytest]\n-x = 1\n+x = 2\n"
             "--- /dev/null\n+++ b/.pytest.ini\n@@ -0,0 +1 @@\n+[pytest]\n")
    assert patches.test_runner_files(plain) == ["tox.ini", ".pytest.ini"]


# ------------------------------------------------------------------------------ test command and results
evaluate = module("evaluate")
IDS_ARG = '"${HARNESS_TESTS[@]}"'


def test_the_pytest_command_gets_the_ids_and_loses_its_own_paths():
    script, how = evaluate.test_script(["SH_TESTS_RUNNING=1 poetry run pytest -rA"], ["a.py::t"])
    assert how == "ids"
    assert f"SH_TESTS_RUNNING=1 poetry run pytest -rA {evaluate.HARNESS_PYTEST_ARGS} {IDS_ARG}" in script
    script, _ = evaluate.test_script(["pytest -rA tests/ -k 'not slow' --tb short -x tests/unit"], ["a.py::t"])
    assert f"pytest -rA -k 'not slow' --tb short -x {evaluate.HARNESS_PYTEST_ARGS} {IDS_ARG}" in script
    script, _ = evaluate.test_script(["cd src && python -m pytest tests"], ["a.py::t"])  # shell: left as it is
    assert f"cd src && python -m pytest tests {evaluate.HARNESS_PYTEST_ARGS} {IDS_ARG}" in script
    script, _ = evaluate.test_script(["pytest -rA tests/ 2>&1 | tee log; echo done"], ["a.py::t"])  # to pytest
    assert f"pytest {evaluate.HARNESS_PYTEST_ARGS} {IDS_ARG} -rA tests/ 2>&1 | tee log; echo done" in script
    script, how = evaluate.test_script(["pytest -rA tests/"], None)  # the whole command: its paths stay
    assert how == "all" and f"pytest -rA tests/ {evaluate.HARNESS_PYTEST_ARGS}\nrc=$?" in script


def test_the_scripts_exit_status_is_the_test_commands():
    script, _ = evaluate.test_script(["export X=1", "pytest -rA", "echo done"], ["a.py::t"])
    lines = script.splitlines()
    assert lines.index("export X=1") < lines.index("rc=$?") < lines.index("echo done") < lines.index("exit $rc")
    script, how = evaluate.test_script(["tox -e py311"], ["a.py::t"])  # no pytest in it: run as it is
    assert how == "all" and "tox -e py311\nrc=$?\nexit $rc" in script
    fake = "pytest() { return 3; }; pytest"  # a pytest that fails, then a command that succeeds
    script, _ = evaluate.test_script(["true", fake, "true"], None)
    script = script.replace("cd /testbed", ":").replace(f"< {evaluate.WORK}/tests.txt", "< /dev/null")
    assert subprocess.run(["bash", "-c", script]).returncode == 3
    script, _ = evaluate.test_script(["pytest() { return 3; }; pytest -rA | cat"], None)  # piped: still pytest's
    script = script.replace("cd /testbed", ":").replace(f"< {evaluate.WORK}/tests.txt", "< /dev/null")
    assert subprocess.run(["bash", "-c", script], capture_output=True).returncode == 3


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="1" time="0.001"/>
<testcase classname="tests.test_a.TestK" name="test_p[1-x]" file="tests/test_a.py" line="5"><failure message="no"/></testcase>
<testcase classname="tests.test_a" name="test_skip" file="tests/test_a.py" line="9"><skipped message="s"/></testcase>
<testcase classname="tests.test_a" name="test_td" file="tests/test_a.py" line="12"/>
<testcase classname="tests.test_a" name="test_td" file="tests/test_a.py" line="12"><error message="teardown"/></testcase>
<testcase classname="tests.test_b.TestB" name="test_inherited" file="tests/base.py" line="3"/>
</testsuite></testsuites>"""
LOG = """=== short test summary info ===
PASSED tests/test_a.py::test_ok
FAILED tests/test_a.py::TestK::test_p[1-x] - AssertionError: assert 1 - 2
XFAIL tests/test_c.py::test_known - reason
SKIPPED [1] tests/test_a.py:9: s
ERROR tests/test_a.py::test_td - RuntimeError
PASSED tests/test_b.py::TestB::test_inherited
"""


def test_results_come_from_junit_with_node_ids_from_the_log():
    wanted = ["tests/test_a.py::test_ok", "tests/test_a.py::TestK::test_p[1-x]", "tests/test_a.py::test_skip",
              "tests/test_a.py::test_td", "tests/test_b.py::TestB::test_inherited", "tests/test_a.py::test_gone"]
    tests, source = evaluate.test_results(JUNIT, LOG, wanted)
    assert tests == {"tests/test_a.py::test_ok": "passed", "tests/test_a.py::TestK::test_p[1-x]": "failed",
                     "tests/test_a.py::test_skip": "skipped", "tests/test_a.py::test_td": "error",
                     "tests/test_b.py::TestB::test_inherited": "passed"} and source == "junit"
    everything, source = evaluate.test_results(JUNIT, LOG, None)
    assert everything["tests/test_b.py::TestB::test_inherited"] == "passed"  # the log's id, not the file's
    assert everything["tests/test_c.py::test_known"] == "skipped" and source == "junit+log"
    only_log, source = evaluate.test_results("", LOG, wanted[:2])
    assert only_log == {wanted[0]: "passed", wanted[1]: "failed"} and source == "log"


def test_an_id_cut_short_at_a_space_is_run_as_its_function_and_read_by_prefix():
    cut = "tests/test_a.py::TestK::test_p[1"  # `test_p[1 x]` and `test_p[1 y]` as SWE-bench's lists hold them
    assert evaluate.pytest_args_of([cut, "tests/test_a.py::test_ok", "tests/test_a.py::TestK::test_p[2"]) == [
        "tests/test_a.py::TestK::test_p", "tests/test_a.py::test_ok"]
    junit = JUNIT.replace('name="test_p[1-x]"', 'name="test_p[1 x]"').replace(
        '<testcase classname="tests.test_a" name="test_ok"',
        '<testcase classname="tests.test_a.TestK" name="test_p[1 y]" file="tests/test_a.py"/>\n'
        '<testcase classname="tests.test_a" name="test_ok"')
    assert evaluate.test_results(junit, "", [cut]) == ({cut: "failed"}, "junit")  # the worst of the two
    assert evaluate.test_results("", "PASSED tests/test_a.py::TestK::test_p[1 y]\n", [cut]) == ({cut: "passed"}, "log")


def test_a_junit_report_with_a_dtd_or_broken_xml_is_not_read():
    bomb = '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><testsuites>&b;</testsuites>'
    assert evaluate.parse_junit(bomb) == {} and evaluate.parse_junit("<testsuites><testcase") == {}
    assert evaluate.junit_key("tests/a.py::TestX::TestY::test_z[a::b]") == ("tests.a.TestX.TestY", "test_z[a::b]")


def test_the_grading_rule_and_its_disagreements():
    verdict_of, Outcome = module("__init__").verdict_of, evaluate.Outcome
    inst = data.parse_row(dict(json.loads((toyrepo.TASK_DIR / "fixtures/toy/instances.jsonl").read_text()),
                               PASS_TO_PASS=["t.py::p"], FAIL_TO_PASS=["t.py::f"]), "row")

    def verdict(exit_code, tests, **kw):
        out = Outcome(applied=True, apply_method="git apply", exit_code=exit_code, timed_out=False, tests=tests,
                      log_tail="", phases={}, **kw)
        return verdict_of(out, inst, "diff", 60)

    v = verdict(0, {"t.py::f": "passed", "t.py::p": "passed"})
    assert v.status.value == "pass" and "disagreement" not in v.details
    v = verdict(0, {"t.py::f": "skipped", "t.py::p": "passed"})
    assert v.status.value == "fail" and v.details["disagreement"] == v.details["reason"] == \
        "the tests exited 0 but 1 FAIL_TO_PASS test(s) were skipped"
    v = verdict(0, {"t.py::f": "passed", "t.py::p": "failed"})
    assert v.status.value == "fail" and v.details["disagreement"] == "the tests exited 0 but 1 requested test(s) failed"
    v = verdict(2, {"t.py::f": "passed", "t.py::p": "passed"})
    assert v.status.value == "fail" and v.details["reason"] == "the tests exited 2" and v.details["disagreement"]
    v = verdict(1, {"t.py::f": "failed", "t.py::p": "passed"})
    assert v.status.value == "fail" and "disagreement" not in v.details
    v = verdict(0, {})  # pytest ran the ids, and neither its junit report nor its log names them
    assert v.status.value == "fail" and v.details["disagreement"] == "the tests exited 0 but 2 requested test(s) did not report"
    v = verdict(0, {}, selection="all")  # a test command that is not pytest (Django's runtests.py) names none
    assert v.status.value == "pass" and "disagreement" not in v.details and v.details["tests"]["missing"] == 2
    v = verdict(None, {}, test_patch_applied=False)
    assert v.status.value == "ungradable"
    with pytest.raises(TaskError, match="memory_gb"):
        from harness.context import TaskContext

        task = new_task()
        task.open(TaskContext(task, args=task.parse_args({"memory_gb": "0"})))
