"""`replay:<file>`: grade predictions made elsewhere (another harness, an agent, a published output file).

JSONL, one object per line: `{"id": <sample id>, "response": <text>}`; several lines with one id are that
sample's attempts 0, 1, 2... in file order. SWE-bench predictions (`instance_id`, `model_patch`) are accepted, as
JSONL, as a JSON list, or as an object keyed by instance id (`{"<id>": {"model_patch": ...}}`); a null
`model_patch` is the empty patch.

COFFE's own prediction files are read as they are: one JSON object `{prompt: [[output, ...], valid_flag]}` (an
output may also be a single string), keyed by the exact prompt the model was sent.  They are matched by the
prompt of each request (its last user message), so any task whose rendered prompt is the text the file was made
from can replay them; the outputs are attempts 0, 1, ...  A prompt whose valid_flag is false is withdrawn, as COFFE's
pipeline skips it: its attempts carry `withdrawn` (the reason) in their usage, and the engine records them as
ungradable with that reason, left out of the metrics, without grading them.

A sample with no prediction gets an empty response (graded, so it counts as a failure) and a note saying why."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..types import GenParams, Request, Response
from .base import ModelAdapter, ModelError

ID_FIELDS = ("id", "instance_id", "sample_id")
WITHDRAWN = "the COFFE prediction file marks this prompt invalid (valid_flag false); COFFE's pipeline skips it"
TEXT_FIELDS = ("response", "model_patch", "completion", "output")


class ReplayModel(ModelAdapter):
    batch_size = 256
    answers_by_sample = True

    def __init__(self, spec: str, params: GenParams, path: str):
        super().__init__(spec, params)
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"replay: no such file {self.path}")
        self.predictions: dict[str, list[str]] = {}  # by sample id, or (COFFE files) by prompt
        self.withdrawn: set[str] = set()  # (COFFE files) the prompts whose valid_flag is false
        self.by_prompt = False
        data = self.path.read_bytes()
        self.sha256 = hashlib.sha256(data).hexdigest()
        coffe = _coffe_file(data)
        swe = None if coffe is not None else self._swe_file(data)
        if coffe is not None:
            self.by_prompt = True
            self._add_coffe(coffe)
        elif swe is not None:
            for where, row in swe:
                self._add_row(where, row)
        else:
            for lineno, raw in enumerate(data.splitlines(), 1):
                if raw.strip():
                    self._add(lineno, raw)
        if not self.predictions and not self.by_prompt:
            raise ModelError(f"replay file {self.path} has no predictions (expected JSONL lines with "
                             f"'id' and 'response', or a COFFE file {{prompt: [[outputs...], valid_flag]}})")

    def _add(self, lineno: int, raw: bytes) -> None:
        where = f"replay file {self.path}, line {lineno}"
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        self._add_row(where, row)

    def _add_row(self, where: str, row: Any) -> None:
        if not isinstance(row, dict):
            raise ModelError(f"{where}: expected a JSON object, got {type(row).__name__}")
        sid = next((row[k] for k in ID_FIELDS if k in row), None)
        if sid is None:
            raise ModelError(f"{where}: missing field 'id' (or 'instance_id')")
        text = next((row[k] for k in TEXT_FIELDS if k in row), None)
        if text is None and "model_patch" in row:
            text = ""  # SWE-bench: a null model_patch is the empty patch
        if text is None:
            raise ModelError(f"{where}: missing field 'response' (or 'model_patch')")
        if not isinstance(text, str):
            raise ModelError(f"{where}: field 'response' must be a string, got {type(text).__name__}")
        self.predictions.setdefault(str(sid), []).append(text)

    def _swe_file(self, data: bytes) -> list[tuple[str, Any]] | None:
        """SWE-bench's JSON predictions, as (where, row) pairs: a list of objects, or an object keyed by instance
        id whose values are objects (`{"<instance_id>": {"model_patch": ...}}`); None for anything else (JSONL)."""
        head = data.lstrip()[:1]
        if head not in (b"[", b"{"):
            return None
        try:
            obj = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if head == b"{":
                return None  # JSONL: several objects, one a line
            raise ModelError(f"replay file {self.path}: not valid JSON ({exc})") from exc
        if isinstance(obj, list):
            return [(f"replay file {self.path}, item {n}", row) for n, row in enumerate(obj, 1)]
        if not isinstance(obj, dict) or not obj or not all(isinstance(v, dict) for v in obj.values()):
            return None
        rows = []
        for key, row in obj.items():
            where = f"replay file {self.path}, entry {key!r}"
            named = row.get("instance_id", key)
            if named != key:
                raise ModelError(f"{where}: its instance_id {named!r} is not the key it is filed under")
            rows.append((where, {**row, "instance_id": key}))
        return rows

    def _add_coffe(self, data: dict) -> None:
        for n, (prompt, entry) in enumerate(data.items()):
            where = f"replay file {self.path} (COFFE format), entry {n} (prompt {prompt[:60]!r}...)"
            outputs, valid = entry
            if isinstance(outputs, str):
                outputs = [outputs]
            if not isinstance(valid, bool):
                raise ModelError(f"{where}: the valid_flag must be true or false, got {valid!r}")
            bad = next((o for o in outputs if not isinstance(o, str)), None)
            if bad is not None:
                raise ModelError(f"{where}: every output must be a string, got {type(bad).__name__}")
            if valid:
                self.predictions[prompt] = list(outputs)
            else:
                self.withdrawn.add(prompt)

    def fingerprint(self) -> dict[str, Any]:
        return {"spec": "replay", "sha256": self.sha256}  # the contents, wherever the file lives

    def generate(self, requests: list[Request]) -> list[list[Response]]:
        out = []
        for req in requests:
            key = _asked(req) if self.by_prompt else req.sample.id
            if key in self.withdrawn:
                out.append([Response(text="", usage={"withdrawn": WITHDRAWN}) for _ in req.indices])
                continue
            texts = self.predictions.get(key, [])
            row = []
            for i in req.indices:
                if i < len(texts):
                    row.append(Response(text=texts[i]))
                else:
                    row.append(Response(text="", usage={"missing_prediction": 1}))
            out.append(row)
        return out


def _asked(req: Request) -> str:
    """The prompt a COFFE prediction file is keyed by: the request's last user message."""
    users = [content for role, content in req.prompt.messages if role == "user"]
    return users[-1] if users else req.prompt.text


def _coffe_file(data: bytes) -> dict | None:
    """The file as COFFE's format, `{prompt: [outputs, valid_flag]}`, or None when it is not one (JSONL)."""
    if not data.lstrip().startswith(b"{"):
        return None
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # JSONL: several objects, one a line
    if not isinstance(obj, dict) or not obj:
        return None
    shaped = all(isinstance(v, list) and len(v) == 2 and isinstance(v[0], (list, str)) for v in obj.values())
    return obj if shaped else None
