"""The checkers on hand-written code: for every template, in each language, code that meets the constraint and
code that breaks it; where a language cannot decide a template (a Python "package", a Go "while-loop"), that it
says so instead of guessing. Malformed code gets "undecided" with the reason, never an exception."""

from __future__ import annotations

import pytest

from tests.codeif.conftest import codeif_module
from tests.codeif.programs import response

checkers = codeif_module("checkers")
program = codeif_module("program")
templates = codeif_module("templates")

LANGUAGE_NAME = {"python": "Python", "java": "Java", "cpp": "C++", "go": "Go"}
ALL = ("python", "java", "cpp", "go")

# (instruction, {language: (answer on A, answer on B)}); "*" stands for every language.
CASES: list[tuple[str, dict[str, tuple[str, str]]]] = [
    ("Your entire response should be written in {L}, the use of other programming languages is not allowed.",
     {"*": ("yes", "no")}),
    ("Your code lines should not exceed 80 characters.", {"*": ("yes", "no")}),
    ("Your code should use global variables.",
     {"python": ("yes", "no"), "java": ("undecided", "undecided"), "cpp": ("yes", "no"), "go": ("yes", "no")}),
    ("Your code should not use global variables.",
     {"python": ("no", "yes"), "java": ("undecided", "undecided"), "cpp": ("no", "yes"), "go": ("no", "yes")}),
    ("Your function should have at most 2 parameters.", {"*": ("yes", "no")}),
    ("Your code should not have more than 10 functions.", {"*": ("yes", "yes")}),
    ("Your code should not have more than 1 function.", {"*": ("no", "no")}),
    ("Your code should not have more than 3 functions.", {"python": ("undecided", "undecided")}),  # methods?
    ("Your code should not have more than 5 classes.", {"*": ("yes", "yes")}),
    ("Your code should not have more than 0 classes.", {"*": ("no", "no")}),
    ("Your code should not use the global keyword.", {"python": ("no", "yes")}),
    ("Your code should use the global keyword.", {"python": ("yes", "no")}),
    ("Your code should not use the final keyword.", {"java": ("no", "yes")}),
    ("Your code should use the final keyword.", {"java": ("yes", "no")}),
    ("Your code should not use the goto keyword.", {"cpp": ("yes", "no"), "go": ("yes", "no")}),
    ("Your code should use the `goto` keyword.", {"cpp": ("no", "yes"), "go": ("no", "yes")}),
    ("Your code should use data structure list.", {"python": ("yes", "no")}),
    ("Your code should not use data structure list.", {"python": ("no", "yes")}),
    ("Your code should use data structure ArrayList.", {"java": ("yes", "no")}),
    ("Your code should not use data structure ArrayList.", {"java": ("no", "yes")}),
    ("Your code should use data structure vector.", {"cpp": ("yes", "no")}),
    ("Your code should not use data structure `vector`.", {"cpp": ("no", "yes")}),
    ("Your code should use data structure slice.", {"go": ("yes", "no")}),
    ("Your code should not use data structure slice.", {"go": ("no", "yes")}),
    ("Your code should use for-loop.",
     {"python": ("yes", "no"), "java": ("yes", "no"), "cpp": ("yes", "no"), "go": ("yes", "undecided")}),
    ("Your code should not use for-loop.",
     {"python": ("no", "yes"), "java": ("no", "yes"), "cpp": ("no", "yes"), "go": ("no", "undecided")}),
    ("Your code should use while-loop.",
     {"python": ("no", "yes"), "java": ("no", "yes"), "cpp": ("no", "yes"), "go": ("no", "undecided")}),
    ("Your code should not use while-loop.",
     {"python": ("yes", "no"), "java": ("yes", "no"), "cpp": ("yes", "no"), "go": ("yes", "undecided")}),
    ("Your code should use if statement for decision making.", {"*": ("yes", "no")}),
    ("Your code should not use if statement for decision making.", {"*": ("no", "yes")}),
    ("Your code should use switch statement for decision making.",
     {"python": ("undecided", "no"), "java": ("yes", "no"), "cpp": ("yes", "no"), "go": ("yes", "no")}),
    ("Your code should not use switch statement for decision making.",
     {"python": ("undecided", "yes"), "java": ("no", "yes"), "cpp": ("no", "yes"), "go": ("no", "yes")}),
    ("Your code should define a variable named `total`.", {"*": ("yes", "no")}),
    ("Your code should define an enumeration named Color", {"*": ("yes", "no")}),
    ("Variable total, type should be int.", {"python": ("yes", "no"), "java": ("yes", "no"), "cpp": ("yes", "no")}),
    ("Variable counter, type should be int.", {"go": ("yes", "no")}),
    ("Variable total, type should be float64.", {"go": ("yes", "no")}),
    ("Variable total, type should be str.", {"python": ("no", "no"), "java": ("no", "no"), "cpp": ("no", "no")}),
    ("Variable counter, should be a global variable.",
     {"python": ("yes", "no"), "cpp": ("yes", "no"), "go": ("yes", "no"), "java": ("no", "undecided")}),
    ("Variable total, should be a global variable.", {"*": ("no", "no")}),
    ("Variable total, should not be a global variable.", {"*": ("yes", "undecided")}),
    ("Variable counter, should not be a global variable.",
     {"python": ("no", "undecided"), "cpp": ("no", "undecided"), "go": ("no", "undecided")}),
    ("Variable total, the initial value should be 0.", {"*": ("yes", "no")}),
    ("Variable radius, the initial value should be 5.",
     {"java": ("no", "no"), "cpp": ("no", "no"), "go": ("no", "no")}),
    ("Variable counter, the initial value should be 5.", {"python": ("no", "no")}),
    # Python: is `radius` the global (2.0) or the field self.radius (set from a parameter)? Not a literal either way
    ("Variable radius, the initial value should be 2.0.", {"python": ("undecided", "no")}),
    ("Variable MAX_SIZE, should be a constant.",
     {"python": ("yes", "no"), "java": ("yes", "no"), "cpp": ("yes", "no")}),
    ("Variable MaxSize, should be a constant.", {"go": ("yes", "no")}),
    ("Variable total, should be a constant.", {"*": ("no", "no")}),
    ("Variable total should not be a constant.", {"*": ("yes", "undecided")}),
    ("Variable MAX_SIZE should not be a constant.", {"python": ("no", "undecided"), "java": ("no", "undecided"),
                                                     "cpp": ("no", "undecided")}),
    ("Variable MaxSize should not be a constant.", {"go": ("no", "undecided")}),
    ("Your code should include a function named make_circle.", {"python": ("yes", "no")}),
    ("Your code should include a function named totalArea.", {"java": ("yes", "no"), "cpp": ("yes", "no")}),
    ("Your code should include a function named TotalArea.", {"go": ("yes", "no")}),
    ("Your code should not use any functions from the ['getcwd'].", {"python": ("yes", "no")}),
    ("Your code should not use any functions from the ['println'].", {"java": ("no", "yes")}),
    ("Your code should not use any functions from the `push_back`.", {"cpp": ("no", "yes")}),
    ("Your code should not use any functions from the ['Getenv'].", {"go": ("yes", "no")}),
    ("Your code should define an interface named Shape.", {"*": ("yes", "no")}),
    ("Your code should define a class named Circle.", {"*": ("yes", "no")}),
    ("The class names in your code should follow the PascalCase naming convention.", {"*": ("yes", "no")}),
    ("Your code should be organized in a package named geometry.",
     {"python": ("undecided", "undecided"), "java": ("yes", "no"), "cpp": ("yes", "undecided"), "go": ("yes", "no")}),
    ("Your code should import the following libraries ['math'].", {"python": ("yes", "no"), "go": ("yes", "no")}),
    ("Your code should import the following libraries ['java.util.List'].", {"java": ("yes", "no")}),
    ("Your code should import the following libraries: `vector`, `iostream`.", {"cpp": ("yes", "no")}),
    ("Your code should use the function getcwd from the library os.", {"python": ("no", "yes")}),
    ("Your code should use the function add from the library java.util.List.", {"java": ("yes", "no")}),
    ("Your code should use the function push_back from the library vector.", {"cpp": ("yes", "no")}),
    ("Your code should use the function Println from the library fmt.", {"go": ("yes", "no")}),
    ("Your code should not use the following libraries ['os'].", {"python": ("yes", "no"), "go": ("yes", "no")}),
    ("Your code should not use the following libraries ['java.util.stream'].", {"java": ("yes", "no")}),
    ("Your code should not use the following libraries: map.", {"cpp": ("yes", "no")}),
    ("You should initialize an object named unit as an instance of the Circle class using ['radius'] for "
     "initialization.", {"*": ("yes", "no")}),
    ("You should define an interface named Shape that includes these methods ['area'].",
     {"python": ("yes", "no"), "java": ("yes", "no"), "cpp": ("yes", "no")}),
    ("You should define an interface named Shape that includes these methods ['Area'].", {"go": ("yes", "no")}),
    ("Your code should define a class named Circle that implements the Shape interface.", {"*": ("yes", "no")}),
    ("In your code, the class Circle should have these properties ['radius', 'label'].", {"*": ("yes", "no")}),
    ("In your code, the class circle_shape should have these properties ['label'].", {"*": ("no", "no")}),
    ("In your code, the class Circle should have these methods ['area', 'describe'].",
     {"python": ("yes", "no"), "java": ("yes", "no"), "cpp": ("yes", "no")}),
    ("In your code, the class Circle should have these methods ['Area', 'Describe'].", {"go": ("yes", "no")}),
    ("In your code, the class circle_shape should have these methods ['describe'].", {"*": ("no", "no")}),
    ("The function make_circle should take ['radius'] as parameters.", {"python": ("yes", "no")}),
    ("The function totalArea should take shapes as a parameter.", {"java": ("yes", "no"), "cpp": ("yes", "no")}),
    ("The function TotalArea should take ['shapes'] as parameters.", {"go": ("yes", "no")}),
    ("The function MakeShape should take ['radius'] as parameters.", {"*": ("no", "no")}),
    ("The function area should return a float as its result.", {"python": ("yes", "no")}),
    ("The function area should return a double as its result.", {"java": ("yes", "no"), "cpp": ("yes", "no")}),
    ("The function Area should return a float64 as its result.", {"go": ("yes", "no")}),
    ("The function MakeShape should return a str as its result.", {"python": ("no", "no")}),
    ("The function Area should return a String as its result.", {"java": ("no", "no"), "cpp": ("no", "no")}),
    ("The function Perimeter should return a string as its result.", {"go": ("no", "no")}),
    ("Your code should be organized in a package named geometry, which should contain these classes Circle, Shape.",
     {"python": ("undecided", "no"), "java": ("yes", "no"), "cpp": ("yes", "no"), "go": ("yes", "no")}),
    ("Your code should be organized in a package named geometry, which should contain these functions totalArea.",
     {"java": ("yes", "no"), "cpp": ("yes", "no")}),
    ("Your code should be organized in a package named geometry, which should contain these functions TotalArea.",
     {"go": ("yes", "no")}),
    ("Your code should be organized in a package named geometry, which should contain these functions make_circle.",
     {"python": ("undecided", "no")}),
    ("Your function should not exceed 12 lines.", {"*": ("yes", "yes")}),
    ("Your function should not exceed 2 lines.", {"*": ("no", "no")}),
    ("Your answer in total should not exceed 200 lines.", {"*": ("yes", "yes")}),
    ("Your answer in total should not exceed 5 lines.", {"*": ("no", "no")}),
]


def expand() -> list[tuple[str, str, str, str]]:
    out = []
    for instruction, expected in CASES:
        for lang in ALL:
            pair = expected.get(lang) or expected.get("*")
            if pair is None:
                continue
            text = instruction.replace("{L}", LANGUAGE_NAME[lang])
            for which, answer in zip("AB", pair):
                out.append((lang, which, text, answer))
    return out


_PROGRAMS: dict[tuple[str, str], object] = {}


def read(lang: str, which: str):
    if (lang, which) not in _PROGRAMS:
        _PROGRAMS[(lang, which)] = program.read_program(response(lang, which), lang)
    return _PROGRAMS[(lang, which)]


@pytest.mark.parametrize("lang,which,instruction,expected", expand(),
                         ids=[f"{c[0]}-{c[1]}-{c[2][:60]}" for c in expand()])
def test_checker_on_hand_written_code(lang, which, instruction, expected):
    constraint = templates.match(instruction)
    assert constraint.template is not None, f"no template matches {instruction!r}"
    decision = checkers.decide(constraint, read(lang, which))
    assert decision.answer == expected, f"{lang} {which}: {instruction!r} -> {decision}"
    assert decision.reason


# Small programs where A and B above cannot show a side: one per case.
SNIPPETS = [
    ("java", "class Box { int size; int grow() { int next = size + 1; return next; } }",
     "Your code should not use global variables.", "yes"),
    ("java", "class Box { int size; int grow() { int next = size + 1; return next; } }",
     "Your code should use global variables.", "no"),
    ("go", "package main\nfunc main() { x := 1\n_ = x }", "Your code should use for-loop.", "no"),
    ("go", "package main\nfunc main() { x := 1\n_ = x }", "Your code should not use for-loop.", "yes"),
    ("go", "package main\nfunc main() { x := 1\n_ = x }", "Your code should use while-loop.", "no"),
    ("python", "total_count = 0\nfor item_name in []:\n    total_count += 1\n",
     "The variable names in your code should follow the snake_case naming convention", "yes"),
    ("python", "totalCount = 0\n", "The variable names in your code should follow the snake_case naming convention",
     "no"),
    ("java", "class A { void f() { int itemCount = 0; for (int i = 0; i < 2; i++) { itemCount++; } } }",
     "The variable names in your code should follow the camelCase naming convention", "yes"),
    ("java", "class A { void f() { int item_count = 0; } }",
     "The variable names in your code should follow the camelCase naming convention", "no"),
    ("cpp", "int main() { int itemCount = 0; return itemCount; }",
     "The variable names in your code should follow the camelCase naming convention", "yes"),
    ("cpp", "int main() { int item_count = 0; return item_count; }",
     "The variable names in your code should follow the camelCase naming convention", "no"),
    ("go", "package main\nfunc main() { itemCount := 0\n_ = itemCount }",
     "The variable names in your code should follow the camelCase naming convention", "yes"),
    ("go", "package main\nfunc main() { item_count := 0\n_ = item_count }",
     "The variable names in your code should follow the camelCase naming convention", "no"),
    ("python", "def load_file():\n    pass\n\ndef save_file():\n    pass\n",
     "The function names in your code should follow the snake_case. naming convention", "yes"),
    ("python", "def loadFile():\n    pass\n", "The function names in your code should follow the snake_case naming "
     "convention.", "no"),
    ("java", "class A { void loadFile() {} int saveFile() { return 0; } }",
     "The function names in your code should follow the camelCase naming convention.", "yes"),
    ("java", "class A { void load_file() {} }",
     "The function names in your code should follow the camelCase naming convention.", "no"),
    ("cpp", "void loadFile() {}\nint saveFile() { return 0; }",
     "The function names in your code should follow the camelCase naming convention.", "yes"),
    ("cpp", "void load_file() {}", "The function names in your code should follow the camelCase naming convention.",
     "no"),
    ("go", "package files\nfunc LoadFile() {}\nfunc SaveFile() int { return 0 }",
     "The function names in your code should follow the PascalCase naming convention.", "yes"),
    ("go", "package files\nfunc load_file() {}",
     "The function names in your code should follow the PascalCase naming convention.", "no"),
    ("python", "from abc import ABC\nclass ShapeApi(ABC):\n    pass\n",
     "The interface names in your code should follow the PascalCase naming convention.", "yes"),
    ("python", "from typing import Protocol\nclass shape_api(Protocol):\n    pass\n",
     "The interface names in your code should follow the PascalCase naming convention.", "no"),
    ("java", "interface ShapeApi { double area(); }",
     "The interface names in your code should follow the PascalCase naming convention.", "yes"),
    ("java", "interface shape_api { double area(); }",
     "The interface names in your code should follow the PascalCase naming convention.", "no"),
    ("cpp", "class ShapeApi { public: virtual double area() const = 0; };",
     "The interface names in your code should follow the PascalCase naming convention.", "yes"),
    ("cpp", "class shape_api { public: virtual double area() const = 0; };",
     "The interface names in your code should follow the PascalCase naming convention.", "no"),
    ("go", "package shapes\ntype ShapeApi interface { Area() float64 }",
     "The interface names in your code should follow the PascalCase naming convention.", "yes"),
    ("go", "package shapes\ntype shape_api interface { Area() float64 }",
     "The interface names in your code should follow the PascalCase naming convention.", "no"),
    ("java", "class A { int x = 1; }", "The interface names in your code should follow the PascalCase naming "
     "convention.", "undecided"),  # no interface at all: vacuous to some, broken to others
    ("python", "x = 1\n", "Your code should not use any functions from the disallowed_function_list.", "undecided"),
    ("cpp", "typedef enum { LOW, HIGH } Level;", "Your code should define an enumeration named Level", "yes"),
    ("python", "from enum import Enum\nLevel = Enum('Level', 'LOW HIGH')\n",
     "Your code should define an enumeration named Level", "yes"),
    ("go", "package p\ntype Level string\n", "Your code should define an enumeration named Level", "undecided"),
]


@pytest.mark.parametrize("lang,code,instruction,expected", SNIPPETS, ids=[f"{s[0]}-{s[2][:50]}" for s in SNIPPETS])
def test_checker_on_a_small_program(lang, code, instruction, expected):
    decision = checkers.decide(templates.match(instruction), program.read_program(f"```{lang}\n{code}\n```", lang))
    assert decision.answer == expected, f"{lang}: {instruction!r} -> {decision}"


# Code that some reading of the instruction accepts and another rejects, or that binds a name in a form the
# extractors once missed: each was answered wrongly before (a decided answer against a reasonable reading, the
# worst outcome) and must now be the answer given here.
V, F, C = ("Your code should define a variable named {}.", "Your code should include a function named {}.",
           "Your code should define a class named {}.")
READINGS = [
    # a name bound where no declaration was read (catch parameters, patterns, lambdas, bindings): never "no"
    ("python", "try:\n    pass\nexcept ValueError as err:\n    pass\n", V.format("err"), "yes"),
    ("python", "match point:\n    case [first, *rest]:\n        pass\n", V.format("first"), "undecided"),
    ("python", "f = lambda q: q\n", V.format("q"), "undecided"),
    ("java", "class A { void f() { try (R br = new R()) {} catch (Exception ex) {} } }", V.format("br"), "yes"),
    ("java", "class A { void f() { try {} catch (Exception ex) {} } }", V.format("ex"), "yes"),
    ("java", "class A { void f(Object o) { if (o instanceof String str) {} } }", V.format("str"), "yes"),
    ("java", "record Point(int px, int py) {}", V.format("px"), "yes"),
    ("cpp", "int main() { auto [first, second] = f(); return first; }", V.format("second"), "yes"),
    ("cpp", "int main() { try {} catch (const std::exception &e) {} }", V.format("e"), "yes"),
    ("cpp", "int main() { int (*fp)(int) = nullptr; }", V.format("fp"), "undecided"),
    ("go", "package main\nfunc f() (res int, err error) { return }", V.format("err"), "yes"),
    ("go", "package main\nfunc f(x any) { switch t := x.(type) { case int: _ = t } }", V.format("t"), "yes"),
    ("go", "package main\nfunc f(ch chan int) { select { case got := <-ch: _ = got } }", V.format("got"), "yes"),
    ("python", "print(undefined_name)\n", V.format("undefined_name"), "undecided"),
    ("python", "x = 1\n", V.format("undefined_name"), "no"),
    ("cpp", "class Fwd;\nFwd* make();", C.format("Fwd"), "undecided"),
    ("python", "class A:\n    pass\n", C.format("Fwd"), "no"),
    # "your function": a constructor is not a function to some readings
    ("java", "class P { P(int a, int b, int c) {} int f(int a) { return a; } }",
     "Your function should have at most 2 parameters.", "undecided"),
    # body length: an opening brace on its own line (Allman style) or a long signature is not the body
    ("cpp", "int f(int a,\n      int b)\n{\n    int c = a;\n    return c + b;\n}",
     "Your function should not exceed 2 lines.",
     "undecided"),
    # "lambda keyword" where lambda is no keyword, but the code writes a lambda
    ("java", "class A { void f(java.util.List<Integer> l) { l.forEach(x -> g(x)); } }",
     "Your code should not use the lambda keyword.", "undecided"),
    ("java", "class A { void f() {} }", "Your code should not use the lambda keyword.", "yes"),
    # imports: a wildcard asked for, specific classes imported; java.lang used but never imported
    ("java", "import java.util.List;\nclass A { List<Integer> l; }",
     "Your code should import the following libraries java.util.*.", "undecided"),
    ("java", "import java.util.*;\nclass A { }", "Your code should import the following libraries java.util.*.", "yes"),
    ("java", "class A { double d = Math.sqrt(2); }", "Your code should import the following libraries java.lang.Math.",
     "undecided"),
    ("java", "class A { double d = Math.sqrt(2); }",
     "Your code should not use the following libraries java.lang.Math.", "no"),
    ("python", "import os\nprint(os.path.join('a'))\n", "Your code should import the following libraries os.path.",
     "undecided"),
    ("go", "package main\nimport \"crypto/rand\"\nfunc main() {}",
     "Your code should import the following libraries rand.",
     "undecided"),
    # C++: a header's names reach the code through another header
    ("cpp", "#include <vector>\nint main() { std::vector<int> v; std::sort(v.begin(), v.end()); }",
     "Your code should not use the following libraries algorithm.", "undecided"),
    ("cpp", "#include <iostream>\nint main() { std::string s = \"a\"; std::cout << s; }",
     "Your code should not use the following libraries string.", "undecided"),
    ("cpp", "#include <iostream>\nint main() { std::cout << 1; }",
     "Your code should not use the following libraries cmath.", "yes"),
    ("cpp", "#include <cstdlib>\nint main() { return rand(); }",
     "Your code should not use the following libraries stdlib.",
     "no"),
    ("cpp", "#include <boost/algorithm/string.hpp>\nint main() {}",
     "Your code should not use the following libraries boost.", "no"),
    ("cpp", "#include <cstring>\nint main() {}", "Your code should import the following libraries string.", "no"),
    # types: generic arguments, pointers and references, a primitive and its box, fall-through returns
    ("java", "class A { List<Author> f() { return null; } }",
     "The function f should return a List<Book> as its result.",
     "undecided"),
    ("java", "class A { void g() { List<Integer> x = null; } }", "Variable x, type should be List<String>.", "no"),
    ("cpp", "int f() { return 0; }", "The function f should return a int* as its result.", "undecided"),
    ("cpp", "std::string f() { return \"\"; }", "The function f should return a const std::string& as its result.",
     "undecided"),
    ("cpp", "const char* x = \"a\";", "Variable x, type should be string.", "undecided"),
    ("cpp", "const char* x = \"a\";", "Variable x, type should be char*.", "yes"),
    ("go", "package main\nvar x []string", "Variable x, type should be []int.", "no"),
    ("java", "class A { int f() { return 1; } }", "The function f should return a Integer as its result.", "undecided"),
    ("java", "class A { boolean f() { return true; } }",
     "The function f should return a boolean as its result.", "yes"),
    ("python", "def f(x):\n    if x:\n        return 1\n", "The function f should return a int as its result.",
     "undecided"),
    ("python", "def f(x):\n    return 1\n", "The function f should return a int as its result.", "yes"),
    ("python", "def f(x):\n    return 1\n", "The function f should return a float as its result.", "undecided"),
    ("python", "def f(x):\n    return 'a'\n", "The function f should return a float as its result.", "no"),
    ("python", "x = 0\n", "Variable x, type should be float.", "undecided"),
    # Go: an exported name is camelCase to Go's own style, PascalCase to others
    ("go", "package main\nfunc DoThing() {}\nfunc main() {}",
     "The function names in your code should follow the camelCase. naming convention", "undecided"),
    ("go", "package main\nfunc do_thing() {}", "The function names in your code should follow the camelCase. naming "
     "convention", "no"),
    # members spelled with their decoration, promoted by embedding, set by name
    ("cpp", "class A { std::string name_; };", "In your code, the class A should have these properties [name].",
     "undecided"),
    ("go", "package main\ntype A struct { Name string }",
     "In your code, the class A should have these properties [name].",
     "undecided"),
    ("python", "class A:\n    __slots__ = ('x',)\n", "In your code, the class A should have these properties [x].",
     "undecided"),
    ("go", "package main\ntype Shape interface{ Area() float64 }\ntype C struct{ Base }\ntype Base struct{}\n"
     "func (b Base) Area() float64 { return 0 }", "Your code should define a class named C that implements the Shape "
     "interface.", "yes"),
    ("go", "package main\ntype Shape interface{ Area() float64 }\ntype C struct{ other.Base }",
     "Your code should define a class named C that implements the Shape interface.", "undecided"),
    ("java", "package com.example.util;\nclass A {}", "Your code should be organized in a package named com.example.",
     "undecided"),
    # initial values: numbers however spelled; two variables of one name in two scopes
    ("python", "x = 0x0A\n", "Variable x, the initial value should be 10.", "yes"),
    ("cpp", "unsigned long x = 1'000UL;", "Variable x, the initial value should be 1000.", "yes"),
    ("python", "x = 1_000\n", "Variable x, the initial value should be 999.", "no"),
    ("python", "def f():\n    x = 0\nx = 5\n", "Variable x, the initial value should be 0.", "undecided"),
    # C++ constness: of the pointer, or only of what it points to
    ("cpp", "int* const y = nullptr;", "Variable y, should be a constant.", "yes"),
    ("cpp", "const char* z = \"a\";", "Variable z, should be a constant.", "undecided"),
    ("cpp", "const int n = 3;", "Variable n, should be a constant.", "yes"),
    # data structures: a tuple made without parentheses, a Go variable named list
    ("python", "def f(a, b):\n    return a, b\n", "Your code should not use data structure tuple.", "undecided"),
    ("go", "package main\nfunc main() { list := []int{1}; _ = list }", "Your code should use data structure list.",
     "undecided"),
]


@pytest.mark.parametrize("tag,lang,code,expected", [
    ("cpp17", "cpp", "int main() { return 0; }", "yes"), ("c++11", "cpp", "int main() { return 0; }", "yes"),
    ("py3", "python", "x = 1", "yes"), ("Python3.10", "python", "x = 1", "yes"),
    ("{.python}", "python", "x = 1", "yes"),
    ("java8", "java", "class A {}", "yes"), ("weirdtag", "python", "x = 1", "undecided"),
    ("rust", "python", "x = 1", "no"),
])
def test_a_fence_tag_names_a_language_however_it_is_spelled(tag, lang, code, expected):
    """A version suffix or another spelling is still the task's language (not "another language", and its code is
    read); a tag nobody knows says nothing."""
    prog = program.read_program(f"```{tag}\n{code}\n```", lang)
    name = {"python": "Python", "java": "Java", "cpp": "C++"}[lang]
    c = templates.match(f"Your entire response should be written in {name}, the use of other programming languages "
                        "is not allowed.")
    assert checkers.decide(c, prog).answer == expected
    assert prog.has_code == (expected == "yes")


@pytest.mark.parametrize("lang,code,instruction,expected", READINGS, ids=[f"{r[0]}-{r[2][:50]}" for r in READINGS])
def test_a_checker_decides_only_where_every_reading_agrees(lang, code, instruction, expected):
    decision = checkers.decide(templates.match(instruction), program.read_program(f"```{lang}\n{code}\n```", lang))
    assert decision.answer == expected, f"{lang}: {instruction!r} -> {decision}"


# What a language cannot show, and why (NOTES.md has the full reasoning): only these answers are reachable.
ONLY = {
    (3, "java"): {"no"},  # Java has no globals: a static field is "global" to some readings only
    (4, "java"): {"yes"},
    (24, "java"): {"no"},
    (25, "java"): {"yes"},
    (14, "go"): {"no"},  # Go has no while: `for cond {}` is a while loop to some readings only
    (15, "go"): {"yes"},
    (18, "python"): {"no"},  # Python has no switch: `match` is one to some readings only
    (19, "python"): {"yes"},
    (36, "python"): set(),  # a Python package is a folder: one answer's code does not show it
    (36, "cpp"): {"yes"},  # C++ has no packages: a namespace is one, its absence says nothing of the file layout
    (47, "python"): {"no"},
    (48, "python"): {"no"},
}


def test_every_template_is_met_and_broken_in_every_language():
    """The tables above hold, for each template and language, code that meets it and code that breaks it,
    except where the language cannot decide a side (ONLY)."""
    seen: dict[tuple[int, str], set[str]] = {}
    for lang, _, text, answer in expand():
        seen.setdefault((templates.match(text).template, lang), set()).add(answer)
    for lang, _, text, answer in SNIPPETS:
        seen.setdefault((templates.match(text).template, lang), set()).add(answer)
    missing = []
    for t in range(1, 51):
        for lang in ALL:
            need = ONLY.get((t, lang), {"yes", "no"})
            answers = seen.get((t, lang), set())
            if not need <= answers:
                missing.append(f"template {t} in {lang}: has {sorted(answers)}, needs {sorted(need)}")
    assert not missing, "\n".join(missing)


MALFORMED = {
    "python": "def broken(:\n    for x in range(3):\n        pass\n",
    "java": "public class Broken { void f() { for (int i = 0; i < 3; i++) { } int x = ; }",
    "cpp": "int main() { for (int i = 0; i < 3; ++i) { } int x = ; ",
    "go": "package main\nfunc main() { for i := 0; i < 3; i++ { } x := \n",
}


@pytest.mark.parametrize("lang", ALL)
def test_malformed_code_is_undecided_where_absence_matters_and_never_crashes(lang):
    prog = program.read_program(f"```{lang}\n{MALFORMED[lang]}\n```", lang)
    assert prog.facts is not None and not prog.facts.clean
    # present in the parsed part: still evidence
    assert checkers.decide(templates.match("Your code should use for-loop."), prog).answer == "yes"
    # absent: the broken part may hold it
    decision = checkers.decide(templates.match("Your code should not use while-loop."), prog)
    assert decision.answer == "undecided" and "does not parse" in decision.reason
    decision = checkers.decide(templates.match(f"Your entire response should be written in {LANGUAGE_NAME[lang]}, the "
                                               "use of other programming languages is not allowed."), prog)
    assert decision.answer == "undecided" and "do not parse" in decision.reason
    for t in templates.TEMPLATES:  # every checker answers, none raises
        for pattern, _ in t.patterns:
            filled = pattern.replace("{", "").replace("}", "")
            c = templates.Constraint(0, filled, t.category, t.id, _sample_slots(t.id))
            decision = checkers.decide(c, prog)
            # decide() turns a checker's exception into "undecided: the checker failed": that is a crash too
            assert decision.answer in ("yes", "no", "undecided") and "checker failed" not in decision.reason, \
                (t.id, decision)


def _sample_slots(template_id: int) -> dict:
    values = {"programming_language": "Go", "characters_num": 80, "parameter_count": 2, "function_count": 2,
              "class_count": 1, "keyword": "for", "data_structure": "map", "variable_name": "x",
              "enumeration_name": "E", "naming_convention": "camelCase", "variable_type": "int", "variable_value": "0",
              "function_name": "f", "disallowed_function_list": ("print",), "interface_name": "I", "class_name": "C",
              "package_name": "main", "library_list": ("fmt",), "library_name": "fmt",
              "disallowed_library_list": ("os",), "object_name": "o", "parameters_name_list": ("a",),
              "method_name_list": ("m",), "properties_name_list": ("p",), "parameter_name_list": ("a",),
              "return_type": "int", "class_name_list": ("C",), "function_name_list": ("f",), "line_num": 20}
    return values


def test_no_code_and_no_grammar_are_said_plainly():
    empty = program.read_program("", "go")
    assert checkers.decide(templates.match("Your entire response should be written in Go, the use of other "
                                           "programming languages is not allowed."), empty).answer == "no"
    d = checkers.decide(templates.match("Your code should use for-loop."), empty)
    assert d.answer == "undecided" and "no code" in d.reason
    kotlin = program.read_program("```kotlin\nfun main() { for (i in 1..3) println(i) }\n```", "kotlin")
    d = checkers.decide(templates.match("Your code should use for-loop."), kotlin)
    assert d.answer == "undecided" and "no grammar" in d.reason
    d = checkers.decide(templates.match("Your entire response should be written in Kotlin, the use of other "
                                        "programming languages is not allowed."), kotlin)
    assert d.answer == "undecided"


def test_code_in_strings_and_comments_is_not_code():
    code = 'x = "while True: goto"\n# for item in items: while\n'
    prog = program.read_program(f"```python\n{code}```", "python")
    assert checkers.decide(templates.match("Your code should not use while-loop."), prog).answer == "yes"
    assert checkers.decide(templates.match("Your code should use the while keyword."), prog).answer == "no"


def test_line_ends_lone_surrogates_and_unfinished_thinking_do_not_change_what_is_read():
    crlf = program.read_program("Code:\r\n```python\r\nx = 1\r\nprint(x)\r\n```\r\nDone.\r\n", "python")
    assert crlf.facts.clean and len(crlf.code) == 1 and "```" not in crlf.code[0].code
    # a JSON "\ud800" escape gives a str UTF-8 cannot encode: read, not a crash nor a parse failure
    lone = program.read_program("```python\nx = '\ud800'\ndef f():\n    return 1\n```", "python")
    assert lone.facts.clean and [f.name for f in lone.facts.functions] == ["f"]
    # cut off while thinking: the code in the unfinished <think> block is not the answer
    thinking = program.read_program("<think>maybe\n```python\ndef f():\n    pass\n```\n", "python")
    assert not thinking.has_code
    d = checkers.decide(templates.match("Your code should include a function named f."), thinking)
    assert d.answer == "undecided"
