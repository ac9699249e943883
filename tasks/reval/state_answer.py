"""A state answer (`value; type`, or Nil) read into a value and a type, and compared with the traced values.

REval's reading (its State._postprocess after the answer is cut out of the response): Nil (or [Nil]) is Nil;
otherwise the text is split at its last `;` (none: an error), the type part lower-cased; `<class 'x'>` becomes x,
generics are dropped, `string`/`integer` become str/int, and a type with a comma or `tuple` in it is tuple. Then by
type: str evaluates the value if it can (else keeps the text), datetime parses it with dateutil, numpy.ndarray is
np.array of the evaluated value, a value `None` is None; any other type is located by name (pydoc.locate), and the
value evaluated (a built-in type) or passed to the type's constructor (evaluated, else as text). Anything that
fails is an error (a wrong answer).

Harness mode (`-T parsing=harness`) reads the same way, and also: tries the type name as written before
lower-casing it (collections.OrderedDict), and takes np.ndarray, ndarray, NoneType, boolean, dictionary and
datetime as the types they name.

Comparison (REval's State._eq): Nil matches Nil; else the answer's type must be the type of one of the true values
and of the answer's own value, and then a float matches within 1e-6, anything else by `in` (numpy arrays, whose
`==` is elementwise, by allclose).

The reading evaluates the model's text, so the harness runs it with `literal_values` (ast.literal_eval and a fixed
table of types; NeedsSandbox where it would take more), and the sandbox (check_state.py) runs it with `eval` and
pydoc.locate for the rest. Standard library only (numpy and dateutil imported when an answer needs them).
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from typing import Any, Callable

NIL = "Nil"
_CLASS = re.compile(r"<class '(.*)'>")
_GENERIC = re.compile(r"(.*)\[.*\]")
_ALIASES = {"np.ndarray": "numpy.ndarray", "ndarray": "numpy.ndarray", "numpy.array": "numpy.ndarray",
            "nonetype": "NoneType", "boolean": "bool", "dictionary": "dict", "datetime": "datetime.datetime",
            "float64": "numpy.float64", "int64": "numpy.int64"}


class NeedsSandbox(Exception):
    """The answer can only be read by evaluating it (in the sandbox)."""


@dataclass(frozen=True)
class Reading:
    kind: str  # "nil", "value" or "error"
    value: Any = None
    type: Any = None
    why: str = ""


@dataclass(frozen=True)
class Evaluator:
    evaluate: Callable[[str], Any]  # the value text -> a value (raises like eval)
    locate: Callable[[str], Any]  # a type name -> the object it names, or None (like pydoc.locate)


def read(text: str, ev: Evaluator, harness: bool) -> Reading:
    """The answer text (already cut out of the response) -> Nil, a (value, type), or an error."""
    text = text.strip()
    if text.capitalize() == NIL or text == "[Nil]":
        return Reading("nil")
    semicolon = text.rfind(";")
    if semicolon == -1:
        if harness and text.rstrip(".").capitalize() == NIL:
            return Reading("nil")
        return Reading("error", why="no `;` between a value and a type")
    value_text, written_type = text[:semicolon].strip(), text[semicolon + 1:].strip()
    if harness:
        written_type = written_type.rstrip(".").strip("`").strip()
    type_text = written_type.lower()
    if value_text.capitalize() == NIL:
        return Reading("nil")
    for pattern in (_CLASS, _GENERIC):
        m = pattern.match(type_text)
        if m:
            type_text = m.group(1)
            m2 = pattern.match(written_type)
            written_type = m2.group(1) if m2 else written_type
    if type_text == "string":
        type_text = "str"
    if type_text == "integer":
        type_text = "int"
    if "," in type_text or "tuple" in type_text:
        type_text = "tuple"
    if harness:
        type_text = _ALIASES.get(type_text, type_text)
    if type_text == "str":
        try:
            return Reading("value", ev.evaluate(value_text), str)
        except NeedsSandbox:
            raise
        except Exception:  # noqa: BLE001 - REval keeps the text as the string
            return Reading("value", value_text, str)
    if type_text in ("datetime.datetime", "datetime"):
        try:
            from dateutil.parser import parse
        except ImportError:
            raise NeedsSandbox("dateutil is not installed here") from None
        try:
            return Reading("value", parse(value_text), ev.locate(type_text))
        except NeedsSandbox:
            raise
        except Exception as exc:  # noqa: BLE001
            return Reading("error", why=f"not a date and time: {type(exc).__name__}")
    if type_text in ("numpy.ndarray", "np.ndarray"):
        try:
            import numpy as np

            return Reading("value", np.array(ev.evaluate(value_text)), ev.locate(type_text))
        except NeedsSandbox:
            raise
        except Exception as exc:  # noqa: BLE001
            return Reading("error", why=f"not an array: {type(exc).__name__}")
    if value_text == "None" or type_text == "NoneType":
        return Reading("value", None, type(None))
    try:
        found = ev.locate(written_type) if harness else None
        if found is None:
            found = ev.locate(type_text)
        if found is None:
            raise ValueError(f"no type named {type_text!r}")
        if not isinstance(found, type):
            raise ValueError(f"{type_text!r} is not a type")
        if found.__module__ == "builtins":
            return Reading("value", ev.evaluate(value_text), found)
        try:
            return Reading("value", found(ev.evaluate(value_text)), found)
        except NeedsSandbox:
            raise
        except Exception:  # noqa: BLE001 - REval then passes the text itself
            return Reading("value", found(value_text), found)
    except NeedsSandbox:
        raise
    except Exception as exc:  # noqa: BLE001 - REval: any failure is an error
        return Reading("error", why=f"{type(exc).__name__}: {str(exc)[:120]}")


def matches(answer: Reading, truth: list | None) -> bool:
    """REval's State._eq; truth None is Nil."""
    if answer.kind == "error":
        return False
    if answer.kind == "nil" or truth is None:
        return answer.kind == "nil" and truth is None
    value, kind = answer.value, answer.type
    if all(kind != type(t) for t in truth):
        return False
    if type(value) != kind:
        return False
    if kind is float:
        for t in truth:
            try:
                if abs(value - t) < 1e-6:
                    return True
            except Exception:  # noqa: BLE001
                continue
        return False
    try:
        return value in truth
    except ValueError:  # numpy arrays: `==` is elementwise
        import numpy as np

        for t in truth:
            try:
                if isinstance(value, np.ndarray) and isinstance(t, np.ndarray):
                    if np.allclose(value, t):
                        return True
                elif value == t:
                    return True
            except Exception:  # noqa: BLE001
                continue
        return False


# ------------------------------------------------------------------------------------ the harness's evaluator
SANDBOX_NAMES = ("np", "numpy", "datetime")  # besides the builtins, what check_state.py evaluates answers with
_STANDARD_TYPES = {  # name -> (module, attribute): types the harness may construct from a literal itself
    f"{m}.{a}": (m, a) for m, names in (
        ("datetime", ("datetime", "date", "time", "timedelta", "timezone")),
        ("collections", ("deque", "defaultdict", "OrderedDict", "Counter")),
        ("decimal", ("Decimal",)), ("fractions", ("Fraction",))) for a in names}
_NUMPY_SCALARS = ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                  "float32", "float64", "complex64", "complex128", "str_", "bytes_", "intc", "intp", "longlong",
                  "ulonglong", "double", "single", "half", "longdouble")


def literal(text: str) -> Any:
    """ast.literal_eval where eval would give the same; NeedsSandbox where only eval can tell."""
    try:
        tree = ast.parse(text.lstrip(" \t"), mode="eval")
    except SyntaxError:
        raise  # eval raises it too
    except (ValueError, MemoryError, RecursionError) as exc:
        raise SyntaxError(str(exc)) from None
    if isinstance(tree.body, ast.Name) and tree.body.id not in SANDBOX_NAMES and not hasattr(builtins, tree.body.id):
        raise NameError(f"name {tree.body.id!r} is not defined")  # what eval says, in the sandbox's namespace
    try:
        return ast.literal_eval(tree)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise NeedsSandbox("the value is an expression, not a literal") from None


def _known_type(name: str) -> Any:
    """pydoc.locate for builtins, numpy's array and scalar types and a few standard types; NeedsSandbox for any
    other dotted name (locating it may import a module)."""
    if not name:
        return None
    if "." not in name:
        return getattr(builtins, name, None)
    if name.split(".", 1)[0] == "np":
        return None  # no module is named np
    module, _, attr = name.partition(".")
    if module in ("datetime", "collections", "decimal", "fractions", "numpy") and "." not in attr:
        import importlib

        found = getattr(importlib.import_module(module), attr, None)
        if found is None:
            return None  # the module has no such name: pydoc.locate finds nothing either
        if name in _STANDARD_TYPES or (module == "numpy" and (attr in _NUMPY_SCALARS or attr == "ndarray")):
            return found
    raise NeedsSandbox(f"type {name!r} is located in the sandbox")


literal_values = Evaluator(literal, _known_type)
