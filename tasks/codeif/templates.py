"""CodeIF's constraint templates, and the matcher from an instruction's text to its template and slot values.

CodeIF's instructions are generated from 50 templates (ids as in the release's `instruction/en.json`, which
the paper's Table 4 numbers differently). The data carries no template id, so each instruction is matched here:
the templates' wordings are written as patterns of our own, tried most specific first (42 before 34, 47/48
before 36, since the shorter wording is a prefix of the longer), with the near-variants found in the release
("not more than 1 class", "as a parameter", a colon before a list, quoted convention names, the stray period
of template 30, 48 with an empty function list, a named function in 49). An instruction that matches none is
kept with `template = None`: it is decided by the judge only, and counted by `match_report`.

Slot values are normalised: quotes and backticks around a value are dropped, lists (`['a', 'b']`,
`` `a`, `b` ``, `a, b and c`, `no parameters`) become tuples of names.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

CATEGORIES = ("global", "structural control", "variable", "interface", "function", "class", "file", "combination")

# Slots whose value is a list of names.
LIST_SLOTS = frozenset({
    "disallowed_function_list", "library_list", "disallowed_library_list", "parameters_name_list",
    "method_name_list", "properties_name_list", "parameter_name_list", "class_name_list", "function_name_list",
})
# Slots whose value is a number.
NUMBER_SLOTS = frozenset({"characters_num", "parameter_count", "function_count", "class_count", "line_num"})


@dataclass(frozen=True)
class Template:
    id: int
    category: str
    summary: str  # what the constraint asks, in a few words (reports)
    patterns: tuple[tuple[str, str | None], ...]  # (regex, variant name or None for the template's own wording)


def _t(id: int, category: str, summary: str, *patterns: str | tuple[str, str]) -> Template:
    pats = tuple((p, None) if isinstance(p, str) else p for p in patterns)
    return Template(id, category, summary, pats)


# A slot: any text, as short as possible. `{name}` in a pattern below stands for one.
_S = r"(?P<{}>.+?)"
_CODE = r"Your code should"

TEMPLATES: tuple[Template, ...] = (
    _t(1, "global", "written in language L",
       r"Your entire response should be written in {programming_language}, the use of other programming "
       r"languages is not allowed"),
    _t(2, "global", "code lines at most N characters",
       r"Your code lines should not exceed {characters_num} characters"),
    _t(3, "global", "uses global variables", rf"{_CODE} use global variables"),
    _t(4, "global", "no global variables", rf"{_CODE} not use global variables"),
    _t(5, "global", "every function at most N parameters",
       r"Your function should have at most {parameter_count} parameters",
       (r"Your function should have at most {parameter_count} parameter", "singular")),
    _t(6, "global", "at most N functions", rf"{_CODE} not have more than {{function_count}} functions",
       (rf"{_CODE} not have more than {{function_count}} function", "singular")),
    _t(7, "global", "at most N classes", rf"{_CODE} not have more than {{class_count}} classes",
       (rf"{_CODE} not have more than {{class_count}} class", "singular")),
    _t(8, "global", "keyword K not used", rf"{_CODE} not use the {{keyword}} keyword"),
    _t(9, "global", "keyword K used", rf"{_CODE} use the {{keyword}} keyword"),
    _t(10, "structural control", "data structure D used", rf"{_CODE} use data structure {{data_structure}}"),
    _t(11, "structural control", "data structure D not used", rf"{_CODE} not use data structure {{data_structure}}"),
    _t(12, "structural control", "for loop used", rf"{_CODE} use for-loop"),
    _t(13, "structural control", "no for loop", rf"{_CODE} not use for-loop"),
    _t(14, "structural control", "while loop used", rf"{_CODE} use while-loop"),
    _t(15, "structural control", "no while loop", rf"{_CODE} not use while-loop"),
    _t(16, "structural control", "if statement used", rf"{_CODE} use if statement for decision making"),
    _t(17, "structural control", "no if statement", rf"{_CODE} not use if statement for decision making"),
    _t(18, "structural control", "switch statement used", rf"{_CODE} use switch statement for decision making"),
    _t(19, "structural control", "no switch statement", rf"{_CODE} not use switch statement for decision making"),
    _t(20, "variable", "variable X defined", rf"{_CODE} define a variable named {{variable_name}}"),
    _t(21, "variable", "enumeration X defined", rf"{_CODE} define an enumeration named {{enumeration_name}}"),
    _t(22, "variable", "variable names follow convention C",
       r"The variable names in your code should follow the {naming_convention} naming convention"),
    _t(23, "variable", "variable X has type T", r"Variable {variable_name}, type should be {variable_type}"),
    _t(24, "variable", "variable X is global", r"Variable {variable_name}, should be a global variable"),
    _t(25, "variable", "variable X is not global", r"Variable {variable_name}, should not be a global variable"),
    _t(26, "variable", "variable X starts at V",
       r"Variable {variable_name}, the initial value should be {variable_value}"),
    _t(27, "variable", "variable X is constant", r"Variable {variable_name},? should be a constant"),
    _t(28, "variable", "variable X is not constant", r"Variable {variable_name},? should not be a constant"),
    _t(29, "function", "function X defined", rf"{_CODE} include a function named {{function_name}}"),
    _t(30, "function", "function names follow convention C",
       r"The function names in your code should follow the {naming_convention}\. naming convention",
       (r"The function names in your code should follow the {naming_convention} naming convention", "no stray period")),
    _t(31, "function", "no function from list L",
       rf"{_CODE} not use any functions from the {{disallowed_function_list}}"),
    _t(32, "interface", "interface X defined", rf"{_CODE} define an interface named {{interface_name}}"),
    _t(33, "interface", "interface names follow convention C",
       r"The interface names in your code should follow the {naming_convention} naming convention"),
    _t(34, "class", "class X defined", rf"{_CODE} define a class named {{class_name}}"),
    _t(35, "class", "class names follow convention C",
       r"The class names in your code should follow the {naming_convention} naming convention"),
    _t(36, "file", "code in package P", rf"{_CODE} be organized in a package named {{package_name}}",
       (rf"{_CODE} be organized in a package named {{package_name}},? which should contain these functions ?",
        "empty function list")),
    _t(37, "file", "libraries L imported", rf"{_CODE} import the following libraries {{library_list}}",
       (rf"{_CODE} import the following libraries: {{library_list}}", "colon")),
    _t(38, "file", "function F of library L used",
       rf"{_CODE} use the function {{function_name}} from the library {{library_name}}"),
    _t(39, "file", "libraries L not used", rf"{_CODE} not use the following libraries {{disallowed_library_list}}",
       (rf"{_CODE} not use the following libraries: {{disallowed_library_list}}", "colon")),
    _t(40, "combination", "object O = C(P)",
       r"You should initialize an object named {object_name} as an instance of the {class_name} class using "
       r"{parameters_name_list} for initialization"),
    _t(41, "combination", "interface X with methods M",
       r"You should define an interface named {interface_name} that includes these methods {method_name_list}",
       (r"You should define an interface named {interface_name} that includes these methods: {method_name_list}",
        "colon")),
    _t(42, "combination", "class C implements interface I",
       rf"{_CODE} define a class named {{class_name}} that implements the {{interface_name}} interface"),
    _t(43, "combination", "class C has properties P",
       r"In your code, the class {class_name} should have these properties {properties_name_list}",
       (r"In your code, the class {class_name} should have these properties: {properties_name_list}", "colon")),
    _t(44, "combination", "class C has methods M",
       r"In your code, the class {class_name} should have these methods {method_name_list}",
       (r"In your code, the class {class_name} should have these methods: {method_name_list}", "colon")),
    _t(45, "combination", "function F takes parameters P",
       r"The function {function_name} should take {parameter_name_list} as parameters",
       (r"The function {function_name} should take {parameter_name_list} as a parameter", "singular"),
       (r"The function {function_name} should take (?P<parameter_name_list>no parameters)", "no parameters")),
    _t(46, "combination", "function F returns T",
       r"The function {function_name} should return an? {return_type} as its result"),
    _t(47, "combination", "package P contains classes L",
       rf"{_CODE} be organized in a package named {{package_name}},? which should contain these classes "
       r"{class_name_list}",
       (rf"{_CODE} be organized in a package named {{package_name}},? which should contain these classes: "
        r"{class_name_list}", "colon")),
    _t(48, "combination", "package P contains functions L",
       rf"{_CODE} be organized in a package named {{package_name}},? which should contain these functions "
       r"{function_name_list}",
       (rf"{_CODE} be organized in a package named {{package_name}},? which should contain these functions: "
        r"{function_name_list}", "colon")),
    _t(49, "global", "every function at most N lines", r"Your function should not exceed {line_num} lines",
       (r"Your function {function_name} should not exceed {line_num} lines", "named function")),
    _t(50, "global", "answer at most N lines", r"Your answer in total should not exceed {line_num} lines"),
)
BY_ID = {t.id: t for t in TEMPLATES}


def _compile(pattern: str) -> re.Pattern[str]:
    # `{slot}` -> a lazy named group; the pattern's own regex syntax is kept. A trailing period is optional.
    rx = re.sub(r"(?<!\\)\{(\w+)\}", lambda m: _S.format(m.group(1)), pattern)
    return re.compile(r"^" + rx + r"\s*\.?$", re.DOTALL)


def _specificity(item: tuple[Template, str, str | None]) -> int:
    return -len(re.sub(r"\{\w+\}|\(\?P<\w+>[^)]*\)", "", item[1]))


# Longest fixed wording first: 47/48 before 36, 42 before 34, "not use" before "use".
_COMPILED = [(t, _compile(p), v) for t, p, v in
             sorted(((t, p, v) for t in TEMPLATES for p, v in t.patterns), key=_specificity)]


@dataclass(frozen=True)
class Constraint:
    """One instruction of a task: its text, category (from the data), matched template and slot values."""

    index: int
    text: str
    category: str
    template: int | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None  # the near-variant wording matched; None for the template's own wording


def match(text: str, index: int = 0, category: str = "") -> Constraint:
    """The template and normalised slot values of one instruction (template None when none matches)."""
    clean = " ".join(text.split())
    for template, rx, variant in _COMPILED:
        m = rx.match(clean)
        if m:
            slots = {k: normalise_slot(k, v) for k, v in m.groupdict().items()}
            if template.id == 36 and variant == "empty function list":
                variant = "48 with an empty function list"
            return Constraint(index, text, category or template.category, template.id, slots, variant)
    return Constraint(index, text, category)


def match_all(instructions: Iterable[str], categories: Iterable[str]) -> tuple[Constraint, ...]:
    return tuple(match(t, i, c) for i, (t, c) in enumerate(zip(instructions, categories)))


# --- slot values ---------------------------------------------------------------------------------------------
_QUOTES = "`'\"“”‘’"


def unquote(value: str) -> str:
    """A value without the quotes or backticks around it (and without a trailing period)."""
    v = value.strip().rstrip(".").strip()
    while len(v) >= 2 and v[0] in _QUOTES and v[-1] in _QUOTES:
        v = v[1:-1].strip()
    return v.strip(_QUOTES + " ")


def split_list(value: str) -> tuple[str, ...]:
    """`['a', 'b']`, `[a, b]`, `` `a`, `b` ``, `a, b and c`, `no parameters`, `[]` -> names."""
    v = unquote(value)
    if v.lower() in {"no parameters", "no parameter", "none", "[]", ""}:
        return ()
    if v.startswith("[") and v.endswith("]"):
        v = v[1:-1]
    parts = re.split(r",|\band\b", v)
    return tuple(p for p in (unquote(x) for x in parts) if p)


def normalise_slot(name: str, value: str) -> Any:
    if name in LIST_SLOTS:
        return split_list(value)
    if name in NUMBER_SLOTS:
        v = unquote(value)
        return int(v) if v.isdigit() else v
    return unquote(value)


# --- programming languages ------------------------------------------------------------------------------------
LANGUAGE_NAMES = {
    "python": "python", "python3": "python", "py": "python",
    "java": "java",
    "cpp": "cpp", "c++": "cpp", "cxx": "cpp", "cc": "cpp", "hpp": "cpp", "h": "cpp",
    "go": "go", "golang": "go",
    "c": "c", "kotlin": "kotlin", "kt": "kotlin",
}


def language_of(name: str) -> str:
    """A language as the data or a fence tag names it -> our name (python, java, cpp, go, or as given, lower)."""
    key = unquote(name).strip().lower()
    return LANGUAGE_NAMES.get(key, key)


# --- coverage report --------------------------------------------------------------------------------------------
@dataclass
class MatchReport:
    instructions: int = 0
    matched: int = 0
    by_template: Counter = field(default_factory=Counter)
    variants: Counter = field(default_factory=Counter)  # (template, variant) -> count
    unmatched: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.matched / self.instructions if self.instructions else 0.0

    def add(self, c: Constraint) -> None:
        self.instructions += 1
        if c.template is None:
            self.unmatched.append(c.text)
            return
        self.matched += 1
        self.by_template[c.template] += 1
        if c.variant:
            self.variants[(c.template, c.variant)] += 1


def match_report(constraints: Iterable[Constraint]) -> MatchReport:
    report = MatchReport()
    for c in constraints:
        report.add(c)
    return report
