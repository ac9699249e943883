"""`replay:<file>`: grade predictions made elsewhere (another harness, an agent, a published output file).

JSONL, one object per line: `{"id": <sample id>, "response": <text>}`; several lines with one id are that
sample's attempts 0, 1, 2... in file order. SWE-bench predictions (`instance_id`, `model_patch`) are accepted.

COFFE's own prediction files are read as they are: one JSON object `{prompt: [[output, ...], valid_flag]}` (an
output may also be a single string), keyed by the exact prompt the model was sent.  They are matched by the
prompt of each request (its last user message), so any task whose rendered prompt is the text the file was made
from can replay them; the outputs are attempts 0, 1, ...  A prompt whose valid_flag is false has no prediction
(COFFE's pipeline skips it).

A sample with no prediction gets an empty response (graded, so it counts as a failure) and a note saying why."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..types import GenParams, Request, Response
from .base import ModelAdapter, ModelError

ID_FIELDS = ("id", "instance_id", "sample_id")
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
        self.by_prompt = False
        data = self.path.read_bytes()
        self.sha256 = hashlib.sha256(data).hexdigest()
        coffe = _coffe_file(data)
        if coffe is not None:
            self.by_prompt = True
            self._add_coffe(coffe)
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
        if not isinstance(row, dict):
            raise ModelError(f"{where}: expected a JSON object, got {type(row).__name__}")
        sid = next((row[k] for k in ID_FIELDS if k in row), None)
        if sid is None:
            raise ModelError(f"{where}: missing field 'id' (or 'instance_id')")
        text = next((row[k] for k in TEXT_FIELDS if k in row), None)
        if text is None:
            raise ModelError(f"{where}: missing field 'response' (or 'model_patch')")
        if not isinstance(text, str):
            raise ModelError(f"{where}: field 'response' must be a string, got {type(text).__name__}")
        self.predictions.setdefault(str(sid), []).append(text)

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

    def fingerprint(self) -> dict[str, Any]:
        return {"spec": "replay", "sha256": self.sha256}  # the contents, wherever the file lives

    def generate(self, requests: list[Request]) -> list[list[Response]]:
        out = []
        for req in requests:
            texts = self.predictions.get(_asked(req) if self.by_prompt else req.sample.id, [])
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
