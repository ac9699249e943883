"""What the HTTP API backends (openai, anthropic) share: the retry policy and adaptive concurrency limit,
one client per adapter, the endpoint without credentials for fingerprints, and `--model-arg` pass-through."""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

from ..types import GenParams, Request, Response
from .base import ModelAdapter, ModelError, redact
from .retry import AdaptiveLimit, RetryPolicy

DEFAULT_CONCURRENCY = 8
OMIT = "omit"  # a --model-arg value that removes the key from the request


def passthrough_args(extra: dict[str, str], own: tuple[str, ...]) -> dict[str, Any]:
    """`--model-arg` pairs that are not the harness's own, values parsed as JSON where they parse."""
    out: dict[str, Any] = {}
    for key, raw in extra.items():
        if key in own:
            continue
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def merge_extra(args: dict[str, Any], extra: dict[str, Any], known: Any) -> dict[str, Any]:
    """`args` with the pass-through pairs added: a key the client takes as a keyword replaces that keyword,
    the others go into `extra_body`, and the value "omit" removes a key (e.g. `temperature=omit` for a model
    that rejects sampling parameters)."""
    known = set(known)
    out = {k: v for k, v in args.items() if extra.get(k) != OMIT}
    body = {k: v for k, v in extra.items() if v != OMIT and k not in known}
    out.update({k: v for k, v in extra.items() if v != OMIT and k in known})
    if body:
        out["extra_body"] = body
    return out


def public_url(url: str) -> str:
    """The URL without a user:password part, for fingerprints and messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class RemoteModel(ModelAdapter):
    """A model behind an HTTP API: one request per call (`batch_size` 1), up to `concurrency` in flight."""

    batch_size = 1
    concurrency = DEFAULT_CONCURRENCY
    api = ""

    def __init__(self, spec: str, params: GenParams, model: str, concurrency: int | None):
        super().__init__(spec, params)
        self.model = model
        self.policy = RetryPolicy.from_extra(dict(params.extra))
        self.concurrency = concurrency or DEFAULT_CONCURRENCY
        self.limit = AdaptiveLimit(self.concurrency)

    def _connect(self, backend: str, make_client: Callable[[], Any]) -> None:
        """Create the client (with max_retries=0: retries are ours) and note its endpoint without credentials."""
        try:
            self.client = make_client()
        except Exception as exc:  # a malformed URL, a conflicting setting in the environment
            raise ModelError(redact(f"{backend}: cannot create the client: {exc}")) from None
        self.base_url = redact(public_url(str(self.client.base_url).rstrip("/")))

    def fingerprint(self) -> dict[str, Any]:
        return {"spec": self.spec, "base_url": self.base_url, "api": self.api}

    def close(self) -> None:
        self.client.close()

    def generate(self, requests: list[Request]) -> list[list[Response]]:
        return [self._generate_one(req) for req in requests]

    def _generate_one(self, req: Request) -> list[Response]:
        raise NotImplementedError
