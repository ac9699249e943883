"""TMBench: generator, loader, parser and metrics, checked by hand and against the published files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.registry import get_task
from harness.task import LoadOptions, TaskError
from harness.types import SampleResult, Status

from .conftest import write_jsonl

TASK = get_task("tmbench")
tag_system = __import__(type(TASK).__module__ + ".tag_system", fromlist=["x"])

# Three hand-checked instances (m = 2, rules A -> BA, B -> A), truncated to their first states:
#   P: AAB -> BBA -> AA        Q: BAB -> BA -> A        R: AB -> BA
RULES = {"A": "BA", "B": "A"}
HAND = {
    "symbol_set": ["A", "B"],
    "samples": [
        {"id": "P", "init_str": "AAB", "rule": RULES, "delete_count": 2, "step_results": ["AAB", "BBA", "AA"]},
        {"id": "Q", "init_str": "BAB", "rule": RULES, "delete_count": 2, "step_results": ["BAB", "BA", "A"]},
        {"id": "R", "init_str": "AB", "rule": RULES, "delete_count": 2, "step_results": ["AB", "BA"]},
    ],
}


def answer(*states: str) -> str:
    return "\n".join(f"### Step {i}:\n- Queue State: [{' '.join(s)}]" for i, s in enumerate(states) if s is not None)


@pytest.fixture
def hand_file(tmp_path) -> Path:
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(HAND))
    return path


def test_generator_reproduces_the_published_file_byte_for_byte(shared_data):
    published = (shared_data / "tmbench" / "TMBench.json").read_text(encoding="utf-8")
    assert tag_system.dumps(tag_system.generate(tag_system.GeneratorParams(seed=1))) == published


@pytest.mark.parametrize("split", ["greek", "number", "special"])
def test_symbol_variants_reproduce_the_published_files(shared_data, split):
    module = __import__(type(TASK).__module__, fromlist=["x"])
    published = (shared_data / "tmbench" / module.FILES[split]).read_text(encoding="utf-8")
    assert tag_system.dumps(tag_system.substitute(tag_system.generate(), module.VARIANTS[split])) == published


def test_generator_parameters_change_the_instances():
    data = tag_system.generate(tag_system.GeneratorParams(m=3, alphabet="XYZW", steps=10, count=7, seed=5))
    assert len(data["samples"]) == 7 and data["delete_count"] == 3 and data["max_step"] == 11
    for s in data["samples"]:
        assert set(s["init_str"]) <= set("XYZW") and 1 <= len(s["step_results"]) <= 11
        assert s["step_results"] == tag_system.simulate(s["init_str"], s["rule"], 3, 11)
        assert all(a != b for a, b in zip(s["step_results"], s["step_results"][1:]))
    assert len({s["id"] for s in data["samples"]}) == 7


def test_builtin_data_is_the_published_benchmark():
    samples = list(TASK.samples(LoadOptions()))
    assert len(samples) == 100
    assert samples[0].id == "974c5335bf28ea1e7817152570a1de3cea3abe6615b3b41e4935aa4ceb4d4906"
    lengths = [len(s.reference) for s in samples]
    assert lengths.count(31) == 89  # 89 run all 30 steps, 11 halt early


def test_loading_the_shared_file_equals_the_builtin_data(shared_data):
    from_file = list(TASK.samples(LoadOptions(data=str(shared_data / "tmbench" / "TMBench.json"))))
    assert from_file == list(TASK.samples(LoadOptions()))
    src_file = TASK.source(LoadOptions(data=str(shared_data / "tmbench")))
    assert src_file.sha256 == TASK.source(LoadOptions()).sha256  # same data, same hash in the record


def test_datasets_loader_reads_a_hub_style_folder(tmp_path):
    repo = tmp_path / "repo" / "data"
    repo.mkdir(parents=True)
    (repo / "TMBenchGreek.json").write_text(tag_system.dumps(tag_system.substitute(tag_system.generate(), "αβγδε")))
    opts = LoadOptions(split="greek", data=f"hf:{tmp_path / 'repo'}", limit=10)
    loaded = list(TASK.samples(opts))
    assert loaded == list(TASK.samples(LoadOptions(split="greek", limit=10)))


def test_hub_loader_offline_says_what_to_do():
    with pytest.raises(TaskError, match="--data"):
        list(TASK.samples(LoadOptions(data="hf:nobody/not-a-dataset")))


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda r: r.pop("rule"), "rule"),
        (lambda r: r.update(init_str=5), "init_str"),
        (lambda r: r.update(step_results=["AAB", "BBB", "AA"]), "step_results"),
        (lambda r: r.update(rule={"A": "BA"}), "rule"),
    ],
)
def test_malformed_rows_name_the_row_and_the_field(tmp_path, mutate, field):
    data = json.loads(json.dumps(HAND))
    mutate(data["samples"][1])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TaskError) as err:
        list(TASK.samples(LoadOptions(data=str(path))))
    assert "sample 1" in str(err.value) and f"'{field}'" in str(err.value) and str(path) in str(err.value)


def test_parser_follows_the_published_rules():
    text = (
        "<think>Step 1: Queue State: [A A A]</think>\n"
        "Step 0: Queue State: [A, B, B]\n"
        "step 1: - Head Symbol: A\n - Queue State: [B B A]\n"
        "### STEP 1:\n- Queue State: [B A]\n"  # a later block for the same step wins
        "Step 2: Queue State: [X Y]\n"  # symbols outside the published alphabets do not parse
    )
    assert __import__(type(TASK).__module__, fromlist=["x"]).parse_steps(text) == {0: "ABB", 1: "BA"}


def grade_all(path: Path, responses: dict[str, str]):
    results = []
    for sample in TASK.samples(LoadOptions(data=str(path))):
        verdict = TASK.grade(sample, TASK.extract(sample, responses[sample.id]))
        results.append(SampleResult(sample.id, (verdict,)))
    return results


def test_metrics_on_a_hand_computed_case(hand_file):
    results = grade_all(hand_file, {
        "P": answer("AAB", "BBA", "AA"),   # all right
        "Q": answer("BAB", "AB", "B"),     # step 0 right, steps 1 and 2 wrong
        "R": answer("AB"),                 # step 1 missing
    })
    assert [r.verdicts[0].status for r in results] == [Status.PASS, Status.FAIL, Status.FAIL]
    m = TASK.aggregate(results, 1)
    # ACC(0) = 3/3, ACC(1) = 1/3 (only P), ACC(2) = 1/2 (P right, Q wrong; R has no step 2)
    assert m.values["acc_step_0"] == 1 and m.values["acc_step_1"] == pytest.approx(1 / 3)
    assert m.values["acc_step_2"] == pytest.approx(1 / 2)
    assert m.values["swa_uniform"] == pytest.approx(100 * (1 + 1 / 3 + 1 / 2) / 3)  # 61.11
    assert m.values["swa_linear"] == pytest.approx(100 * (1 * 1 + 2 / 3 + 3 / 2) / 6)  # 52.78
    assert m.values["pass"] == 1 and m.values["pass_rate"] == pytest.approx(1 / 3)
    lo, hi = m.intervals["swa_uniform"]
    assert lo <= m.values["swa_uniform"] <= hi


def test_extra_predicted_steps_are_ignored(hand_file):
    results = grade_all(hand_file, {"P": answer("AAB", "BBA", "AA", "BA", "A"), "Q": answer("BAB", "BA", "A"),
                                    "R": answer("AB", "BA", "A")})
    assert all(r.verdicts[0].passed for r in results)


def test_pass_at_k_with_several_attempts(hand_file):
    samples = list(TASK.samples(LoadOptions(data=str(hand_file))))
    good = {s.id: TASK.reference_response(s) for s in samples}
    results = []
    for s in samples:  # P: 2 of 4 right, Q: 0 of 4, R: 4 of 4
        right = {"P": 2, "Q": 0, "R": 4}[s.id]
        texts = [good[s.id]] * right + ["nothing"] * (4 - right)
        results.append(SampleResult(s.id, tuple(TASK.grade(s, TASK.extract(s, t)) for t in texts)))
    m = TASK.aggregate(results, 4)
    assert m.values["pass@1"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert m.values["pass@4"] == pytest.approx((1 + 0 + 1) / 3)
    assert m.values["pass@2"] == pytest.approx(((1 - 1 / 6) + 0 + 1) / 3)


def test_oracle_scores_full_marks_on_every_split(cli):
    for split in TASK.splits:
        cli("run", "--task", "tmbench", "--model", "oracle", "--split", split)
        rep = cli.report()
        assert rep["metrics"]["swa_uniform"] == 100 and rep["metrics"]["swa_linear"] == 100
        assert rep["metrics"]["pass"] == 100 and rep["counts"]["pass"] == 100


def test_replay_reproduces_published_style_scores(cli, tmp_path):
    """A replayed output file is scored with the published parser and formulas."""
    samples = list(TASK.samples(LoadOptions()))
    rows = []
    for i, s in enumerate(samples):
        text = TASK.reference_response(s)
        if i % 10 == 0:  # every tenth answer breaks at step 5 (if it has one)
            text = text.replace("### Step 5:", "### Step 5 (unsure):")
        rows.append({"id": s.id, "response": text})
    preds = write_jsonl(tmp_path / "preds.jsonl", rows)
    cli("run", "--task", "tmbench", "--model", f"replay:{preds}")
    rep = cli.report()
    broken = [s for i, s in enumerate(samples) if i % 10 == 0 and len(s.reference) > 5]
    assert rep["counts"]["fail"] == len(broken) and rep["metrics"]["pass"] == 100 - len(broken)
    have5 = sum(len(s.reference) > 5 for s in samples)
    assert rep["metrics"]["acc_step_5"] == pytest.approx(1 - len(broken) / have5)
