"""SWE-bench-Live instances: the hub dataset, local files in its schema, and the classic SWE-bench schema.

Where the rows come from (`--data`):

  none                      the hub dataset SWE-bench-Live/SWE-bench-Live (through `datasets`), `--split`
                            full | lite | verified | test
  hf:<repo id>[@revision]   any hub dataset in this schema, the split chosen by `--split` (a local folder laid out
                            like a hub repository, `data/<split>-00000-of-00001.parquet`, works the same way)
  a .jsonl / .json / .parquet file
                            one instance a line (JSONL), a JSON list of instances, or a parquet table; the
                            split is not used
  a folder                  the split's file in it: `<split>.jsonl`, `<split>.json` or `<split>.parquet`

One schema covers both datasets. Required: instance_id, repo, base_commit, patch, test_patch,
problem_statement, created_at. Optional: hints_text; FAIL_TO_PASS and PASS_TO_PASS (lists of test ids, or JSON
strings of lists as the classic SWE-bench sets on the hub have them; missing where `harness validate` is to
derive them); test_cmds (SWE-bench-Live: shell commands run in /testbed; classic SWE-bench has none, a recipe
gives them); log_parser ("pytest", or, in the MultiLang sets, Python source that is never run); docker_image.
Every other field (version, environment_setup_commit, difficulty, pull_number...) is kept in `Instance.extra`.
A bad row raises TaskError naming the file, the row and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.task import TaskError, file_sha256, jsonl_rows
from harness.types import Sample

HUB_DATASET = "SWE-bench-Live/SWE-bench-Live"
SPLITS = ("full", "lite", "verified", "test")
REQUIRED = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement", "created_at")
KNOWN = (*REQUIRED, "hints_text", "FAIL_TO_PASS", "PASS_TO_PASS", "test_cmds", "log_parser", "docker_image")
SUFFIXES = (".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class Instance:
    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str
    problem_statement: str
    hints_text: str
    created_at: str  # ISO 8601, as in the data ("2025-01-08T22:39:32Z")
    fail_to_pass: tuple[str, ...]  # () where the data has none (validate derives them)
    pass_to_pass: tuple[str, ...]
    test_cmds: tuple[str, ...]  # Live: the instance's test_cmds; classic SWE-bench: () unless a recipe gives one
    log_parser: str = "pytest"
    image: str | None = None  # the row's `docker_image`, where it has one
    extra: Mapping[str, Any] = field(default_factory=dict)  # every other field of the row

    @property
    def listed_tests(self) -> list[str]:
        """FAIL_TO_PASS then PASS_TO_PASS, each once: the tests a grade runs and its verdict reads."""
        return list(dict.fromkeys(self.fail_to_pass + self.pass_to_pass))


@dataclass(frozen=True)
class DataSet:
    """Where the rows come from: `rows()` yields (where, row) in order; `where` names the file and row."""

    description: str
    sha256: str
    rows: Callable[[], Iterator[tuple[str, dict]]]


# ------------------------------------------------------------------------------------------------ locating
def locate(data: str | None, split: str) -> DataSet:
    """`--data` as given (None: the hub dataset) and the split -> the data set."""
    if data is None:
        return _hub(f"hf:{HUB_DATASET}", split)
    if data.startswith("hf:"):
        return _hub(data, split)
    path = Path(data)
    if path.is_dir():
        found = [path / f"{split}{suffix}" for suffix in SUFFIXES if (path / f"{split}{suffix}").is_file()]
        if not found:
            raise TaskError(f"swebench-live: {path} holds no {split}.jsonl, {split}.json or {split}.parquet "
                            f"(a folder is read by split; or give the file itself with --data)")
        path = found[0]
    elif not path.is_file():
        raise TaskError(f"swebench-live: data file {path} not found (give a .jsonl, .json or .parquet file, a "
                        f"folder of <split>.jsonl files, or hf:<repo id>)")
    if path.suffix not in SUFFIXES:
        raise TaskError(f"swebench-live: {path}: unknown file type {path.suffix!r} (expected .jsonl, .json or "
                        f".parquet)")
    reader = {".jsonl": _jsonl, ".json": _json_list, ".parquet": _parquet}[path.suffix]
    return DataSet(str(path), file_sha256(path), lambda: reader(path))


def _hub(ref: str, split: str) -> DataSet:
    """A hub dataset (or a local folder laid out like one) through `datasets`, one split of it."""
    repo, _, revision = ref[3:].partition("@")
    try:
        import datasets

        loaded = datasets.load_dataset(repo, split=split, revision=revision or None)
    except Exception as exc:  # offline, unknown repository, unknown split
        raise TaskError(f"swebench-live: cannot load split {split!r} of {ref} through datasets: "
                        f"{type(exc).__name__}: {str(exc)[:300]}. Offline, pass --data with a local .jsonl, "
                        f".json or .parquet file of the instances") from exc
    digest = hashlib.sha256(f"{ref}:{split}:{loaded._fingerprint}".encode()).hexdigest()

    def rows() -> Iterator[tuple[str, dict]]:
        for n, row in enumerate(loaded, 1):
            yield f"{ref} ({split}) row {n}", dict(row)

    return DataSet(f"{ref} ({split})", digest, rows)


def _jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    return jsonl_rows(path, "swebench-live")


def _json_list(path: Path) -> Iterator[tuple[str, dict]]:
    with _open(path) as fh:
        try:
            rows = json.load(fh)
        except json.JSONDecodeError as exc:
            raise TaskError(f"swebench-live: {path}: not valid JSON ({exc.msg} at line {exc.lineno}); a .json "
                            f"file holds a list of instances (one instance a line: .jsonl)") from None
    if not isinstance(rows, list):
        raise TaskError(f"swebench-live: {path}: expected a JSON list of instances, got {type(rows).__name__}")
    for n, row in enumerate(rows, 1):
        yield f"{path}, item {n}", row


def _parquet(path: Path) -> Iterator[tuple[str, dict]]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
        raise TaskError(f"swebench-live: {path}: not a readable parquet file ({exc})") from None
    n = 0
    for batch in table.iter_batches(batch_size=256):
        for row in batch.to_pylist():
            n += 1
            yield f"{path}, row {n}", row


def _open(path: Path):
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise TaskError(f"swebench-live: cannot read {path}: {exc.strerror}") from exc


# ------------------------------------------------------------------------------------------------ parsing
def instances(dataset: DataSet, *, ids: frozenset[str] = frozenset(),
              repos: frozenset[str] = frozenset()) -> Iterator[Instance]:
    """The instances in file order, each row checked; `ids` / `repos` keep only those (empty: all). An id given
    that the data lacks is an error (after the last row), as is an instance id that occurs twice."""
    seen: set[str] = set()
    for where, row in dataset.rows():
        inst = parse_row(row, where)
        if inst.instance_id in seen:
            raise TaskError(f"swebench-live: {where}: instance_id {inst.instance_id!r} occurs twice")
        seen.add(inst.instance_id)
        if (ids and inst.instance_id not in ids) or (repos and inst.repo not in repos):
            continue
        yield inst
    missing = sorted(ids - seen)
    if missing:
        raise TaskError(f"swebench-live: -T ids: not in {dataset.description}: {', '.join(missing[:10])}"
                        + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))


def parse_row(row: Any, where: str) -> Instance:
    if not isinstance(row, dict):
        raise TaskError(f"swebench-live: {where}: expected an object (an instance), got {type(row).__name__}")
    for name in REQUIRED:
        if row.get(name) is None or row.get(name) == "":
            raise TaskError(f"swebench-live: {where}: missing field {name!r}")
    text = {name: _text(row, name, where) for name in REQUIRED if name != "created_at"}
    hints = row.get("hints_text")
    log_parser = row.get("log_parser")
    image = row.get("docker_image")
    for name, value in (("hints_text", hints), ("log_parser", log_parser), ("docker_image", image)):
        if value is not None and not isinstance(value, str):
            raise TaskError(f"swebench-live: {where}: field {name!r} must be a string, got {type(value).__name__}")
    return Instance(
        instance_id=text["instance_id"], repo=text["repo"], base_commit=text["base_commit"], patch=text["patch"],
        test_patch=text["test_patch"], problem_statement=text["problem_statement"], hints_text=hints or "",
        created_at=_created_at(row["created_at"], where),
        fail_to_pass=_string_list(row, "FAIL_TO_PASS", where), pass_to_pass=_string_list(row, "PASS_TO_PASS", where),
        test_cmds=_string_list(row, "test_cmds", where), log_parser=log_parser or "pytest", image=image or None,
        extra={k: _plain(v) for k, v in sorted(row.items()) if k not in KNOWN})


def _text(row: dict, name: str, where: str) -> str:
    value = row[name]
    if not isinstance(value, str):
        raise TaskError(f"swebench-live: {where}: field {name!r} must be a string, got {type(value).__name__}")
    return value


def _string_list(row: dict, name: str, where: str) -> tuple[str, ...]:
    """A list of strings, or a JSON string holding one (classic SWE-bench on the hub); missing, null, "" -> ()."""
    value = row.get(name)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise TaskError(f"swebench-live: {where}: field {name!r} is a string but not a JSON list of strings "
                            f"({value[:60]!r})") from None
    if hasattr(value, "tolist"):  # numpy arrays from parquet readers
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TaskError(f"swebench-live: {where}: field {name!r} must be a list of strings")
    return tuple(value)


def _created_at(value: Any, where: str) -> str:
    """ISO 8601 text as in the data; a datetime (a parquet or hub timestamp column) written the same way."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise TaskError(f"swebench-live: {where}: field 'created_at' must be an ISO 8601 date, got "
                        f"{type(value).__name__}")
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TaskError(f"swebench-live: {where}: field 'created_at' is not an ISO 8601 date or datetime "
                        f"({value!r})") from None
    return value


def _plain(value: Any) -> Any:
    """A value as JSON holds it (extra fields go into the sample, which is hashed)."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# ----------------------------------------------------------------------------------------- samples
def to_sample(inst: Instance) -> Sample:
    """id = instance_id; inputs: what the prompt needs and where the instance runs; reference: what grading
    needs; metadata: repo and created_at (per-repository and per-month metrics, the gate's clusters, the site's
    contamination view)."""
    return Sample(
        id=inst.instance_id,
        inputs={"repo": inst.repo, "base_commit": inst.base_commit, "problem_statement": inst.problem_statement,
                "hints_text": inst.hints_text, "created_at": inst.created_at, "log_parser": inst.log_parser,
                "image": inst.image, "extra": dict(inst.extra)},
        reference={"patch": inst.patch, "test_patch": inst.test_patch, "fail_to_pass": list(inst.fail_to_pass),
                   "pass_to_pass": list(inst.pass_to_pass), "test_cmds": list(inst.test_cmds)},
        metadata={"repo": inst.repo, "created_at": inst.created_at})


def instance_of(sample: Sample) -> Instance:
    """The Instance a Sample was made from (`to_sample`'s inverse)."""
    i, r = sample.inputs, sample.reference
    return Instance(instance_id=sample.id, repo=i["repo"], base_commit=i["base_commit"], patch=r["patch"],
                    test_patch=r["test_patch"], problem_statement=i["problem_statement"], hints_text=i["hints_text"],
                    created_at=i["created_at"], fail_to_pass=tuple(r["fail_to_pass"]),
                    pass_to_pass=tuple(r["pass_to_pass"]), test_cmds=tuple(r["test_cmds"]),
                    log_parser=i["log_parser"], image=i["image"], extra=dict(i["extra"]))


def split_list(text: str | None) -> frozenset[str]:
    """`-T ids=a,b` / `-T repo=owner/name,...` -> the set (empty: no filter)."""
    return frozenset(part.strip() for part in (text or "").split(",") if part.strip())
