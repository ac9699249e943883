"""What the checkers know about a response's code: facts read off its syntax trees, the same shape for every
language (`lang_python`, `lang_java`, `lang_cpp`, `lang_go` fill them in; `checkers` decides from them).

A response's code is one or more fenced blocks; each is parsed on its own (a Java answer often gives one file
per block) and their facts are merged. `errors` lists where a parse found syntax it could not read: a checker
that needs to know something is absent cannot rely on a tree with holes, and says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Param:
    name: str
    type: str | None = None
    implicit: bool = False  # Python's self/cls: written, but not a parameter a caller passes


@dataclass(frozen=True)
class Function:
    name: str
    kind: str  # function | method | constructor | destructor | operator | lambda
    owner: str | None  # the class (or Go receiver type) it belongs to
    params: tuple[Param, ...]
    return_type: str | None  # as declared; None where none is written (Python without annotation, Go without results)
    returns: tuple[str, ...]  # the literal kind of each `return` expression ("?" unknown, "none" bare return)
    lines: int  # physical lines of the definition, signature to end
    code_lines: int  # of those, lines holding code (not blank, not only a comment)
    has_body: bool
    override: bool  # its name is chosen by a base or the language: @Override, `override`, a Python dunder
    package: str | None
    block: int
    body_lines: int | None = None  # code lines of the body alone (inside its braces), where it has one


@dataclass(frozen=True)
class TypeDecl:
    name: str
    kind: str  # class | struct | interface | enum | record | union | alias (a Go named non-struct type)
    bases: tuple[str, ...]  # superclasses and implemented interfaces, as written (last name part)
    fields: tuple[str, ...]
    methods: tuple[str, ...]
    abstract_methods: tuple[str, ...]  # declared without a body: pure virtual, abstract, interface methods
    concrete_methods: tuple[str, ...]
    enum_like: bool  # Python: derives from an Enum class; Go: a named type with iota constants
    has_body: bool
    package: str | None
    block: int


@dataclass(frozen=True)
class Variable:
    name: str
    scope: str  # global | local | field | param | loop
    type: str | None  # declared type, as written
    value: str | None  # initialiser's source text
    value_kind: str | None  # the initialiser's literal kind (int, float, str, bool, none, list, dict, set, tuple...)
    constant: bool  # final, const, constexpr, Go const, typing.Final, #define
    static: bool  # a static member (Java, C++)
    in_main_guard: bool  # Python: bound under `if __name__ == "__main__":`
    owner: str | None  # the class of a field
    line: int
    block: int


@dataclass(frozen=True)
class Call:
    name: str  # the called name (its last part)
    qualifier: str  # what precedes it: "np" in np.array(...), "std" in std::sort(...), "" for a plain call


@dataclass(frozen=True)
class Import:
    module: str  # Python module, Java package or class (dotted), C++ header (no brackets), Go import path
    names: tuple[str, ...] = ()  # names imported from it (Python from-import); "*" for a wildcard
    alias: str | None = None


@dataclass(frozen=True)
class Instantiation:
    target: str  # the variable it is bound to
    class_name: str | None  # the class constructed (None when the initialiser names none)
    args: tuple[str, ...]  # argument texts
    arg_names: tuple[str, ...]  # names in the arguments: identifiers, keyword-argument and field names
    form: str  # construct (C(...), new C(...), C{...}) | factory (NewC(...), make_shared<C>(...)) | other
    block: int


@dataclass
class CodeFacts:
    language: str
    blocks: int = 0
    errors: list[str] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    types: list[TypeDecl] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    instantiations: list[Instantiation] = field(default_factory=list)
    packages: list[tuple[str, int]] = field(default_factory=list)  # (package name, block)
    namespaces: list[str] = field(default_factory=list)
    keywords: Counter = field(default_factory=Counter)  # keyword tokens written (strings and comments left out)
    identifiers: Counter = field(default_factory=Counter)  # names written: identifiers, type, field, package names
    constructs: Counter = field(default_factory=Counter)  # for, foreach, comprehension, while, do_while, ...
    global_statements: set[str] = field(default_factory=set)  # names of Python `global` statements
    lines: list[str] = field(default_factory=list)  # every line of the code blocks

    @property
    def clean(self) -> bool:
        return not self.errors

    def where_broken(self) -> str:
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"the code does not parse at {self.errors[0]}{more}" if self.errors else ""

    # --- look-ups ------------------------------------------------------------------------------------------
    def types_named(self, name: str) -> list[TypeDecl]:
        return [t for t in self.types if t.name == name]

    def functions_named(self, name: str) -> list[Function]:
        return [f for f in self.functions if f.name == name]

    def variables_named(self, name: str) -> list[Variable]:
        return [v for v in self.variables if v.name == name]

    def methods_of(self, owner: str) -> list[Function]:
        return [f for f in self.functions if f.owner == owner]

    def mentions(self, name: str) -> bool:
        """The name is written somewhere in the code (as an identifier of any kind, or a keyword)."""
        return self.identifiers.get(name, 0) > 0 or self.keywords.get(name, 0) > 0

    def merge(self, other: CodeFacts) -> None:
        self.blocks += other.blocks
        self.errors += other.errors
        self.functions += other.functions
        self.types += other.types
        self.variables += other.variables
        self.calls += other.calls
        self.imports += other.imports
        self.instantiations += other.instantiations
        self.packages += other.packages
        self.namespaces += other.namespaces
        self.keywords.update(other.keywords)
        self.identifiers.update(other.identifiers)
        self.constructs.update(other.constructs)
        self.global_statements |= other.global_statements
        self.lines += other.lines
