"""`replay:<file>`: grade predictions made elsewhere (another harness, an agent, a published output file).

JSONL, one object per line: `{"id": <sample id>, "response": <text>}`; several lines with one id are that
sample's attempts 0, 1, 2... in file order. SWE-bench predictions (`instance_id`, `model_patch`) are accepted.
A sample with no line gets an empty response (graded, so it counts as a failure) and a note saying why."""

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
        self.predictions: dict[str, list[str]] = {}
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                digest.update(raw)
                if not raw.strip():
                    continue
                self._add(lineno, raw)
        self.sha256 = digest.hexdigest()
        if not self.predictions:
            raise ModelError(f"replay file {self.path} has no predictions (expected JSONL lines with "
                             f"'id' and 'response')")

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

    def fingerprint(self) -> dict[str, Any]:
        return {"spec": "replay", "sha256": self.sha256}  # the contents, wherever the file lives

    def generate(self, requests: list[Request]) -> list[list[Response]]:
        out = []
        for req in requests:
            texts = self.predictions.get(req.sample.id, [])
            row = []
            for i in req.indices:
                if i < len(texts):
                    row.append(Response(text=texts[i]))
                else:
                    row.append(Response(text="", usage={"missing_prediction": 1}))
            out.append(row)
        return out
