"""From a response to the graded program: fences, bare code, completions, imports, the official clean-up."""

from __future__ import annotations

import ast

import pytest

from harness.context import TaskContext
from harness.task import LoadOptions, TaskError

from .conftest import FIXTURE, TASK, new_task

extract = __import__(type(TASK).__module__ + ".extract", fromlist=["x"])
SAMPLES = {s.id: s for s in TASK.samples(LoadOptions(data=str(FIXTURE)))}
FILE_SAMPLES = list(TASK.samples(LoadOptions(split="file", data=str(FIXTURE))))


def opened(**raw: str):
    """A task opened as a run with `-T KEY=VALUE ...` opens it (nothing starts: the pool is made on first use)."""
    task = new_task()
    task.open(TaskContext(task, args=task.parse_args(raw)))
    return task


def run(code: str, *args):
    """Only our own fixture code runs here (no model output): define it and call `solution`."""
    ns: dict = {}
    exec(compile(code, "<test>", "exec"), ns)
    return ns["solution"](*args)


def test_fenced_block_with_prose_and_examples_around_it():
    text = ("Here is my answer:\n\n```python\ndef min_max(nums):\n    return (min(nums), max(nums))\n\n"
            "print(min_max([1, 2]))\nassert min_max([3]) == (3, 3)\n```\nIt runs in O(n).")
    code = TASK.extract(SAMPLES["Mbpp/2"], text).value.code
    assert "print(" not in code and "assert" not in code  # examples the model added are not run
    assert run(code, [4, 2, 9]) == (2, 9)


def test_the_block_defining_the_entry_point_wins_and_other_blocks_give_their_imports():
    text = ("First:\n```python\nimport math\n```\nThen:\n```python\ndef mean_below(n):\n"
            "    return math.fsum(range(n)) / n\n```\nUsage:\n```python\nmean_below(3)\n```")
    code = TASK.extract(SAMPLES["Mbpp/1"], text).value.code
    assert code.startswith("import math") and run(code, 4) == 1.5


def test_bare_code_and_an_mbpp_prompt_left_open_on_a_python_fence():
    bare = "def min_max(nums):\n    return min(nums), max(nums)\n"
    assert run(TASK.extract(SAMPLES["Mbpp/2"], bare).value.code, [5, 1]) == (1, 5)
    open_fence = "def min_max(nums):\n    return min(nums), max(nums)\n```\n\nThis uses min and max."
    assert run(TASK.extract(SAMPLES["Mbpp/2"], open_fence).value.code, [5, 1]) == (1, 5)
    prose_then_code = "Sure. Here it is.\ndef min_max(nums):\n    return min(nums), max(nums)\nDone, it is linear."
    assert run(TASK.extract(SAMPLES["Mbpp/2"], prose_then_code).value.code, [5, 1]) == (1, 5)


def test_a_humaneval_body_completion_is_completed_with_its_prompt():
    body = "    return sum(x * x for x in nums)\n"
    code = TASK.extract(SAMPLES["HumanEval/0"], body).value.code
    assert run(code, [1, 2, 3]) == 14 and "def sum_of_squares" in code


def test_the_prompt_imports_are_added_and_recursion_keeps_working():
    text = ("```python\ndef sum_of_squares(nums: List[int]) -> int:\n    if not nums:\n        return 0\n"
            "    return nums[0] ** 2 + sum_of_squares(nums[1:])\n```")
    code = TASK.extract(SAMPLES["HumanEval/0"], text).value.code
    assert code.startswith("from typing import List")
    assert run(code, [1, 2, 3]) == 14
    assert code.rstrip().endswith("solution = sum_of_squares")


def test_the_official_clean_up_keeps_coffe_s_behaviour():
    # COFFE's pipeline (-T extraction=official): longest block only, no imports from the prompt or other blocks.
    official, ours = opened(extraction="official"), opened()
    assert ours.extraction == "harness" and TASK.extraction == "harness"  # the default, in a run or outside one
    text = "```python\ndef sum_of_squares(nums: List[int]) -> int:\n    return sum(x * x for x in nums)\n```"
    assert "from typing import List" not in official.extract(SAMPLES["HumanEval/0"], text).value.code
    assert ours.extract(SAMPLES["HumanEval/0"], text).value.code.startswith("from typing import List")
    assert TASK.extract(SAMPLES["HumanEval/0"], text).value.code.startswith("from typing import List")
    two_blocks = "```python\nimport math\n```\n```python\ndef mean_below(n):\n    return math.fsum(range(n)) / n\n```"
    # COFFE's splitter leaves the second fence's backticks in front of the code: unusable (-1), a failure
    assert official.extract(SAMPLES["Mbpp/1"], two_blocks).value.code is None
    assert run(ours.extract(SAMPLES["Mbpp/1"], two_blocks).value.code, 4) == 1.5
    # the reference is graded through our extraction either way: the oracle's program equals the reference's
    assert official.reference_code(SAMPLES["HumanEval/0"]) == TASK.reference_code(SAMPLES["HumanEval/0"])
    official.close()
    ours.close()
    assert official.extraction == "harness"  # closed: no run, the default


def test_the_extraction_option_is_checked_and_part_of_the_identity():
    with pytest.raises(TaskError, match="extraction"):
        TASK.parse_args({"extraction": "coffe"})
    assert TASK.identity_args(TASK.parse_args({})) == {"extraction": "harness", "efficiency": "on"}
    with pytest.raises(TaskError, match="efficiency"):
        TASK.parse_args({"efficiency": "maybe"})
    assert TASK.splits == ("function", "file")


def test_the_reference_solution_goes_through_unchanged_in_meaning():
    for s in SAMPLES.values():
        code = TASK.reference_code(s)
        ast.parse(code)
        assert f"def {s.inputs['entry_point']}(" in code and code.rstrip().endswith(
            f"solution = {s.inputs['entry_point']}")  # the entry point's name again, `solution` an alias
    for s in FILE_SAMPLES:
        assert TASK.reference_code(s) == s.reference["solution"].rstrip("\n") + "\n"


def test_file_level_takes_the_longest_block():
    text = ("Input format:\n```\n3\n```\nProgram:\n```python\nn = int(input())\nprint(n * (n + 1) // 2)\n```\n")
    code = TASK.extract(FILE_SAMPLES[0], text).value.code
    assert code == "n = int(input())\nprint(n * (n + 1) // 2)\n"


def test_canonical_is_the_program_so_equal_programs_share_a_verdict():
    a = TASK.extract(SAMPLES["Mbpp/2"], "```python\ndef min_max(nums):\n    return min(nums), max(nums)\n```")
    b = TASK.extract(SAMPLES["Mbpp/2"], "Answer:\ndef min_max(nums):\n    return min(nums), max(nums)\n")
    assert a.canonical == b.canonical
