"""Python values as JSON trees, and back: how traced ground truth and evaluated answers leave the sandbox.

A tree is a list whose first element is a tag: `["int", 3]`, `["list", [tree, ...]]`, `["dict", [[k, v], ...]]`.
Plain data round-trips exactly (None, bool, int, float, complex, str, bytes, the built-in containers, the
`collections` and `datetime` types, Decimal, Fraction, range, numpy arrays and scalars, types). Anything else, and
subclasses of those types, become `["opaque", type name, repr]`: decoded as an object of a stand-in class of that
name that equals nothing but itself, so a type check against it works by name and a value check never passes.

Runs on both sides: in the sandbox (tracer.py and the check programs encode) and in the harness (decodes). Standard
library only; numpy is imported only to encode or decode a numpy value.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
from typing import Any

MAX_DEPTH = 40  # deeper values become opaque
MAX_NODES = 100_000  # per encoded value; beyond it the rest becomes opaque
REPR_CHARS = 200
_SMALL_INT = 1 << 53

_SEQUENCES = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}
_DATETIMES = {datetime.datetime: "datetime.datetime", datetime.date: "datetime.date", datetime.time: "datetime.time"}
_PAIRS = {dict: "dict", collections.OrderedDict: "collections.OrderedDict",
          collections.defaultdict: "collections.defaultdict", collections.Counter: "collections.Counter"}


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def encode(value: Any) -> list:
    """The tree of one value (never raises: what cannot be encoded becomes opaque)."""
    return _encode(value, 0, set(), _Budget())


def _opaque(value: Any) -> list:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ is the value's, not ours
        text = f"<repr failed: {type(exc).__name__}>"
    return ["opaque", type_name(type(value)), text[:REPR_CHARS]]


def type_name(cls: type) -> str:
    module = getattr(cls, "__module__", None) or "?"
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    return name if module == "builtins" else f"{module}.{name}"


def _encode(value: Any, depth: int, path: set[int], budget: _Budget) -> list:
    budget.nodes += 1
    if depth > MAX_DEPTH or budget.nodes > MAX_NODES:
        return _opaque(value)
    cls = type(value)
    if value is None:
        return ["None"]
    if cls is bool:
        return ["bool", value]
    if cls is int:
        return ["int", value if -_SMALL_INT < value < _SMALL_INT else hex(value)]
    if cls is float:
        return ["float", repr(value)]
    if cls is complex:
        return ["complex", repr(value.real), repr(value.imag)]
    if cls is str:
        return ["str", value]
    if cls in (bytes, bytearray):
        return [cls.__name__, bytes(value).hex()]
    if cls is range:
        return ["range", value.start, value.stop, value.step]
    if cls is decimal.Decimal:
        return ["decimal.Decimal", str(value)]
    if cls is fractions.Fraction:
        return ["fractions.Fraction", _encode(value.numerator, depth + 1, path, budget),
                _encode(value.denominator, depth + 1, path, budget)]
    if cls in _DATETIMES:
        return [_DATETIMES[cls], value.isoformat()]
    if cls is datetime.timedelta:
        return ["datetime.timedelta", value.days, value.seconds, value.microseconds]
    if isinstance(value, type):
        return ["type", type_name(value)]
    if id(value) in path:  # a container that holds itself
        return _opaque(value)
    if cls in _SEQUENCES or cls is collections.deque or cls in _PAIRS:
        path.add(id(value))
        try:
            if cls in _PAIRS:
                items = [[_encode(k, depth + 1, path, budget), _encode(v, depth + 1, path, budget)]
                         for k, v in value.items()]
                return [_PAIRS[cls], items]
            items = [_encode(v, depth + 1, path, budget) for v in value]
            if cls is collections.deque:
                return ["collections.deque", items, value.maxlen]
            return [_SEQUENCES[cls], items]
        finally:
            path.discard(id(value))
    if cls.__module__ == "numpy":
        return _encode_numpy(value, depth, path, budget)
    return _opaque(value)


def _encode_numpy(value: Any, depth: int, path: set[int], budget: _Budget) -> list:
    import numpy as np

    if type(value) is np.ndarray and value.dtype.kind in "biufcSU":
        budget.nodes += int(value.size)
        if budget.nodes > MAX_NODES:
            return _opaque(value)
        return ["numpy.ndarray", value.dtype.str, list(value.shape), _encode(value.tolist(), depth + 1, path, budget)]
    if type(value) is np.ndarray and value.dtype.kind == "O":
        path.add(id(value))
        try:
            flat = [_encode(v, depth + 1, path, budget) for v in value.ravel().tolist()]
        finally:
            path.discard(id(value))
        return ["numpy.ndarray", "|O", list(value.shape), ["list", flat]]
    if isinstance(value, np.generic) and value.dtype.kind in "biufcSU":
        return ["numpy.scalar", value.dtype.str, _encode(value.item(), depth + 1, path, budget)]
    return _opaque(value)


# ------------------------------------------------------------------------------------------------ decoding
class OpaqueValue:
    """Stands for a value that could not cross as data: equal only to itself."""

    type_name = "?"

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


_STAND_INS: dict[str, type] = {}


def stand_in(name: str) -> type:
    """One stand-in class per type name, so that two opaque values of one type have the same type."""
    cls = _STAND_INS.get(name)
    if cls is None:
        module, _, short = name.rpartition(".")
        cls = type(short, (OpaqueValue,), {"type_name": name, "__module__": module or "builtins",
                                            "__qualname__": short})
        _STAND_INS[name] = cls
    return cls


_KNOWN_TYPES: dict[str, type] = {type_name(t): t for t in (
    type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, set, frozenset, dict, range,
    type, object, collections.OrderedDict, collections.defaultdict, collections.Counter, collections.deque,
    datetime.datetime, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, fractions.Fraction)}


def decode_type(name: str) -> type:
    if name in _KNOWN_TYPES:
        return _KNOWN_TYPES[name]
    if name.startswith("numpy."):
        import numpy as np

        found = getattr(np, name[len("numpy."):], None)
        if isinstance(found, type):
            return found
    return stand_in(name)


class BadTree(ValueError):
    """A tree that no `encode` makes (from a sandbox run that printed something else)."""


def decode(tree: Any) -> Any:
    try:
        return _decode(tree)
    except BadTree:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError, RecursionError) as exc:
        raise BadTree(f"not a value tree: {type(exc).__name__}: {exc}") from None


def _decode(tree: Any) -> Any:
    if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise BadTree(f"not a value tree: {str(tree)[:80]}")
    tag, args = tree[0], tree[1:]
    if tag == "None":
        return None
    if tag == "bool":
        return bool(args[0])
    if tag == "int":
        return args[0] if isinstance(args[0], int) else int(args[0], 16)
    if tag == "float":
        return float(args[0])
    if tag == "complex":
        return complex(float(args[0]), float(args[1]))
    if tag == "str":
        return str(args[0])
    if tag in ("bytes", "bytearray"):
        return (bytes if tag == "bytes" else bytearray)(bytes.fromhex(args[0]))
    if tag == "range":
        return range(args[0], args[1], args[2])
    if tag == "decimal.Decimal":
        return decimal.Decimal(args[0])
    if tag == "fractions.Fraction":
        return fractions.Fraction(_decode(args[0]), _decode(args[1]))
    if tag == "datetime.datetime":
        return datetime.datetime.fromisoformat(args[0])
    if tag == "datetime.date":
        return datetime.date.fromisoformat(args[0])
    if tag == "datetime.time":
        return datetime.time.fromisoformat(args[0])
    if tag == "datetime.timedelta":
        return datetime.timedelta(days=args[0], seconds=args[1], microseconds=args[2])
    if tag == "type":
        return decode_type(args[0])
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [_decode(t) for t in args[0]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "collections.deque":
        return collections.deque([_decode(t) for t in args[0]], args[1])
    if tag in ("dict", "collections.OrderedDict", "collections.Counter", "collections.defaultdict"):
        pairs = [(_decode(k), _decode(v)) for k, v in args[0]]
        if tag == "collections.defaultdict":
            return collections.defaultdict(None, pairs)
        return {"dict": dict, "collections.OrderedDict": collections.OrderedDict,
                "collections.Counter": collections.Counter}[tag](dict(pairs) if tag == "collections.Counter" else pairs)
    if tag == "numpy.ndarray":
        import numpy as np

        dtype, shape, items = np.dtype(args[0]), tuple(args[1]), _decode(args[2])
        if dtype.kind == "O":
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(shape)
        return np.array(items, dtype=dtype).reshape(shape)
    if tag == "numpy.scalar":
        import numpy as np

        return np.dtype(args[0]).type(_decode(args[1]))
    if tag == "opaque":
        return stand_in(str(args[0]))(str(args[1]))
    raise BadTree(f"unknown value tag {tag!r}")


def describe(tree: Any) -> str:
    """A short text of a tree for verdict details: the value's repr, or the opaque repr."""
    try:
        value = decode(tree)
    except BadTree:
        return str(tree)[:REPR_CHARS]
    text = repr(value)
    return text if len(text) <= REPR_CHARS else text[:REPR_CHARS - 3] + "..."
