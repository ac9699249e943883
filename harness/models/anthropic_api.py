"""`anthropic:<model>`: Claude models through the `anthropic` client's messages API.

Endpoint: `--base-url`, else $ANTHROPIC_BASE_URL, else Anthropic's own. Key: $ANTHROPIC_API_KEY (or
$ANTHROPIC_AUTH_TOKEN); a custom endpoint without one gets the placeholder "EMPTY", Anthropic's own endpoint
refuses to start. The key is passed to the client explicitly, so no credential files are consulted.

Requests: system messages are joined into `system=`, the rest go in `messages` (consecutive messages of one
role are merged, as the API wants roles to alternate). The API has no `n`: each sample index is its own call.
`max_tokens` is required by the API: 4096 unless --max-tokens says otherwise. `temperature` is always sent;
`top_p` and `stop` (as `stop_sequences`) only when set; `seed` is not supported by the API and is ignored.
The client has no keywords for temperature and top_p any more, so they travel in the body (`extra_body`);
for a model that rejects them pass `--model-arg temperature=omit`. Other `--model-arg KEY=VALUE` pairs go
into the body too (values parsed as JSON where they parse, e.g. `top_k=20`,
`thinking={"type":"adaptive"}`), a key the harness sets itself is replaced, and `omit` removes one; the
retry keys `max_retries`, `backoff`, `backoff_max`, `timeout`, `retry_after_max` are the harness's own (see
retry.py) and are not sent. Retries and the adaptive concurrency
limit are the same as the openai adapter's; a 529 "overloaded" answer counts as rate limiting.

Usage: `prompt_tokens` and `completion_tokens` (the API's input and output tokens) per response, `retries`
when it took any, and `truncated: 1` when it stopped at max_tokens. Failures never raise: `Response.failed`.
"""

from __future__ import annotations

import os
from typing import Any

import anthropic

from ..types import GenParams, Prompt, Request, Response
from .base import ModelError, redact
from .remote import RemoteModel, merge_extra, passthrough_args
from .retry import POLICY_KEYS, Failure, GiveUp, MalformedResponse, call_with_retries, classify_sdk_error

DEFAULT_MAX_TOKENS = 4096
KEY_NAME = "ANTHROPIC_API_KEY"


def split_prompt(prompt: Prompt) -> tuple[str | None, list[dict[str, str]]]:
    """(system text, alternating user/assistant messages) for the messages API."""
    system = [content for role, content in prompt.messages if role == "system"]
    messages: list[dict[str, str]] = []
    for role, content in prompt.messages:
        if role == "system":
            continue
        role = "assistant" if role == "assistant" else "user"
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + content
        else:
            messages.append({"role": role, "content": content})
    return ("\n\n".join(system) if system else None), messages


class AnthropicModel(RemoteModel):
    api = "messages"

    def __init__(self, spec: str, params: GenParams, model: str, base_url: str | None = None,
                 concurrency: int | None = None):
        super().__init__(spec, params, model, concurrency)
        self.body_extra = passthrough_args(dict(params.extra), POLICY_KEYS)
        custom_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        api_key = os.environ.get(KEY_NAME)
        token = None if api_key else os.environ.get("ANTHROPIC_AUTH_TOKEN")
        if not api_key and not token:
            if custom_url is None:
                raise ModelError(f"{KEY_NAME} is not set: export it to use Anthropic's API, or pass --base-url "
                                 f"for a compatible server that needs no key")
            api_key = "EMPTY"
        credential = {"api_key": api_key} if api_key else {"auth_token": token}
        self._connect("anthropic", lambda: anthropic.Anthropic(**credential, base_url=custom_url, max_retries=0,
                                                               timeout=self.policy.timeout))

    def _generate_one(self, req: Request) -> list[Response]:
        out: list[Response] = []
        for _ in req.indices:
            try:
                (text, usage), retries = call_with_retries(
                    lambda: self._call(req.prompt), self._classify, self.policy, self.limit,
                    what=f"{self.spec} sample {req.sample.id}")
            except GiveUp as exc:
                out.append(Response.failed(exc.reason))
                continue
            except Exception as exc:  # a bug here must not stop the run: ours, so an infra verdict
                out.append(Response.failed(redact(f"anthropic adapter: unexpected {type(exc).__name__}: {exc}")))
                continue
            if retries:
                usage["retries"] = retries
            out.append(Response(text=text, usage=usage))
        return out

    def _args(self, prompt: Prompt) -> dict[str, Any]:
        p = self.params
        system, messages = split_prompt(prompt)
        args: dict[str, Any] = {"model": self.model, "messages": messages,
                                "max_tokens": p.max_tokens if p.max_tokens is not None else DEFAULT_MAX_TOKENS}
        if system:
            args["system"] = system
        if p.stop:
            args["stop_sequences"] = list(p.stop)
        args = merge_extra(args, self.body_extra, known=args.keys())
        # The client has no keywords for sampling parameters: they travel in the body, and `omit` drops them.
        sampling = {"temperature": p.temperature, **({"top_p": p.top_p} if p.top_p is not None else {})}
        sampling = {k: v for k, v in sampling.items() if k not in self.body_extra}
        if sampling:
            args["extra_body"] = {**sampling, **args.get("extra_body", {})}
        return args

    def _call(self, prompt: Prompt) -> tuple[str, dict[str, int]]:
        """One HTTP call: the text of the answer's text blocks, and usage."""
        result = self.client.messages.create(**self._args(prompt))
        content = getattr(result, "content", None)
        if not isinstance(content, list):
            raise MalformedResponse("no 'content' in the messages answer")
        texts = []
        for block in content:
            if getattr(block, "type", None) == "text":
                text = getattr(block, "text", None)
                if not isinstance(text, str):
                    raise MalformedResponse("a text block has no text")
                texts.append(text)
        usage: dict[str, int] = {}
        raw_usage = getattr(result, "usage", None)
        for ours, theirs in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens")):
            value = getattr(raw_usage, theirs, None)
            if isinstance(value, int):
                usage[ours] = value
        stop = getattr(result, "stop_reason", None)
        if isinstance(stop, str):
            usage["finish_reason"] = stop
        if stop == "max_tokens":
            usage["truncated"] = 1
        return "".join(texts), usage

    def _classify(self, exc: Exception) -> Failure:
        return classify_sdk_error(exc, anthropic, KEY_NAME, self.policy.timeout)
