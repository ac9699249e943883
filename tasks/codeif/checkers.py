"""Deterministic checkers: one per template, deciding a constraint from the code's syntax tree.

Each answers yes, no, or undecided with the reason. The rule throughout: decide only where every reasonable
reading of the instruction agrees. Where the instruction is loose ("functions": methods too? "global": a
static field?) a checker computes the narrowest and the broadest reading, says yes when even the strictest is
met and no when even the most lenient is not, and leaves the rest to the judge. Evidence that something is
present holds even in code that does not fully parse; that something is absent is only believed of code that
parses without error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from . import vocabulary as vocab
from .extract import other_languages, unknown_tags
from .facts import CodeFacts, Function, TypeDecl, Variable
from .program import Program
from .syntax import parses_cleanly, supported
from .templates import Constraint, language_of, unquote

YES, NO, UNDECIDED = "yes", "no", "undecided"


@dataclass(frozen=True)
class Decision:
    answer: str  # yes | no | undecided
    reason: str

    @property
    def decided(self) -> bool:
        return self.answer != UNDECIDED


def yes(reason: str) -> Decision:
    return Decision(YES, reason)


def no(reason: str) -> Decision:
    return Decision(NO, reason)


def undecided(reason: str) -> Decision:
    return Decision(UNDECIDED, reason)


def present(facts: CodeFacts, certain: bool, possible: bool, what: str) -> Decision:
    """`what` must be present: yes when certainly there, no when not even possibly there (in code that parses)."""
    if certain:
        return yes(f"{what}: found")
    if possible:
        return undecided(f"{what}: found only under a lenient reading")
    if not facts.clean:
        return undecided(f"{what}: not found, but {facts.where_broken()}")
    return no(f"{what}: not found")


def absent(facts: CodeFacts, certain: bool, possible: bool, what: str) -> Decision:
    """`what` must be absent: the mirror of `present`."""
    d = present(facts, certain, possible, what)
    flip = {YES: NO, NO: YES, UNDECIDED: UNDECIDED}
    reason = d.reason.replace(": found", ": used").replace("not found", "not used") if d.decided else d.reason
    return Decision(flip[d.answer], reason)


def not_found(facts: CodeFacts, name: str, what: str) -> Decision:
    """No definition of `name` was recognised. That is a no only where the code never writes the name at all: a
    name that is written may be bound in a form the extractors do not read (a catch parameter, a pattern, a
    lambda's parameter, a structured binding), so then it is undecided."""
    if facts.mentions(name):
        return undecided(f"{what}: no definition recognised, but the name {name!r} is written in the code")
    return present(facts, False, False, what)


def at_most(fewest: int, most: int, limit: int, what: str, broken: str = "") -> Decision:
    """A count must not exceed `limit`; `fewest`..`most` is its range over the readings. `broken`: why the
    count may be low (code that does not parse hides what it holds), or "" when it is exact."""
    if fewest > limit:
        return no(f"{what}: {fewest} > {limit}")
    if most <= limit and not broken:
        return yes(f"{what}: {most} <= {limit}")
    if most <= limit:
        return undecided(f"{what}: {most} <= {limit} in the parsed code, but {broken}")
    return undecided(f"{what}: {fewest} to {most} depending on the reading, limit {limit}")


def both(*decisions: Decision) -> Decision:
    """Three-valued and: no if any is no, yes if all are yes, else undecided."""
    for d in decisions:
        if d.answer == NO:
            return d
    if all(d.answer == YES for d in decisions):
        return yes("; ".join(d.reason for d in decisions))
    return undecided("; ".join(d.reason for d in decisions if d.answer == UNDECIDED))


def names_follow(names_strict: Iterable[str], names_all: Iterable[str], convention_name: str, what: str,
                 language: str = "") -> Decision:
    """Every name must follow a convention. `names_strict`: the names every reading counts; `names_all`: those
    some reading counts too. Leading underscores (Python privacy) and dunders are ignored. In Go a capital
    initial is what exports a name, and Go's own style calls both forms camelCase ("MixedCaps or mixedCaps"):
    there an exported name is judged under camelCase by some readings only."""
    conv = vocab.convention(convention_name)
    if conv is None:
        return undecided(f"unknown naming convention {convention_name!r}")
    if language == "go" and convention_name.strip("`'\" ") == "camelCase":
        names_strict = [n for n in names_strict if not n[:1].isupper()]
    def clean(names: Iterable[str]) -> list[str]:
        out = []
        for n in names:
            n = n.strip("_") if not (n.startswith("__") and n.endswith("__")) else ""
            if n:
                out.append(n)
        return sorted(set(out))
    strict, every = clean(names_strict), clean(names_all)
    bad = [n for n in strict if not conv.loose.match(n)]
    if bad:
        return no(f"{what} not in {convention_name}: {', '.join(bad[:5])}")
    if not every:
        return undecided(f"the code has no {what} to judge")
    doubtful = [n for n in every if not conv.strict.match(n)]
    if not doubtful:
        return yes(f"all {len(every)} {what} follow {convention_name}")
    return undecided(f"{what} that only some readings accept: {', '.join(doubtful[:5])}")


# --- the checkers ------------------------------------------------------------------------------------------------
Checker = Callable[[Constraint, Program, CodeFacts], Decision]
CHECKERS: dict[int, Checker] = {}


def checker(*ids: int):
    def register(fn: Checker) -> Checker:
        for i in ids:
            CHECKERS[i] = fn
        return fn
    return register


# 1: the response is in language L
def check_language(c: Constraint, program: Program) -> Decision:
    wanted = language_of(c.slots.get("programming_language", ""))
    if not program.blocks or not any(b.code.strip() for b in program.blocks):
        return no("the response has no code")
    others = other_languages(program.blocks, wanted)
    if others:
        return no(f"the response has code tagged {', '.join(others)}")
    unknown = unknown_tags(program.blocks, wanted)
    if unknown:
        return undecided(f"the response has blocks tagged {', '.join(unknown)}: another language or not")
    if not supported(wanted):
        return undecided(f"no grammar for {wanted!r} here")
    if not program.code:
        return undecided(f"no block tagged {wanted} or untagged")
    broken = [b for b in program.code if not parses_cleanly(b.code, wanted)]
    if broken:
        return undecided(f"{len(broken)} of {len(program.code)} blocks do not parse as {wanted}")
    if wanted == "c":
        return undecided("C and C++ cannot be told apart by parsing")
    return yes(f"{len(program.code)} block(s) parse as {wanted}, none is tagged with another language")


@checker(2)
def check_line_length(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    limit = c.slots["characters_num"]
    own = max((len(line.rstrip()) for line in facts.lines), default=0)
    every = max((len(line.rstrip()) for b in program.blocks for line in b.code.split("\n")), default=0)
    return at_most(own, every, limit, "longest code line (characters)")  # text: parsing does not matter


@checker(50)
def check_total_lines(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    limit = c.slots["line_num"]
    code_lines = sum(1 for line in facts.lines if line.strip())
    response_lines = len(program.response.strip("\n").split("\n"))
    return at_most(code_lines, response_lines, limit, "lines (non-blank code lines to every line of the response)")


@checker(49)
def check_function_length(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    limit = c.slots["line_num"]
    functions = [f for f in facts.functions if f.has_body and f.kind != "lambda"]
    if "function_name" in c.slots:
        functions = [f for f in functions if f.name == c.slots["function_name"]]
    if not functions:
        return undecided("the code has no function to measure" if facts.clean else facts.where_broken())
    braces = 1 if facts.language == "python" else 2  # the body alone: no signature (and no closing brace)
    fewest = max(f.body_lines if f.body_lines is not None else max(f.code_lines - braces, 0) for f in functions)
    most = max(f.lines for f in functions)
    return at_most(fewest, most, limit, "longest function (lines)", facts.where_broken())


@checker(5)
def check_parameter_count(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    limit = c.slots["parameter_count"]
    functions = [f for f in facts.functions if f.kind != "lambda"]
    if not functions:
        return undecided("the code has no function" if facts.clean else facts.where_broken())
    most = max(len(f.params) for f in functions)
    # a constructor is not a "function" to some readings (as for template 6), nor are self/cls parameters
    fewest = max((len([p for p in f.params if not p.implicit]) for f in functions
                  if f.kind not in ("constructor", "destructor")), default=0)
    return at_most(fewest, most, limit, "most parameters of a function", facts.where_broken())


def _unique(functions: Iterable[Function]) -> list[Function]:
    seen, out = set(), []
    for f in functions:
        key = (f.owner, f.name, tuple(p.type for p in f.params))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


@checker(6)
def check_function_count(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    limit = c.slots["function_count"]
    every = _unique(f for f in facts.functions if f.kind != "lambda")
    if facts.language == "java":
        fewest = [f for f in every if f.has_body and f.kind == "method"]
    else:  # free functions only: methods are not "functions" to some
        fewest = [f for f in every if f.has_body and f.kind == "function"]
    return at_most(len(fewest), len(every), limit, "functions (free functions to every function and method)",
                   facts.where_broken())


CLASS_KINDS = {"python": {"class"}, "java": {"class", "record"}, "cpp": {"class", "struct"}, "c": {"class", "struct"},
               "go": {"struct"}}  # a C++ struct is a class type; Go's struct is its nearest thing
TYPE_KINDS = {"class", "struct", "interface", "enum", "record", "union", "annotation"}


@checker(7)
def check_class_count(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    limit = c.slots["class_count"]
    every = [t for t in facts.types if t.kind in TYPE_KINDS]
    fewest = [t for t in every if t.kind in CLASS_KINDS.get(facts.language, {"class"})]
    return at_most(len(fewest), len(every), limit, "classes (classes to every type declaration)",
                   facts.where_broken())


# Words an instruction calls a keyword that name a construct in languages where they are not a keyword: the
# construct is what some readings mean (a Java `->` lambda "uses lambda").
KEYWORD_CONSTRUCTS = {"lambda": "lambda", "switch": "match", "match": "switch", "foreach": "foreach"}


def _keyword(c: Constraint, facts: CodeFacts) -> tuple[str, bool, bool]:
    word = unquote(c.slots["keyword"])
    strict = facts.keywords.get(word, 0) > 0
    loose = strict or facts.identifiers.get(word, 0) > 0
    construct = KEYWORD_CONSTRUCTS.get(word)
    if construct and word not in vocab.KEYWORDS.get(facts.language, ()) and facts.constructs.get(construct):
        loose = True
    return word, strict, loose


@checker(8)
def check_keyword_not_used(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    word, strict, loose = _keyword(c, facts)
    if not re.match(r"^\w+$", word):
        return undecided(f"{word!r} is not one word")
    return absent(facts, strict, loose, f"keyword {word!r}")


@checker(9)
def check_keyword_used(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    word, strict, loose = _keyword(c, facts)
    if not re.match(r"^\w+$", word):
        return undecided(f"{word!r} is not one word")
    return present(facts, strict, loose, f"keyword {word!r}")


def _data_structure(c: Constraint, facts: CodeFacts) -> tuple[str, bool, bool] | None:
    name = unquote(c.slots["data_structure"])
    ev = vocab.data_structure_evidence(name, facts.language)
    if ev is None:
        return None
    names = facts.identifiers
    called = {call.name for call in facts.calls}
    imported = {i.module.split(".")[0] for i in facts.imports}
    strong = (any(names.get(n) or n in called for n in ev.names) or any(facts.constructs.get(k) for k in ev.constructs)
              or any(facts.keywords.get(k) for k in ev.keywords) or bool(ev.imports & imported))
    weak = strong or any(names.get(n) or n in called for n in ev.weak_names) or any(
        facts.constructs.get(k) for k in ev.weak_constructs)
    return name, strong, weak


@checker(10)
def check_data_structure_used(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    found = _data_structure(c, facts)
    if found is None:
        return undecided(f"no evidence table for data structure {c.slots['data_structure']!r}")
    name, strong, weak = found
    return present(facts, strong, weak, f"data structure {name}")


@checker(11)
def check_data_structure_not_used(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    found = _data_structure(c, facts)
    if found is None:
        return undecided(f"no evidence table for data structure {c.slots['data_structure']!r}")
    name, strong, weak = found
    return absent(facts, strong, weak, f"data structure {name}")


LOOPS = {  # (what every reading calls such a loop, what some reading does too)
    "for": {"python": ({"for"}, {"comprehension"}), "java": ({"for", "foreach"}, set()),
            "cpp": ({"for", "foreach"}, set()), "go": ({"for", "foreach"}, {"for_condition", "for_bare"})},
    "while": {"python": ({"while"}, set()), "java": ({"while"}, {"do_while"}), "cpp": ({"while"}, {"do_while"}),
              "go": (set(), {"for_condition", "for_bare"})},
    "if": {lang: ({"if"}, set()) for lang in ("python", "java", "cpp", "go")},
    "switch": {"python": (set(), {"match"}), "java": ({"switch"}, set()), "cpp": ({"switch"}, set()),
               "go": ({"switch"}, {"select"})},
}


def _construct(kind: str, facts: CodeFacts) -> tuple[bool, bool]:
    lang = "cpp" if facts.language == "c" else facts.language
    strict, extra = LOOPS[kind][lang]
    s = any(facts.constructs.get(k) for k in strict)
    return s, s or any(facts.constructs.get(k) for k in extra)


def _construct_checker(kind: str, label: str, used: bool) -> Checker:
    def check(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
        strict, loose = _construct(kind, facts)
        return (present if used else absent)(facts, strict, loose, label)
    return check


for _id, _kind, _label, _used in ((12, "for", "for loop", True), (13, "for", "for loop", False),
                                  (14, "while", "while loop", True), (15, "while", "while loop", False),
                                  (16, "if", "if statement", True), (17, "if", "if statement", False),
                                  (18, "switch", "switch statement", True), (19, "switch", "switch statement", False)):
    CHECKERS[_id] = _construct_checker(_kind, _label, _used)


# --- variables ---------------------------------------------------------------------------------------------------
@checker(20)
def check_variable_defined(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["variable_name"]
    found = facts.variables_named(name)
    # a parameter, a Go constant or a C/C++ macro is named, but is it a variable? Only to some.
    certain = [v for v in found if v.scope != "param" and not (facts.language == "go" and v.constant)
               and not (facts.language in ("cpp", "c") and v.constant and v.type is None)]
    if not found:
        return not_found(facts, name, f"variable {name!r}")
    return present(facts, bool(certain), bool(found), f"variable {name!r}")


@checker(21)
def check_enumeration(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["enumeration_name"]
    types = facts.types_named(name)
    enums = [t for t in types if t.kind == "enum" or t.enum_like]
    if enums:
        return yes(f"enumeration {name!r}: found")
    enum_calls = {"call:Enum", "call:IntEnum", "call:StrEnum", "call:Flag", "call:IntFlag"}
    if facts.language == "python" and any(v.value_kind in enum_calls for v in facts.variables_named(name)):
        return yes(f"enumeration {name!r}: found (the Enum function)")
    if not types and not facts.variables_named(name):
        return not_found(facts, name, f"enumeration {name!r}")
    if facts.language in ("java", "cpp", "c"):  # languages with enums: anything else named so is not one
        return present(facts, False, False, f"enumeration {name!r}")
    possible = bool(types) or bool(facts.variables_named(name))
    return present(facts, False, possible, f"enumeration {name!r}")


@checker(22)
def check_variable_names(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    strict = [v.name for v in facts.variables
              if v.scope in ("global", "local", "loop") and not _constant_like(v, facts)]
    every = [v.name for v in facts.variables]  # parameters, fields and constants too
    return names_follow(strict, every, c.slots["naming_convention"], "variable names", facts.language)


def _constant_like(v: Variable, facts: CodeFacts) -> bool:
    """Declared constant, or (Python, which has none) an upper-case name at module level."""
    return v.constant or (facts.language == "python" and v.scope == "global" and v.name.isupper())


def _kind_name(kind: str | None) -> str | None:
    if kind is None or kind in ("?", "lambda", "generator"):
        return None
    for prefix in ("call:", "new:", "struct:", "pointer:"):
        if kind.startswith(prefix):
            return kind[len(prefix):] or None
    return kind


def _type_written(v: Variable) -> bool:
    """A type is written for the variable (not `var`, `auto` or none: then it is read off the initialiser)."""
    return bool(v.type) and normalise_declared(v.type) not in ("var", "auto", "")


def _type_of(v: Variable) -> str | None:
    return v.type if _type_written(v) else _kind_name(v.value_kind)


def normalise_declared(t: str) -> str:
    return vocab.normalise_type(t).lower()


JAVA_BOXES = {"int": "Integer", "long": "Long", "short": "Short", "byte": "Byte", "double": "Double",
              "float": "Float", "boolean": "Boolean", "char": "Character"}


def _compare_with_code(facts: CodeFacts, declared: str, wanted: str, inferred: bool = False) -> str:
    """compare_types, knowing the code's own types and the language. `inferred`: the type is read off a
    literal, not written (Python's `x = 1`)."""
    result = vocab.compare_types(declared, wanted)
    if result == "yes" and facts.language == "java":
        d, w = vocab.normalise_type(declared), vocab.normalise_type(wanted)
        if d != w and {d, w} & set(JAVA_BOXES) and JAVA_BOXES.get(d, JAVA_BOXES.get(w)) in (d, w):
            return "similar"  # int and Integer: a primitive and its box are two types in Java
    if (result == "no" and inferred and facts.language == "python" and vocab.normalise_type(declared) == "int"
            and vocab.FAMILY_OF.get(vocab.normalise_type(wanted).lower()) == "float"):
        return "similar"  # `x = 0` where a float is asked: an int is accepted wherever a float is (PEP 484)
    if result != "unknown":
        return result
    w = vocab.normalise_type(wanted).lower()
    own = facts.types_named(vocab.normalise_type(declared))
    if own and w in ("struct", "class", "object", "interface", "enum"):
        kinds = {t.kind for t in own}
        if w in kinds or (w == "class" and kinds & {"class", "struct", "record"}) or (w == "object"):
            return "yes"
        return "similar"
    if own and vocab.FAMILY_OF.get(w):
        return "no"
    return "unknown"


@checker(23)
def check_variable_type(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name, wanted = c.slots["variable_name"], c.slots["variable_type"]
    found = facts.variables_named(name)
    if not found:
        return not_found(facts, name, f"variable {name!r}")
    results = []
    for v in found:
        t = _type_of(v)
        results.append((t, _compare_with_code(facts, t, wanted, not _type_written(v)) if t else "unknown"))
    seen = ", ".join(sorted({t or "?" for t, _ in results}))
    if all(r == "yes" for _, r in results):
        return yes(f"variable {name!r} has type {seen}")
    if all(r == "no" for _, r in results):
        return no(f"variable {name!r} has type {seen}, not {wanted}")
    return undecided(f"variable {name!r} has type {seen}: cannot tell whether that is {wanted}")


def _global_state(v: Variable, facts: CodeFacts) -> str:
    """global, no, or maybe (a static member: Java has no globals, a static field is the nearest thing)."""
    if v.scope == "global":
        return "global"
    if facts.language == "python" and v.name in facts.global_statements:
        return "global"
    if v.scope == "field" and v.static:
        return "maybe"
    return "no"


@checker(24)
def check_variable_global(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["variable_name"]
    states = {_global_state(v, facts) for v in facts.variables_named(name)}
    if not states:
        return not_found(facts, name, f"variable {name!r}")
    return present(facts, "global" in states, "maybe" in states, f"global variable {name!r}")


@checker(25)
def check_variable_not_global(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["variable_name"]
    states = {_global_state(v, facts) for v in facts.variables_named(name)}
    if not states:
        return undecided(f"variable {name!r} is not defined" if facts.clean else facts.where_broken())
    return absent(facts, "global" in states, "maybe" in states, f"global variable {name!r}")


@checker(3)
def check_uses_globals(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    certain, possible = _globals(facts)
    return present(facts, bool(certain), bool(possible), "global variables")


@checker(4)
def check_no_globals(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    certain, possible = _globals(facts)
    what = "global variables" + (f" ({', '.join(sorted(set(certain or possible))[:5])})" if certain or possible else "")
    return absent(facts, bool(certain), bool(possible), what)


def _globals(facts: CodeFacts) -> tuple[list[str], list[str]]:
    """(variables every reading calls global, those some reading does): module-level constants, Python's
    main-guard variables and static fields are only the latter."""
    certain, possible = [], []
    for v in facts.variables:
        state = _global_state(v, facts)
        if state == "global":
            doubtful = v.constant or v.in_main_guard or (facts.language == "python" and v.name.isupper())
            (possible if doubtful else certain).append(v.name)
        elif state == "maybe":
            possible.append(v.name)
    return certain, certain + possible


def _literal_text(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] in "\"'`" and v[-1] == v[0]:
        return v[1:-1]
    for prefix in ("f\"", "f'", "r\"", "r'", "L\"", "u8\""):
        if v.startswith(prefix) and v.endswith(v[len(prefix) - 1]):
            return v[len(prefix):-1]
    return v


_NULLS = {"none", "null", "nil", "nullptr"}


def _to_number(text: str) -> float | None:
    """A numeric literal's value in any of the four languages' spellings (1_000, 1'000, 0x0A, 0b1, 0o7, 5L, 5u,
    1.5f, -2e3), or None."""
    t = text.strip().replace("_", "").replace("'", "")
    t = re.sub(r"(?<=[0-9a-fA-F.])(?:[uU][lL]{0,2}|[lL]{1,2}[uU]?|[fFdD])$", "", t) if not t.lower().startswith(
        ("0x", "-0x", "+0x")) else re.sub(r"(?:[uU][lL]{0,2}|[lL]{1,2}[uU]?)$", "", t)
    if not re.match(r"^[-+]?(0[xXbBoO][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)$", t):
        return None
    try:
        return float(int(t, 0)) if re.match(r"^[-+]?0[xXbBoO]", t) else float(t)
    except ValueError:
        return None


def values_equal(written: str, kind: str | None, wanted: str) -> str:
    """yes / no / unknown: an initialiser (as written, with its literal kind) against the wanted value."""
    w = unquote(wanted)
    t = written.strip()
    if t == wanted.strip() or t == w or re.sub(r"\s+", "", t) == re.sub(r"\s+", "", w):
        return "yes"
    if kind in ("str", "char") and _literal_text(t) == w:
        return "yes"
    tn, wn = _to_number(t), _to_number(w)
    if tn is not None and wn is not None:
        return "yes" if tn == wn else "no"
    if kind in ("int", "float") and tn is None:
        return "unknown"  # a number spelled in a way not read here
    if t.lower() in _NULLS and w.lower() in _NULLS or t.lower() in ("true", "false") and t.lower() == w.lower():
        return "yes"
    if kind in ("int", "float", "str", "char", "bool", "none", "null", "nil"):
        return "no"
    return "unknown"


@checker(26)
def check_initial_value(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name, wanted = c.slots["variable_name"], c.slots["variable_value"]
    found = sorted((v for v in facts.variables_named(name) if v.scope != "param"), key=lambda v: (v.block, v.line))
    if not found:
        return not_found(facts, name, f"variable {name!r}")
    first = next((v for v in found if v.value is not None), None)
    if first is None:
        return undecided(f"variable {name!r} is declared without an initial value")
    result = values_equal(first.value, first.value_kind, wanted)
    others = {values_equal(v.value, v.value_kind, wanted) for v in found
              if v.value is not None and v.scope != first.scope}
    if others - {result, "unknown"}:  # a module's x and a function's x are two variables: which one is meant?
        return undecided(f"variables named {name!r} in different scopes start at different values")
    if result == "yes":
        return yes(f"variable {name!r} starts at {first.value[:40]}")
    if result == "no":
        return no(f"variable {name!r} starts at {first.value[:40]}, not {wanted}")
    return undecided(f"variable {name!r} starts at {first.value[:40]}: not a literal to compare with {wanted}")


def _constant_states(facts: CodeFacts, name: str) -> list[str]:
    """Per declaration: constant, variable, or maybe (a Python name bound once at module level: a constant to
    some, since Python has no constants)."""
    found = [v for v in facts.variables_named(name) if v.scope != "param"]
    states = []
    for v in found:
        if v.constant:
            states.append("constant")
        elif facts.language in ("cpp", "c") and (v.type or "").startswith("const ") and "*" in (v.type or ""):
            states.append("maybe")  # `const char* NAME`: what it points to is constant, the pointer is not
        elif facts.language == "python":
            rebound = len(found) > 1 or v.scope in ("local", "loop")
            states.append("variable" if rebound and not v.name.isupper() else "maybe")
        else:
            states.append("variable")
    return states


def _declared_constant(name: str, states: list[str], constant: bool) -> Decision:
    """`name` must be declared constant (`constant`) or must not be: decided where every declaration agrees."""
    if all(s == "constant" for s in states):
        return (yes if constant else no)(f"{name!r} is declared constant")
    if all(s == "variable" for s in states):
        return (no if constant else yes)(f"{name!r} is not declared constant")
    return undecided(f"{name!r}: whether it is a constant depends on the reading")


@checker(27)
def check_constant(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["variable_name"]
    states = _constant_states(facts, name)
    if not states:
        return not_found(facts, name, f"variable {name!r}")
    return _declared_constant(name, states, constant=True)


@checker(28)
def check_not_constant(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["variable_name"]
    states = _constant_states(facts, name)
    if not states:
        return undecided(f"variable {name!r} is not defined" if facts.clean else facts.where_broken())
    return _declared_constant(name, states, constant=False)


# --- functions ---------------------------------------------------------------------------------------------------
@checker(29)
def check_function_defined(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["function_name"]
    found = facts.functions_named(name)
    certain = [f for f in found if f.has_body and f.kind in ("function", "method")]
    lambdas = [v for v in facts.variables_named(name) if v.value_kind in ("lambda", "func")]
    if not found and not lambdas:
        return not_found(facts, name, f"function {name!r}")
    return present(facts, bool(certain), bool(found or lambdas), f"function {name!r}")


FORCED_NAMES = {"main", "init", "setUp", "tearDown", "toString", "equals", "hashCode", "compareTo", "run", "call"}


@checker(30)
def check_function_names(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    chosen = [f for f in facts.functions if f.kind in ("function", "method")]
    strict = [f.name for f in chosen if not f.override and f.name not in FORCED_NAMES
              and not (facts.language == "go" and re.match(r"^(Test|Benchmark|Example|Fuzz)[A-Z_]", f.name))]
    return names_follow(strict, [f.name for f in chosen], c.slots["naming_convention"], "function names",
                        facts.language)


def _list_item(raw: str) -> tuple[str, str]:
    """One entry of a disallowed list -> (kind, name): ("library", "os") for "os module", else ("function", x)."""
    item = unquote(raw)
    m = re.match(r"^`?([\w.:/]+)`?\s+(module|library|package|libraries|modules|packages|class|namespace)$", item)
    if m:
        return ("library" if m.group(2) != "class" else "class", m.group(1))
    return "function", item.rstrip("()")


@checker(31)
def check_disallowed_functions(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    items = c.slots["disallowed_function_list"]
    if not items or items == ("disallowed_function_list",):
        return undecided("the instruction names no function (its list slot was never filled in)")
    strong, weak = [], []
    for raw in items:
        kind, name = _list_item(raw)
        if not re.match(r"^[\w.:]+$", name):
            return undecided(f"cannot read {raw!r} as a function or library name")
        last = re.split(r"::|\.", name)[-1]
        qualifier = name[: -len(last)].rstrip(".:") if len(name) > len(last) else ""
        if kind in ("library", "class"):
            used = _imported(facts, name)[0] or any(call.qualifier.split(".")[0] == name for call in facts.calls)
            if used:
                strong.append(name)
            elif facts.mentions(last):
                weak.append(name)
            continue
        calls = [call for call in facts.calls if call.name == last and
                 (not qualifier or call.qualifier.endswith(re.split(r"::|\.", qualifier)[-1]))]
        if calls:
            strong.append(name)
        elif facts.mentions(last) or _imported(facts, name)[1]:
            weak.append(name)
    return absent(facts, bool(strong), bool(weak), f"functions from the list ({', '.join(strong or weak) or 'none'})")


# --- interfaces, classes ---------------------------------------------------------------------------------------
def _interface_state(t: TypeDecl, language: str) -> str:
    """interface, no, or maybe: how each reading sees a type declaration as an interface."""
    if t.kind == "interface":
        return "interface"
    if language == "python":
        if {"ABC", "ABCMeta", "Protocol"} & set(t.bases) or t.abstract_methods:
            return "interface"
        return "maybe" if t.kind == "class" else "no"
    if language in ("cpp", "c") and t.kind in ("class", "struct"):
        if t.abstract_methods and not t.concrete_methods:
            return "interface"
        return "maybe" if t.abstract_methods else "no"
    if t.kind == "annotation":
        return "maybe"
    return "no"


def _interface(facts: CodeFacts, name: str) -> Decision:
    states = {_interface_state(t, facts.language) for t in facts.types_named(name)}
    if not states:
        return not_found(facts, name, f"interface {name!r}")
    return present(facts, "interface" in states, "maybe" in states, f"interface {name!r}")


@checker(32)
def check_interface(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    return _interface(facts, c.slots["interface_name"])


@checker(33)
def check_interface_names(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    states = [(t.name, _interface_state(t, facts.language)) for t in facts.types]
    strict = [n for n, s in states if s == "interface"]
    every = [n for n, s in states if s in ("interface", "maybe")]
    if not strict:
        return undecided("the code declares no interface" if facts.clean else facts.where_broken())
    return names_follow(strict, every, c.slots["naming_convention"], "interface names", facts.language)


def _class(facts: CodeFacts, name: str) -> Decision:
    kinds = {t.kind for t in facts.types_named(name)}
    strict = kinds & CLASS_KINDS.get(facts.language, {"class"})
    if not kinds:
        return not_found(facts, name, f"class {name!r}")
    return present(facts, bool(strict), bool(kinds), f"class {name!r}")


@checker(34)
def check_class(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    return _class(facts, c.slots["class_name"])


@checker(35)
def check_class_names(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    strict = [t.name for t in facts.types if t.kind in CLASS_KINDS.get(facts.language, {"class"})]
    every = [t.name for t in facts.types if t.kind in TYPE_KINDS]
    return names_follow(strict, every, c.slots["naming_convention"], "class names", facts.language)


# --- packages, imports -------------------------------------------------------------------------------------------
def _package(program: Program, facts: CodeFacts, name: str) -> Decision:
    lang = facts.language
    if lang in ("java", "go"):
        declared = [p for p, _ in facts.packages]
        if declared and all(p == name for p in declared):
            return yes(f"package {name}: declared")
        if any(p == name or p.endswith("." + name) or p.startswith(name + ".") for p in declared):
            return undecided(f"packages {', '.join(sorted(set(declared)))}: {name} only in part")
        if not declared and not facts.clean:
            return undecided(f"no package declaration found, but {facts.where_broken()}")
        return no(f"package {name}: declared {', '.join(sorted(set(declared))) or 'none'}")
    if lang in ("cpp", "c"):
        if name in facts.namespaces:
            return yes(f"namespace {name}: declared (C++'s nearest thing to a package)")
        return undecided(f"no namespace {name}: C++ has no packages, a file layout cannot be seen in one answer")
    if re.search(rf"(^|[\s`'\"/]){re.escape(name)}/[\w/]*\.py\b", program.response):
        return yes(f"package {name}: its files ({name}/...py) are shown")
    return undecided("a Python package is a folder: one answer's code does not show it")


@checker(36)
def check_package(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    return _package(program, facts, c.slots["package_name"])


def _in_package(facts: CodeFacts, name: str, package: str, kind: str) -> tuple[bool, bool]:
    """(defined in the package's code, defined anywhere)."""
    if kind == "class":
        found = facts.types_named(name)
    else:
        found = facts.functions_named(name)
    return any(x.package == package for x in found), bool(found)


def _package_members(c: Constraint, program: Program, facts: CodeFacts, slot: str, kind: str) -> Decision:
    package = c.slots["package_name"]
    members = c.slots[slot]
    package_decision = _package(program, facts, package)
    decisions = []
    for m in members:
        inside, anywhere = _in_package(facts, m, package, kind)
        if not anywhere:
            decisions.append(not_found(facts, m, f"{kind} {m!r}"))
        elif facts.language == "python":  # members of a Python package: defined in the answer at all
            decisions.append(present(facts, False, anywhere, f"{kind} {m!r}"))
        else:
            decisions.append(present(facts, inside, anywhere, f"{kind} {m!r} in {package}"))
    return both(package_decision, *decisions)


@checker(47)
def check_package_classes(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    return _package_members(c, program, facts, "class_name_list", "class")


@checker(48)
def check_package_functions(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    return _package_members(c, program, facts, "function_name_list", "function")


def _imported(facts: CodeFacts, item: str, use: bool = True) -> tuple[bool, bool]:
    """(imported for certain, perhaps imported) for one library as an instruction names it. `use`: the question
    is whether the code uses the library (31, 38, 39), so Java's implicit `java.lang` counts as imported once a
    name of it is written; for "import the following libraries" (37) only an import statement is certain."""
    lang = facts.language
    raw = unquote(item)
    if lang == "python":
        module = vocab.python_module(raw)
        mods = [i.module for i in facts.imports]
        certain = any(m.lower() == module.lower() or m.lower().startswith(module.lower() + ".") for m in mods)
        loose = certain or any(raw.lower() in m.lower().split(".") or module.lower().startswith(m.lower() + ".")
                               for m in mods)  # `import os` for "os.path": its parent only
        return certain, loose
    if lang == "java":
        mods = [(i.module, "*" in i.names) for i in facts.imports]
        if raw.endswith(".*"):  # a wildcard as the library: the package's wildcard import, or any class of it
            package = raw[:-2]
            certain = any(m == package and wild for m, wild in mods)
            some = any(m.startswith(package + ".") and not wild for m, wild in mods)
            return certain or (use and some), certain or some
        last = raw.rsplit(".", 1)[-1]
        explicit = any(m == raw or m.startswith(raw + ".")
                       or (wild and raw.startswith(m + ".") and facts.mentions(last)) for m, wild in mods)
        if raw.startswith("java.lang") and (raw == "java.lang" or facts.mentions(last)):
            # imported implicitly: used once a name of it is written, but an import statement is another matter
            return explicit or (use and raw != "java.lang"), True
        loose = explicit or any(m.rsplit(".", 1)[-1] == raw or (wild and raw.startswith(m + ".")) for m, wild in mods)
        return explicit, loose
    if lang in ("cpp", "c"):
        header = raw.strip("<>\"").removeprefix("std::")
        base = header.removesuffix(".h").removesuffix(".hpp")
        spellings = {header, base, base + ".h", base + ".hpp"}
        if base in vocab.C_HEADERS or header.endswith(".h"):  # <stdlib.h> is <cstdlib>, <string.h> <cstring>
            spellings |= {"c" + base}
        if base.startswith("c") and base[1:] in vocab.C_HEADERS | {"string"}:
            spellings |= {base[1:] + ".h"}
        heads = [i.module for i in facts.imports]
        certain = any(h in spellings or h.rsplit("/", 1)[-1] in spellings or h.split("/", 1)[0] == base
                      for h in heads)  # <boost/asio.hpp> for "boost"
        loose = certain or any(h in ("bits/stdc++.h",) or h.rsplit("/", 1)[-1].startswith(base) for h in heads)
        if use and not certain and lang in ("cpp", "c"):
            # a header reaches the code through another one: its well-known names written are a sign of use
            names = vocab.HEADER_NAMES.get(base) or vocab.HEADER_NAMES.get(base.removeprefix("c")) or {base}
            loose = loose or any(facts.mentions(n) for n in names)
        return certain, loose
    if lang == "go":
        paths = [i.module for i in facts.imports]
        if "/" in raw:
            certain = raw in paths
        else:  # `rand` is math/rand to most, but crypto/rand has that name too
            canonical = vocab.GO_AMBIGUOUS.get(raw)
            certain = any(p == raw or (p.rsplit("/", 1)[-1] == raw and (canonical is None or p == canonical))
                          for p in paths)
        loose = certain or any(p.startswith(raw + "/") or raw in p.split("/") for p in paths)
        return certain, loose
    return False, False


@checker(37)
def check_imports(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    items = c.slots["library_list"]
    if not items:
        return undecided("the instruction names no library")
    decisions = []
    for item in items:
        certain, loose = _imported(facts, item, use=False)
        decisions.append(present(facts, certain, loose, f"import of {unquote(item)}"))
    return both(*decisions)


@checker(39)
def check_libraries_not_used(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    items = c.slots["disallowed_library_list"]
    if not items:
        return undecided("the instruction names no library")
    decisions = []
    for item in items:
        certain, loose = _imported(facts, item)
        name = unquote(item)
        qualified = facts.language == "java" and "." in name and name in program.response
        decisions.append(absent(facts, certain, loose or qualified, f"library {name}"))
    return both(*decisions)


def _import_names(facts: CodeFacts, library: str) -> set[str]:
    """The names under which code refers to a library: its module, alias, last path segment, names imported."""
    lang = facts.language
    out = set()
    lib = vocab.python_module(library) if lang == "python" else library
    for i in facts.imports:
        match = (i.module.lower() == lib.lower() or i.module.lower().startswith(lib.lower() + ".")
                 or i.module.rsplit("/", 1)[-1] == lib)
        if match:
            out.add(i.alias or i.module.split(".")[0].rsplit("/", 1)[-1])
            out.update(n for n in i.names if n != "*")
    return out


@checker(38)
def check_library_function(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    function, library = unquote(c.slots["function_name"]).rstrip("()"), unquote(c.slots["library_name"])
    name = re.split(r"::|\.", function)[-1]
    certain_import, loose_import = _imported(facts, library)
    refs = _import_names(facts, library)
    calls = [call for call in facts.calls if call.name == name]
    if facts.language == "python":
        qualified = [call for call in calls
                     if call.qualifier.split(".")[0] in refs or (not call.qualifier and name in refs)]
    elif facts.language == "go":
        qualified = [call for call in calls if call.qualifier in refs]
    else:  # methods of a library's classes, and functions of its namespace, are called by their own name
        qualified = calls
    used = present(facts, bool(qualified), bool(calls) or facts.mentions(name), f"call of {name}")
    imported = present(facts, certain_import, loose_import, f"import of {library}")
    if imported.answer == NO and facts.language in ("java", "cpp", "c") and calls:
        # a Java method of an object from another package needs no import (System.out.println); a C++ header
        # may come in through another
        imported = undecided(f"{library} is not imported, but {name} may reach the code without an import")
    return both(imported, used)


# --- combinations --------------------------------------------------------------------------------------------
@checker(40)
def check_object(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    obj, cls, params = c.slots["object_name"], c.slots["class_name"], c.slots["parameters_name_list"]
    made = [i for i in facts.instantiations if i.target == obj]
    if not made:
        possible = bool(facts.variables_named(obj))
        return present(facts, False, possible, f"object {obj!r} made as a {cls}")
    results = []
    for inst in made:
        if inst.class_name != cls:
            results.append(("no" if inst.form == "construct" else "unknown", f"{obj} is made as {inst.class_name}"))
            continue
        class_ok = "yes" if inst.form == "construct" else "unknown"
        if not params:
            args_ok = "yes" if not inst.args else "no"
        elif not inst.args:
            args_ok = "no"
        elif all(p in inst.arg_names or any(p == _literal_text(a) for a in inst.args) for p in params):
            args_ok = "yes" if len(inst.args) == len(params) else "unknown"
        else:
            args_ok = "unknown"
        combined = "no" if "no" in (class_ok, args_ok) else ("yes" if class_ok == args_ok == "yes" else "unknown")
        results.append((combined, f"{obj} = {inst.class_name}({', '.join(inst.args)[:60]})"))
    what = "; ".join(r for _, r in results)
    if any(r == "yes" for r, _ in results):
        return yes(what)
    if all(r == "no" for r, _ in results):
        return no(what)
    return undecided(what)


def _ancestors(facts: CodeFacts, name: str) -> tuple[set[str], bool]:
    """Every base of a type, through the bases the code declares; and whether the chain is complete (every
    base is declared in the code, so nothing more can be inherited)."""
    seen: set[str] = set()
    complete = True
    todo = [b for t in facts.types_named(name) for b in t.bases]
    while todo:
        b = todo.pop()
        if b in seen:
            continue
        seen.add(b)
        declared = facts.types_named(b)
        if not declared and b not in ("object", "ABC", "Protocol", "Generic"):
            complete = False
        todo += [x for t in declared for x in t.bases]
    return seen, complete


def _members(facts: CodeFacts, name: str, kind: str) -> tuple[set[str], bool]:
    """The fields (or methods) of a type and its declared bases; and whether the chain of bases is complete."""
    bases, complete = _ancestors(facts, name)
    out: set[str] = set()
    for n in {name} | bases:
        for t in facts.types_named(n):
            out.update(t.fields if kind == "fields" else t.methods)
        if kind == "methods":
            out.update(f.name for f in facts.methods_of(n))
    return out, complete


GO_INTERFACES = {"Stringer": {"String"}, "error": {"Error"}, "Reader": {"Read"}, "Writer": {"Write"},
                 "Closer": {"Close"}, "Handler": {"ServeHTTP"}, "Interface": {"Len", "Less", "Swap"}}


@checker(42)
def check_implements(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    cls, iface = c.slots["class_name"], c.slots["interface_name"]
    if not facts.types_named(cls):
        return not_found(facts, cls, f"class {cls!r}")
    if facts.language == "go":
        wanted = set()
        for t in facts.types_named(iface):
            wanted |= set(t.abstract_methods)
        if not facts.types_named(iface):
            wanted = GO_INTERFACES.get(iface.rsplit(".", 1)[-1], set())
        if not wanted:
            return undecided(f"the methods of interface {iface!r} are not known")
        have, complete = _members(facts, cls, "methods")  # with the methods embedded types promote
        missing = sorted(wanted - have)
        if not missing:
            return yes(f"{cls} has every method of {iface}")
        if not complete:
            return undecided(f"{cls} lacks {', '.join(missing)} of {iface}, but embeds a type the code does not "
                             f"declare")
        return present(facts, False, False, f"methods {', '.join(missing)} of {iface} on {cls}")
    bases, complete = _ancestors(facts, cls)
    if iface in bases:
        return yes(f"{cls} derives from {iface}")
    if facts.language == "python":
        wanted = {m for t in facts.types_named(iface) for m in t.methods}
        have, _ = _members(facts, cls, "methods")
        if wanted and wanted - have:
            return no(f"{cls} neither derives from {iface} nor has its methods {', '.join(sorted(wanted - have))}")
        return undecided(f"{cls} does not derive from {iface}; Python's typing may still accept it")
    if not complete:
        return undecided(f"{cls} does not name {iface}, but may inherit it from a base the code does not declare")
    return present(facts, False, False, f"{cls} implementing {iface}")


def _loosely(name: str) -> str:
    """A member name without its decoration: `_name`, `__name`, `name_`, `m_name`, `Name` (Go's exported) -> name."""
    n = name.strip("_")
    if n.startswith("m_") and len(n) > 2:
        n = n[2:]
    return n.lower()


def _loose_member(name: str, members: set[str]) -> bool:
    """A member spelled differently but plausibly meant (`_name` or `name_` for "name", `Run` for "run")."""
    return any(_loosely(m) == _loosely(name) for m in members)


def _name_of_member(raw: str) -> str:
    """`ListView inventory` -> inventory; `int[] array` -> array; `getName()` -> getName."""
    item = unquote(raw).rstrip("()").strip()
    words = re.findall(r"[A-Za-z_]\w*", item.split("(")[0])
    return words[-1] if words else item


@checker(43)
def check_properties(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    cls = c.slots["class_name"]
    if not facts.types_named(cls):
        return not_found(facts, cls, f"class {cls!r}")
    fields, complete = _members(facts, cls, "fields")
    methods, _ = _members(facts, cls, "methods")
    decisions = []
    for raw in c.slots["properties_name_list"]:
        p = _name_of_member(raw)
        accessor = {p, "get" + p[:1].upper() + p[1:], "get_" + p} & methods
        dynamic = "__slots__" in fields or any(call.name == "setattr" for call in facts.calls)  # set by name
        loose = bool(accessor) or not complete or _loose_member(p, fields) or dynamic
        decisions.append(present(facts, p in fields, loose, f"property {p!r} of {cls}"))
    return both(*decisions) if decisions else undecided("the instruction names no property")


@checker(44)
def check_methods(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    cls = c.slots["class_name"]
    if not facts.types_named(cls):
        return not_found(facts, cls, f"class {cls!r}")
    methods, complete = _members(facts, cls, "methods")
    fields, _ = _members(facts, cls, "fields")  # `run = lambda self: ...`: an attribute that is a function
    decisions = [present(facts, m in methods, not complete or _loose_member(m, methods) or m in fields,
                         f"method {m!r} of {cls}")
                 for m in (_name_of_member(r) for r in c.slots["method_name_list"])]
    return both(*decisions) if decisions else undecided("the instruction names no method")


@checker(41)
def check_interface_methods(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["interface_name"]
    is_interface = _interface(facts, name)
    if is_interface.answer == NO:
        return is_interface
    methods, complete = _members(facts, name, "methods")
    decisions = [present(facts, m in methods, not complete or _loose_member(m, methods), f"method {m!r} of {name}")
                 for m in (_name_of_member(r) for r in c.slots["method_name_list"])]
    return both(is_interface, *decisions)


@checker(45)
def check_parameters(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name = c.slots["function_name"]
    wanted = {_name_of_member(p) for p in c.slots["parameter_name_list"]}
    found = [f for f in facts.functions if f.name == name]
    if not found:
        return not_found(facts, name, f"function {name!r}")
    results = []
    for f in found:
        have = {p.name for p in f.params if not p.implicit}
        every = {p.name for p in f.params}
        if wanted in (have, every):
            results.append("yes")
        elif wanted <= every:
            results.append("subset")
        else:
            results.append("no")
    shown = "; ".join(f"{f.name}({', '.join(p.name for p in f.params)})" for f in found[:3])
    if "yes" in results:
        return yes(f"{shown}")
    if all(r == "no" for r in results):
        return no(f"{shown}: not the parameters {', '.join(sorted(wanted)) or 'none'}")
    return undecided(f"{shown}: has {', '.join(sorted(wanted))} among more parameters")


def _return_type(f: Function, language: str) -> str | None:
    if f.return_type is not None:
        t = f.return_type.strip()
        if language == "go" and t.startswith("(") and "," in t:
            return None  # several results
        return t.strip("()") if language == "go" else t
    if language == "go":
        return "void"
    if language == "python":
        kinds = {k for k in f.returns}
        if not kinds or kinds == {"none"}:
            return "None"
        if len(kinds) == 1 and "?" not in kinds:
            return _kind_name(next(iter(kinds)))
    return None


@checker(46)
def check_return_type(c: Constraint, program: Program, facts: CodeFacts) -> Decision:
    name, wanted = c.slots["function_name"], c.slots["return_type"]
    found = [f for f in facts.functions if f.name == name and f.kind not in ("constructor", "destructor")]
    if not found:
        return not_found(facts, name, f"function {name!r}")
    implemented = [f for f in found if f.has_body and _return_type(f, facts.language) is not None]
    found = implemented or found  # an abstract declaration says less than an implementation
    results = []
    for f in found:
        t = _return_type(f, facts.language)
        results.append((t, _compare_with_code(facts, t, wanted, f.return_type is None) if t else "unknown"))
    seen = ", ".join(sorted({t or "?" for t, _ in results}))
    if all(r == "yes" for _, r in results):
        return yes(f"{name} returns {seen}")
    if all(r == "no" for _, r in results):
        return no(f"{name} returns {seen}, not {wanted}")
    return undecided(f"{name} returns {seen}: cannot tell whether that is {wanted}")


# --- entry point ---------------------------------------------------------------------------------------------
def decide(constraint: Constraint, program: Program) -> Decision:
    """The checker's answer for one constraint (never raises: a checker's own failure is `undecided`)."""
    if constraint.template is None:
        return undecided("the instruction matches no template")
    try:
        if constraint.template == 1:
            return check_language(constraint, program)
        fn = CHECKERS.get(constraint.template)
        if fn is None:
            return undecided(f"no checker for template {constraint.template}")
        if program.facts is None:
            if not supported(program.language):
                return undecided(f"no grammar for {program.language!r} here")
            return undecided("the response has no code in the task's language")
        return fn(constraint, program, program.facts)
    except Exception as exc:  # noqa: BLE001 - a checker bug must not cost the sample its verdict
        return undecided(f"the checker failed: {type(exc).__name__}: {exc}")
