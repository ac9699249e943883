"""Loading CodeIF's question files: a local JSONL file, a folder laid out like the release's `data/`, or the hub.

Row (one task):
    {"question": str, "question_id": int,
     "meta_info": {"programming_language": str, "item_set": "easy"|"hard", ...},
     "instruction_list": [{"type": <category>, "instruction": str}, ...],
     "instruction_dependence": {"<index>": [index, ...]}}        # 0-based, into instruction_list
A row may also carry "reference": code of our own that meets every constraint (the project's fixtures do), which
the oracle answers.

Splits: `full` is every row; `easy` and `hard` the rows whose `item_set` says so. A folder is read from
`question/final_release_1200.jsonl` (the release's benchmark file). The language a task is checked in comes
from its first instruction ("... written in Go ..."), not from `meta_info`: the two differ on 47 tasks
(42 ask for Python, 3 for Kotlin, 1 for Java, 1 for C).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from harness.task import TaskError, file_sha256
from harness.types import Sample

from .templates import language_of, match

FOLDER_FILE = "question/final_release_1200.jsonl"
DIFFICULTIES = ("easy", "hard")


@dataclass(frozen=True)
class Source:
    describe: str
    sha256: str
    rows: Any  # a path to read, or a `datasets` split


def resolve(data: str | None) -> Source:
    if data is None:
        raise TaskError("codeif: no data given; pass --data with CodeIF's question file or the release's data "
                        "folder (e.g. --data ../shared/data/codeif), or --data hf:<repo id>[@revision]")
    if data.startswith("hf:"):
        return _hub(data)
    path = Path(data)
    if path.is_dir():
        inner = path / FOLDER_FILE
        if not inner.is_file():
            raise TaskError(f"codeif: {path} is a folder without {FOLDER_FILE}; give the question .jsonl file itself")
        path = inner
    if not path.is_file():
        raise TaskError(f"codeif: data file {path} not found (expected a .jsonl question file or a folder)")
    return Source(str(path), file_sha256(path), path)


def _hub(ref: str) -> Source:
    """A dataset repository on the hub (or a local folder of .jsonl files), read with `datasets`."""
    import datasets

    repo, _, revision = ref[3:].partition("@")
    try:
        ds = datasets.load_dataset(repo, revision=revision or None)
    except Exception as exc:  # offline, unknown repo, no access
        raise TaskError(f"codeif: cannot load {ref} through datasets: {type(exc).__name__}: {exc}. Offline, pass "
                        f"--data with a local copy of the question file instead") from exc
    split = "train" if "train" in ds else next(iter(ds))
    rows = ds[split]
    return Source(f"{ref} (split {split})", rows._fingerprint, rows)


def read_rows(source: Source) -> Iterator[tuple[int, dict]]:
    """(line number or row index, row), streamed."""
    if isinstance(source.rows, Path):
        with open(source.rows, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TaskError(f"codeif: {source.describe}, line {lineno}: not valid JSON ({exc.msg})") from exc
    else:
        for i, row in enumerate(source.rows):
            yield i, row


def load(source: Source, split: str) -> Iterator[Sample]:
    seen: set[str] = set()
    for where, row in read_rows(source):
        sample = to_sample(row, f"{source.describe}, {'line' if isinstance(source.rows, Path) else 'row'} {where}")
        if split != "full" and sample.metadata["difficulty"] != split:
            continue
        if sample.id in seen:
            raise TaskError(f"codeif: {source.describe}: question_id {sample.id} occurs twice")
        seen.add(sample.id)
        yield sample


def _bad(where: str, field: str, why: str) -> TaskError:
    return TaskError(f"codeif: {where}: field {field!r} {why}")


def to_sample(row: Any, where: str) -> Sample:
    if not isinstance(row, dict):
        raise TaskError(f"codeif: {where}: expected a JSON object, got {type(row).__name__}")
    for name, kind in (("question", str), ("meta_info", dict), ("instruction_list", list), ("question_id", int)):
        if row.get(name) is None:
            raise _bad(where, name, "is missing")
        if not isinstance(row[name], kind) or isinstance(row[name], bool):
            raise _bad(where, name, f"must be {kind.__name__}, got {type(row[name]).__name__}")
    where = f"{where} (question_id {row['question_id']})"
    meta = row["meta_info"]
    difficulty = meta.get("item_set")
    if difficulty not in DIFFICULTIES:
        raise _bad(where, "meta_info.item_set", f"must be easy or hard, got {difficulty!r}")
    dataset_language = meta.get("programming_language")
    if not isinstance(dataset_language, str) or not dataset_language:
        raise _bad(where, "meta_info.programming_language", "is missing")
    instructions, categories = [], []
    for i, item in enumerate(row["instruction_list"]):
        text = item.get("instruction") if isinstance(item, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise _bad(where, f"instruction_list[{i}].instruction", "must be a non-empty string")
        if not isinstance(item.get("type"), str) or not item["type"]:
            raise _bad(where, f"instruction_list[{i}].type", "must be a category name")
        instructions.append(text)
        categories.append(item["type"])
    if not instructions:
        raise _bad(where, "instruction_list", "is empty")
    dependence = _dependence(row.get("instruction_dependence"), len(instructions), where)
    first = match(instructions[0])
    language = language_of(first.slots["programming_language"] if first.template == 1 else dataset_language)
    reference = row.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise _bad(where, "reference", "must be a string (code that meets every constraint)")
    return Sample(
        id=str(row["question_id"]),
        inputs={"question": row["question"], "instructions": instructions, "categories": categories,
                "dependence": dependence, "language": language},
        reference=reference,
        metadata={"language": language, "dataset_language": language_of(dataset_language),
                  "difficulty": difficulty, "categories": categories},
    )


def _dependence(raw: Any, count: int, where: str) -> dict[str, list[int]]:
    """Prerequisites by constraint index; hub rows carry every key any row has, with None where absent."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(where, "instruction_dependence", f"must be an object, got {type(raw).__name__}")
    out: dict[str, list[int]] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if not str(key).isdigit() or int(key) >= count:
            raise _bad(where, "instruction_dependence", f"has key {key!r}, not an index below {count}")
        if not isinstance(value, list) or not all(isinstance(x, int) and 0 <= x < count for x in value):
            raise _bad(where, f"instruction_dependence[{key!r}]", f"must list indices below {count}, got {value!r}")
        out[str(int(key))] = list(value)
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))

