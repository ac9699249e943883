"""`openai:<model>`: any OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, llama.cpp, Ollama) via the `openai` client.

Endpoint: `--base-url`, else $OPENAI_BASE_URL, else OpenAI's own. Key: $OPENAI_API_KEY; a custom endpoint
without one gets the placeholder "EMPTY" (local servers ignore keys), OpenAI's own endpoint refuses to start.

Requests: the chat API by default (the prompt's messages); `--model-arg api=completions` sends `prompt.text` to
the completions API instead. All sample indices a request needs are asked for in one call (`n`, sent only when
more than 1); a server that returns fewer choices gets follow-up calls for the rest. `temperature` is always
sent; `top_p`, `max_tokens`, `stop` and `seed` only when set. For models that want `max_completion_tokens`
(OpenAI's reasoning models) pass `--model-arg max_completion_tokens=N` and leave --max-tokens unset.

Other `--model-arg KEY=VALUE` pairs go into the request body as they are (`extra_body`), the value parsed as
JSON when it parses (`top_k=20` is a number, `logprobs=true` a boolean, `chat_template_kwargs={"enable_thinking":
false}` an object), else sent as a string. A key the harness sets itself (`temperature`, `max_tokens`...) is
replaced, and the value `omit` removes it (`temperature=omit` for a model that rejects it). `api` and the retry
keys configure the harness and are not sent: `max_retries`, `backoff`, `backoff_max`, `timeout`,
`retry_after_max` (see retry.py for what they do).

Usage: the first response of each call carries the call's `prompt_tokens` and `completion_tokens` (so summing
over responses gives the bill) and `retries` when it took any; every response has the provider's
`finish_reason`, and one cut by the token limit has `truncated: 1`. Failures never raise: each unfinished index gets `Response.failed(reason)`, the reason redacted.
"""

from __future__ import annotations

import os
from typing import Any

import openai

from ..types import GenParams, Prompt, Request, Response
from .base import ModelError, redact
from .remote import RemoteModel, merge_extra, passthrough_args
from .retry import POLICY_KEYS, Failure, GiveUp, MalformedResponse, call_with_retries, classify_sdk_error

APIS = ("chat", "completions")
KEY_NAME = "OPENAI_API_KEY"


class OpenAIModel(RemoteModel):
    def __init__(self, spec: str, params: GenParams, model: str, base_url: str | None = None,
                 concurrency: int | None = None):
        super().__init__(spec, params, model, concurrency)
        extra = dict(params.extra)
        self.api = extra.get("api", "chat")
        if self.api not in APIS:
            raise ModelError(f"--model-arg api={self.api!r}: expected one of {', '.join(APIS)}")
        self.body_extra = passthrough_args(extra, ("api", *POLICY_KEYS))
        custom_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = os.environ.get(KEY_NAME)
        if not key:
            if custom_url is None:
                raise ModelError(f"{KEY_NAME} is not set: export it to use OpenAI's API, or pass --base-url "
                                 f"for a local OpenAI-compatible server (which needs no key)")
            key = "EMPTY"
        self._connect("openai", lambda: openai.OpenAI(api_key=key, base_url=custom_url, max_retries=0,
                                                      timeout=self.policy.timeout))

    # --- one request: all its indices, in as few calls as the server allows -----------------------------
    def _generate_one(self, req: Request) -> list[Response]:
        wanted = len(req.indices)
        out: list[Response] = []
        try:
            while len(out) < wanted:
                n = wanted - len(out)
                (choices, usage), retries = call_with_retries(
                    lambda: self._call(req.prompt, n), self._classify, self.policy, self.limit,
                    what=f"{self.spec} sample {req.sample.id}")
                if retries:
                    usage["retries"] = retries
                for i, (text, finish) in enumerate(choices[:n]):
                    facts = {"finish_reason": finish} if isinstance(finish, str) else {}
                    if finish == "length":
                        facts["truncated"] = 1
                    out.append(Response(text=text, usage={**(usage if i == 0 else {}), **facts}))
        except GiveUp as exc:
            out.extend(Response.failed(exc.reason) for _ in range(wanted - len(out)))
        except Exception as exc:  # a bug here must not stop the run: ours, so an infra verdict
            reason = redact(f"openai adapter: unexpected {type(exc).__name__}: {exc}")
            out.extend(Response.failed(reason) for _ in range(wanted - len(out)))
        return out

    def _args(self, n: int) -> dict[str, Any]:
        p = self.params
        args: dict[str, Any] = {"model": self.model, "temperature": p.temperature}
        if n > 1:
            args["n"] = n
        if p.top_p is not None:
            args["top_p"] = p.top_p
        if p.max_tokens is not None:
            args["max_tokens"] = p.max_tokens
        if p.stop:
            args["stop"] = list(p.stop)
        if p.seed is not None:
            args["seed"] = p.seed
        return merge_extra(args, self.body_extra, known=args.keys())

    def _call(self, prompt: Prompt, n: int) -> tuple[list[tuple[str, bool]], dict[str, int]]:
        """One HTTP call: (text, finish reason) per choice in index order, and the call's token usage."""
        if self.api == "chat":
            result = self.client.chat.completions.create(messages=prompt.as_openai(), **self._args(n))
        else:
            result = self.client.completions.create(prompt=prompt.text, **self._args(n))
        return self._parse(result), _usage(getattr(result, "usage", None))

    def _parse(self, result: Any) -> list[tuple[str, bool]]:
        choices = getattr(result, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise MalformedResponse(f"no choices in the {self.api} answer (got {_describe(result)})")
        ordered = sorted(enumerate(choices), key=lambda ic: (_int(getattr(ic[1], "index", None), ic[0]), ic[0]))
        out = []
        for _, choice in ordered:
            if self.api == "chat":
                message = getattr(choice, "message", None)
                if message is None:
                    raise MalformedResponse("a choice has no 'message'")
                text = getattr(message, "content", None)
                if text is None:  # a refusal, or the token budget spent on hidden reasoning: graded as empty
                    text = getattr(message, "refusal", None) or ""
            else:
                text = getattr(choice, "text", None)
                if text is None:
                    raise MalformedResponse("a choice has no 'text'")
            if not isinstance(text, str):
                raise MalformedResponse(f"a choice's text is a {type(text).__name__}, not a string")
            out.append((text, getattr(choice, "finish_reason", None)))
        return out

    def _classify(self, exc: Exception) -> Failure:
        if isinstance(exc, openai.RateLimitError) and exc.code == "insufficient_quota":
            return Failure("429 insufficient_quota: the account has run out of credit; add some, then run the "
                           "same command again", retryable=False)
        return classify_sdk_error(exc, openai, KEY_NAME, self.policy.timeout)


def _usage(usage: Any) -> dict[str, int]:
    out = {}
    for name in ("prompt_tokens", "completion_tokens"):
        value = getattr(usage, name, None)
        if isinstance(value, int):
            out[name] = value
    return out


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) else default


def _describe(result: Any) -> str:
    if isinstance(result, (str, bytes)):
        return f"a {type(result).__name__} of {len(result)} characters"
    fields = getattr(result, "model_fields_set", None) or getattr(result, "__dict__", {})
    return f"fields {sorted(fields)[:8]}" if fields else type(result).__name__
