"""Loading COFFE from a folder laid out like the upstream `datasets/` folder, or from the Hugging Face hub.

Layout (every file except data.json is a JSON object keyed by the exact prompt string, `final_prompt`):

    function/data.json                 [{dataset, task_id, prompt, final_prompt, entry_point, ...}]
    function/best_solutions.json       {prompt: [code defining `solution`, io flag]}
    function/testcases.json            {prompt: [{"input": [args...], "output": [expected]}]}
    function/stressful_testcases.json  {prompt: [{"input": "<expression giving the args>", "output": null}]}
    file/data.json                     [{dataset, final_prompt}]
    file/best_solutions.json           {prompt: [stdin/stdout program, io flag]}
    file/stressful_testcases.json      {prompt: ["<program defining generate_input()>", ...]}
    file/testcases.json                {prompt: [{"input": [stdin], "output": [stdout]}]}  (optional: see below)
    deepmind_code_contests/testcases.json, codeparrot_apps/testcases.json   the same, per source dataset

The file-level correctness tests are taken from file/testcases.json, else from the per-dataset files; a file-level
problem with no correctness tests anywhere is loaded, marked ungradable, and counted apart by the metrics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from harness.task import TaskError, file_sha256
from harness.types import Sample

LEVELS = ("function", "file")
SOURCE_NAMES = {  # the dataset field as COFFE writes it -> our short name (ids, per-dataset metrics)
    "openai_humaneval": "HumanEval",
    "mbpp": "MBPP",
    "codeparrot/apps": "APPS",
    "deepmind/code_contests": "CodeContests",
}
ID_PREFIX = {"HumanEval": "HumanEval", "MBPP": "Mbpp", "APPS": "apps", "CodeContests": "code_contests"}
PER_DATASET_TESTS = {"APPS": "codeparrot_apps/testcases.json", "CodeContests": "deepmind_code_contests/testcases.json"}
REQUIRED = {
    "function": ("data.json", "best_solutions.json", "testcases.json", "stressful_testcases.json"),
    "file": ("data.json", "best_solutions.json", "stressful_testcases.json"),
}


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]


@dataclass
class Folder:
    """A COFFE data folder; `describe` is how the run record names it."""

    root: Path
    describe: str

    def path(self, rel: str) -> Path:
        return self.root / rel

    def files(self, level: str) -> list[Path]:
        """Every file a level reads (that exists), for the data hash."""
        rels = [f"{level}/{name}" for name in REQUIRED[level]]
        if level == "file":
            rels += ["file/testcases.json", *PER_DATASET_TESTS.values()]
        return [self.path(r) for r in rels if self.path(r).is_file()]

    def sha256(self, level: str) -> str:
        h = hashlib.sha256()
        for p in self.files(level):
            h.update(str(p.relative_to(self.root)).encode() + b"\0" + file_sha256(p).encode() + b"\0")
        return h.hexdigest()


def resolve(data: str | None) -> Folder:
    """--data as given: a local folder, or hf:<repo id>[@revision] (downloaded through the hub's cache)."""
    if data is None:
        raise TaskError("coffe: no data given; pass --data with a folder laid out like COFFE's datasets/ "
                        "(e.g. --data ../shared/data/coffe) or --data hf:<repo id>[@revision]")
    if data.startswith("hf:"):
        return _hub_folder(data)
    root = Path(data)
    if not root.is_dir():
        raise TaskError(f"coffe: data folder {root} not found (expected function/ and file/ inside it)")
    return Folder(root, str(root))


def _hub_folder(ref: str) -> Folder:
    """A dataset repository on the hub holding the COFFE files in the same layout.  The files are objects keyed
    by prompt strings (not tables), so they are fetched as files through huggingface_hub -- the library that
    `datasets` itself downloads with -- and read by the same loader as a local folder.  A local folder path
    after `hf:` is used as is (how the tests exercise this path offline)."""
    repo, _, revision = ref[3:].partition("@")
    if Path(repo).is_dir():
        return Folder(Path(repo), ref)
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(repo_id=repo, repo_type="dataset", revision=revision or None,
                                  allow_patterns=["function/*", "file/*", "*/testcases.json"])
    except Exception as exc:  # offline, unknown repo, no access
        raise TaskError(f"coffe: cannot download {ref} from the Hugging Face hub: {type(exc).__name__}: {exc}. "
                        "Offline, pass --data with a local copy of the COFFE data folder instead") from exc
    return Folder(Path(local), ref)


def _read_json(path: Path, kind: type) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
    except FileNotFoundError:
        raise TaskError(f"coffe: data file {path} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"coffe: cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise TaskError(f"coffe: {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(value, kind):
        raise TaskError(f"coffe: {path} must hold a JSON {'list' if kind is list else 'object'}, "
                        f"got {type(value).__name__}")
    return value


class _Row:
    """Error messages that name the file, the row and the field."""

    def __init__(self, path: Path, index: int, prompt: str | None):
        self.path, self.index, self.prompt = path, index, prompt

    def error(self, field: str, why: str, path: Path | None = None) -> TaskError:
        where = f"{path or self.path}"
        key = f" (prompt {self.prompt[:60]!r}...)" if self.prompt else ""
        return TaskError(f"coffe: {where}, row {self.index}{key}: field {field!r} {why}")


def load_level(folder: Folder, level: str) -> Iterator[Sample]:
    """The samples of one level, in data.json order."""
    base = folder.path(level)
    if not base.is_dir():
        raise TaskError(f"coffe: {base} is missing (the {level}-level data of {folder.describe})")
    data_path = base / "data.json"
    rows = _read_json(data_path, list)
    best = _read_json(base / "best_solutions.json", dict)
    stress = _read_json(base / "stressful_testcases.json", dict)
    tests_by_source: dict[str, dict | None] = {}
    if level == "function":
        tests = _read_json(base / "testcases.json", dict)
        tests_path = base / "testcases.json"
    else:
        merged = base / "testcases.json"
        tests = _read_json(merged, dict) if merged.is_file() else None
        tests_path = merged
        for src, rel in PER_DATASET_TESTS.items():
            p = folder.path(rel)
            tests_by_source[src] = _read_json(p, dict) if p.is_file() else None
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TaskError(f"coffe: {data_path}, row {i}: expected an object, got {type(row).__name__}")
        prompt = row.get("final_prompt")
        r = _Row(data_path, i, prompt if isinstance(prompt, str) else None)
        if not isinstance(prompt, str) or not prompt:
            raise r.error("final_prompt", "is missing or not a string")
        src_raw = row.get("dataset")
        if src_raw not in SOURCE_NAMES:
            raise r.error("dataset", f"is {src_raw!r}; expected one of {', '.join(SOURCE_NAMES)}")
        source = SOURCE_NAMES[src_raw]
        sol = best.get(prompt)
        if not (isinstance(sol, list) and sol and isinstance(sol[0], str)):
            raise r.error("best_solutions", "has no [code, io] entry for this prompt" if sol is None
                          else "must be [code, io flag]", base / "best_solutions.json")
        st = stress.get(prompt)
        if not isinstance(st, list):
            raise r.error("stressful_testcases", "has no list for this prompt", base / "stressful_testcases.json")
        if level == "function":
            sample = _function_sample(row, r, prompt, source, sol[0], tests.get(prompt), st, tests_path)
        else:
            t = tests.get(prompt) if tests is not None else None
            t_path = tests_path
            if t is None and tests_by_source.get(source) is not None:
                t = tests_by_source[source].get(prompt)
                t_path = folder.path(PER_DATASET_TESTS[source])
            sample = _file_sample(r, prompt, source, sol[0], t, st, t_path, base / "stressful_testcases.json")
        if sample.id in seen:
            raise r.error("final_prompt" if level == "file" else "task_id",
                          f"gives the sample id {sample.id!r} that row {seen[sample.id]} already has")
        seen[sample.id] = i
        yield sample


def _check_tests(tests: Any, r: _Row, path: Path, level: str) -> list[dict]:
    if not isinstance(tests, list) or not tests:
        raise r.error("testcases", "has no non-empty list of correctness tests for this prompt", path)
    for j, t in enumerate(tests):
        ok = (isinstance(t, dict) and isinstance(t.get("input"), list) and isinstance(t.get("output"), list)
              and len(t["output"]) == 1)
        if ok and level == "file":
            ok = len(t["input"]) == 1 and isinstance(t["input"][0], str) and isinstance(t["output"][0], str)
        if not ok:
            shape = "[stdin]" if level == "file" else "[args...]"
            raise r.error(f"testcases[{j}]", f"must be {{'input': {shape}, 'output': [expected]}}", path)
    return tests


def _function_sample(row: dict, r: _Row, prompt: str, source: str, solution: str, tests: Any, stress: list,
                     tests_path: Path) -> Sample:
    task_id, entry = row.get("task_id"), row.get("entry_point")
    if not isinstance(task_id, (str, int)) or isinstance(task_id, bool):
        raise r.error("task_id", "is missing")
    if not isinstance(entry, str) or not entry.isidentifier():
        raise r.error("entry_point", "is missing or not an identifier")
    sid = str(task_id) if source == "HumanEval" else f"{ID_PREFIX[source]}/{task_id}"
    code_prompt = ""
    if source == "HumanEval":  # the signature and docstring, as COFFE's clean-up puts it in front of a completion
        code_prompt = row.get("prompt")
        if not isinstance(code_prompt, str) or not code_prompt.strip():
            raise r.error("prompt", "is missing or empty (HumanEval rows carry the function's signature there)")
    tests = _check_tests(tests, r, tests_path, "function")
    exprs = []
    for j, t in enumerate(stress):
        if not (isinstance(t, dict) and isinstance(t.get("input"), str)):
            raise r.error(f"stressful_testcases[{j}]", "must be {'input': '<expression>', ...}")
        exprs.append(t["input"])
    return Sample(
        id=sid,
        inputs={"prompt": prompt, "entry_point": entry, "code_prompt": code_prompt},
        reference={"solution": solution, "tests": tests, "stress": exprs},
        metadata={"level": "function", "dataset": source, "task_id": task_id},
    )


def _file_sample(r: _Row, prompt: str, source: str, solution: str, tests: Any, stress: list, tests_path: Path,
                 stress_path: Path) -> Sample:
    sid = f"{ID_PREFIX[source]}/{prompt_hash(prompt)}"
    for j, g in enumerate(stress):
        if not isinstance(g, str) or "generate_input" not in g:
            raise r.error(f"stressful_testcases[{j}]", "must be a program defining generate_input()", stress_path)
    ungradable = None
    if tests is None:
        ungradable = f"no correctness tests for this {source} problem in the data given ({tests_path.name} " \
                     "is absent or lacks this prompt)"
    else:
        tests = _check_tests(tests, r, tests_path, "file")
    return Sample(
        id=sid,
        inputs={"prompt": prompt, "entry_point": None, "code_prompt": ""},
        reference={"solution": solution, "tests": tests, "stress": list(stress)},
        metadata={"level": "file", "dataset": source, "ungradable": ungradable},
    )
