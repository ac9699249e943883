"""The openai adapter against a real local HTTP server: requests, n samples, retries, limits, redaction, CLI."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from email.utils import formatdate

import pytest
from click.testing import CliRunner

from harness.models import make_adapter
from harness.models.base import ModelError
from harness.models.openai_api import OpenAIModel
from harness.models.retry import AdaptiveLimit, RetryPolicy, parse_retry_after
from harness.types import GenParams, Prompt, Request, Sample

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_keys")]

FAST = (("backoff", "0.01"), ("backoff_max", "0.05"), ("max_retries", "2"), ("timeout", "5"))


def params(*extra: tuple[str, str], **kw) -> GenParams:
    return GenParams(extra=tuple(sorted(dict(FAST + extra).items())), **kw)


def request(*indices: int, sid: str = "s1") -> Request:
    return Request(Sample(sid, {}), Prompt.chat("What is 2+2?", system="Be brief."), indices or (0,))


def model(server, p: GenParams | None = None, **kw) -> OpenAIModel:
    return OpenAIModel("openai:fake", p or params(), "fake", base_url=server.url + "/v1", **kw)


# --- requests ----------------------------------------------------------------------------------------------
def test_chat_request_sends_only_set_params_and_reports_usage(server):
    server.push(server.Reply(200, server.chat_body("4", prompt_tokens=21, completion_tokens=2)))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text == "4" and resp.error is None
    assert resp.usage == {"prompt_tokens": 21, "completion_tokens": 2, "finish_reason": "stop"}
    hit = server.hits[0]
    assert hit.path == "/v1/chat/completions"
    assert hit.headers["authorization"] == "Bearer EMPTY"  # no key, custom endpoint: placeholder
    assert hit.body == {"model": "fake", "temperature": 0.0,
                        "messages": [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": "What is 2+2?"}]}


def test_chat_request_with_every_param_and_passthrough_args(server):
    server.push(server.Reply(200, server.chat_body("4", finish="length")))
    p = params(("top_k", "20"), ("chat_template_kwargs", '{"enable_thinking": false}'), ("user", "bob"),
               temperature=0.7, top_p=0.9, max_tokens=50, stop=("###", "END"), seed=7)
    [[resp]] = model(server, p).generate([request(0)])
    assert resp.usage["truncated"] == 1
    body = server.hits[0].body
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "stop", "seed", "top_k", "user")} == {
        "temperature": 0.7, "top_p": 0.9, "max_tokens": 50, "stop": ["###", "END"], "seed": 7, "top_k": 20,
        "user": "bob"}
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    for own in ("max_retries", "backoff", "backoff_max", "timeout", "api"):
        assert own not in body


def test_omit_removes_a_param(server):
    server.push(server.Reply(200, server.chat_body("4")))
    model(server, params(("temperature", "omit"))).generate([request(0)])
    assert "temperature" not in server.hits[0].body


def test_completions_api_sends_prompt_text(server):
    server.push(server.Reply(200, server.completion_body(" 4", prompt_tokens=5, completion_tokens=1)))
    m = model(server, params(("api", "completions")))
    [[resp]] = m.generate([request(0)])
    assert (resp.text, resp.usage) == (" 4", {"prompt_tokens": 5, "completion_tokens": 1, "finish_reason": "stop"})
    hit = server.hits[0]
    assert hit.path == "/v1/completions"
    assert hit.body["prompt"] == "Be brief.\n\nWhat is 2+2?" and "messages" not in hit.body
    assert m.fingerprint()["api"] == "completions"


def test_unknown_api_is_refused(server):
    with pytest.raises(ModelError, match="api='responses'"):
        model(server, params(("api", "responses")))


def test_n_samples_in_one_call(server):
    server.push(server.Reply(200, server.chat_body("a", "b", "c")))
    [out] = model(server).generate([request(0, 1, 2)])
    assert [r.text for r in out] == ["a", "b", "c"]
    assert len(server.hits) == 1 and server.hits[0].body["n"] == 3
    assert sum(r.usage.get("completion_tokens", 0) for r in out) == 7  # the call's usage counted once


def test_fewer_choices_than_asked_get_follow_up_calls(server):
    server.push(server.Reply(200, server.chat_body("a")), server.Reply(200, server.chat_body("b")),
                server.Reply(200, server.chat_body("c")))
    [out] = model(server).generate([request(3, 4, 5)])
    assert [r.text for r in out] == ["a", "b", "c"]
    assert [h.body.get("n") for h in server.hits] == [3, 2, None]


def test_choices_are_ordered_by_index(server):
    body = server.chat_body("first", "second")
    body["choices"].reverse()
    server.push(server.Reply(200, body))
    [out] = model(server).generate([request(0, 1)])
    assert [r.text for r in out] == ["first", "second"]


# --- retries -------------------------------------------------------------------------------------------
def test_429_waits_as_long_as_retry_after_says(server):
    server.push(server.openai_error(429, "slow down", {"Retry-After": "1"}), server.Reply(200, server.chat_body("ok")))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text == "ok" and resp.usage["retries"] == 1
    assert len(server.hits) == 2 and server.gaps()[0] >= 1.0


def test_retry_after_as_http_date_and_ms():
    now = time.time()
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_retry_after_beyond_the_maximum_gives_up_at_once(server):
    server.push(server.openai_error(429, "quota resets tomorrow", {"Retry-After": "86400"}))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text is None and "86400 s" in resp.error and "run the same command again later" in resp.error
    assert len(server.hits) == 1


def test_insufficient_quota_fails_fast(server):
    server.push(server.openai_error(429, "You exceeded your quota", code="insufficient_quota"))
    [[resp]] = model(server).generate([request(0)])
    assert "insufficient_quota" in resp.error and len(server.hits) == 1


def test_500_then_success(server):
    server.push(server.openai_error(500, "boom"), server.Reply(200, server.chat_body("ok")))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text == "ok" and len(server.hits) == 2


def test_persistent_500_gives_up_after_a_bounded_number_of_attempts(server):
    server.fallback = lambda hit: server.openai_error(503, "overloaded, try later")
    started = time.monotonic()
    [out] = model(server, params(("max_retries", "3"))).generate([request(0, 1)])
    assert len(server.hits) == 4  # 1 attempt + 3 retries, then stop
    assert all(r.text is None for r in out)
    assert "503 Service Unavailable" in out[0].error and "gave up after 4 attempts" in out[0].error
    assert time.monotonic() - started < 5


def test_hung_connection_times_out_then_succeeds(server):
    server.push(server.Reply(200, server.chat_body("late"), delay=10), server.Reply(200, server.chat_body("ok")))
    started = time.monotonic()
    [[resp]] = model(server, params(("timeout", "0.5"))).generate([request(0)])
    assert resp.text == "ok" and resp.usage["retries"] == 1
    assert len(server.hits) == 2 and 0.5 <= time.monotonic() - started < 5


def test_hung_connection_forever_fails_after_max_retries(server):
    server.fallback = lambda hit: server.Reply(200, server.chat_body("never"), delay=10)
    [[resp]] = model(server, params(("timeout", "0.4"), ("max_retries", "1"))).generate([request(0)])
    assert resp.text is None and "timed out" in resp.error and "0.4 s" in resp.error
    assert len(server.hits) == 2


@pytest.mark.parametrize("bad", [
    "{this is not json",
    json.dumps({"id": "x", "object": "chat.completion"}),  # no choices
    json.dumps({"choices": []}),
    json.dumps({"choices": [{"index": 0, "finish_reason": "stop"}]}),  # a choice without a message
])
def test_malformed_body_is_retried(server, bad):
    server.push(server.Reply(200, bad), server.Reply(200, server.chat_body("ok")))
    [[resp]] = model(server).generate([request(0)])
    assert resp.text == "ok" and len(server.hits) == 2


def test_malformed_body_forever_fails_with_a_reason(server):
    server.fallback = lambda hit: server.Reply(200, "<html>gateway</html>")
    [[resp]] = model(server).generate([request(0)])
    assert resp.text is None and "malformed response" in resp.error and len(server.hits) == 3


def test_401_fails_fast_with_a_hint(server):
    server.push(server.openai_error(401, "Incorrect API key provided"))
    [[resp]] = model(server).generate([request(0)])
    assert len(server.hits) == 1
    assert resp.error.startswith("401 Unauthorized: check OPENAI_API_KEY")


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_client_errors_fail_fast(server, status):
    server.push(server.openai_error(status, "nope"))
    [[resp]] = model(server).generate([request(0)])
    assert len(server.hits) == 1 and resp.error.startswith(str(status))


def test_connection_refused_is_a_failed_response_not_an_exception():
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = OpenAIModel("openai:fake", params(("max_retries", "1")), "fake", base_url=f"http://127.0.0.1:{port}/v1")
    [[resp]] = m.generate([request(0)])
    assert resp.text is None and "connection error" in resp.error


def test_partial_success_keeps_what_came_back(server):
    server.push(server.Reply(200, server.chat_body("a")))
    server.fallback = lambda hit: server.openai_error(500, "down")
    [out] = model(server).generate([request(0, 1)])
    assert out[0].text == "a" and out[1].text is None and out[1].error


# --- keys ----------------------------------------------------------------------------------------------
def test_official_endpoint_without_key_is_refused():
    with pytest.raises(ModelError, match="OPENAI_API_KEY is not set"):
        OpenAIModel("openai:gpt-4o", GenParams(), "gpt-4o")


def test_base_url_from_environment(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    server.push(server.Reply(200, server.chat_body("ok")))
    m = OpenAIModel("openai:fake", params(), "fake")
    assert m.generate([request(0)])[0][0].text == "ok"
    assert m.fingerprint() == {"spec": "openai:fake", "base_url": server.url + "/v1", "api": "chat"}


def test_key_never_appears_in_reasons_logs_or_fingerprint(server, monkeypatch, caplog):
    secret = "sk-test-0123456789abcdefSECRET"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    echo = lambda status: lambda hit: server.openai_error(status, f"bad header {hit.headers['authorization']}")
    server.push(echo(500), echo(401))
    m = model(server)
    with caplog.at_level(logging.WARNING, logger="harness.models"):
        [[resp]] = m.generate([request(0)])
    assert server.hits[0].headers["authorization"] == f"Bearer {secret}"  # the key was really sent
    assert resp.error.startswith("401") and "<OPENAI_API_KEY>" in resp.error and secret not in resp.error
    assert caplog.records and all(secret not in r.getMessage() for r in caplog.records)
    assert secret not in json.dumps(m.fingerprint())


def test_bad_policy_value_is_a_model_error(server):
    with pytest.raises(ModelError, match="max_retries='many'"):
        model(server, params(("max_retries", "many")))


# --- the adaptive limit ---------------------------------------------------------------------------------
def test_limit_shrinks_on_429_and_grows_back(server):
    server.push(*[server.openai_error(429, "slow down", {"Retry-After": "0"}) for _ in range(3)],
                server.Reply(200, server.chat_body("ok")))
    m = model(server, params(("max_retries", "5")), concurrency=8)
    assert m.concurrency == 8 and m.limit.limit == 8
    [[resp]] = m.generate([request(0)])
    assert resp.text == "ok"
    assert m.limit.limit == 2  # 8 -> 4 -> 2 -> 1 on the 429s, +1 on the success
    server.fallback = lambda hit: server.Reply(200, server.chat_body("ok"))
    for _ in range(30):
        m.generate([request(0)])
    assert m.limit.limit == 8  # additive increase brings it back to the maximum, never above


def test_default_concurrency_is_8(server):
    assert model(server).concurrency == 8
    assert model(server, concurrency=3).limit.maximum == 3


def test_limit_cuts_once_per_burst_and_bounds_in_flight():
    limit = AdaptiveLimit(8)
    tickets = [limit.acquire() for _ in range(8)]
    assert limit.on_rate_limit(tickets[0]) is True
    assert all(limit.on_rate_limit(t) is False for t in tickets[1:])  # same burst: one cut
    assert limit.limit == 4
    for _ in tickets:
        limit.release()
    limit.on_rate_limit(limit.acquire()); limit.release()
    limit.on_rate_limit(limit.acquire()); limit.release()
    limit.on_rate_limit(limit.acquire()); limit.release()
    assert limit.limit == 1  # never below 1

    peak, lock, active = [0], threading.Lock(), [0]

    def work():
        with limit.slot():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.01)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1


def test_concurrent_requests_share_the_limit(server):
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow(hit):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        return server.Reply(200, server.chat_body("ok"))

    server.fallback = slow
    m = model(server, concurrency=2)
    threads = [threading.Thread(target=m.generate, args=([request(0, sid=f"s{i}")],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(server.hits) == 6 and peak[0] <= 2


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy()
    assert (policy.attempts, policy.backoff, policy.backoff_max, policy.timeout) == (6, 1.0, 60.0, 120.0)
    for retry, step in [(1, 1), (2, 2), (3, 4), (8, 60), (20, 60)]:
        waits = [policy.delay(retry) for _ in range(50)]
        assert all(step / 2 <= w <= step for w in waits) and len(set(waits)) > 1
    assert policy.delay(1, retry_after=7) == 7


# --- end to end through the CLI -------------------------------------------------------------------------
def _cli(store, *args):
    from harness.cli import main

    return CliRunner().invoke(main, ["--store", str(store), *args], catch_exceptions=False)


def _oracle_answers(limit: int) -> dict[str, str]:
    """User prompt -> reference response, for the first `limit` tmbench samples."""
    from harness.registry import get_task
    from harness.task import LoadOptions, load_template
    from itertools import islice

    task = get_task("tmbench")
    template, _ = load_template(task.template_path())
    samples = list(islice(task.samples(LoadOptions()), limit))  # the engine applies --limit, not the task
    return {task.render(s, template).messages[-1][1]: task.reference_response(s) for s in samples}


def test_cli_run_and_report(server, tmp_path):
    answers = _oracle_answers(2)  # the first two samples answered right, the third wrong
    server.fallback = lambda hit: server.Reply(200, server.chat_body(answers.get(hit.user_text(), "no idea")))
    store = tmp_path / "s.sqlite"
    result = _cli(store, "run", "--task", "tmbench", "--model", "openai:fake", "--base-url", server.url + "/v1",
                  "--limit", "3")
    assert result.exit_code == 0, result.output
    assert len(server.hits) == 3
    report = json.loads(_cli(store, "report", "--format", "json").output)
    assert report["model"] == "openai:fake" and report["status"] == "complete"
    assert {k: report["counts"][k] for k in ("pass", "fail", "error", "infra")} == \
        {"pass": 2, "fail": 1, "error": 0, "infra": 0}
    fp = report["record"]["model"]["fingerprint"]
    assert fp == {"spec": "openai:fake", "base_url": server.url + "/v1", "api": "chat"}

    again = _cli(store, "run", "--task", "tmbench", "--model", "openai:fake", "--base-url", server.url + "/v1",
                 "--limit", "3")
    assert again.exit_code == 0 and len(server.hits) == 3  # resumed: nothing asked twice


def test_cli_infra_failures_exit_3_then_resume_completes(server, tmp_path):
    server.fallback = lambda hit: server.openai_error(500, "down for maintenance")
    store = tmp_path / "s.sqlite"
    args = ["run", "--task", "tmbench", "--model", "openai:fake", "--base-url", server.url + "/v1", "--limit", "3",
            "--model-arg", "max_retries=1", "--model-arg", "backoff=0.01"]
    first = _cli(store, *args)
    assert first.exit_code == 3, first.output
    assert len(server.hits) == 6  # 3 samples x 2 attempts, then stop
    report = json.loads(_cli(store, "report", "--format", "json").output)
    assert report["counts"]["infra"] == 3 and report["status"] == "incomplete"

    server.fallback = lambda hit: server.Reply(200, server.chat_body("no idea"))
    second = _cli(store, *args)
    assert second.exit_code == 0, second.output
    report = json.loads(_cli(store, "report", "--format", "json").output)
    assert report["status"] == "complete"
    assert (report["counts"]["fail"], report["counts"]["infra"]) == (3, 0)


def test_make_adapter_builds_the_openai_model(server):
    from harness.registry import get_task

    m = make_adapter("openai:fake", params(), get_task("tmbench"), base_url=server.url + "/v1", concurrency=3)
    assert isinstance(m, OpenAIModel) and m.concurrency == 3
