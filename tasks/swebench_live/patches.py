"""Unified diffs: the patch in a model's response, and the files a patch touches (and which of them hook into
the test runner).

`extract_patch(text)` takes the diff out of a response: the text itself when it is a diff (an agent's
`model_patch` through replay, the gold patch through the oracle), else the fenced code blocks that hold one
(```diff, ```patch or a bare ```), else the text from its first diff header on. `<think>` blocks are dropped
first. An empty response is the empty patch; a non-empty one with no diff in it raises ValueError (the model's
error). The result is normalised (leading blank lines dropped, one final newline) and is what gets applied.
"""

from __future__ import annotations

import posixpath
import re

_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.S)
_FENCE = re.compile(r"^```[ \t]*([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_HUNK = re.compile(r"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@", re.M)
_FILE_HEADER = re.compile(r"^(diff --git |--- \S)", re.M)


def extract_patch(text: str) -> str:
    text = _THINK.sub("", text or "")
    if not text.strip():
        return ""
    if _starts_as_diff(text):
        return normalise(text)
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("diff", "patch", "udiff", "")
              and is_diff(body)]
    if blocks:
        return normalise("".join(b if b.endswith("\n") else b + "\n" for b in blocks))
    m = _FILE_HEADER.search(text)
    if m and is_diff(text[m.start():]):
        return normalise(text[m.start():])
    raise ValueError("the response holds no unified diff (expected a ```diff block or a patch that starts with "
                     "'diff --git' or '--- a/...')")


def is_diff(text: str) -> bool:
    """A unified diff: a file header and a hunk, or a git header (renames, mode changes and binary patches have
    no hunk)."""
    return bool(re.search(r"^diff --git ", text, re.M)) or bool(
        re.search(r"^--- \S.*\n\+\+\+ \S", text, re.M) and _HUNK.search(text))


def _starts_as_diff(text: str) -> bool:
    first = text.lstrip("\n").split("\n", 1)[0]
    return first.startswith(("diff --git ", "--- ", "Index: ")) and is_diff(text)


def normalise(patch: str) -> str:
    patch = patch.lstrip("\n").rstrip("\n")
    return patch + "\n" if patch.strip() else ""


# ----------------------------------------------------------------------------------------------- files
def touched_files(patch: str) -> tuple[list[str], list[str]]:
    """(paths before, paths after) of every file a patch touches, in order, without duplicates; a file the
    patch creates has no path before and one it deletes none after."""
    before: list[str] = []
    after: list[str] = []
    header: tuple[str | None, str | None] | None = None  # the current `diff --git` header's paths

    def add(lst: list[str], path: str | None) -> None:
        if path is not None and path not in lst:
            lst.append(path)

    lines = patch.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            if header is not None:
                add(before, header[0]), add(after, header[1])
            header = _git_header(line[len("diff --git "):])
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = _path(line[4:], "a/"), _path(lines[i + 1][4:], "b/")
            add(before, old), add(after, new)
            header = None  # its paths are these
            i += 1
        elif header is not None and line.startswith(("rename from ", "copy from ")):
            header = (_unquote(line.split(" ", 2)[2]), header[1])
        elif header is not None and line.startswith(("rename to ", "copy to ")):
            header = (header[0], _unquote(line.split(" ", 2)[2]))
        elif header is not None and line.startswith("new file mode"):
            header = (None, header[1])
        elif header is not None and line.startswith("deleted file mode"):
            header = (header[0], None)
        i += 1
    if header is not None:
        add(before, header[0]), add(after, header[1])
    return before, after


def all_touched(patch: str) -> list[str]:
    before, after = touched_files(patch)
    return before + [p for p in after if p not in before]


# Files that change how the test runner itself behaves: a patch that touches one can decide its own verdict
# (a conftest.py hook that reports every test passed, a .pth file run at interpreter start).
RUNNER_FILES = ("conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "pytest.py",
                "sitecustomize.py", "usercustomize.py")
RUNNER_CONFIG = ("pyproject.toml", "setup.cfg", "tox.ini")  # where the change or its context mentions pytest
# pytest's own settings, named by a line of the change or its context: git's hunk headers never show an
# INI/TOML section, so `+addopts = -p plugin` far below `[tool:pytest]` says pytest nowhere else
_PYTEST_SETTING = re.compile(r"^[ +-]\s*(addopts|pythonpath|testpaths|python_files|python_classes|python_functions|"
                             r"norecursedirs|required_plugins|usefixtures|filterwarnings|xfail_strict)\s*[=:]")


def test_runner_files(patch: str) -> list[str]:
    """The files of `patch` that configure or hook into the test runner: conftest.py, pytest's own configuration
    files, a pytest.py that `python -m pytest` would import, site or user customisation, .pth files, and
    pyproject.toml / setup.cfg / tox.ini where the change (its lines, its context, its hunk headers) mentions
    pytest or sets one of pytest's settings."""
    found: list[str] = []
    for chunk in _per_file(patch):
        body = [ln for ln in chunk.split("\n") if not ln.startswith(("diff --git ", "+++ ", "--- "))]
        for path in all_touched(chunk):
            name = posixpath.basename(path)
            if name in RUNNER_FILES or name.endswith(".pth") or (
                    name in RUNNER_CONFIG and any("pytest" in ln or _PYTEST_SETTING.match(ln) for ln in body)):
                if path not in found:
                    found.append(path)
    return found


def _per_file(patch: str) -> list[str]:
    """The patch cut into one piece per file (at each `diff --git` header, or a `---` header not under one)."""
    pieces: list[list[str]] = [[]]
    lines = patch.split("\n")
    for i, line in enumerate(lines):
        git = line.startswith("diff --git ")
        plain = line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ") and not (
            pieces[-1] and pieces[-1][0].startswith("diff --git ") and not any(
                p.startswith("@@") for p in pieces[-1]))
        if (git or plain) and pieces[-1]:
            pieces.append([])
        pieces[-1].append(line)
    return ["\n".join(p) for p in pieces if p]


def inside_repo(path: str) -> bool:
    """A relative path that stays inside the repository and out of its .git folder."""
    norm = posixpath.normpath(path) if path else ""
    parts = norm.split("/")
    return bool(path) and not path.startswith("/") and norm == path.rstrip("/") and ".." not in parts \
        and ".git" not in parts


def _git_header(rest: str) -> tuple[str | None, str | None]:
    """`a/X b/Y` (possibly quoted); with spaces in unquoted names only the symmetric `a/X b/X` is certain."""
    if rest.startswith('"'):
        old, _, tail = _split_quoted(rest)
        return _strip(old, "a/"), _strip(_unquote(tail.strip()), "b/")
    half = (len(rest) - 1) // 2
    if rest[half] == " " and rest[:half][2:] == rest[half + 1:][2:]:
        return _strip(rest[:half], "a/"), _strip(rest[half + 1:], "b/")
    old, _, new = rest.partition(" b/")
    return _strip(old, "a/"), _strip("b/" + new, "b/")


def _path(field: str, prefix: str) -> str | None:
    field = field.split("\t", 1)[0].rstrip("\r")
    if field.startswith('"'):
        field = _unquote(field)
    if field == "/dev/null":
        return None
    return _strip(field, prefix)


def _strip(path: str | None, prefix: str) -> str | None:
    if path is None:
        return None
    return path[len(prefix):] if path.startswith(prefix) else path


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r", "v": "\v"}


def _split_quoted(text: str) -> tuple[str, str, str]:
    """A C-quoted name at the start of text (git quotes names with unusual characters) -> (name, '', rest)."""
    out = bytearray()
    i = 1
    while i < len(text) and text[i] != '"':
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "01234567" and i + 3 < len(text):
                out.append(int(text[i + 1:i + 4], 8))
                i += 4
                continue
            out += _ESCAPES.get(nxt, nxt).encode()
            i += 2
            continue
        out += text[i].encode()
        i += 1
    return out.decode("utf-8", "replace"), "", text[i + 1:]


def _unquote(text: str) -> str:
    return _split_quoted(text)[0] if text.startswith('"') else text
