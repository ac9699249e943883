"""`oracle`: answers every sample with the task's reference response (a perfect model).

A benchmark whose oracle does not score full marks has a bug in its loader or grader."""

from __future__ import annotations

from typing import Any

from ..task import Task
from ..types import GenParams, Request, Response
from .base import ModelAdapter


class OracleModel(ModelAdapter):
    batch_size = 64
    answers_by_sample = True

    def __init__(self, spec: str, params: GenParams, task: Task):
        super().__init__(spec, params)
        self.task = task

    def fingerprint(self) -> dict[str, Any]:
        return {"spec": "oracle", "task": self.task.name, "task_version": self.task.version,
                "task_code": self.task.code_hash}

    def generate(self, requests: list[Request]) -> list[list[Response]]:
        out = []
        for req in requests:
            text = self.task.reference_response(req.sample)
            out.append([Response(text=text) for _ in req.indices])
        return out
