"""COFFE's own clean-up (`-T extraction=official`, official.py), shape by shape, next to ours; COFFE's own output
comparison; and the future-flags trap (check.py compiles foreign code without its own `annotations` flag).

The answers are small ones of our own in each shape the official pipeline is known to handle differently.  Only
our own fixture code is executed here (to see what a cleaned program does); graded runs are in test_grading.py."""

from __future__ import annotations

import ast
import importlib.util

import pytest

from harness.task import LoadOptions

from .conftest import FIXTURE, TASK

official = __import__(type(TASK).__module__ + ".official", fromlist=["x"])
spec = importlib.util.spec_from_file_location("coffe_check", TASK.folder / "check.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

FN = {s.id: s for s in TASK.samples(LoadOptions(split="function", data=str(FIXTURE)))}
FILE = list(TASK.samples(LoadOptions(split="file", data=str(FIXTURE))))


def clean(sample, text):
    return official.clean(text, level=sample.metadata["level"], dataset=sample.metadata["dataset"],
                          entry_point=sample.inputs["entry_point"], prompt=sample.inputs["code_prompt"])


def ours(sample, text):
    return TASK.program(sample, text, official_clean_up=False).code


def call(code, *args):
    ns: dict = {}
    exec(compile(code, "<fixture>", "exec", dont_inherit=True), ns)
    return ns["solution"](*args)


def module_imports(code):
    return {a.name for n in ast.parse(code).body if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}


SQUARES = FN["HumanEval/0"]  # prompt: `from typing import List` + def sum_of_squares(nums: List[int])


# ---------------------------------------------------------------------------------------- cause 1
def test_an_undefined_annotation_raises_as_in_plain_python():
    # check.py itself has `from __future__ import annotations`; compile() would pass it on unless told not to,
    # and then `List` in an annotation would never be looked up
    assert "from __future__ import annotations" in (TASK.folder / "check.py").read_text()
    with pytest.raises(NameError, match="List"):
        check._define_solution("def solution(nums: List[int]) -> int:\n    return 0\n")
    assert check._define_solution("def solution(nums: 'List[int]'):\n    return 1\n")([]) == 1  # a string is fine
    with pytest.raises(NameError, match="Undefined"):
        check._build_input("function", "[Undefined]")  # input expressions: the same compile


# ---------------------------------------------------------------------------------------- cause 2
def test_a_restated_humaneval_function_gets_no_prompt_and_so_no_typing_import():
    text = "```python\ndef sum_of_squares(nums: List[int]) -> int:\n    return sum(x * x for x in nums)\n```"
    cleaned = clean(SQUARES, text)
    assert cleaned.code.startswith("def solution(nums: List[int])") and not cleaned.io
    with pytest.raises(NameError, match="List"):
        call(cleaned.code, [1, 2])  # COFFE's pipeline fails this answer (our extraction adds the prompt's import)
    assert call(ours(SQUARES, text), [1, 2]) == 5


def test_an_answer_starting_with_an_import_has_it_swallowed_into_the_prompt_s_stub():
    text = "```python\nimport math\n\ndef sum_of_squares(nums):\n    return int(math.fsum(x * x for x in nums))\n```"
    cleaned = clean(SQUARES, text)
    assert "math" not in module_imports(cleaned.code)  # the prompt went in front, the import into its body
    with pytest.raises(NameError, match="math"):
        call(cleaned.code, [1, 2])
    assert call(ours(SQUARES, text), [1, 2]) == 5


def test_a_body_completion_gets_the_prompt_in_front():
    for text in ("    return sum(x * x for x in nums)\n", "return sum(x * x for x in nums)"):
        assert call(clean(SQUARES, text).code, [1, 2, 3]) == 14
        assert call(ours(SQUARES, text), [1, 2, 3]) == 14


def test_a_helper_in_another_block_is_lost_by_coffe_and_kept_by_us():
    text = ("A helper first:\n```python\ndef square(x):\n    return x * x\n```\nThen the function:\n```python\n"
            "def sum_of_squares(nums):\n    return sum(square(x) for x in nums)\n```")
    with pytest.raises(NameError, match="square"):
        call(clean(SQUARES, text).code, [1, 2])
    assert call(ours(SQUARES, text), [1, 2]) == 5


def test_example_code_after_the_function_is_cut_from_the_first_print_on():
    text = ("```python\ndef sum_of_squares(nums):\n    return sum(x * x for x in nums)\n\nvalue = sum_of_squares([2])\n"
            "print(value)\nassert value == 4\n```")
    code = clean(SQUARES, text).code
    assert "print" not in code and "value" not in code and call(code, [3]) == 9
    assert "print" not in ours(SQUARES, text) and call(ours(SQUARES, text), [3]) == 9


def test_example_code_calling_a_prompt_helper():
    # a HumanEval prompt with a helper the model is to use; the answer keeps the helper out of its block and
    # adds example code that calls it: before its function (COFFE swallows that into the prompt's stub) or after
    prompt = ('\ndef double(x: int) -> int:\n    return 2 * x\n\n\ndef quadruple(x: int) -> int:\n'
              '    """Four times x, using double."""\n')
    sample = type(SQUARES)(id="HumanEval/9", inputs={"prompt": prompt.strip(), "entry_point": "quadruple",
                                                     "code_prompt": prompt},
                           reference=SQUARES.reference, metadata={"level": "function", "dataset": "HumanEval"})
    before = "```python\nprint(double(1))\n\ndef quadruple(x: int) -> int:\n    return double(double(x))\n```"
    assert call(clean(sample, before).code, 3) == 12  # the prompt went in front, the example into its stub
    after = "```python\ndef quadruple(x: int) -> int:\n    return double(double(x))\n\ncheck = double(4)\n```"
    with pytest.raises(NameError, match="double"):
        call(clean(sample, after).code, 3)  # starts with def: no prompt, so no helper
    for text in (before, after):
        code = ours(sample, text)
        assert call(code, 3) == 12 and "print" not in code and "check" not in code  # helper from the prompt


def test_mbpp_gets_no_entry_point_in_the_sanitizer_and_a_misspelled_one_is_not_renamed():
    mean = FN["Mbpp/1"]  # entry point mean_below
    right = "```python\ndef mean_below(n):\n    return (n - 1) / 2\n```"
    assert call(clean(mean, right).code, 5) == 2.0
    misspelled = "```python\ndef mean_bellow(n):\n    return (n - 1) / 2\n```"  # what the model wrote
    assert "solution" not in clean(mean, misspelled).code  # COFFE renames only the entry point: nothing to call
    assert call(ours(mean, misspelled), 5) == 2.0  # ours: the answer's only function is the solution


def test_classes_get_coffe_s_wrapper_which_returns_nothing():
    text = "```python\nclass Solution:\n    def meanBelow(self, n):\n        return (n - 1) / 2\n```"
    code = clean(FN["Mbpp/1"], text).code
    assert "def solution(*args)" in code and call(code, 5) is None


def test_unusable_answers_are_coffe_s_minus_one():
    assert clean(SQUARES, "I cannot help with that.").code is None  # the prompt + prose does not parse
    assert clean(FN["Mbpp/1"], "```python\nimport math\n```").code is None  # nothing left without imports
    assert TASK.program(SQUARES, "I cannot help.", official_clean_up=True).canonical.startswith(
        "# COFFE's clean-up: unusable (-1)")


def test_file_level_takes_the_first_python_block_and_tells_programs_from_functions():
    text = "```python\nprint(1)\n```\nBetter:\n```python\nn = int(input())\nprint(n * (n + 1) // 2)\n```"
    cleaned = clean(FILE[0], text)
    assert cleaned.code == "print(1)" and cleaned.io  # the first block, not the longest; a program
    assert ours(FILE[0], text).startswith("n = int(input())")  # ours: the longest block
    functions_only = clean(FILE[0], "```python\ndef main():\n    print(1)\n```")
    assert not functions_only.io and "def solution" in functions_only.code
    guarded = clean(FILE[0], "```python\nif __name__ == '__main__':\n    print(1)\n```")
    assert "if 1 or __name__" in guarded.code and guarded.io


def test_markdown_escapes_and_windows_line_ends_are_undone():
    text = "```python\r\ndef sum\\_of\\_squares(nums):\r\n    return sum(x * x for x in nums)\r\n```"
    assert call(clean(SQUARES, text).code, [2]) == 4


# ----------------------------------------------------------------------------------------- comparison
@pytest.mark.parametrize("got,expected,coffe,harness", [
    ([1.0, 2.0000001], [1.0, 2.0], True, True),  # a flat list of floats: within tolerance for both
    ([[1.0, 2.0000001]], [[1.0, 2.0]], False, True),  # nested: COFFE compares exactly
    ([1, 2.0000001], [1, 2.0], False, True),  # an int among the floats: COFFE compares exactly
    (2.0000001, 2, False, True),  # a float against an int: exactly
    ((1, (2, 3)), [1, [2, 3]], True, True),  # tuples as lists, recursively
    ("[1, 2]", "1,2", True, True),
    (True, 1, True, True),  # == first: True == 1
    (float("nan"), float("nan"), True, True),
])
def test_coffe_s_own_comparison_next_to_ours(got, expected, coffe, harness):
    assert check.official_is_equal(got, expected) is coffe
    assert check.is_equal(got, expected) is harness


def test_coffe_s_patched_stdin_gives_lines_without_their_newline():
    out = check._run_official_program("import sys\nprint(repr(sys.stdin.readline()), input())\n", {}, "3\n4\n")
    assert out == "'3' 4\n"
    with pytest.raises(AttributeError):
        check._run_official_program("import sys\nsys.stdin.buffer.read()\n", {}, "1\n")
    with pytest.raises(SystemExit):
        check._run_official_program("print(1)\nexit(0)\n", {}, "")
