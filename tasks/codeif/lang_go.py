"""Facts of Go code, from tree-sitter-go's syntax tree (the code is never compiled or run)."""

from __future__ import annotations

from tree_sitter import Node

from .facts import Call, Function, Import, Param, TypeDecl, Variable
from .syntax import SKIP, Extractor, Scope, text

# An untyped constant's default type: what `x := <literal>` declares.
LITERALS = {"int_literal": "int", "float_literal": "float64", "imaginary_literal": "complex128",
            "interpreted_string_literal": "string", "raw_string_literal": "string", "rune_literal": "rune",
            "true": "bool",
            "false": "bool", "nil": "nil", "func_literal": "func"}
TYPE_KINDS = {"slice_type": "slice", "map_type": "map", "array_type": "array", "channel_type": "channel",
              "struct_type": "struct", "pointer_type": "pointer", "function_type": "func",
              "interface_type": "interface"}


def type_name(node: Node | None) -> str:
    """`*Box` -> Box, `pkg.Box` -> Box, `Box[T]` -> Box."""
    while node is not None and node.type in ("pointer_type", "generic_type", "parenthesized_type"):
        node = node.child_by_field_name("type") or (node.named_children[0] if node.named_children else None)
    if node is None:
        return ""
    if node.type == "qualified_type":
        return text(node.child_by_field_name("name"))
    return text(node)


def kind_of(node: Node | None) -> str | None:
    while node is not None and node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    if node is None:
        return None
    if node.type == "unary_expression":
        operand = node.child_by_field_name("operand")
        if text(node).startswith("&") and operand is not None and operand.type == "composite_literal":
            return f"pointer:{type_name(operand.child_by_field_name('type'))}"
        return kind_of(operand)
    if node.type == "composite_literal":
        typ = node.child_by_field_name("type")
        if typ is not None and typ.type in TYPE_KINDS:
            return TYPE_KINDS[typ.type]
        return f"struct:{type_name(typ)}"
    if node.type == "call_expression":
        fn = node.child_by_field_name("function")
        if text(fn) == "make":
            args = node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            return TYPE_KINDS.get(first.type) if first is not None else None
        return None
    return LITERALS.get(node.type)


class GoExtractor(Extractor):
    language = "go"
    OPAQUE_TYPES = frozenset({"interpreted_string_literal", "raw_string_literal", "rune_literal"})
    ARGUMENT_NAME_TYPES = frozenset({"identifier", "field_identifier"})
    CONSTRUCTS = {  # a `for` is counted by its form (visit_for_statement)
        "if_statement": ("if",), "expression_switch_statement": ("switch",), "type_switch_statement": ("switch",),
        "select_statement": ("select",), "func_literal": ("lambda",), "slice_type": ("slice",), "map_type": ("map",),
        "array_type": ("array",), "channel_type": ("channel",), "struct_type": ("struct",),
    }

    def __init__(self, code: str, block: int):
        super().__init__(code, block)
        self.named: dict[str, dict] = {}
        self.iota_types: set[str] = set()

    def run(self):
        facts = super().run()
        for name, t in self.named.items():
            methods = [f.name for f in facts.functions if f.owner == name]
            abstract = t["abstract"]
            facts.types.append(TypeDecl(
                name=name, kind=t["kind"], bases=tuple(t["bases"]), fields=tuple(t["fields"]),
                methods=tuple(abstract + methods), abstract_methods=tuple(abstract), concrete_methods=tuple(methods),
                enum_like=t["kind"] == "alias" and name in self.iota_types, has_body=True, package=self.package,
                block=self.block))
        return facts

    # --- package, imports -----------------------------------------------------------------------------------
    def visit_package_clause(self, node: Node, scope: Scope):
        name = next((text(c) for c in node.named_children if c.type == "package_identifier"), "")
        self.package = name
        self.facts.packages.append((name, self.block))
        return SKIP

    def visit_import_spec(self, node: Node, scope: Scope):
        path = node.child_by_field_name("path")
        alias = node.child_by_field_name("name")
        self.facts.imports.append(Import(text(path).strip('"`'), (), text(alias) if alias is not None else None))
        return SKIP

    # --- types ----------------------------------------------------------------------------------------------
    def _type_spec(self, node: Node, scope: Scope):
        name = text(node.child_by_field_name("name"))
        typ = node.child_by_field_name("type")
        record = {"kind": "alias", "bases": [], "fields": [], "abstract": []}
        if typ is not None and typ.type == "struct_type":
            record["kind"] = "struct"
            fields = next((c for c in typ.named_children if c.type == "field_declaration_list"), None)
            for field in (fields.named_children if fields is not None else []):
                if field.type != "field_declaration":
                    continue
                names = [text(n) for n in field.children_by_field_name("name")]
                ftype = field.child_by_field_name("type")
                if names:
                    record["fields"] += names
                    for n in names:
                        self._variable(n, "field", text(ftype), None, False, field, scope.but(owner=name))
                else:  # an embedded type
                    record["bases"].append(type_name(ftype))
        elif typ is not None and typ.type == "interface_type":
            record["kind"] = "interface"
            for elem in typ.named_children:
                if elem.type in ("method_elem", "method_spec"):
                    record["abstract"].append(text(elem.child_by_field_name("name")))
                elif elem.type in ("type_elem", "constraint_elem", "interface_type_name"):
                    record["bases"].append(type_name(elem.named_children[0] if elem.named_children else elem))
        self.named[name] = record
        return None

    visit_type_spec = visit_type_alias = _type_spec

    # --- functions ------------------------------------------------------------------------------------------
    def _params(self, node: Node | None) -> tuple[Param, ...]:
        out = []
        for child in (node.named_children if node is not None else []):
            if child.type in ("parameter_declaration", "variadic_parameter_declaration"):
                typ = text(child.child_by_field_name("type"))
                if child.type == "variadic_parameter_declaration":
                    typ = "..." + typ
                names = [text(n) for n in child.children_by_field_name("name")]
                for n in names or [""]:
                    out.append(Param(n, typ))
        return tuple(out)

    def _function(self, node: Node, scope: Scope, owner: str | None):
        name = text(node.child_by_field_name("name"))
        params = self._params(node.child_by_field_name("parameters"))
        result = node.child_by_field_name("result")
        body = node.child_by_field_name("body")
        self.facts.functions.append(Function(
            name=name, kind="method" if owner else "function", owner=owner, params=params,
            return_type=text(result) if result is not None else None, returns=(), lines=self.lines_of(node),
            code_lines=self.code_lines_in(node), body_lines=self.body_lines_in(body), has_body=body is not None,
            override=False, package=self.package,
            block=self.block))
        for p in params:
            if p.name:
                self._variable(p.name, "param", p.type, None, False, node, scope)
        if result is not None and result.type == "parameter_list":  # named results are the body's variables
            for p in self._params(result):
                if p.name:
                    self._variable(p.name, "local", p.type, None, False, node, scope)
        return Scope(kind="function", owner=owner, function=node)

    def visit_function_declaration(self, node: Node, scope: Scope):
        return self._function(node, scope, None)

    def visit_method_declaration(self, node: Node, scope: Scope):
        receiver = node.child_by_field_name("receiver")
        owner = None
        for p in (receiver.named_children if receiver is not None else []):
            if p.type == "parameter_declaration":
                owner = type_name(p.child_by_field_name("type"))
        return self._function(node, scope, owner)

    def visit_func_literal(self, node: Node, scope: Scope):
        for p in self._params(node.child_by_field_name("parameters")):
            if p.name:
                self._variable(p.name, "param", p.type, None, False, node, scope)

    def visit_receive_statement(self, node: Node, scope: Scope):  # select { case v := <-ch: }
        left = node.child_by_field_name("left")
        if left is not None and any(c.type == ":=" for c in node.children):
            for n in left.named_children:
                if n.type == "identifier":
                    self._variable(text(n), "local", None, None, False, node, scope)
        return None

    # --- variables ------------------------------------------------------------------------------------------
    def _variable(self, name: str, where: str, typ: str | None, value: Node | None, constant: bool, node: Node,
                  scope: Scope) -> None:
        if not name or name == "_":
            return
        self.facts.variables.append(Variable(
            name=name, scope=where, type=typ, value=text(value) if value is not None else None,
            value_kind=kind_of(value), constant=constant, static=False, in_main_guard=False,
            owner=scope.owner if where == "field" else None, line=node.start_point[0] + 1, block=self.block))

    def _where(self, scope: Scope) -> str:
        return "global" if scope.kind == "module" else "local"

    def visit_var_spec(self, node: Node, scope: Scope):
        self._spec(node, scope, constant=False)
        return None

    def visit_const_declaration(self, node: Node, scope: Scope):
        current_type, iota = None, False
        for spec in node.named_children:
            if spec.type != "const_spec":
                continue
            typ = spec.child_by_field_name("type")
            value = spec.child_by_field_name("value")
            if value is not None:
                iota = "iota" in text(value)
                current_type = text(typ) if typ is not None else None
            elif typ is not None:
                current_type = text(typ)
            if iota and current_type:
                self.iota_types.add(current_type)
            self._spec(spec, scope, constant=True, inherited_type=current_type)
        return None

    def _spec(self, node: Node, scope: Scope, constant: bool, inherited_type: str | None = None) -> None:
        names = [text(n) for n in node.children_by_field_name("name")]
        typ = node.child_by_field_name("type")
        value = node.child_by_field_name("value")
        values = value.named_children if value is not None else []
        for i, name in enumerate(names):
            v = values[i] if i < len(values) else None
            self._variable(name, self._where(scope), text(typ) if typ is not None else inherited_type, v, constant,
                           node, scope)
            if v is not None:
                self._instantiation(name, v)

    def visit_short_var_declaration(self, node: Node, scope: Scope):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        names = [text(n) for n in (left.named_children if left is not None else []) if n.type == "identifier"]
        values = right.named_children if right is not None else []
        for i, name in enumerate(names):
            v = values[i] if i < len(values) and len(values) == len(names) else None
            self._variable(name, self._where(scope), None, v, False, node, scope)
            if v is not None:
                self._instantiation(name, v)
        return None

    def _instantiation(self, target: str, value: Node) -> None:
        node = value
        if node.type == "unary_expression" and text(node).startswith("&"):
            node = node.child_by_field_name("operand") or node
        if node.type == "composite_literal":
            typ = node.child_by_field_name("type")
            if typ is None or typ.type in TYPE_KINDS:
                return
            body = node.child_by_field_name("body")
            elements = body.named_children if body is not None else []
            self._record_instantiation(target, type_name(typ), elements, "construct")
        elif node.type == "call_expression":
            fn = node.child_by_field_name("function")
            name = text(fn.child_by_field_name("field")) if fn is not None and fn.type == "selector_expression" \
                else text(fn)
            args = node.child_by_field_name("arguments")
            arg_nodes = args.named_children if args is not None else []
            if name.startswith("New") or name.startswith("new"):
                self._record_instantiation(target, name[3:] or None, arg_nodes, "factory")

    def visit_range_clause(self, node: Node, scope: Scope):
        left = node.child_by_field_name("left")
        for n in (left.named_children if left is not None else []):
            if n.type == "identifier":
                self._variable(text(n), "loop", None, None, False, node, scope)
        return None

    # --- control flow, data structures, calls ---------------------------------------------------------------
    def visit_for_statement(self, node: Node, scope: Scope):
        clauses = [c for c in node.named_children if c.type != "block"]
        if not clauses:
            self.facts.constructs["for_bare"] += 1
        elif clauses[0].type == "for_clause":
            self.facts.constructs["for"] += 1
        elif clauses[0].type == "range_clause":
            self.facts.constructs["foreach"] += 1
        else:
            self.facts.constructs["for_condition"] += 1
        return None

    def visit_type_switch_statement(self, node: Node, scope: Scope):
        alias = node.child_by_field_name("alias")
        for n in (alias.named_children if alias is not None else []):
            if n.type == "identifier":
                self._variable(text(n), "local", None, None, False, node, scope)

    def visit_call_expression(self, node: Node, scope: Scope):
        fn = node.child_by_field_name("function")
        if fn is not None and fn.type == "selector_expression":
            field, operand = fn.child_by_field_name("field"), fn.child_by_field_name("operand")
            self.facts.calls.append(Call(text(field), text(operand)))
        elif fn is not None:
            self.facts.calls.append(Call(text(fn), ""))
        return None


def extract(code: str, block: int = 0):
    return GoExtractor(code, block).run()
