"""Facts of Python code, from tree-sitter-python's syntax tree (the code is never imported or run)."""

from __future__ import annotations

import re

from tree_sitter import Node

from .facts import Call, Function, Import, Param, TypeDecl, Variable
from .syntax import SKIP, Extractor, Scope, text

LITERALS = {
    "integer": "int", "float": "float", "string": "str", "concatenated_string": "str", "true": "bool",
    "false": "bool", "none": "none", "list": "list", "list_comprehension": "list", "dictionary": "dict",
    "dictionary_comprehension": "dict", "set": "set", "set_comprehension": "set", "tuple": "tuple",
    "generator_expression": "generator", "lambda": "lambda", "comparison_operator": "bool",
    "boolean_operator": "bool", "not_operator": "bool",
}
BUILTIN_CALLS = {"list": "list", "dict": "dict", "set": "set", "tuple": "tuple", "str": "str", "int": "int",
                 "float": "float", "bool": "bool", "frozenset": "set", "deque": "deque", "defaultdict": "dict",
                 "OrderedDict": "dict", "Counter": "dict"}
ENUM_BASES = frozenset({"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"})
_MAIN_GUARD = re.compile(r"""^__name__\s*==\s*['"]__main__['"]$|^['"]__main__['"]\s*==\s*__name__$""")
_FUNCTION_SCOPES = frozenset({"function_definition", "lambda", "class_definition"})


def kind_of(node: Node | None) -> str | None:
    while node is not None and node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    if node is None:
        return None
    if node.type == "unary_operator":
        return kind_of(node.child_by_field_name("argument"))
    if node.type == "call":
        fn = node.child_by_field_name("function")
        name = last_name(fn)
        return BUILTIN_CALLS.get(name, f"call:{name}") if name else None
    return LITERALS.get(node.type)


def last_name(node: Node | None) -> str:
    if node is None:
        return ""
    if node.type == "identifier":
        return text(node)
    if node.type == "attribute":
        return text(node.child_by_field_name("attribute"))
    return ""


def _is_stub(body: Node | None) -> bool:
    """A body that only declares: `...`, `pass`, a docstring, `raise NotImplementedError`."""
    if body is None:
        return True
    for stmt in body.named_children:
        if stmt.type == "pass_statement" or stmt.type == "comment" or stmt.type == "raise_statement":
            continue
        if stmt.type == "expression_statement" and stmt.named_children and stmt.named_children[0].type in (
                "ellipsis", "string"):
            continue
        return False
    return True


class PythonExtractor(Extractor):
    language = "python"
    OPAQUE_TYPES = frozenset({"string", "concatenated_string"})
    CONSTRUCTS = {
        "for_statement": ("for",), "while_statement": ("while",), "if_statement": ("if",),
        "conditional_expression": ("ternary",), "match_statement": ("match",), "lambda": ("lambda",),
        "list_comprehension": ("comprehension", "list"), "dictionary_comprehension": ("comprehension", "dict"),
        "set_comprehension": ("comprehension", "set"), "generator_expression": ("comprehension",),
        "list": ("list",), "dictionary": ("dict",), "set": ("set",), "tuple": ("tuple",),
        "expression_list": ("implicit_tuple",),  # `return a, b`, `x = a, b`: a tuple, unwritten
    }

    def __init__(self, code: str, block: int):
        super().__init__(code, block)
        self.classes: dict[str, dict] = {}
        self.decorators: dict[int, list[str]] = {}

    def run(self):
        facts = super().run()
        for name, c in self.classes.items():
            facts.types.append(TypeDecl(
                name=name, kind="class", bases=tuple(c["bases"]), fields=tuple(dict.fromkeys(c["fields"])),
                methods=tuple(c["methods"]), abstract_methods=tuple(c["abstract"]),
                concrete_methods=tuple(m for m in c["methods"] if m not in c["abstract"]),
                enum_like=bool(ENUM_BASES & set(c["bases"])), has_body=True, package=None, block=self.block))
        return facts

    # --- declarations ---------------------------------------------------------------------------------------
    def visit_import_statement(self, node: Node, scope: Scope):
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                module, alias = text(child.child_by_field_name("name")), text(child.child_by_field_name("alias"))
            else:
                module, alias = text(child), None
            self.facts.imports.append(Import(module, (), alias))
        return SKIP

    def visit_import_from_statement(self, node: Node, scope: Scope):
        module = text(node.child_by_field_name("module_name"))
        names = []
        for child in node.children_by_field_name("name"):
            names.append(text(child.child_by_field_name("name")) if child.type == "aliased_import" else text(child))
        if any(c.type == "wildcard_import" for c in node.children):
            names.append("*")
        self.facts.imports.append(Import(module, tuple(names)))
        return SKIP

    def visit_decorated_definition(self, node: Node, scope: Scope):
        definition = node.child_by_field_name("definition")
        if definition is not None:
            names = []
            for dec in node.children:
                if dec.type == "decorator":
                    expr = dec.named_children[0] if dec.named_children else None
                    if expr is not None and expr.type == "call":
                        expr = expr.child_by_field_name("function")
                    names.append(last_name(expr) or text(expr))
            self.decorators[definition.id] = names
        return None

    def visit_class_definition(self, node: Node, scope: Scope):
        name = text(node.child_by_field_name("name"))
        bases = []
        supers = node.child_by_field_name("superclasses")
        if supers is not None:
            for arg in supers.named_children:
                if arg.type == "keyword_argument":  # metaclass=ABCMeta
                    bases.append(last_name(arg.child_by_field_name("value")))
                else:
                    bases.append(last_name(arg) or text(arg))
        record = self.classes.setdefault(name, {"bases": [], "fields": [], "methods": [], "abstract": []})
        record["bases"] += [b for b in bases if b]
        return Scope(kind="class", owner=name, main_guard=scope.main_guard)

    def visit_function_definition(self, node: Node, scope: Scope):
        name = text(node.child_by_field_name("name"))
        decorators = self.decorators.get(node.id, [])
        in_class = scope.kind == "class"
        params = self._params(node.child_by_field_name("parameters"), in_class and "staticmethod" not in decorators)
        body = node.child_by_field_name("body")
        returns = ("?",) if _is_stub(body) else self._returns(body)
        last = body.named_children[-1] if body is not None and body.named_children else None
        if returns != ("?",) and (last is None or last.type not in ("return_statement", "raise_statement")):
            returns += ("none",)  # it may run off its end, which returns None
        dunder = name.startswith("__") and name.endswith("__")
        kind = ("constructor" if name == "__init__" else "method") if in_class else "function"
        ret = node.child_by_field_name("return_type")
        self.facts.functions.append(Function(
            name=name, kind=kind, owner=scope.owner if in_class else None, params=params,
            return_type=text(ret) if ret is not None else None, returns=returns, lines=self.lines_of(node),
            code_lines=self.code_lines_in(node), body_lines=self.body_lines_in(body), has_body=True, override=dunder,
            package=None, block=self.block))
        if in_class and scope.owner in self.classes:
            record = self.classes[scope.owner]
            record["methods"].append(name)
            if "abstractmethod" in decorators:
                record["abstract"].append(name)
            if "property" in decorators:
                record["fields"].append(name)
        for p in params:
            if not p.implicit:
                self._variable(p.name, scope.but(kind="function"), "param", p.type, None, node)
        owner = scope.owner if in_class else None
        return Scope(kind="function", owner=owner, function=node, main_guard=scope.main_guard)

    def _params(self, node: Node | None, method: bool) -> tuple[Param, ...]:
        out: list[Param] = []
        if node is None:
            return ()
        for child in node.named_children:
            kind = child.type
            if kind == "identifier":
                name, typ = text(child), None
            elif kind in ("typed_parameter", "typed_default_parameter", "default_parameter"):
                inner = child.child_by_field_name("name")
                if inner is None:
                    inner = next((c for c in child.named_children if c.type in ("identifier", "list_splat_pattern",
                                                                                "dictionary_splat_pattern")), None)
                name = text(inner).lstrip("*")
                typ = text(child.child_by_field_name("type")) or None
            elif kind in ("list_splat_pattern", "dictionary_splat_pattern"):
                name, typ = text(child).lstrip("*"), None
            else:  # `*` and `/` separators
                continue
            implicit = method and not out and name in ("self", "cls")
            out.append(Param(name, typ, implicit))
        return tuple(out)

    def _returns(self, body: Node | None) -> tuple[str, ...]:
        out: list[str] = []
        stack = [body] if body is not None else []
        while stack:
            n = stack.pop()
            if n.type in _FUNCTION_SCOPES:
                continue
            if n.type == "return_statement":
                value = n.named_children[0] if n.named_children else None
                out.append("none" if value is None else (kind_of(value) or "?"))
                continue
            if n.type == "yield":
                out.append("generator")
            stack.extend(n.children)
        return tuple(out)

    # --- variables ------------------------------------------------------------------------------------------
    def _variable(self, name: str, scope: Scope, where: str, typ: str | None, value: Node | None, node: Node,
                  constant: bool = False) -> None:
        if not name or name == "_":
            return
        self.facts.variables.append(Variable(
            name=name, scope=where, type=typ, value=text(value) if value is not None else None,
            value_kind=kind_of(value), constant=constant, static=False, in_main_guard=scope.main_guard,
            owner=scope.owner if where == "field" else None, line=node.start_point[0] + 1, block=self.block))

    def _where(self, scope: Scope, name: str) -> str:
        if scope.kind == "module":
            return "global"
        if scope.kind == "class":
            return "field"
        function = scope.function
        if function is not None and name in self._globals_of(function):
            return "global"
        return "local"

    def _globals_of(self, function: Node) -> set[str]:
        names: set[str] = set()
        stack = [function.child_by_field_name("body")]
        while stack:
            n = stack.pop()
            if n is None or n.type in _FUNCTION_SCOPES:
                continue
            if n.type == "global_statement":
                names.update(text(c) for c in n.named_children if c.type == "identifier")
            stack.extend(n.children)
        return names

    def _targets(self, left: Node, scope: Scope, typ: str | None, value: Node | None, node: Node,
                 where: str | None = None) -> None:
        if left.type == "identifier":
            name = text(left)
            constant = bool(typ and re.search(r"\bFinal\b", typ))
            self._variable(name, scope, where or self._where(scope, name), typ, value, node, constant)
        elif left.type in ("pattern_list", "tuple_pattern", "list_pattern", "tuple", "list"):
            for child in left.named_children:
                self._targets(child, scope, None, None, node, where)
        elif left.type == "list_splat_pattern" and left.named_children:
            self._targets(left.named_children[0], scope, None, None, node, where)
        elif left.type == "attribute" and scope.owner in self.classes:
            obj = left.child_by_field_name("object")
            if obj is not None and text(obj) in ("self", "cls"):
                attr = text(left.child_by_field_name("attribute"))
                self.classes[scope.owner]["fields"].append(attr)
                self._variable(attr, scope, "field", typ, value, node)

    def visit_assignment(self, node: Node, scope: Scope):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        typ = node.child_by_field_name("type")
        if left is not None:
            self._targets(left, scope, text(typ) if typ is not None else None, right, node)
            if right is not None and right.type == "call" and left.type == "identifier":
                self._instantiation(text(left), right)
        if scope.kind == "class" and scope.owner in self.classes and left is not None and left.type == "identifier":
            self.classes[scope.owner]["fields"].append(text(left))
        return None

    def _instantiation(self, target: str, call: Node) -> None:
        fn = call.child_by_field_name("function")
        args = call.child_by_field_name("arguments")
        arg_nodes = args.named_children if args is not None else []
        names: list[str] = []
        for arg in arg_nodes:
            if arg.type == "keyword_argument":
                names.append(text(arg.child_by_field_name("name")))
            names += self.names_in(arg)
        form = "construct" if fn is not None and fn.type == "identifier" else "factory"
        self._record_instantiation(target, last_name(fn) or None, arg_nodes, form, names)

    def visit_named_expression(self, node: Node, scope: Scope):
        name = node.child_by_field_name("name")
        if name is not None:
            self._targets(name, scope, None, node.child_by_field_name("value"), node)
        return None

    def visit_global_statement(self, node: Node, scope: Scope):
        self.facts.global_statements.update(text(c) for c in node.named_children if c.type == "identifier")
        return SKIP

    def visit_for_statement(self, node: Node, scope: Scope):
        left = node.child_by_field_name("left")
        if left is not None:
            self._targets(left, scope, None, None, node, "loop")
        return None

    def visit_for_in_clause(self, node: Node, scope: Scope):
        left = node.child_by_field_name("left")
        if left is not None:
            self._targets(left, scope, None, None, node, "loop")
        return None

    def visit_with_item(self, node: Node, scope: Scope):
        value = node.child_by_field_name("value")
        if value is not None and value.type == "as_pattern":
            target = value.child_by_field_name("alias")
            if target is not None:
                for child in (target.named_children or [target]):
                    self._targets(child, scope, None, None, node)
        return None

    def visit_except_clause(self, node: Node, scope: Scope):
        value = node.child_by_field_name("value")
        if value is not None and value.type == "as_pattern":
            target = value.child_by_field_name("alias")
            for child in (target.named_children if target is not None else []):
                self._targets(child, scope, None, None, node)
        return None

    # --- control flow, data structures, calls -------------------------------------------------------------
    def visit_if_statement(self, node: Node, scope: Scope):
        condition = node.child_by_field_name("condition")
        if scope.kind == "module" and condition is not None and _MAIN_GUARD.match(" ".join(text(condition).split())):
            return scope.but(main_guard=True)
        return None

    def visit_lambda(self, node: Node, scope: Scope):
        for p in self._params(node.child_by_field_name("parameters"), False):
            self._variable(p.name, scope, "param", p.type, None, node)

    def visit_call(self, node: Node, scope: Scope):
        fn = node.child_by_field_name("function")
        if fn is not None and fn.type == "identifier":
            self.facts.calls.append(Call(text(fn), ""))
        elif fn is not None and fn.type == "attribute":
            self.facts.calls.append(Call(text(fn.child_by_field_name("attribute")),
                                         text(fn.child_by_field_name("object"))))
        return None


def extract(code: str, block: int = 0):
    return PythonExtractor(code, block).run()
