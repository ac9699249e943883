"""A SWE-bench-Live instance of the project's own: a small Python repository with a bug, the patch that fixes it,
a test patch that adds the test the bug fails, a few tests that pass, and tests that hang or sleep (only run
when asked for).

    repo = make_repo(tmp / "toy")          # a git repository (one commit); returns its Toy
    row = repo.instance()                  # the instance row (JSON-able), F2P/P2P/test_cmds filled in
    repo.patch(CHANGES)                    # a diff of some edits against base_commit

`python tests/swebench_live/toyrepo.py` writes the task's smoke fixture (tasks/swebench_live/fixtures/ and the
recipe tasks/swebench_live/recipes/toy__calc-1.json); tests/swebench_live/test_data.py checks it is up to date.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

INSTANCE_ID = "toy__calc-1"
REPO = "toy/calc"
CREATED_AT = "2025-02-03T04:05:06Z"
TEST_CMDS = ["pytest -rA"]

CALC = '''\
"""Small arithmetic helpers."""


def add(a, b):
    """The sum of a and b."""
    return a + b


def sub(a, b):
    """a minus b."""
    return a - b


def mean(values):
    """The arithmetic mean of values."""
    return sum(values) / len(values)


def clamp(x, low, high):
    """x, kept within [low, high]."""
    return max(low, min(x, high))
'''

TESTS = '''\
import pytest

from calc import add, clamp, mean, sub


def test_add():
    assert add(2, 3) == 5


def test_sub():
    assert sub(5, 3) == 2


def test_mean():
    assert mean([1, 2, 3]) == 2


class TestClamp:
    @pytest.mark.parametrize("x, expected", [(-1, 0), (5, 5), (11, 10)])
    def test_clamp(self, x, expected):
        assert clamp(x, 0, 10) == expected
'''

SLOW_TESTS = '''\
import time


def test_hang():
    while True:
        time.sleep(1)


def test_sleep():
    time.sleep(2)
'''

FILES = {
    "calc.py": CALC,
    "tests/test_calc.py": TESTS,
    "tests/slow_checks.py": SLOW_TESTS,
    "pytest.ini": "[pytest]\npythonpath = .\n",
    "README.md": "# calc\n\nSmall arithmetic helpers.\n",
}

# the fix: mean of nothing is 0.0
FIX = {"calc.py": CALC.replace("    return sum(values) / len(values)\n",
                               "    if not values:\n        return 0.0\n    return sum(values) / len(values)\n")}
# the test patch: the test the bug fails
TEST_PATCH = {"tests/test_calc.py": TESTS.replace(
    "\n\nclass TestClamp:", "\n\ndef test_mean_empty():\n    assert mean([]) == 0.0\n\n\nclass TestClamp:")}
# a fix that also breaks add (a PASS_TO_PASS test)
BREAKS_ADD = {"calc.py": FIX["calc.py"].replace("return a + b", "return a + b + 1")}

PROBLEM = ("mean([]) raises ZeroDivisionError\n\n`calc.mean([])` raises `ZeroDivisionError: division by zero`. "
           "The mean of no values should be 0.0.\n")
FAIL_TO_PASS = ["tests/test_calc.py::test_mean_empty"]
PASS_TO_PASS = ["tests/test_calc.py::test_add", "tests/test_calc.py::test_sub", "tests/test_calc.py::test_mean",
                "tests/test_calc.py::TestClamp::test_clamp[-1-0]", "tests/test_calc.py::TestClamp::test_clamp[5-5]",
                "tests/test_calc.py::TestClamp::test_clamp[11-10]"]
HANG = "tests/slow_checks.py::test_hang"
SLEEP = "tests/slow_checks.py::test_sleep"


def git(*args: str, cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "toy", "GIT_AUTHOR_EMAIL": "toy@example.org", "GIT_COMMITTER_NAME": "toy",
           "GIT_COMMITTER_EMAIL": "toy@example.org", "GIT_AUTHOR_DATE": "2025-01-01T00:00:00+0000",
           "GIT_COMMITTER_DATE": "2025-01-01T00:00:00+0000", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@dataclass
class Toy:
    path: Path  # the git repository
    base_commit: str

    def patch(self, changes: dict[str, str | None]) -> str:
        """The `git diff` of these edits (None deletes a file) against base_commit; the tree is left clean."""
        for rel, text in changes.items():
            if text is None:
                (self.path / rel).unlink()
            else:
                write_tree(self.path, {rel: text})
        git("add", "-A", cwd=self.path)
        diff = git("diff", "--cached", "--no-color", cwd=self.path)
        git("reset", "-q", "--hard", self.base_commit, cwd=self.path)
        git("clean", "-fdq", cwd=self.path)
        return diff

    def instance(self, **overrides) -> dict:
        row = {"repo": REPO, "instance_id": INSTANCE_ID, "base_commit": self.base_commit,
               "patch": self.patch(FIX), "test_patch": self.patch(TEST_PATCH), "problem_statement": PROBLEM,
               "hints_text": "", "created_at": CREATED_AT, "FAIL_TO_PASS": FAIL_TO_PASS, "PASS_TO_PASS": PASS_TO_PASS,
               "test_cmds": TEST_CMDS, "log_parser": "pytest"}
        row.update(overrides)
        return row


def make_repo(path: Path, files: dict[str, str] = FILES) -> Toy:
    path.mkdir(parents=True, exist_ok=True)
    write_tree(path, files)
    git("init", "-q", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "calc", cwd=path)
    return Toy(path, git("rev-parse", "HEAD", cwd=path).strip())


TASK_DIR = Path(__file__).resolve().parents[2] / "tasks" / "swebench_live"


def fixture_files(scratch: Path) -> dict[str, str]:
    """The smoke fixture's files, by their path in the task folder: the tree (`fixtures/toy/repo/`), the
    instance (`fixtures/toy/instances.jsonl`), a prediction to replay beside the oracle
    (`fixtures/smoke_predictions.jsonl`: a fix that breaks add) and the recipe (`recipes/toy__calc-1.json`, in the
    task's own recipes folder, so that the toy needs no option: its source is the tree)."""
    toy = make_repo(scratch / "toy")
    out = {f"fixtures/toy/repo/{rel}": text for rel, text in FILES.items()}
    out["fixtures/toy/instances.jsonl"] = json.dumps(toy.instance(), sort_keys=True) + "\n"
    out["fixtures/smoke_predictions.jsonl"] = json.dumps({"instance_id": INSTANCE_ID, "model_name_or_path": "toy",
                                                          "model_patch": toy.patch(BREAKS_ADD)}) + "\n"
    out[f"recipes/{INSTANCE_ID}.json"] = json.dumps(
        {"instance_id": INSTANCE_ID, "source": "../fixtures/toy/repo", "base_commit": toy.base_commit}, indent=2) + "\n"
    return out


def shipped_files() -> dict[str, str]:
    """The fixture's files as they are in the task folder."""
    found = [*(TASK_DIR / "fixtures").rglob("*"), TASK_DIR / "recipes" / f"{INSTANCE_ID}.json"]
    return {str(p.relative_to(TASK_DIR)): p.read_text() for p in found if p.is_file()}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in fixture_files(Path(tmp)).items():
            write_tree(TASK_DIR, {rel: text})
    print(f"wrote the toy fixture into {TASK_DIR}", file=sys.stderr)
