"""Loading (fixture, malformed data, the hub path), COFFE's comparison rules, and the metrics by hand."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from harness.task import LoadOptions, TaskError
from harness.types import SampleResult, Status, Verdict

from .conftest import FIXTURE, TASK

spec = importlib.util.spec_from_file_location("coffe_check", TASK.folder / "check.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)  # our own comparison functions; no model code runs on the host


# --------------------------------------------------------------------------------------------- loading
def test_fixture_loads_both_levels_with_short_stable_ids():
    fn = list(TASK.samples(LoadOptions(split="function", data=str(FIXTURE))))
    assert [s.id for s in fn] == ["HumanEval/0", "HumanEval/1", "Mbpp/1", "Mbpp/2"]
    assert [s.metadata["dataset"] for s in fn] == ["HumanEval", "HumanEval", "MBPP", "MBPP"]
    fl = list(TASK.samples(LoadOptions(split="file", data=str(FIXTURE))))
    assert [s.id.split("/")[0] for s in fl] == ["code_contests", "code_contests", "apps"]
    assert all(len(s.id.split("/")[1]) == 12 for s in fl)
    assert [bool(s.metadata["ungradable"]) for s in fl] == [False, False, True]
    again = [s.id for s in TASK.samples(LoadOptions(split="file", data=str(FIXTURE)))]
    assert again == [s.id for s in fl]


def test_the_prompt_is_the_dataset_s_final_prompt_exactly():
    from harness.task import load_template

    template, _ = load_template(TASK.template_path())
    for split in ("function", "file"):
        for s in TASK.samples(LoadOptions(split=split, data=str(FIXTURE))):
            assert TASK.render(s, template).messages == (("user", s.inputs["prompt"]),)


def test_source_hash_changes_with_the_data(tmp_path):
    copy = tmp_path / "coffe"
    shutil.copytree(FIXTURE, copy)
    before = TASK.source(LoadOptions(data=str(copy))).sha256
    assert before == TASK.source(LoadOptions(data=str(FIXTURE))).sha256
    (copy / "function" / "testcases.json").write_text((copy / "function" / "testcases.json").read_text() + " ")
    assert TASK.source(LoadOptions(data=str(copy))).sha256 != before


def _corrupt(tmp_path, rel, mutate):
    copy = tmp_path / "coffe"
    shutil.copytree(FIXTURE, copy)
    path = copy / rel
    obj = json.loads(path.read_text())
    mutate(obj)
    path.write_text(json.dumps(obj))
    return copy, path


@pytest.mark.parametrize("rel,mutate,split,words", [
    ("function/data.json", lambda d: d[2].pop("entry_point"), "function", ["row 2", "'entry_point'"]),
    ("function/data.json", lambda d: d[1].update(dataset="somewhere"), "function", ["row 1", "'dataset'"]),
    ("function/best_solutions.json", lambda d: d.pop(next(iter(d))), "function", ["row 0", "'best_solutions'"]),
    ("function/testcases.json", lambda d: d[next(iter(d))][1].update(output=3), "function",
     ["row 0", "'testcases[1]'"]),
    ("file/stressful_testcases.json", lambda d: d[next(iter(d))].append(5), "file",
     ["row 0", "'stressful_testcases[3]'"]),
    ("deepmind_code_contests/testcases.json", lambda d: d[next(iter(d))][0].update(input=[1]), "file",
     ["row 0", "'testcases[0]'"]),
])
def test_malformed_rows_name_the_file_the_row_and_the_field(tmp_path, rel, mutate, split, words):
    copy, path = _corrupt(tmp_path, rel, mutate)
    with pytest.raises(TaskError) as err:
        list(TASK.samples(LoadOptions(split=split, data=str(copy))))
    assert all(w in str(err.value) for w in words), str(err.value)


def test_missing_and_broken_files_are_named(tmp_path):
    copy = tmp_path / "coffe"
    shutil.copytree(FIXTURE, copy)
    (copy / "function" / "stressful_testcases.json").unlink()
    with pytest.raises(TaskError, match="stressful_testcases.json is missing"):
        list(TASK.samples(LoadOptions(data=str(copy))))
    (copy / "file" / "data.json").write_text("[{")
    with pytest.raises(TaskError, match=r"file/data.json is not valid JSON"):
        list(TASK.samples(LoadOptions(split="file", data=str(copy))))
    with pytest.raises(TaskError, match="--data"):
        TASK.source(LoadOptions())
    with pytest.raises(TaskError, match="not found"):
        list(TASK.samples(LoadOptions(data=str(tmp_path / "nowhere"))))


def test_hub_path_reads_a_hub_style_folder_and_says_what_to_do_offline():
    via_hub = list(TASK.samples(LoadOptions(split="file", data=f"hf:{FIXTURE}")))
    assert via_hub == list(TASK.samples(LoadOptions(split="file", data=str(FIXTURE))))
    with pytest.raises(TaskError, match="--data"):
        list(TASK.samples(LoadOptions(data="hf:nobody/not-a-coffe-copy")))


@pytest.mark.shared_data
def test_shared_copy_loads_all_756_problems(shared_data):
    data = str(shared_data / "coffe")
    fn = list(TASK.samples(LoadOptions(split="function", data=data)))
    fl = list(TASK.samples(LoadOptions(split="file", data=data)))
    assert len(fn) == 398 and len(fl) == 358
    assert sum(s.metadata["dataset"] == "HumanEval" for s in fn) == 164
    assert sum(s.metadata["dataset"] == "MBPP" for s in fn) == 234
    assert len({s.id for s in fn}) == 398 and len({s.id for s in fl}) == 358
    assert sum(len(s.reference["stress"]) for s in fn) == 1986
    assert sum(len(s.reference["stress"]) for s in fl) == 1772
    ungradable = [s for s in fl if s.metadata["ungradable"]]
    assert len(ungradable) == 300 and {s.metadata["dataset"] for s in ungradable} == {"APPS"}
    assert sum(len(s.reference["tests"]) for s in fl if s.reference["tests"]) == 11457
    assert TASK.size("function") == 398 and TASK.size("file") == 358


# ------------------------------------------------------------------------------------------ comparison
@pytest.mark.parametrize("got,expected,equal", [
    (14, 14, True),
    (14, 15, False),
    ("[1, 2, 3]", "1,2,3", True),  # strings: newlines, spaces and brackets deleted
    ("25\n42\n", "25\n42", True),
    ("1 2", "12", True),  # ... all spaces, as COFFE does
    ("a,b", "a;b", False),
    ((1, 5), [1, 5], True),  # tuples read as lists
    ([(1, 2), (3, 4)], [[1, 2], [3, 4]], True),
    (1.0, 1.0000000001, True),  # floats within atol 1e-6
    (1.0, 1.00001, False),
    ([0.1 + 0.2, 2.0], [0.3, 2.0], True),
    (True, 1.0000001, False),  # a bool is not a number here
    ("1", 1, False),
    (None, [], False),
])
def test_comparison_follows_coffe_s_rules(got, expected, equal):
    assert check.is_equal(got, expected) is equal


# --------------------------------------------------------------------------------------------- metrics
def passed(ref, pred, excluded=None, **extra):
    eff = {"method": "valgrind-cachegrind-worker", "image_id": "sha256:x", "reference_total": ref,
           "prediction_total": pred, "excluded": excluded or {}, "tests": [0]}
    eff.update(extra)
    return Verdict(Status.PASS, 1.0, {"efficiency": eff})


FAIL = Verdict(Status.FAIL, 0.0, {"reason": "wrong output"})
UNGRADABLE = Verdict(Status.UNGRADABLE, 0.0, {"ungradable": "no correctness tests"})


def test_metrics_by_hand_at_one_sample():
    results = [
        SampleResult("HumanEval/0", (passed(100, 50),)),  # efficient, 2x faster
        SampleResult("HumanEval/1", (passed(100, 100),)),  # equal: not efficient (strictly below)
        SampleResult("Mbpp/1", (passed(100, 400),)),  # slower
        SampleResult("Mbpp/2", (FAIL,)),
        SampleResult("Mbpp/3", (passed(100, None, failed={"0": "timeout"}),)),  # correct, no total (INF)
        SampleResult("apps/aaaaaaaaaaaa", (UNGRADABLE,)),  # left out of everything, counted
    ]
    m = TASK.aggregate(results, 1)
    assert m.counts["problems"] == 5 and m.counts["ungradable"] == 1 and m.counts["ungradable[APPS]"] == 1
    assert m.values["pass@1"] == pytest.approx(4 / 5)
    assert m.values["efficient@1"] == pytest.approx(1 / 5)
    assert m.values["speedup"] == pytest.approx(300 / 550)  # ratio of sums over correct predictions with a total
    assert m.values["pass@1[HumanEval]"] == 1 and m.values["pass@1[MBPP]"] == pytest.approx(2 / 3)
    assert m.values["efficient@1[HumanEval]"] == 0.5 and m.values["efficient@1[MBPP]"] == 0
    assert m.values["speedup[HumanEval]"] == pytest.approx(200 / 150)
    assert m.counts["correct_without_total"] == 1 and m.counts["speedup_samples"] == 3
    lo, hi = m.intervals["pass@1"]
    assert lo < 0.8 < hi
    lo, hi = m.intervals["speedup"]
    assert lo <= 300 / 550 <= hi


def test_per_dataset_metrics_come_from_the_stored_metadata_and_else_from_the_id():
    results = [
        SampleResult("HumanEval/0", (passed(100, 50),), {"dataset": "HumanEval"}),
        SampleResult("x/1", (FAIL,), {"dataset": "MBPP"}),  # the metadata decides, not the id
        SampleResult("Mbpp/2", (passed(100, 100),)),  # no metadata (a run stored by an older harness): the id
        SampleResult("y/3", (UNGRADABLE,), {"dataset": "APPS"}),
    ]
    m = TASK.aggregate(results, 1)
    assert m.values["pass@1[HumanEval]"] == 1 and m.values["pass@1[MBPP]"] == pytest.approx(1 / 2)
    assert m.counts["ungradable[APPS]"] == 1
    assert TASK.metadata_keys == ("dataset",)
    assert all("dataset" in s.metadata for s in TASK.samples(LoadOptions(split="file", data=str(FIXTURE))))


def test_efficient_at_k_is_the_unbiased_estimator_over_n_samples():
    # problem A: 4 attempts, 3 correct, 2 of them efficient; problem B: 4 attempts, 1 correct, efficient
    a = (passed(100, 90), passed(100, 80), passed(100, 120), FAIL)
    b = (passed(10, 5), FAIL, FAIL, FAIL)
    m = TASK.aggregate([SampleResult("HumanEval/0", a), SampleResult("HumanEval/1", b)], 4)
    assert m.values["pass@1"] == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert m.values["efficient@1"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    # efficient@2 = 1 - C(n-e, 2)/C(n, 2): A 1 - C(2,2)/C(4,2) = 5/6; B 1 - C(3,2)/C(4,2) = 1/2
    assert m.values["efficient@2"] == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert m.values["pass@2"] == pytest.approx((1 + 1 / 2) / 2)
    assert m.values["efficient@4"] == 1 and m.values["pass@4"] == 1
    assert m.values["speedup"] == pytest.approx((100 * 3 + 10) / (90 + 80 + 120 + 5))


def test_efficient_at_1_with_one_sample_equals_coffe_s_efficient_at_1():
    # COFFE: (1 / #prompts) * sum 1[I(gt) > I(pred)], prompts without a correct prediction counting 0
    rows = [(100, 99), (100, 100), (100, 101), None, (5, 1), None]
    results = [SampleResult(f"Mbpp/{i}", (passed(*r),) if r else (FAIL,)) for i, r in enumerate(rows)]
    coffe = sum(1 for r in rows if r and r[0] > r[1]) / len(rows)
    assert TASK.aggregate(results, 1).values["efficient@1"] == pytest.approx(coffe)


def test_a_problem_without_usable_stressful_tests_leaves_efficient_at_k_only():
    eff_none = passed(None, None, ungradable="no stressful test is usable", excluded={"0": "generator failed"})
    m = TASK.aggregate([SampleResult("Mbpp/1", (eff_none,)), SampleResult("Mbpp/2", (passed(10, 5),))], 1)
    assert m.values["pass@1"] == 1 and m.values["efficient@1"] == 1
    assert m.counts["efficiency_ungradable"] == 1 and m.counts["stress_tests_excluded"] == 1


def test_a_tampered_count_is_never_efficient_and_is_counted():
    tampered = passed(100, None, tampered="valgrind's log does not end with the counted worker's own total")
    m = TASK.aggregate([SampleResult("Mbpp/1", (tampered,)), SampleResult("Mbpp/2", (passed(100, 50),))], 1)
    assert m.values["pass@1"] == 1 and m.values["efficient@1"] == 0.5 and m.values["speedup"] == 2.0
    assert m.counts["efficiency_tampered"] == 1 and m.counts["correct_without_total"] == 1
