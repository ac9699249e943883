"""The ModelAdapter contract: a batch of requests in, one response per requested sample index out.

A backend is one small file in this folder: subclass `ModelAdapter`, set `batch_size` (requests per
`generate` call) and `concurrency` (calls in flight at once), and implement `generate`.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from typing import Any

from ..types import GenParams, Request, Response


class ModelError(Exception):
    """A model that cannot be used as asked (unknown backend, missing file, missing key)."""


class ModelAdapter(ABC):
    batch_size: int = 1
    concurrency: int = 1
    # True where a response depends on the sample itself, not only on the prompt (the oracle answers with the
    # sample's reference, a replay file by sample id): the sample's content hash is then part of the response key
    answers_by_sample: bool = False

    def __init__(self, spec: str, params: GenParams):
        self.spec = spec
        self.params = params

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this model's outputs beyond its parameters (a revision, a file hash)."""
        return {"spec": self.spec}

    @abstractmethod
    def generate(self, requests: list[Request]) -> list[list[Response]]:
        """For each request, one Response per index in `request.indices`, in that order.
        Must not raise for a provider failure: return `Response.failed(reason)` instead."""

    def close(self) -> None:
        pass


_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)


def redact(text: str) -> str:
    """Remove the values of secret-looking environment variables from a message before it is shown or stored."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and _SECRET_NAME.search(name) and value in text:
            text = text.replace(value, f"<{name}>")
    return text
