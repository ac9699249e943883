"""The anthropic adapter against a real local HTTP server speaking the messages API (POST /v1/messages)."""

from __future__ import annotations

import json
import logging
import time

import pytest

from harness.models import make_adapter
from harness.models.anthropic_api import AnthropicModel, split_prompt
from harness.models.base import ModelError
from harness.types import GenParams, Prompt, Request, Sample

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_keys")]

FAST = (("backoff", "0.01"), ("backoff_max", "0.05"), ("max_retries", "2"), ("timeout", "5"))


def params(*extra: tuple[str, str], **kw) -> GenParams:
    return GenParams(extra=tuple(sorted(dict(FAST + extra).items())), **kw)


def request(*indices: int) -> Request:
    return Request(Sample("s1", {}), Prompt.chat("What is 2+2?", system="Be brief."), indices or (0,))


def model(server, p: GenParams | None = None, **kw) -> AnthropicModel:
    return AnthropicModel("anthropic:fake", p or params(), "fake", base_url=server.url, **kw)


def ok(server, text: str = "4", **kw):
    return server.Reply(200, server.messages_body(text, **kw))


def test_messages_request_puts_system_apart_and_defaults_max_tokens(server):
    server.push(ok(server, "4", input_tokens=20, output_tokens=3))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text == "4" and resp.usage == {"prompt_tokens": 20, "completion_tokens": 3,
                                               "finish_reason": "end_turn"}
    hit = server.hits[0]
    assert hit.path == "/v1/messages"
    assert hit.body == {"model": "fake", "max_tokens": 4096, "system": "Be brief.", "temperature": 0.0,
                        "messages": [{"role": "user", "content": "What is 2+2?"}]}


def test_every_param_and_passthrough(server):
    server.push(ok(server, stop="max_tokens"))
    p = params(("top_k", "20"), ("thinking", '{"type": "adaptive"}'), temperature=0.5, top_p=0.9, max_tokens=64,
               stop=("###",), seed=3)
    [[resp]] = model(server, p).generate([request(0)])
    assert resp.usage["truncated"] == 1
    body = server.hits[0].body
    assert {k: body[k] for k in ("max_tokens", "temperature", "top_p", "stop_sequences", "top_k", "thinking")} == {
        "max_tokens": 64, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["###"], "top_k": 20,
        "thinking": {"type": "adaptive"}}
    assert "seed" not in body and "timeout" not in body and "max_retries" not in body


def test_temperature_can_be_omitted(server):
    server.push(ok(server))
    model(server, params(("temperature", "omit"))).generate([request(0)])
    assert "temperature" not in server.hits[0].body


def test_text_blocks_are_joined_and_others_skipped(server):
    body = server.messages_body("a")
    body["content"] = [{"type": "thinking", "thinking": "hmm", "signature": "x"},
                       {"type": "text", "text": "part 1, "}, {"type": "text", "text": "part 2"}]
    server.push(server.Reply(200, body))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text == "part 1, part 2"


def test_split_prompt_merges_roles_so_they_alternate():
    prompt = Prompt(messages=(("system", "s1"), ("user", "u1"), ("system", "s2"), ("user", "u2"),
                              ("assistant", "a1")))
    system, messages = split_prompt(prompt)
    assert system == "s1\n\ns2"
    assert messages == [{"role": "user", "content": "u1\n\nu2"}, {"role": "assistant", "content": "a1"}]


def test_n_samples_are_separate_calls(server):
    server.push(ok(server, "a"), ok(server, "b"), ok(server, "c"))
    [out] = model(server).generate([request(0, 1, 2)])
    assert [r.text for r in out] == ["a", "b", "c"] and len(server.hits) == 3


def test_429_waits_as_long_as_retry_after_says(server):
    server.push(server.anthropic_error(429, "rate_limit_error", "slow down", {"retry-after": "1"}), ok(server))
    m = model(server)
    [[resp]] = m.generate([request(0)])
    assert resp.text == "4" and resp.usage["retries"] == 1
    assert server.gaps()[0] >= 1.0
    assert m.limit.limit == 4  # 8 -> 4 on the 429; the success adds 1/4 of a slot


def test_529_overloaded_counts_as_rate_limiting(server):
    server.push(server.anthropic_error(529, "overloaded_error", "Overloaded"), ok(server))
    m = model(server, concurrency=4)
    [[resp]] = m.generate([request(0)])
    assert resp.text == "4" and m.limit.limit == 2  # 4 -> 2 on the 529; the success adds half a slot


def test_500_then_success(server):
    server.push(server.anthropic_error(500, "api_error", "boom"), ok(server))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text == "4" and len(server.hits) == 2


def test_persistent_500_fails_after_bounded_attempts(server):
    server.fallback = lambda hit: server.anthropic_error(500, "api_error", "Internal server error")
    [out] = model(server).generate([request(0, 1)])
    assert len(server.hits) == 6  # 2 indices x 3 attempts
    assert all(r.text is None and "gave up after 3 attempts" in r.error for r in out)


def test_hung_connection_then_success(server):
    server.push(server.Reply(200, server.messages_body("late"), delay=10), ok(server, "ok"))
    started = time.monotonic()
    [[resp]] = model(server, params(("timeout", "0.5"))).generate([request(0)])
    assert resp.text == "ok" and len(server.hits) == 2 and time.monotonic() - started < 5


def test_hung_connection_forever_fails(server):
    server.fallback = lambda hit: server.Reply(200, server.messages_body("never"), delay=10)
    [[resp]] = model(server, params(("timeout", "0.4"), ("max_retries", "1"))).generate([request(0)])
    assert resp.text is None and "timed out" in resp.error and len(server.hits) == 2


@pytest.mark.parametrize("bad", ["not json at all", json.dumps({"type": "message", "role": "assistant"})])
def test_malformed_body_is_retried(server, bad):
    server.push(server.Reply(200, bad), ok(server, "ok"))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text == "ok" and len(server.hits) == 2


def test_401_fails_fast(server):
    server.push(server.anthropic_error(401, "authentication_error", "invalid x-api-key"))
    [[resp]] = model(server).generate([request(0)])
    assert len(server.hits) == 1 and resp.error.startswith("401 Unauthorized: check ANTHROPIC_API_KEY")


def test_official_endpoint_without_key_is_refused():
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY is not set"):
        AnthropicModel("anthropic:claude", GenParams(), "claude")


def test_key_never_appears_in_reasons_logs_or_fingerprint(server, monkeypatch, caplog):
    secret = "sk-ant-test-0123456789SECRET"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)

    def echo(status):
        def reply(hit):
            sent = hit.headers.get("x-api-key") or hit.headers.get("authorization", "")
            return server.anthropic_error(status, "error", f"you sent {sent}")
        return reply

    server.push(echo(503), echo(403))
    m = model(server)
    with caplog.at_level(logging.WARNING, logger="harness.models"):
        [[resp]] = m.generate([request(0)])
    sent = server.hits[0].headers.get("x-api-key") or server.hits[0].headers.get("authorization", "")
    assert secret in sent  # the key was really sent
    assert resp.error.startswith("403") and "<ANTHROPIC_API_KEY>" in resp.error and secret not in resp.error
    assert caplog.records and all(secret not in r.getMessage() for r in caplog.records)
    assert secret not in json.dumps(m.fingerprint())


def test_fingerprint_and_make_adapter(server):
    from harness.registry import get_task

    m = make_adapter("anthropic:fake", params(), get_task("tmbench"), base_url=server.url, concurrency=2)
    assert isinstance(m, AnthropicModel) and m.concurrency == 2
    assert m.fingerprint() == {"spec": "anthropic:fake", "base_url": server.url, "api": "messages"}
