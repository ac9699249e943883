"""The exported baseline: a small, stable JSON file of runs' per-sample verdicts that a team commits to its
repository, so that a pull request's gate compares against it without the store that made it.

Format `harness-gate-baseline`, version 1 (a reader refuses a newer version; fields are only ever added):

    {"format": "harness-gate-baseline", "format_version": 1, "harness_version": "0.1.0",
     "runs": [{"run": NAME, "pin": SHA256, "task": {"name", "split", "version", "code_sha256", "data_sha256",
               "args", "cluster_key"}, "prompt_sha256": SHA256, "model": SPEC, "status": "complete",
               "samples_per_problem": N, "metrics": {NAME: VALUE}, "samples_sha256": SHA256,
               "samples": [{"id": ID, "hash": CONTENT_SHA256, "metadata": {...},
                            "attempts": [[STATUS, SCORE], ...]}, ...]}]}

`pin` is the sha256 of what the run measured (task name, split, version, code, data, options, prompt; see
harness.gate.runs.Pin), `samples_sha256` that of its samples: a file edited by hand is refused. An attempt is its
verdict's status and score (infra attempts are kept, with no score, so that their count shows). One sample per
line, ordered as the run loaded them: an export of the same run gives the same bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import __version__
from .gate.runs import Attempt, GateError, Pin, RunResults, SampleAttempts
from .types import Status, stable_hash

FORMAT = "harness-gate-baseline"
FORMAT_VERSION = 1
_STATUSES = {s.value for s in Status}


def _sample_row(s: SampleAttempts) -> dict[str, Any]:
    for a in s.attempts:
        if a.score is not None and not math.isfinite(a.score):
            raise GateError(f"sample {s.id!r} has a verdict score of {a.score}, not a finite number (JSON cannot "
                            f"hold it, and no gate can use it): fix the task's grader and grade again")
    return {"id": s.id, "hash": s.content_hash, "metadata": dict(sorted(s.metadata.items())),
            "attempts": [[a.status, a.score] for a in s.attempts]}


def _samples_sha256(rows: list[dict[str, Any]]) -> str:
    return stable_hash("samples", rows)


def _run_header(run: RunResults, rows: list[dict[str, Any]]) -> dict[str, Any]:
    pin = run.pin
    return {"run": run.name, "pin": pin.digest(),
            "task": {"name": pin.task, "split": pin.split, "version": pin.version, "code_sha256": pin.code_sha256,
                     "data_sha256": pin.data_sha256, "args": pin.args, "cluster_key": run.cluster_key},
            "prompt_sha256": pin.prompt_sha256, "model": run.model, "status": run.status,
            "samples_per_problem": run.samples_per_problem,
            "metrics": {k: v if isinstance(v, (int, float)) and math.isfinite(v) else None
                        for k, v in run.metrics.items()},
            "samples_sha256": _samples_sha256(rows)}


def dumps(runs: list[RunResults]) -> str:
    """The file's text: headers indented, one sample per line."""
    if not runs:
        raise GateError("nothing to export: name at least one run")
    labels = [r.pin.label for r in runs]
    if len(set(labels)) != len(labels):
        raise GateError(f"two runs of one task and split ({', '.join(labels)}): a baseline holds one per task")

    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))  # keys in the order written here

    parts = []
    for run in runs:
        rows = [_sample_row(s) for s in run.samples.values()]
        header = _run_header(run, rows)
        fields = [f'      "{k}": {compact(v)}' for k, v in header.items()]
        samples = ",\n".join(f"        {compact(row)}" for row in rows)
        parts.append("    {\n" + ",\n".join(fields) + ',\n      "samples": [\n' + samples + "\n      ]\n    }")
    head = {"format": FORMAT, "format_version": FORMAT_VERSION, "harness_version": __version__}
    return ("{\n" + "".join(f'  "{k}": {json.dumps(v)},\n' for k, v in head.items()) + '  "runs": [\n'
            + ",\n".join(parts) + "\n  ]\n}\n")


def write(path: Path, runs: list[RunResults]) -> None:
    text = dumps(runs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read(path: Path) -> list[RunResults]:
    """The runs of an exported baseline file; a malformed or edited file is refused, naming what is wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateError(f"cannot read the baseline file {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GateError(f"the baseline file {path} is not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GateError(f"{path} is not a baseline file (no \"format\": \"{FORMAT}\"); make one with "
                        f"`harness export RUN -o {Path(path).name}`")
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise GateError(f"{path}: field 'format_version' must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise GateError(f"{path} has baseline format {version}; this harness reads up to {FORMAT_VERSION}: "
                        f"upgrade the harness")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise GateError(f"{path}: field 'runs' must be a non-empty list")
    return [_read_run(path, i, row) for i, row in enumerate(runs)]


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def _read_run(path: Path, i: int, row: Any) -> RunResults:
    where = f"{path}, run {i}"

    def field(obj: Any, name: str, typ: type | tuple[type, ...], at: str, optional: bool = False) -> Any:
        if not isinstance(obj, dict):
            raise GateError(f"{at}: expected an object, got {type(obj).__name__}")
        if name not in obj or obj[name] is None:
            if optional:
                return None
            raise GateError(f"{at}: field {name!r} is missing")
        if not isinstance(obj[name], typ) or isinstance(obj[name], bool) and typ is not bool:
            raise GateError(f"{at}: field {name!r} has the wrong type ({type(obj[name]).__name__})")
        return obj[name]

    name = field(row, "run", str, where)
    where = f"{path}, run {i} ({name})"
    task = field(row, "task", dict, where)
    pin = Pin(task=field(task, "name", str, f"{where}, task"), split=field(task, "split", str, f"{where}, task"),
              version=field(task, "version", str, f"{where}, task"),
              code_sha256=field(task, "code_sha256", str, f"{where}, task"),
              data_sha256=field(task, "data_sha256", str, f"{where}, task"),
              args=field(task, "args", dict, f"{where}, task"),
              prompt_sha256=field(row, "prompt_sha256", str, where))
    rows = field(row, "samples", list, where)
    if field(row, "pin", str, where) != pin.digest() or field(row, "samples_sha256", str, where) != \
            _samples_sha256(rows):
        raise GateError(f"{where}: its pin or samples checksum does not match its contents (the file was edited); "
                        f"export the baseline again with `harness export`")
    samples: dict[str, SampleAttempts] = {}
    for j, s in enumerate(rows):
        at = f"{where}, sample {j}"
        sid = field(s, "id", str, at)
        at = f"{where}, sample {j} ({sid})"
        if sid in samples:
            raise GateError(f"{at}: the id appears twice")
        attempts = []
        for k, a in enumerate(field(s, "attempts", list, at)):
            if (not isinstance(a, list) or len(a) != 2 or a[0] not in _STATUSES
                    or not (a[1] is None or _finite_number(a[1]))
                    or (a[1] is None) != (a[0] == Status.INFRA.value)):
                raise GateError(f"{at}: attempt {k} must be [status, score] with a status of "
                                f"{', '.join(sorted(_STATUSES))} and a finite number (null for infra), got {a!r}")
            attempts.append(Attempt(a[0], None if a[1] is None else float(a[1])))
        samples[sid] = SampleAttempts(sid, field(s, "hash", str, at), field(s, "metadata", dict, at), tuple(attempts))
    metrics = field(row, "metrics", dict, where, optional=True) or {}
    return RunResults(name=name, source=str(path), pin=pin, model=field(row, "model", str, where),
                      status=field(row, "status", str, where),
                      samples_per_problem=field(row, "samples_per_problem", int, where), samples=samples,
                      cluster_key=field(task, "cluster_key", str, f"{where}, task", optional=True), metrics=metrics)
