"""Facts of Java code, from tree-sitter-java's syntax tree (the code is never compiled or run)."""

from __future__ import annotations

from tree_sitter import Node

from .facts import Call, Function, Import, Param, TypeDecl, Variable
from .syntax import SKIP, Extractor, Scope, text

LITERALS = {
    "decimal_integer_literal": "int", "hex_integer_literal": "int", "octal_integer_literal": "int",
    "binary_integer_literal": "int", "decimal_floating_point_literal": "float", "hex_floating_point_literal": "float",
    "string_literal": "str", "text_block": "str", "character_literal": "char", "true": "bool", "false": "bool",
    "null_literal": "null", "array_initializer": "array", "array_creation_expression": "array",
    "lambda_expression": "lambda",
}
TYPE_DECLARATIONS = {"class_declaration": "class", "interface_declaration": "interface", "enum_declaration": "enum",
                     "record_declaration": "record", "annotation_type_declaration": "annotation"}


def base_name(type_node: Node | None) -> str:
    """`List<String>` -> List, `java.util.List` -> List, `int[]` -> int[]."""
    if type_node is None:
        return ""
    if type_node.type == "generic_type":
        return base_name(type_node.named_children[0]) if type_node.named_children else ""
    if type_node.type == "scoped_type_identifier":
        return text(type_node.named_children[-1]) if type_node.named_children else text(type_node)
    return text(type_node)


def kind_of(node: Node | None) -> str | None:
    while node is not None and node.type in ("parenthesized_expression",) and node.named_child_count == 1:
        node = node.named_children[0]
    if node is None:
        return None
    if node.type == "unary_expression":
        return kind_of(node.child_by_field_name("operand"))
    if node.type == "object_creation_expression":
        return f"new:{base_name(node.child_by_field_name('type'))}"
    if node.type == "decimal_floating_point_literal":  # a literal's own type: 1.0 is a double, 1.0f a float
        return "float" if text(node).lower().endswith("f") else "double"
    if node.type in ("decimal_integer_literal", "hex_integer_literal") and text(node).lower().endswith("l"):
        return "long"
    return LITERALS.get(node.type)


class JavaExtractor(Extractor):
    language = "java"
    OPAQUE_TYPES = frozenset({"string_literal", "text_block", "character_literal"})
    COMMENT_TYPES = frozenset({"line_comment", "block_comment"})
    CONSTRUCTS = {
        "for_statement": ("for",), "enhanced_for_statement": ("foreach",), "while_statement": ("while",),
        "do_statement": ("do_while",), "if_statement": ("if",), "ternary_expression": ("ternary",),
        "switch_expression": ("switch",), "switch_statement": ("switch",), "lambda_expression": ("lambda",),
        "array_type": ("array",), "array_creation_expression": ("array",), "array_initializer": ("array",),
    }

    def __init__(self, code: str, block: int):
        super().__init__(code, block)
        self.classes: dict[int, dict] = {}

    def run(self):
        facts = super().run()
        for c in self.classes.values():
            facts.types.append(TypeDecl(
                name=c["name"], kind=c["kind"], bases=tuple(c["bases"]), fields=tuple(c["fields"]),
                methods=tuple(c["methods"]), abstract_methods=tuple(c["abstract"]),
                concrete_methods=tuple(m for m in c["methods"] if m not in c["abstract"]),
                enum_like=c["kind"] == "enum",
                has_body=True, package=self.package, block=self.block))
        return facts

    @staticmethod
    def _modifiers(node: Node) -> tuple[set[str], set[str]]:
        """(keywords, annotation names) of a declaration's modifiers."""
        words, annotations = set(), set()
        for child in node.children:
            if child.type == "modifiers":
                for m in child.children:
                    if m.type in ("marker_annotation", "annotation"):
                        annotations.add(text(m.child_by_field_name("name")))
                    else:
                        words.add(text(m))
        return words, annotations

    # --- declarations ---------------------------------------------------------------------------------------
    def visit_package_declaration(self, node: Node, scope: Scope):
        name = next((text(c) for c in node.named_children if c.type in ("scoped_identifier", "identifier")), "")
        self.package = name
        self.facts.packages.append((name, self.block))
        return SKIP

    def visit_import_declaration(self, node: Node, scope: Scope):
        name = next((text(c) for c in node.named_children if c.type in ("scoped_identifier", "identifier")), "")
        wildcard = any(c.type == "asterisk" for c in node.children)
        self.facts.imports.append(Import(name, ("*",) if wildcard else ()))
        return SKIP

    def _type_declaration(self, node: Node, scope: Scope):
        name = text(node.child_by_field_name("name"))
        bases: list[str] = []
        for child in node.children:
            if child.type in ("superclass", "super_interfaces", "extends_interfaces"):
                stack = [child]
                while stack:
                    n = stack.pop()
                    if n.type in ("type_identifier", "generic_type", "scoped_type_identifier"):
                        bases.append(base_name(n))
                        continue
                    stack.extend(reversed(n.named_children))
        record = {"name": name, "kind": TYPE_DECLARATIONS[node.type], "bases": bases, "fields": [], "methods": [],
                  "abstract": []}
        if node.type == "record_declaration":
            params = node.child_by_field_name("parameters")
            for p in (params.named_children if params is not None else []):
                record["fields"].append(text(p.child_by_field_name("name")))
                self._variable(text(p.child_by_field_name("name")), "field", text(p.child_by_field_name("type")),
                               None, {"final"}, p, Scope(kind="class", owner=name, type_key=node.id))
        self.classes[node.id] = record
        return Scope(kind="class", owner=name, type_key=node.id)

    visit_class_declaration = visit_interface_declaration = visit_enum_declaration = _type_declaration
    visit_record_declaration = visit_annotation_type_declaration = _type_declaration

    def _record(self, scope: Scope) -> dict | None:
        return self.classes.get(scope.type_key) if scope.kind == "class" else None

    def _params(self, node: Node | None) -> tuple[Param, ...]:
        out = []
        for child in (node.named_children if node is not None else []):
            if child.type == "formal_parameter":
                out.append(Param(text(child.child_by_field_name("name")), text(child.child_by_field_name("type"))))
            elif child.type == "spread_parameter":
                declarator = next((c for c in child.named_children if c.type == "variable_declarator"), None)
                typ = next((c for c in child.named_children if c.type != "variable_declarator"), None)
                name = text(declarator.child_by_field_name("name")) if declarator is not None else ""
                out.append(Param(name, text(typ) + "..."))
        return tuple(out)

    def _method(self, node: Node, scope: Scope, kind: str):
        name = text(node.child_by_field_name("name"))
        words, annotations = self._modifiers(node)
        body = node.child_by_field_name("body")
        params = self._params(node.child_by_field_name("parameters"))
        ret = node.child_by_field_name("type")
        record = self._record(scope)
        self.facts.functions.append(Function(
            name=name, kind=kind, owner=scope.owner, params=params, return_type=text(ret) if ret is not None else None,
            returns=(), lines=self.lines_of(node), code_lines=self.code_lines_in(node),
            body_lines=self.body_lines_in(body),
            has_body=body is not None,
            override="Override" in annotations, package=self.package, block=self.block))
        if record is not None:
            record["methods"].append(name)
            if body is None or "abstract" in words:
                record["abstract"].append(name)
        for p in params:
            self._variable(p.name, "param", p.type, None, None, node, scope)
        return Scope(kind="function", owner=scope.owner, function=node)

    def visit_method_declaration(self, node: Node, scope: Scope):
        return self._method(node, scope, "method")

    def visit_constructor_declaration(self, node: Node, scope: Scope):
        return self._method(node, scope, "constructor")

    def visit_compact_constructor_declaration(self, node: Node, scope: Scope):
        return self._method(node, scope, "constructor")

    # --- variables ------------------------------------------------------------------------------------------
    def _variable(self, name: str, where: str, typ: str | None, value: Node | None, words: set[str] | None,
                  node: Node, scope: Scope) -> None:
        if not name:
            return
        words = words or set()
        self.facts.variables.append(Variable(
            name=name, scope=where, type=typ, value=text(value) if value is not None else None,
            value_kind=kind_of(value), constant="final" in words, static="static" in words, in_main_guard=False,
            owner=scope.owner if where == "field" else None, line=node.start_point[0] + 1, block=self.block))

    def _declarators(self, node: Node, scope: Scope, where: str):
        words, _ = self._modifiers(node)
        typ = node.child_by_field_name("type")
        for declarator in node.children_by_field_name("declarator"):
            name = text(declarator.child_by_field_name("name"))
            value = declarator.child_by_field_name("value")
            dims = declarator.child_by_field_name("dimensions")
            type_text = text(typ) + (text(dims) if dims is not None else "")
            self._variable(name, where, type_text, value, words, declarator, scope)
            if where == "field":
                record = self._record(scope)
                if record is not None:
                    record["fields"].append(name)
            if value is not None and value.type == "object_creation_expression":
                self._instantiation(name, value)
            elif value is not None and value.type == "method_invocation":
                self._factory(name, value)

    def visit_field_declaration(self, node: Node, scope: Scope):
        self._declarators(node, scope, "field")
        return None

    def visit_constant_declaration(self, node: Node, scope: Scope):  # interface constants: implicitly final
        self._declarators(node, scope, "field")
        return None

    def visit_local_variable_declaration(self, node: Node, scope: Scope):
        self._declarators(node, scope, "local")
        return None

    def _instantiation(self, target: str, creation: Node) -> None:
        args = creation.child_by_field_name("arguments")
        arg_nodes = args.named_children if args is not None else []
        self._record_instantiation(target, base_name(creation.child_by_field_name("type")) or None, arg_nodes,
                                   "construct")

    def _factory(self, target: str, call: Node) -> None:
        obj = call.child_by_field_name("object")
        args = call.child_by_field_name("arguments")
        arg_nodes = args.named_children if args is not None else []
        self._record_instantiation(target, text(obj).rsplit(".", 1)[-1] if obj is not None else None, arg_nodes,
                                   "factory")

    def visit_assignment_expression(self, node: Node, scope: Scope):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and left.type == "identifier" and right is not None:
            if right.type == "object_creation_expression":
                self._instantiation(text(left), right)
        return None

    def visit_enhanced_for_statement(self, node: Node, scope: Scope):
        words, _ = self._modifiers(node)
        self._variable(text(node.child_by_field_name("name")), "loop", text(node.child_by_field_name("type")), None,
                       words, node, scope)
        return None

    def visit_catch_formal_parameter(self, node: Node, scope: Scope):
        typ = next((c for c in node.named_children if c.type == "catch_type"), None)
        self._variable(text(node.child_by_field_name("name")), "local", text(typ) if typ is not None else None, None,
                       None, node, scope)
        return None

    def visit_resource(self, node: Node, scope: Scope):
        name = node.child_by_field_name("name")
        if name is not None:
            typ = node.child_by_field_name("type")
            self._variable(text(name), "local", text(typ) if typ is not None else None,
                           node.child_by_field_name("value"), {"final"}, node, scope)
        return None

    def visit_instanceof_expression(self, node: Node, scope: Scope):
        name = node.child_by_field_name("name")
        if name is not None:
            self._variable(text(name), "local", text(node.child_by_field_name("right")), None, None, node, scope)
        return None

    # --- control flow, calls --------------------------------------------------------------------------------
    def visit_lambda_expression(self, node: Node, scope: Scope):
        params = node.child_by_field_name("parameters")
        if params is not None and params.type == "identifier":
            self._variable(text(params), "param", None, None, None, node, scope)
        elif params is not None and params.type == "inferred_parameters":
            for p in params.named_children:
                if p.type == "identifier":
                    self._variable(text(p), "param", None, None, None, node, scope)
        elif params is not None:
            for p in self._params(params):
                self._variable(p.name, "param", p.type, None, None, node, scope)

    def visit_method_invocation(self, node: Node, scope: Scope):
        obj = node.child_by_field_name("object")
        self.facts.calls.append(Call(text(node.child_by_field_name("name")), text(obj) if obj is not None else ""))
        return None

    def visit_object_creation_expression(self, node: Node, scope: Scope):
        self.facts.calls.append(Call(base_name(node.child_by_field_name("type")), "new"))
        return None


def extract(code: str, block: int = 0):
    return JavaExtractor(code, block).run()
