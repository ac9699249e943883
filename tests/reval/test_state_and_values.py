"""State answers read and compared as REval does; values carried across the sandbox boundary as data."""

from __future__ import annotations

import collections
import datetime

import numpy as np
import pytest

from .conftest import module

state_answer = module("state_answer")
values = module("values")
read = state_answer.read
host = state_answer.literal_values


def reads(text: str, harness: bool = False):
    return read(text, host, harness)


@pytest.mark.parametrize("text, truth, ok", [
    ("1; int", [1], True), ("1; int", [1.0], False),  # the type must be one of the true values' types
    ("1.0000001; float", [1.0], True), ("1.1; float", [1.0], False),  # floats within 1e-6
    ("[1, 2]; list", [[0], [1, 2]], True),  # any of the values the line had
    ("'ab'; str", ["ab"], True), ("ab; str", ["ab"], True),  # a str that does not evaluate is the text itself
    ("(1, 2); Tuple[int, int]", [(1, 2)], True), ("<class 'dict'>; {}", [{}], False),
    ("{}; <class 'dict'>", [{}], True), ("Nil", None, True), ("nil", None, True), ("Nil; NoneType", None, True),
    ("None; NoneType", [None], True), ("Nil", [None], False), ("1; int", None, False), ("5", [5], False),
    ("True; bool", [True], True), ("1; bool", [True], False), ("[1, 2]; numpy.ndarray", [np.array([1, 2])], True),
    ("[1, 2]; np.ndarray", [np.array([1, 2])], False),  # REval cannot locate `np.ndarray`
    ("2020-01-02 03:04:05; datetime.datetime", [datetime.datetime(2020, 1, 2, 3, 4, 5)], True),
    ("5; numpy.int64", [np.int64(5)], True), ("5; int64", [np.int64(5)], False)])
def test_official_reading_and_comparison(text, truth, ok):
    assert state_answer.matches(reads(text), truth) is ok


def test_harness_reading_adds_the_usual_type_spellings():
    assert state_answer.matches(reads("[1, 2]; np.ndarray", harness=True), [np.array([1, 2])])
    assert state_answer.matches(reads("5; int64", harness=True), [np.int64(5)])
    od = collections.OrderedDict(a=1)
    assert not state_answer.matches(reads("{'a': 1}; collections.OrderedDict"), [od])  # lower-cased: not found
    assert state_answer.matches(reads("{'a': 1}; collections.OrderedDict", harness=True), [od])


def test_what_only_eval_can_read_goes_to_the_sandbox():
    for text in ("sorted([2, 1]); list", "[x for x in 'ab']; list", "bytearray(b'a'); bytearray", "1; os.path"):
        with pytest.raises(state_answer.NeedsSandbox):
            reads(text)
    assert reads("1 +; int").kind == "error"  # eval would fail too: an error, decided here


@pytest.mark.parametrize("value", [
    None, True, -3, 2 ** 80, 0.1, float("inf"), 1 + 2j, "é\n", b"\x00", bytearray(b"ab"), [1, [2]], (1,), {1, 2},
    frozenset({3}), {"a": [1], (1, 2): None}, collections.OrderedDict(b=2, a=1), collections.Counter("aab"),
    collections.deque([1, 2], maxlen=3), datetime.datetime(2020, 1, 2, 3, 4, 5, 6), datetime.date(2020, 1, 2),
    datetime.timedelta(days=1, seconds=2), range(1, 5, 2), int, np.array([[1.5, 2.0]]), np.float64(0.5),
    np.array(["a", "bc"])])
def test_values_round_trip(value):
    back = values.decode(values.encode(value))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert back == value


def test_what_is_not_data_crosses_as_an_opaque_stand_in():
    class Thing:
        pass

    loop = [1]
    loop.append(loop)
    for value in (Thing(), loop):
        back = values.decode(values.encode(value))
        assert isinstance(back, values.OpaqueValue) or isinstance(back[1], values.OpaqueValue)
    a, b = values.decode(values.encode(Thing())), values.decode(values.encode(Thing()))
    assert type(a) is type(b) and a != b  # same type by name; a value equal to nothing but itself
    with pytest.raises(values.BadTree):
        values.decode(["no-such-tag", 1])
