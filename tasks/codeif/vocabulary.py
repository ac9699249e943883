"""What the checkers need to know about each language: its keywords, what shows a data structure is used,
library names as written in instructions versus as imported, type names and their families, naming conventions.

Every table says what counts as certain evidence (`strong`) and what only might (`weak`); a checker decides
only where the readings agree (see `checkers`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEYWORDS = {
    "python": frozenset("""False None True and as assert async await break class continue def del elif else except
        finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match
        case""".split()),
    "java": frozenset("""abstract assert boolean break byte case catch char class const continue default do double
        else enum extends final finally float for goto if implements import instanceof int interface long native new
        package private protected public return short static strictfp super switch synchronized this throw throws
        transient try void volatile while true false null var record yield sealed permits""".split()),
    "cpp": frozenset("""alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
        char32_t class compl concept const consteval constexpr constinit const_cast continue co_await co_return
        co_yield decltype default delete do double dynamic_cast else enum explicit export extern false float for
        friend goto if inline int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private
        protected public register reinterpret_cast requires return short signed sizeof static static_assert
        static_cast struct switch template this thread_local throw true try typedef typeid typename union unsigned
        using virtual void volatile wchar_t while xor xor_eq override final""".split()),
    "go": frozenset("""break case chan const continue default defer else fallthrough for func go goto if import
        interface map package range return select struct switch type var""".split()),
}
KEYWORDS["c"] = KEYWORDS["cpp"]


# --- data structures (templates 10 and 11) ---------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """Names (identifiers, type names, called names), constructs (`CodeFacts.constructs`), keywords and imports
    that show a data structure is used: `strong` for certain, `weak` for perhaps."""

    names: frozenset[str] = frozenset()
    constructs: frozenset[str] = frozenset()
    keywords: frozenset[str] = frozenset()
    imports: frozenset[str] = frozenset()
    weak_names: frozenset[str] = frozenset()
    weak_constructs: frozenset[str] = frozenset()


def _e(names: str = "", constructs: str = "", keywords: str = "", imports: str = "", weak_names: str = "",
       weak_constructs: str = "") -> Evidence:
    return Evidence(frozenset(names.split()), frozenset(constructs.split()), frozenset(keywords.split()),
                    frozenset(imports.split()), frozenset(weak_names.split()), frozenset(weak_constructs.split()))


_PY_DICT = _e("dict Dict defaultdict OrderedDict", "dict", weak_names="Counter Mapping")
_JAVA_LIST = _e("List ArrayList LinkedList CopyOnWriteArrayList")
_JAVA_MAP = _e("Map HashMap TreeMap LinkedHashMap ConcurrentHashMap Hashtable")
_JAVA_SET = _e("Set HashSet TreeSet LinkedHashSet")
_CPP_MAP = _e("map unordered_map multimap", weak_names="QMap")
DATA_STRUCTURES: dict[str, dict[str, Evidence]] = {
    "list": {"python": _e("list List", "list"), "java": _JAVA_LIST, "cpp": _e("list", weak_names="vector forward_list"),
             "go": _e(imports="container/list", weak_names="list", weak_constructs="slice")},
    "array": {"python": _e("array ndarray", weak_constructs="list", weak_names="list List"),
              "java": _e(constructs="array", weak_names="ArrayList"), "cpp": _e("array", "array", weak_names="vector"),
              "go": _e(constructs="array", weak_constructs="slice")},
    "dict": {"python": _PY_DICT, "java": _JAVA_MAP, "cpp": _CPP_MAP, "go": _e(constructs="map")},
    "dictionary": {"python": _PY_DICT, "java": _JAVA_MAP, "cpp": _CPP_MAP, "go": _e(constructs="map")},
    "map": {"python": _e(weak_names="dict Dict defaultdict OrderedDict map", weak_constructs="dict"), "java": _JAVA_MAP,
            "cpp": _CPP_MAP, "go": _e(constructs="map")},
    "hashmap": {"python": _PY_DICT, "java": _e("HashMap"), "cpp": _e("unordered_map"), "go": _e(constructs="map")},
    "set": {"python": _e("set Set frozenset", "set"), "java": _JAVA_SET, "cpp": _e("set unordered_set multiset"),
            "go": _e(weak_constructs="map")},
    "hashset": {"python": _e("set Set", "set"), "java": _e("HashSet"), "cpp": _e("unordered_set")},
    "treeset": {"java": _e("TreeSet"), "cpp": _e("set")},
    "tuple": {"python": _e("tuple Tuple namedtuple NamedTuple", "tuple", weak_constructs="implicit_tuple"),
              "cpp": _e("tuple", weak_names="pair")},
    "pair": {"cpp": _e("pair", weak_names="tuple make_pair"), "java": _e("Pair", weak_names="Entry SimpleEntry")},
    "vector": {"cpp": _e("vector"), "java": _e("Vector"),
               "python": _e(weak_names="list vector", weak_constructs="list")},
    "slice": {"go": _e(constructs="slice")},
    "channel": {"go": _e(constructs="channel", keywords="chan")},
    "struct": {"go": _e(constructs="struct", keywords="struct"), "cpp": _e(keywords="struct")},
    "interface": {"go": _e(keywords="interface"), "java": _e(keywords="interface")},
    "stack": {"java": _e("Stack", weak_names="Deque ArrayDeque"), "cpp": _e("stack"),
              "python": _e(weak_names="stack list deque LifoQueue", weak_constructs="list")},
    "queue": {"java": _e("Queue PriorityQueue ArrayDeque BlockingQueue LinkedBlockingQueue ConcurrentLinkedQueue",
                         weak_names="Deque LinkedList"),
              "cpp": _e("queue priority_queue", weak_names="deque"),
              "python": _e("Queue PriorityQueue deque", weak_names="queue heapq list")},
    "deque": {"python": _e("deque"), "cpp": _e("deque"), "java": _e("Deque ArrayDeque")},
    "linkedlist": {"java": _e("LinkedList"), "cpp": _e("list"), "python": _e(weak_names="deque")},
    "arraylist": {"java": _e("ArrayList")},
    "bitset": {"cpp": _e("bitset"), "java": _e("BitSet")},
    "heapq": {"python": _e(imports="heapq", weak_names="heappush heappop heapify heapq")},
    "collections": {"python": _e(imports="collections", weak_names="deque Counter defaultdict OrderedDict namedtuple")},
    "pandas dataframe": {"python": _e("DataFrame", weak_names="pd pandas")},
    "dataframe": {"python": _e("DataFrame", weak_names="pd pandas")},
    "lock": {"java": _e("Lock ReentrantLock ReadWriteLock ReentrantReadWriteLock", weak_names="synchronized")},
    "integer": {"java": _e("Integer")},
}


def data_structure_evidence(name: str, language: str) -> Evidence | None:
    """The evidence of data structure `name` in `language`; for a name no table has, the name itself (as
    written, or its last part: `std::vector` -> vector) is strong evidence and any spelling of it weak."""
    key = name.strip().lower()
    key = key.removeprefix("std::").removeprefix("java.util.")
    table = DATA_STRUCTURES.get(key) or DATA_STRUCTURES.get(key.replace(" ", ""))
    if table is not None:
        return table.get(language) or table.get("cpp" if language == "c" else "")
    if not re.match(r"^[\w:.]+$", name.strip()):
        return None
    last = re.split(r"::|\.", name.strip())[-1]
    return _e(" ".join({name.strip(), last}), weak_names=" ".join({last.lower(), last.capitalize(), last.upper()}))


# --- libraries (templates 31, 37, 38, 39) ------------------------------------------------------------------------
# Python distributions and how their modules are imported.
PYTHON_MODULES = {
    "scikit-learn": "sklearn", "scikit_learn": "sklearn", "sklearn": "sklearn", "pytorch": "torch", "torch": "torch",
    "opencv": "cv2", "opencv-python": "cv2", "cv2": "cv2", "beautifulsoup": "bs4", "beautifulsoup4": "bs4",
    "bs4": "bs4", "beautiful soup": "bs4", "pillow": "PIL", "pil": "PIL", "pyyaml": "yaml", "yaml": "yaml",
    "python-dateutil": "dateutil", "dateutil": "dateutil", "pymysql": "pymysql", "mysql-connector": "mysql",
    "psycopg2": "psycopg2", "tensorflow": "tensorflow", "keras": "keras",
}


def python_module(name: str) -> str:
    return PYTHON_MODULES.get(name.strip().lower(), name.strip())


# C++ headers (without the leading `c` of the C ones: cmath is "math") and names that show their use when the
# header is not included (it may come in through another). A header missing here is shown by its own name.
HEADER_NAMES: dict[str, set[str]] = {
    "algorithm": set("sort stable_sort find find_if count count_if max_element min_element reverse unique "
                     "lower_bound upper_bound binary_search next_permutation transform for_each fill copy remove "
                     "remove_if all_of any_of none_of swap max min".split()),
    "math": set("sqrt pow abs fabs floor ceil round sin cos tan atan atan2 exp log log2 log10 hypot fmod M_PI".split()),
    "stdlib": set("malloc calloc realloc free rand srand atoi atof atol exit abort system qsort abs getenv".split()),
    "stdio": set("printf scanf puts gets fopen fclose fprintf fscanf sprintf snprintf getchar putchar".split()),
    "string": set("string to_string stoi stod stol getline wstring".split()),
    "cstring": set("strlen strcpy strcmp strcat memset memcpy strncpy strchr strstr".split()),
    "iostream": set("cout cin cerr clog endl".split()),
    "vector": {"vector"}, "set": {"set", "multiset"}, "map": {"map", "multimap"}, "queue": {"queue", "priority_queue"},
    "stack": {"stack"}, "list": {"list"}, "deque": {"deque"}, "unordered_map": {"unordered_map"},
    "unordered_set": {"unordered_set"}, "array": {"array"}, "bitset": {"bitset"},
    "tuple": {"tuple", "make_tuple", "tie"}, "utility": {"pair", "make_pair", "move", "swap"},
    "numeric": set("accumulate iota partial_sum inner_product gcd lcm".split()),
    "memory": set("unique_ptr shared_ptr weak_ptr make_unique make_shared".split()),
    "thread": {"thread", "this_thread"}, "mutex": {"mutex", "lock_guard", "unique_lock", "scoped_lock"},
    "atomic": {"atomic", "atomic_flag"}, "chrono": {"chrono"}, "functional": {"function", "bind"},
    "sstream": {"stringstream", "istringstream", "ostringstream"}, "fstream": {"fstream", "ifstream", "ofstream"},
    "iomanip": {"setw", "setprecision", "fixed", "setfill"},
    "regex": {"regex", "regex_match", "regex_search", "smatch"},
    "random": set("mt19937 random_device uniform_int_distribution uniform_real_distribution".split()),
    "boost": {"boost"}, "pthread": set("pthread_create pthread_join pthread_t pthread_mutex_t".split()),
}
# C headers that C++ also spells with a leading `c` and no `.h` (<stdlib.h>, <cstdlib>); <string> is C++'s own.
C_HEADERS = frozenset("stdlib stdio math time ctype assert limits stdint stddef signal errno float locale setjmp "
                      "stdarg wchar".split())
# Go packages whose last path segment is shared by another standard package: the one an instruction most likely means.
GO_AMBIGUOUS = {"rand": "math/rand", "template": "text/template", "scanner": "text/scanner", "pprof": "runtime/pprof"}


# --- types (templates 23 and 46) -------------------------------------------------------------------------------
# Spellings of one type: equal for a checker.
_SAME = [{"str", "string", "std::string"}, {"int", "integer"}, {"bool", "boolean"}, {"dict", "dictionary"},
         {"char", "character"}, {"none", "void", "nonetype"}]
SAME_TYPE = {name.lower(): i for i, group in enumerate(_SAME) for name in group}
# Families: two types of one family are different spellings a judge may accept or not; of two families, different.
FAMILIES = {
    "int": "int long short byte int8 int16 int32 int64 uint uint8 uint16 uint32 uint64 uintptr size_t integer "
           "biginteger bigint long_long unsigned unsigned_int i32 i64",
    "float": "float double float32 float64 decimal bigdecimal long_double real number",
    "str": "str string char* wstring stringbuilder text",
    "bool": "bool boolean",
    "char": "char rune character wchar_t",
    "sequence": "list arraylist linkedlist vector slice array deque sequence collection iterable",
    "mapping": "dict dictionary map hashmap treemap unordered_map linkedhashmap defaultdict ordereddict hashtable",
    "set": "set hashset treeset unordered_set frozenset",
    "tuple": "tuple pair",
    "none": "void none nonetype",
    "struct": "struct",
    "class": "class object",
}
FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names.split()}

_QUALIFIERS = re.compile(r"\b(const|constexpr|static|final|volatile|mutable|struct|class|enum|typename|inline)\b")


def normalise_type(raw: str) -> str:
    """A type as written -> a comparable name: qualifiers, namespaces, generic arguments, pointers and
    references dropped; Go's composite types named by kind (`[]int` -> slice, `map[K]V` -> map)."""
    t = raw.strip().strip("`'\"")
    t = _QUALIFIERS.sub("", t).strip()
    if t.startswith("[]"):
        return "slice"
    if re.match(r"^\[\w*\]", t):
        return "array"
    if t.startswith("map["):
        return "map"
    if t.startswith("chan ") or t.startswith("<-chan") or t.startswith("chan<-"):
        return "channel"
    if t.startswith("func("):
        return "func"
    if t.endswith("[]"):
        return "array"
    if re.sub(r"\s+", "", t).lower() in ("char*", "constchar*"):
        return "char*"
    t = t.lstrip("*&").rstrip("*& ").strip()
    if t.startswith("Optional[") or t.startswith("std::optional<"):
        return "optional"
    t = re.sub(r"<.*>$", "", t)  # List<String> -> List
    t = re.sub(r"\[.*\]$", "", t)  # list[int] -> list
    t = re.split(r"::|\.", t)[-1].strip()
    t = re.sub(r"\s+", "_", t)  # long long -> long_long
    return t


def _split_top(inner: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch in "<[(":
            depth += 1
        elif ch in ">])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [x for x in parts + [cur.strip()] if x]


def type_arguments(raw: str) -> tuple[str, ...]:
    """What a type is made of besides its name: `List<Book>` -> (Book,), `map[string]int` -> (string, int),
    `[]int` -> (int,), `int[]` -> (int,), `Dict[str, int]` -> (str, int); () for a plain type."""
    t = _QUALIFIERS.sub("", raw.strip().strip("`'\"")).strip().rstrip("*& ").lstrip("*&").strip()
    if t.startswith("[]"):
        return (t[2:].strip(),)
    m = re.match(r"^\[\w*\](.+)$", t)
    if m:
        return (m.group(1).strip(),)
    m = re.match(r"^map\[(.+?)\](.+)$", t)
    if m:
        return (m.group(1).strip(), m.group(2).strip())
    if t.endswith("[]"):
        return (t[:-2].strip(),)
    m = re.match(r"^[\w.:]+\s*[<\[](.*)[>\]]$", t)
    if m:
        return tuple(_split_top(m.group(1)))
    return ()


def indirection(raw: str) -> str:
    """The pointers and references of a C/C++/Go type as written (`const std::string&` -> &, `*Node` -> *)."""
    t = re.sub(r"<.*>|\[.*\]", "", raw)
    return "".join(ch for ch in t if ch in "*&")


def compare_types(declared: str, wanted: str) -> str:
    """yes (the same type), similar (one family: a reading may accept it), no (different families), or
    unknown (a type neither table knows). Pointers and references, and generic or element types where both
    sides write them, must agree too: `List<Author>` is not `List<Book>`, `int` is not `int*`."""
    base = _compare_names(declared, wanted)
    if base in ("no", "unknown"):
        return base
    if indirection(declared) != indirection(wanted) and normalise_type(declared) != "char*":
        return "similar"
    dargs, wargs = type_arguments(declared), type_arguments(wanted)
    if wargs and not dargs and base == "yes":
        return "similar"  # `List` for `List<Book>`: raw, or unknown arguments
    if dargs and wargs:
        if len(dargs) != len(wargs):
            return "similar"
        inner = [compare_types(d, w) for d, w in zip(dargs, wargs)]
        if "no" in inner:
            return "no"
        if any(r != "yes" for r in inner):
            return "similar"
    return base


def _compare_names(declared: str, wanted: str) -> str:
    d, w = normalise_type(declared), normalise_type(wanted)
    if not d or not w:
        return "unknown"
    if d == w or d.lower() == w.lower():
        return "yes"
    dl, wl = d.lower(), w.lower()
    if dl in SAME_TYPE and SAME_TYPE.get(wl) == SAME_TYPE[dl]:
        return "yes"
    fd, fw = FAMILY_OF.get(dl), FAMILY_OF.get(wl)
    if fd and fw:
        return "similar" if fd == fw else "no"
    return "unknown"


# --- naming conventions (templates 22, 30, 33, 35) -------------------------------------------------------------
_SNAKE = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*"
_CAMEL = r"[a-z][a-zA-Z0-9]*"
_PASCAL = r"[A-Z][a-zA-Z0-9]*"
_UPPER_SNAKE = r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*"


@dataclass(frozen=True)
class Convention:
    strict: re.Pattern[str]  # what every reading accepts
    loose: re.Pattern[str]  # what some reading accepts


def _c(strict: str, loose: str | None = None) -> Convention:
    return Convention(re.compile(f"^(?:{strict})$"), re.compile(f"^(?:{loose or strict})$"))


CONVENTIONS = {
    "snake_case": _c(_SNAKE),
    "lowercase_separated_by_underscores": _c(_SNAKE),
    "camelcase": _c(_CAMEL),  # camelCase (the lower-case spelling; "CamelCase" is handled apart)
    "pascalcase": _c(_PASCAL),
    "uppercase": _c(r"[A-Z][A-Z0-9]*", _UPPER_SNAKE),
    "uppercase_with_underscores": _c(_UPPER_SNAKE),
    "capitalized_with_underscores": _c(_UPPER_SNAKE, r"[A-Z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"),
}
# "CamelCase" is PascalCase to most, but camelCase to some.
CAMEL_CASE_CAPITAL = _c(_PASCAL, f"{_PASCAL}|{_CAMEL}")


def convention(name: str) -> Convention | None:
    raw = name.strip().strip("`'\"")
    if raw == "CamelCase":
        return CAMEL_CASE_CAPITAL
    if raw == "camelCase":
        return CONVENTIONS["camelcase"]
    return CONVENTIONS.get(raw.lower().replace(" ", "_"))
