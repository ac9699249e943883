"""Facts of C++ (and C) code, from tree-sitter-cpp's syntax tree (the code is never compiled or run)."""

from __future__ import annotations

from tree_sitter import Node

from .facts import Call, Function, Import, Param, TypeDecl, Variable
from .syntax import SKIP, Extractor, Scope, text

LITERALS = {"string_literal": "str", "raw_string_literal": "str", "concatenated_string": "str", "char_literal": "char",
            "true": "bool", "false": "bool", "nullptr": "null", "null": "null", "initializer_list": "braces",
            "lambda_expression": "lambda"}
SPECIFIERS = {"class_specifier": "class", "struct_specifier": "struct", "union_specifier": "union",
              "enum_specifier": "enum"}
# Declarator wrappers, and what they add to the declared type.
WRAPPERS = {"pointer_declarator": "*", "reference_declarator": "&", "array_declarator": "[]", "init_declarator": "",
            "parenthesized_declarator": "", "attributed_declarator": ""}


def kind_of(node: Node | None) -> str | None:
    while node is not None and node.type in ("parenthesized_expression",) and node.named_child_count == 1:
        node = node.named_children[0]
    if node is None:
        return None
    if node.type == "unary_expression":
        return kind_of(node.child_by_field_name("argument"))
    if node.type == "number_literal":
        t = text(node).lower()
        if t.startswith("0x"):
            return "int"
        if "." in t or "e" in t or t.endswith("f"):
            return "float" if t.endswith("f") else "double"
        return "long" if t.endswith("l") else "int"
    if node.type == "new_expression":
        return f"new:{last_part(node.child_by_field_name('type'))}"
    return LITERALS.get(node.type)


def last_part(node: Node | None) -> str:
    """`std::vector<int>` -> vector, `Box` -> Box."""
    if node is None:
        return ""
    if node.type == "qualified_identifier":
        return last_part(node.child_by_field_name("name"))
    if node.type in ("template_type", "template_function"):
        return last_part(node.child_by_field_name("name"))
    return text(node)


def declarator_name(node: Node | None) -> tuple[str, str, Node | None]:
    """(name, type suffix from the wrappers, the function_declarator if it declares a function)."""
    suffix = ""
    while node is not None:
        if node.type == "function_declarator":
            inner, _, _ = declarator_name(node.child_by_field_name("declarator"))
            return inner, suffix, node
        if node.type in WRAPPERS:
            suffix += WRAPPERS[node.type]
            inner = node.child_by_field_name("declarator")
            if inner is None:
                inner = next((c for c in node.named_children if c.type not in ("type_qualifier",)), None)
            node = inner
            continue
        if node.type in ("identifier", "field_identifier", "type_identifier", "destructor_name", "operator_name"):
            return text(node), suffix, None
        if node.type == "qualified_identifier":
            return text(node), suffix, None
        return text(node), suffix, None
    return "", suffix, None


class CppExtractor(Extractor):
    language = "cpp"
    OPAQUE_TYPES = frozenset({"string_literal", "raw_string_literal", "char_literal", "system_lib_string"})
    ARGUMENT_NAME_TYPES = frozenset({"identifier", "field_identifier"})
    CONSTRUCTS = {
        "for_statement": ("for",), "for_range_loop": ("foreach",), "while_statement": ("while",),
        "do_statement": ("do_while",), "if_statement": ("if",), "conditional_expression": ("ternary",),
        "switch_statement": ("switch",), "lambda_expression": ("lambda",), "array_declarator": ("array",),
    }

    def __init__(self, code: str, block: int, language: str = "cpp"):
        super().__init__(code, block)
        self.language = language
        self.facts.language = language
        self.classes: dict[int, dict] = {}

    def run(self):
        facts = super().run()
        for c in self.classes.values():
            methods = tuple(dict.fromkeys(c["methods"]))
            facts.types.append(TypeDecl(
                name=c["name"], kind=c["kind"], bases=tuple(c["bases"]), fields=tuple(c["fields"]), methods=methods,
                abstract_methods=tuple(c["abstract"]),
                concrete_methods=tuple(m for m in methods if m not in c["abstract"]),
                enum_like=c["kind"] == "enum", has_body=True, package=c["namespace"], block=self.block))
        return facts

    @staticmethod
    def _qualifiers(node: Node) -> set[str]:
        words = set()
        for child in node.children:
            if child.type in ("type_qualifier", "storage_class_specifier", "virtual"):
                words.add(text(child))
            elif child.type == "virtual_specifier" or (not child.is_named and text(child) == "virtual"):
                words.add(text(child))
        return words

    # --- preprocessor, namespaces ---------------------------------------------------------------------------
    def visit_preproc_include(self, node: Node, scope: Scope):
        path = node.child_by_field_name("path")
        self.facts.imports.append(Import(text(path).strip('<>"')))
        return SKIP

    def visit_preproc_def(self, node: Node, scope: Scope):
        name = text(node.child_by_field_name("name"))
        value = node.child_by_field_name("value")
        self.facts.variables.append(Variable(
            name=name, scope="global", type=None, value=text(value).strip() if value is not None else None,
            value_kind=None, constant=True, static=False, in_main_guard=False, owner=None,
            line=node.start_point[0] + 1, block=self.block))
        return SKIP

    def visit_namespace_definition(self, node: Node, scope: Scope):
        name = node.child_by_field_name("name")
        if name is None:
            return None
        self.facts.namespaces.append(text(name))
        return scope.but(namespace=text(name))

    # --- types ----------------------------------------------------------------------------------------------
    def _specifier(self, node: Node, scope: Scope, name: str | None = None):
        body = node.child_by_field_name("body")
        name = name or last_part(node.child_by_field_name("name"))
        if body is None or not name:
            return None
        bases = []
        for child in node.children:
            if child.type == "base_class_clause":
                bases += [last_part(c) for c in child.named_children
                          if c.type in ("type_identifier", "qualified_identifier", "template_type")]
        record = {"name": name, "kind": SPECIFIERS[node.type], "bases": bases, "fields": [], "methods": [],
                  "abstract": [], "namespace": scope.namespace}
        if node.type == "enum_specifier":
            record["fields"] = [text(e.child_by_field_name("name")) for e in body.named_children
                                if e.type == "enumerator"]
        self.classes[node.id] = record
        return Scope(kind="class", owner=name, type_key=node.id, namespace=scope.namespace)

    def visit_class_specifier(self, node: Node, scope: Scope):
        return self._specifier(node, scope)

    visit_struct_specifier = visit_union_specifier = visit_enum_specifier = visit_class_specifier

    def visit_type_definition(self, node: Node, scope: Scope):
        typ = node.child_by_field_name("type")
        declarator = node.child_by_field_name("declarator")
        if typ is not None and typ.type in SPECIFIERS and typ.child_by_field_name("body") is not None:
            name = last_part(typ.child_by_field_name("name")) or declarator_name(declarator)[0]
            inner = self._specifier(typ, scope, name)
            if inner is not None:
                for child in typ.children:
                    self._structure(child, inner)
            return SKIP
        return None

    def _record(self, scope: Scope) -> dict | None:
        return self.classes.get(scope.type_key) if scope.kind == "class" else None

    # --- functions ------------------------------------------------------------------------------------------
    def _params(self, node: Node | None) -> tuple[Param, ...]:
        out = []
        for child in (node.named_children if node is not None else []):
            if child.type in ("parameter_declaration", "optional_parameter_declaration",
                              "variadic_parameter_declaration"):
                name, suffix, _ = declarator_name(child.child_by_field_name("declarator"))
                typ = text(child.child_by_field_name("type")) + suffix
                if name or typ != "void":
                    out.append(Param(name.lstrip("*&."), typ))
            elif child.type == "variadic_declarator" or text(child) == "...":
                out.append(Param("...", "..."))
        return tuple(out)

    def _function(self, node: Node, scope: Scope, declarator: Node, has_body: bool, typ: Node | None, suffix: str):
        name_node = declarator.child_by_field_name("declarator")
        full, _, _ = declarator_name(name_node)
        owner = scope.owner if scope.kind == "class" else None
        name = full
        if name_node is not None and name_node.type == "qualified_identifier":
            scope_part = name_node.child_by_field_name("scope")
            owner = last_part(scope_part) or owner
            name = last_part(name_node.child_by_field_name("name"))
            inner = name_node.child_by_field_name("name")
            if inner is not None and inner.type in ("destructor_name", "operator_name"):
                name_node = inner
        if name_node is not None and name_node.type == "destructor_name":
            kind = "destructor"
        elif name_node is not None and name_node.type == "operator_name" or name.startswith("operator"):
            kind = "operator"
        elif owner is not None and name == owner:
            kind = "constructor"
        else:
            kind = "method" if owner is not None else "function"
        words = self._qualifiers(node) | {text(c) for c in declarator.children if c.type == "virtual_specifier"}
        words |= {text(v) for c in declarator.children if c.type == "virtual_specifier" for v in c.children}
        params = self._params(declarator.child_by_field_name("parameters"))
        self.facts.functions.append(Function(
            name=name, kind=kind, owner=owner, params=params,
            return_type=(text(typ) + suffix) if typ is not None else None, returns=(), lines=self.lines_of(node),
            code_lines=self.code_lines_in(node), body_lines=self.body_lines_in(node.child_by_field_name("body")),
            has_body=has_body, override="override" in words or "final" in words,
            package=scope.namespace, block=self.block))
        record = self._record(scope)
        if record is None and owner is not None:
            record = next((c for c in self.classes.values() if c["name"] == owner), None)
        if record is not None and kind in ("method", "operator"):
            record["methods"].append(name)
            pure = any(c.type == "number_literal" and text(c) == "0" for c in node.children)
            if not has_body and pure:
                record["abstract"].append(name)
        if has_body:
            for p in params:
                if p.name and p.name != "...":
                    self._variable(p.name, "param", p.type, None, set(), node, scope)
        return Scope(kind="function", owner=owner, function=node, namespace=scope.namespace)

    def visit_function_definition(self, node: Node, scope: Scope):
        name, suffix, declarator = declarator_name(node.child_by_field_name("declarator"))
        if declarator is None:
            return None
        return self._function(node, scope, declarator, True, node.child_by_field_name("type"), suffix)

    # --- declarations ---------------------------------------------------------------------------------------
    def _variable(self, name: str, where: str, typ: str | None, value: Node | None, words: set[str], node: Node,
                  scope: Scope) -> None:
        if not name:
            return
        self.facts.variables.append(Variable(
            name=name, scope=where, type=typ, value=text(value) if value is not None else None,
            value_kind=kind_of(value), constant=bool(words & {"const", "constexpr"}), static="static" in words,
            in_main_guard=False, owner=scope.owner if where == "field" else None, line=node.start_point[0] + 1,
            block=self.block))

    def _declaration(self, node: Node, scope: Scope, where: str):
        typ = node.child_by_field_name("type")
        words = self._qualifiers(node)
        for declarator in node.children_by_field_name("declarator"):
            name, suffix, function = declarator_name(declarator)
            if function is not None and scope.kind == "function" and self._looks_like_construction(function):
                # `Circle unit(radius);` in a body: C++'s most vexing parse; an object is what code there means
                params = function.child_by_field_name("parameters")
                args = params.named_children if params is not None else []
                self._variable(name, "local", text(typ) + suffix if typ is not None else None, None, words,
                               declarator, scope)
                self._record_instantiation(name, last_part(typ), args, "construct")
                continue
            if function is not None:
                self._function(node, scope, function, False, typ, suffix)
                continue
            value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
            inner = declarator.child_by_field_name("declarator") if declarator.type == "init_declarator" else declarator
            if inner is not None and inner.type == "structured_binding_declarator":  # auto [a, b] = ...
                for n in inner.named_children:
                    if n.type == "identifier":
                        self._variable(text(n), where, None, None, words, declarator, scope)
                continue
            if where == "field" and value is None:
                value = node.child_by_field_name("default_value")
            type_text = text(typ) + suffix if typ is not None else None
            var_words = words
            pointer = inner if inner is not None and inner.type == "pointer_declarator" else None
            if pointer is not None:  # `int* const p`: the pointer is constant; `const int* p`: only what it points to
                own = any(c.type == "type_qualifier" and text(c) == "const" for c in pointer.children)
                if own:
                    var_words = words | {"const"}
                elif "const" in words:
                    var_words = words - {"const"}
                    type_text = "const " + type_text if type_text else type_text
            self._variable(name, where, type_text, value, var_words, declarator, scope)
            record = self._record(scope)
            if where == "field" and record is not None:
                record["fields"].append(name)
            if where != "field":
                self._instantiation(name, typ, value, declarator)
        return None

    @staticmethod
    def _looks_like_construction(function: Node) -> bool:
        """A declarator `name(a, b)` whose "parameters" are bare names (no declarator, no builtin type)."""
        params = function.child_by_field_name("parameters")
        items = params.named_children if params is not None else []
        return bool(items) and all(
            p.type == "parameter_declaration" and p.child_by_field_name("declarator") is None
            and (p.child_by_field_name("type") is not None and p.child_by_field_name("type").type == "type_identifier")
            for p in items)

    def visit_declaration(self, node: Node, scope: Scope):
        where = "global" if scope.kind == "module" else ("field" if scope.kind == "class" else "local")
        return self._declaration(node, scope, where)

    def visit_field_declaration(self, node: Node, scope: Scope):
        return self._declaration(node, scope, "field")

    def _instantiation(self, target: str, typ: Node | None, value: Node | None, declarator: Node) -> None:
        type_name = last_part(typ)
        arg_nodes: list[Node] = []
        form, class_name = "other", None
        if value is None:
            if typ is not None and typ.type in ("type_identifier", "qualified_identifier", "template_type"):
                form, class_name = "construct", type_name  # `Box b;`
        elif value.type in ("argument_list", "initializer_list"):
            form, class_name, arg_nodes = "construct", type_name, value.named_children
        elif value.type == "new_expression":
            args = value.child_by_field_name("arguments")
            form, class_name = "construct", last_part(value.child_by_field_name("type"))
            arg_nodes = args.named_children if args is not None else []
        elif value.type in ("call_expression", "compound_literal_expression"):
            fn = value.child_by_field_name("function") or value.child_by_field_name("type")
            args = value.child_by_field_name("arguments") or value.child_by_field_name("value")
            arg_nodes = args.named_children if args is not None else []
            name = last_part(fn)
            if fn is not None and fn.type == "qualified_identifier" and (fn.child_by_field_name("name") is not None
                                                                         and fn.child_by_field_name("name").type
                                                                         == "template_function"):
                tf = fn.child_by_field_name("name")
                targs = tf.child_by_field_name("arguments")
                inner = targs.named_children[0] if targs is not None and targs.named_children else None
                form, class_name = "factory", last_part(inner.child_by_field_name("type") if inner is not None and
                                                        inner.type == "type_descriptor" else inner)
            else:
                form, class_name = ("construct" if name and name[0].isupper() else "other"), name
        else:
            return
        if class_name is None:
            return
        self._record_instantiation(target, class_name, arg_nodes, form)

    # --- control flow, calls --------------------------------------------------------------------------------
    def visit_for_range_loop(self, node: Node, scope: Scope):
        name, suffix, _ = declarator_name(node.child_by_field_name("declarator"))
        typ = node.child_by_field_name("type")
        self._variable(name, "loop", (text(typ) + suffix) if typ is not None else None, None, set(), node, scope)
        return None

    def visit_lambda_expression(self, node: Node, scope: Scope):
        declarator = node.child_by_field_name("declarator")
        for p in self._params(declarator.child_by_field_name("parameters") if declarator is not None else None):
            if p.name and p.name != "...":
                self._variable(p.name, "param", p.type, None, set(), node, scope)

    def visit_catch_clause(self, node: Node, scope: Scope):
        for p in self._params(node.child_by_field_name("parameters")):
            if p.name and p.name != "...":
                self._variable(p.name, "local", p.type, None, set(), node, scope)
        return None

    def visit_call_expression(self, node: Node, scope: Scope):
        fn = node.child_by_field_name("function")
        if fn is None:
            return None
        if fn.type == "field_expression":
            field, obj = fn.child_by_field_name("field"), fn.child_by_field_name("argument")
            self.facts.calls.append(Call(text(field), text(obj)))
        elif fn.type == "qualified_identifier":
            self.facts.calls.append(Call(last_part(fn), text(fn.child_by_field_name("scope"))))
        else:
            self.facts.calls.append(Call(last_part(fn), ""))
        return None


def extract(code: str, block: int = 0, language: str = "cpp"):
    return CppExtractor(code, block, language).run()
