"""Reading responses: each task's answer, in the tolerant (harness) and REval's own (official) way, never crashing."""

from __future__ import annotations

import pytest

from .conftest import module

answers = module("answers")
CODE = "def f(x):\n    if x > 2:\n        return x * 2\n    return x\n"


@pytest.mark.parametrize("text, expected", [
    ("<answer>YES</answer>", "YES"), ("[ANSWER]\nno\n[/ANSWER]", "NO"), ("**Yes**, it runs.", "YES"),
    ("It would not... so the answer is NO", "NO"), ("YES\n[/ANSWER]", "YES"), ("<think>yes? no</think>NO", "NO"),
    ("maybe", None), ("", None), ("[ANSWER]", None)])
def test_coverage_harness(text, expected):
    assert answers.coverage(text, official=False, cot=False) == expected


@pytest.mark.parametrize("text, cot, expected", [
    ("YES\n[/ANSWER]", False, "YES"), ("yes", False, "YES"), ("NO", False, "NO"), ("YES NO", False, "YES"),
    ("NO, YES", False, "NO"),
    ("The answer is YES", False, "NO"),  # REval looks at the first three characters only
    ("[THOUGHT]runs[/THOUGHT]\n[ANSWER]YES[/ANSWER]", True, "YES"), ("reasoning... YES", True, "NO"),
    ("", False, "NO")])
def test_coverage_official(text, cot, expected):
    assert answers.coverage(text, official=True, cot=cot) == expected


@pytest.mark.parametrize("text, expected", [
    ("<answer>3</answer>", [3]), ("<answer>-1</answer>", [-1]), ("Line 4", [4]), ("3\t        return x * 2", [3]),
    ("<answer>`return x * 2`</answer>", [3]), ("return x", [4]), ("```python\nreturn x\n```", [4]),
    ("99", [-2]), ("nonsense", [-2]), ("", [-2]), ("3  return x", [-2])])
def test_path_harness(text, expected):
    assert answers.path(text, CODE, official=False, cot=False) == expected


def test_path_official_matches_stripped_code_and_duplicates():
    code = "def g(a):\n    a += 1\n    a += 1\n    return a\n"
    assert answers.path("a += 1\n[/ANSWER]", code, official=True, cot=False) == [2, 3]
    assert answers.path("3", code, official=True, cot=False) == [-2]  # a number is not a line of code
    assert answers.path("-1", code, official=True, cot=False) == [-1]
    assert answers.path("a += 1", code, official=True, cot=True) == [-2]  # no [/THOUGHT]


@pytest.mark.parametrize("text, expected", [
    ("<answer>[1, 2]; list</answer>", "[1, 2]; list"), ("<answer>Nil</answer>", "Nil"),
    ("`'ab'; str`", "'ab'; str"), ("<answer>\u2018x\u2019; str</answer>", "'x'; str")])
def test_state_text(text, expected):
    assert answers.state_text(text, official=False, cot=False) == expected


def test_output_text_takes_the_fenced_code():
    text = "Here it is:\n<answer>\n```python\nassert f(3) == 6\n```\n</answer>"
    assert answers.output_text(text, official=False, cot=False) == "assert f(3) == 6"
    assert answers.output_text("no thought", official=True, cot=True) is None


@pytest.mark.parametrize("garbage", ["\x00\x01", "[ANSWER][ANSWER][/ANSWER", "<answer>" * 50, "```", "; ; ;"])
def test_garbage_never_raises(garbage):
    for official in (False, True):
        answers.coverage(garbage, official, cot=False)
        answers.path(garbage, CODE, official, cot=False)
        answers.state_text(garbage, official, cot=False)
        answers.output_text(garbage, official, cot=False)
