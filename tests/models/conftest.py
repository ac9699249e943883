"""A real HTTP server on 127.0.0.1 that speaks just enough of the OpenAI and Anthropic APIs, scripted per test.

Each test queues replies (`server.push(...)`): a `Reply`, or a function of the recorded request that returns
one. Requests beyond the script get `server.fallback(request)` (by default a 500 that says the script ran
out). Every request is recorded in `server.hits` with its arrival time, so tests can count attempts and
measure the waits between them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Union

import pytest


@dataclass
class Hit:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or the raw text when it is not JSON
    at: float  # time.monotonic() on arrival

    def user_text(self) -> str:
        """The last user message (chat and messages APIs) or the prompt (completions API)."""
        if isinstance(self.body, dict) and "messages" in self.body:
            users = [m["content"] for m in self.body["messages"] if m.get("role") == "user"]
            content = users[-1] if users else ""
            if isinstance(content, list):  # Anthropic content blocks
                content = "".join(b.get("text", "") for b in content)
            return content
        if isinstance(self.body, dict):
            return str(self.body.get("prompt", ""))
        return ""


@dataclass
class Reply:
    """What the server answers: status, body (dict -> JSON, str/bytes sent as is), headers, and a delay
    before answering (longer than the client's timeout makes a hung connection)."""

    status: int = 200
    body: Union[dict, str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Script = Union[Reply, Callable[[Hit], Reply]]


# --- bodies in each API's shape ------------------------------------------------------------------------
def chat_body(*texts: str, prompt_tokens: int = 11, completion_tokens: int = 7, finish: str = "stop") -> dict:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": i, "finish_reason": finish, "message": {"role": "assistant", "content": t}}
                    for i, t in enumerate(texts)],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def completion_body(*texts: str, prompt_tokens: int = 5, completion_tokens: int = 3) -> dict:
    return {
        "id": "cmpl-test", "object": "text_completion", "created": 0, "model": "fake",
        "choices": [{"index": i, "finish_reason": "stop", "text": t, "logprobs": None} for i, t in enumerate(texts)],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def messages_body(text: str, input_tokens: int = 13, output_tokens: int = 9, stop: str = "end_turn") -> dict:
    return {
        "id": "msg_test", "type": "message", "role": "assistant", "model": "fake",
        "content": [{"type": "text", "text": text}], "stop_reason": stop, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def openai_error(status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "error", "code": code, "param": None}}, headers or {})


def anthropic_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"type": "error", "error": {"type": kind, "message": message}}, headers or {})


class FakeServer:
    """ThreadingHTTPServer on an ephemeral port, answering POSTs from a script.

    The reply builders are attributes too (`server.chat_body(...)`), as tests cannot import conftest by name."""

    Reply = Reply
    chat_body = staticmethod(chat_body)
    completion_body = staticmethod(completion_body)
    messages_body = staticmethod(messages_body)
    openai_error = staticmethod(openai_error)
    anthropic_error = staticmethod(anthropic_error)

    def __init__(self) -> None:
        self.script: deque[Script] = deque()
        self.hits: list[Hit] = []
        self.fallback: Callable[[Hit], Reply] = lambda hit: openai_error(500, "test script ran out of replies")
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def push(self, *items: Script) -> None:
        with self._lock:
            self.script.extend(items)

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests."""
        return [b.at - a.at for a, b in zip(self.hits, self.hits[1:])]

    def start(self) -> "FakeServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers that are playing dead
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, hit: Hit) -> Reply:
        with self._lock:
            self.hits.append(hit)
            item = self.script.popleft() if self.script else self.fallback
        return item(hit) if callable(item) else item

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
                try:
                    body: Any = json.loads(raw)
                except json.JSONDecodeError:
                    body = raw
                hit = Hit("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                          time.monotonic())
                reply = server._next(hit)
                if reply.delay and server._closing.wait(reply.delay):
                    return
                payload = reply.body
                if isinstance(payload, dict):
                    payload = json.dumps(payload)
                if isinstance(payload, str):
                    payload = payload.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

        return Handler


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer().start()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider keys or base URLs leak in from the developer's environment."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
                 "ANTHROPIC_BASE_URL", "HARNESS_BASE_URL", "HARNESS_MODEL_ARG", "HARNESS_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)

